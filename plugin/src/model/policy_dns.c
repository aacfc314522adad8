/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy on DNS query names: "blocked domains" are deny (or terminate)
 * rules whose destination is a domain or a domain suffix.  The guest then
 * hears REFUSED for the name itself, before anything is asked upstream,
 * instead of resolving it and finding every connection to it refused.
 */
#include "model/policy_engine.h"

#include <string.h>

#include "lib/dns_msg.h"

/* Rules hold canonical names (lower case, no outer dots); a query name is
 * brought to that form.  The query's text has every byte that is not a
 * visible character escaped as \DDD (dns_msg.c), so it may be up to four
 * times the 255-byte wire name: the buffer takes any of them, and a label
 * separator in the text is always a real one, which keeps suffix matching
 * exact.  False when the name cannot be brought to that form. */
static bool canonical(const char *name, char out[MSB_DNS_NAME_TEXT_MAX])
{
    size_t n = strnlen(name, MSB_DNS_NAME_TEXT_MAX);
    if (n == MSB_DNS_NAME_TEXT_MAX)
        return false;
    while (n && name[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return true;
}

static bool names_match(const struct msb_pol_rule *r, const char *name)
{
    if (r->dest == MSB_DEST_DOMAIN)
        return strcmp(r->name, name) == 0;
    if (r->dest == MSB_DEST_SUFFIX)
        return msb_pol_suffix_match(name, r->name);
    return false;
}

struct msb_pol_verdict msb_policy_dns_name(const struct msb_policy *p, const char *name)
{
    char canon[MSB_DNS_NAME_TEXT_MAX];
    /* A name no rule could be checked against is refused, never waved on. */
    if (!canonical(name, canon))
        return (struct msb_pol_verdict){MSB_POL_DENY, -1};
    for (size_t i = 0; p && i < p->nrules; i++) {
        const struct msb_pol_rule *r = &p->rules[i];
        if (r->dir == MSB_POL_INGRESS || !names_match(r, canon))
            continue;
        return (struct msb_pol_verdict){(enum msb_pol_action)r->action, (long)i};
    }
    return (struct msb_pol_verdict){MSB_POL_ALLOW, -1};
}
