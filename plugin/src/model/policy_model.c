/* SPDX-License-Identifier: Apache-2.0 */
/* The policy model (policy_model.h): the names used on the JSON wire,
 * presets, domain-name and CIDR parsing, rule descriptions for messages. */
#include "model/policy_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dir_names[] = {"egress", "ingress", "any"};
static const char *const action_names[] = {"allow", "deny", "terminate"};
static const char *const group_names[] = {"public",    "private",   "loopback", "link_local",
                                          "metadata",  "multicast", "host",     "reserved"};
static const char *const proto_names[] = {"tcp", "udp", "icmpv4", "icmpv6"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *msb_pol_dir_name(unsigned d) { return d < COUNT(dir_names) ? dir_names[d] : "?"; }
const char *msb_pol_action_name(unsigned a) { return a < COUNT(action_names) ? action_names[a] : "?"; }
const char *msb_pol_group_name(unsigned g) { return g < COUNT(group_names) ? group_names[g] : "?"; }
int msb_pol_dir_lookup(const char *s) { return lookup(dir_names, COUNT(dir_names), s); }
int msb_pol_action_lookup(const char *s) { return lookup(action_names, COUNT(action_names), s); }
int msb_pol_group_lookup(const char *s) { return lookup(group_names, MSB_GRP__RULE_COUNT, s); }

const char *msb_pol_proto_name(unsigned bit)
{
    for (unsigned i = 0; i < COUNT(proto_names); i++)
        if (bit == 1u << i)
            return proto_names[i];
    return "?";
}

int msb_pol_proto_lookup(const char *s)
{
    int i = lookup(proto_names, COUNT(proto_names), s);
    return i < 0 ? -1 : 1 << i;
}

struct msb_policy *msb_policy_new(void)
{
    struct msb_policy *p = calloc(1, sizeof *p);
    if (p)
        p->default_egress = p->default_ingress = MSB_POL_DENY;
    return p;
}

void msb_policy_free(struct msb_policy *p)
{
    if (!p)
        return;
    free(p->rules);
    free(p);
}

int msb_policy_add(struct msb_policy *p, const struct msb_pol_rule *r)
{
    if (p->nrules >= MSB_POL_MAX_RULES)
        return -1;
    if (p->nrules == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        if (cap > MSB_POL_MAX_RULES)
            cap = MSB_POL_MAX_RULES;
        struct msb_pol_rule *n = realloc(p->rules, cap * sizeof *n);
        if (!n)
            return -1;
        p->rules = n;
        p->cap = cap;
    }
    p->rules[p->nrules++] = *r;
    return 0;
}

void msb_pol_rule_init(struct msb_pol_rule *r, enum msb_pol_dir dir, enum msb_pol_action a,
                       enum msb_pol_dest dest)
{
    memset(r, 0, sizeof *r);
    r->dir = (uint8_t)dir;
    r->action = (uint8_t)a;
    r->dest = (uint8_t)dest;
}

static int add_group(struct msb_policy *p, enum msb_pol_action a, enum msb_pol_group g)
{
    struct msb_pol_rule r;
    msb_pol_rule_init(&r, MSB_POL_EGRESS, a, MSB_DEST_GROUP);
    r.group = (uint8_t)g;
    return msb_policy_add(p, &r);
}

/* Rule::allow_dns(): udp+tcp port 53 to the gateway, not 853 (as the original). */
static int add_allow_dns(struct msb_policy *p)
{
    struct msb_pol_rule r;
    msb_pol_rule_init(&r, MSB_POL_EGRESS, MSB_POL_ALLOW, MSB_DEST_GROUP);
    r.group = MSB_GRP_HOST;
    r.protos = MSB_PROTO_UDP | MSB_PROTO_TCP;
    r.nports = 1;
    r.ports[0].lo = r.ports[0].hi = 53;
    return msb_policy_add(p, &r);
}

struct msb_policy *msb_policy_preset(enum msb_pol_preset which)
{
    struct msb_policy *p = msb_policy_new();
    if (!p || which == MSB_PRESET_NONE)
        return p;
    if (which == MSB_PRESET_ALLOW_ALL) {
        p->default_egress = p->default_ingress = MSB_POL_ALLOW;
        return p;
    }
    p->default_ingress = MSB_POL_ALLOW;
    int rc = add_allow_dns(p) | add_group(p, MSB_POL_ALLOW, MSB_GRP_PUBLIC);
    if (which == MSB_PRESET_NON_LOCAL)
        rc |= add_group(p, MSB_POL_ALLOW, MSB_GRP_PRIVATE);
    if (rc) {
        msb_policy_free(p);
        return NULL;
    }
    return p;
}

/* ---- names ------------------------------------------------------------- */

static bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

static int why(char *buf, size_t len, const char *msg)
{
    if (buf && len)
        snprintf(buf, len, "%s", msg);
    return -1;
}

int msb_pol_domain_parse(const char *s, size_t len, char out[MSB_POL_NAME_MAX + 1], char *whybuf,
                         size_t whylen)
{
    while (len && s[0] == '.')
        s++, len--;
    while (len && s[len - 1] == '.')
        len--;
    if (len == 0)
        return why(whybuf, whylen, "domain name is empty");
    if (len > MSB_POL_NAME_MAX)
        return why(whybuf, whylen, "invalid domain name: longer than 253 bytes");
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0)
                return why(whybuf, whylen, "invalid domain name: empty label");
            label = 0;
        } else if (!label_char(c)) {
            return why(whybuf, whylen, "invalid domain name: only letters, digits, '-', '_' "
                                       "and '*' may appear in a label");
        } else if (++label > 63) {
            return why(whybuf, whylen, "invalid domain name: label longer than 63 bytes");
        }
        out[i] = c;
    }
    out[len] = '\0';
    return 0;
}

