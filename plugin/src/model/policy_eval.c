/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evaluation of one flow (domain rules through the hostname index only:
 * it is the one proof that the guest resolved a name) and shadow detection
 * (for every policy source, not just a policy builder).
 */
#include "model/policy_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool dir_applies(const struct msb_pol_rule *r, enum msb_pol_dir d)
{
    return r->dir == MSB_POL_ANY_DIR || r->dir == d;
}

static bool ports_match(const struct msb_pol_rule *r, int port)
{
    if (r->nports == 0)
        return true;
    if (port < 0) /* ICMP: port-filtered rules never match */
        return false;
    for (unsigned i = 0; i < r->nports; i++)
        if (port >= r->ports[i].lo && port <= r->ports[i].hi)
            return true;
    return false;
}

static bool name_is(const char *hostname, void *rule)
{
    return strcmp(hostname, ((const struct msb_pol_rule *)rule)->name) == 0;
}

static bool name_under(const char *hostname, void *rule)
{
    return msb_pol_suffix_match(hostname, ((const struct msb_pol_rule *)rule)->name);
}

/* A CIDR matches the address as sent and the IPv4 a mapped address
 * carries, so `deny 10.0.0.0/8` also stops ::ffff:10.0.0.1. */
static bool cidr_matches(const struct msb_pol_rule *r, const struct msb_ip *ip)
{
    struct msb_ip v4;
    msb_pol_unwrap(ip, &v4);
    return msb_pol_cidr_contains(&r->addr, r->prefix, ip) ||
           msb_pol_cidr_contains(&r->addr, r->prefix, &v4);
}

/* A domain or suffix rule.  Without an SNI the index decides (the address
 * was resolved from a matching name).  With one, an allow rule needs both
 * (a CDN address serves many names), while deny and terminate go by the
 * SNI alone: a ClientHello naming a blocked host is refused whatever
 * address it went to, so a hard-coded IP cannot slip past a deny. */
static bool name_matches(const struct msb_pol_rule *r, const struct msb_pol_env *env,
                         const struct msb_ip *ip, const char *sni,
                         bool (*pred)(const char *, void *))
{
    /* A cast away from const: the index's predicate context is void *. */
    void *ctx = (void *)(uintptr_t)r;
    if (sni && r->action != MSB_POL_ALLOW)
        return pred(sni, ctx);
    bool indexed = env->hidx && msb_hidx_any(env->hidx, ip, env->now_ms, pred, ctx);
    return indexed && (!sni || pred(sni, ctx));
}

static bool dest_matches(const struct msb_pol_rule *r, const struct msb_pol_env *env,
                         const struct msb_ip *ip, const char *sni)
{
    switch (r->dest) {
    case MSB_DEST_ANY:
        return true;
    case MSB_DEST_GROUP:
        return msb_pol_classify(ip, env->gw, env->local) == r->group;
    case MSB_DEST_CIDR:
        return cidr_matches(r, ip);
    case MSB_DEST_DOMAIN:
        return name_matches(r, env, ip, sni, name_is);
    case MSB_DEST_SUFFIX:
        return name_matches(r, env, ip, sni, name_under);
    default:
        return false;
    }
}

struct msb_pol_verdict msb_policy_eval(const struct msb_policy *p, const struct msb_pol_env *env,
                                       const struct msb_pol_flow *f)
{
    return msb_policy_eval_sni(p, env, f, NULL);
}

struct msb_pol_verdict msb_policy_eval_sni(const struct msb_policy *p,
                                           const struct msb_pol_env *env,
                                           const struct msb_pol_flow *f, const char *sni)
{
    for (size_t i = 0; i < p->nrules; i++) {
        const struct msb_pol_rule *r = &p->rules[i];
        if (!dir_applies(r, f->dir) || (r->protos && !(r->protos & f->proto)) ||
            !ports_match(r, f->port) || !dest_matches(r, env, f->addr, sni))
            continue;
        return (struct msb_pol_verdict){(enum msb_pol_action)r->action, (long)i};
    }
    uint8_t def = f->dir == MSB_POL_INGRESS ? p->default_ingress : p->default_egress;
    return (struct msb_pol_verdict){(enum msb_pol_action)def, -1};
}

bool msb_policy_has_domain_rules(const struct msb_policy *p)
{
    for (size_t i = 0; i < p->nrules; i++) {
        const struct msb_pol_rule *r = &p->rules[i];
        if (dir_applies(r, MSB_POL_EGRESS) &&
            (r->dest == MSB_DEST_DOMAIN || r->dest == MSB_DEST_SUFFIX))
            return true;
    }
    return false;
}

/* ---- shadows ------------------------------------------------------------ */

static bool dir_covers(unsigned outer, unsigned inner)
{
    return outer == MSB_POL_ANY_DIR || outer == inner;
}

static bool dest_covers(const struct msb_pol_rule *o, const struct msb_pol_rule *i)
{
    if (o->dest == MSB_DEST_ANY)
        return true;
    if (o->dest == MSB_DEST_GROUP)
        return i->dest == MSB_DEST_GROUP && o->group == i->group;
    if (o->dest == MSB_DEST_CIDR)
        return i->dest == MSB_DEST_CIDR && o->addr.family == i->addr.family &&
               o->prefix <= i->prefix && msb_pol_cidr_contains(&o->addr, o->prefix, &i->addr);
    /* Names (new here): a suffix covers itself and every name under it. */
    if (i->dest != MSB_DEST_DOMAIN && i->dest != MSB_DEST_SUFFIX)
        return false;
    if (o->dest == MSB_DEST_DOMAIN)
        return i->dest == MSB_DEST_DOMAIN && strcmp(o->name, i->name) == 0;
    return msb_pol_suffix_match(i->name, o->name);
}

static bool range_inside(const struct msb_port_range *in_r, const struct msb_pol_rule *o)
{
    for (unsigned k = 0; k < o->nports; k++)
        if (o->ports[k].lo <= in_r->lo && in_r->hi <= o->ports[k].hi)
            return true;
    return false;
}

static bool ports_cover(const struct msb_pol_rule *o, const struct msb_pol_rule *i)
{
    if (o->nports == 0)
        return true;
    if (i->nports == 0)
        return false;
    for (unsigned k = 0; k < i->nports; k++)
        if (!range_inside(&i->ports[k], o))
            return false;
    return true;
}

bool msb_pol_shadows(const struct msb_pol_rule *o, const struct msb_pol_rule *i)
{
    bool protos = o->protos == 0 || (i->protos != 0 && (i->protos & ~o->protos) == 0);
    return dir_covers(o->dir, i->dir) && dest_covers(o, i) && protos && ports_cover(o, i);
}

static char *shadow_message(const struct msb_policy *p, size_t i, size_t j)
{
    char a[512], b[512];
    msb_pol_rule_describe(&p->rules[i], a, sizeof a);
    msb_pol_rule_describe(&p->rules[j], b, sizeof b);
    size_t len = strlen(a) + strlen(b) + 160;
    char *m = malloc(len);
    if (m)
        snprintf(m, len,
                 "rule #%zu (%s) is shadowed by rule #%zu (%s); to narrow, place the more "
                 "specific rule first",
                 i, a, j, b);
    return m;
}

void msb_pol_warnings_free(char **w, long n)
{
    for (long k = 0; w && k < n; k++)
        free(w[k]);
    free(w);
}

long msb_policy_shadow_warnings(const struct msb_policy *p, char ***out)
{
    *out = NULL;
    char **w = calloc(MSB_POL_MAX_WARNINGS, sizeof *w);
    if (!w)
        return -1;
    long n = 0;
    for (size_t i = 1; i < p->nrules && n < MSB_POL_MAX_WARNINGS; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!msb_pol_shadows(&p->rules[j], &p->rules[i]))
                continue;
            if (!(w[n] = shadow_message(p, i, j))) {
                msb_pol_warnings_free(w, n);
                return -1;
            }
            n++;
            break;
        }
    }
    *out = w;
    return n;
}