bool msb_pol_suffix_match(const char *h, const char *suffix)
{
    size_t hl = strlen(h), sl = strlen(suffix);
    if (hl == sl)
        return memcmp(h, suffix, hl) == 0;
    return hl > sl + 1 && h[hl - sl - 1] == '.' && memcmp(h + hl - sl, suffix, sl) == 0;
}

/* ---- CIDR -------------------------------------------------------------- */

int msb_pol_cidr_parse(const char *s, size_t len, struct msb_ip *addr, uint8_t *prefix)
{
    char buf[MSB_IP_STRLEN + 5];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    unsigned long bits = 0;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        size_t n = strlen(d);
        if (n == 0 || n > 3 || strspn(d, "0123456789") != n)
            return -1;
        bits = strtoul(d, NULL, 10);
    }
    if (msb_ip_parse(buf, addr))
        return -1;
    unsigned max = addr->family == MSB_FAMILY_V4 ? 32 : 128;
    if (!slash)
        bits = max;
    if (bits > max)
        return -1;
    *prefix = (uint8_t)bits;
    return 0;
}

bool msb_pol_cidr_contains(const struct msb_ip *net, uint8_t prefix, const struct msb_ip *ip)
{
    if (net->family != ip->family)
        return false;
    unsigned full = prefix / 8u, rest = prefix % 8u;
    if (memcmp(net->b, ip->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return ((net->b[full] ^ ip->b[full]) & mask) == 0;
}

/* ---- descriptions ------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static size_t put(char *buf, size_t len, size_t at,
                                                         const char *fmt, ...)
{
    if (at >= len)
        return at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
    return n < 0 ? at : at + (size_t)n;
}

static size_t describe_dest(const struct msb_pol_rule *r, char *buf, size_t len, size_t at)
{
    char ip[MSB_IP_STRLEN];
    switch (r->dest) {
    case MSB_DEST_GROUP:
        return put(buf, len, at, " group %s", msb_pol_group_name(r->group));
    case MSB_DEST_CIDR:
        return put(buf, len, at, " cidr %s/%u", msb_ip_format(&r->addr, ip, sizeof ip), r->prefix);
    case MSB_DEST_DOMAIN:
        return put(buf, len, at, " domain %s", r->name);
    case MSB_DEST_SUFFIX:
        return put(buf, len, at, " domain_suffix %s", r->name);
    default:
        return put(buf, len, at, " %s", "any");
    }
}

char *msb_pol_rule_describe(const struct msb_pol_rule *r, char *buf, size_t len)
{
    if (!len)
        return buf;
    buf[0] = '\0';
    size_t at = put(buf, len, 0, "%s", msb_pol_dir_name(r->dir));
    at = put(buf, len, at, " %s", msb_pol_action_name(r->action));
    at = describe_dest(r, buf, len, at);
    for (unsigned b = 1; b <= MSB_PROTO_ICMPV6; b <<= 1)
        if (r->protos & b)
            at = put(buf, len, at, " %s", msb_pol_proto_name(b));
    for (unsigned i = 0; i < r->nports; i++)
    {
        const char *sep = i ? "," : " port ";
        if (r->ports[i].lo == r->ports[i].hi)
            at = put(buf, len, at, "%s%u", sep, r->ports[i].lo);
        else
            at = put(buf, len, at, "%s%u-%u", sep, r->ports[i].lo, r->ports[i].hi);
    }
    return buf;
}
