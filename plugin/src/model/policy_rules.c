/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI rule grammar with the original's error kinds,
 * messages and typo suggestions, plus `terminate` as a third action.
 * Tokens come from command lines and RPCs, so lengths are bounded and every
 * echoed piece of input is cut to the token limit.
 */
#include "model/policy_engine.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl {
    const char *p;
    size_t n;
};

#define SL(s) (int)(s).n, (s).p

static const char *const actions_kw[] = {"allow", "deny", "terminate", NULL};
static const char *const dirs_kw[] = {"egress", "ingress", "any", NULL};
static const char *const groups_kw[] = {"public",    "private", "loopback", "link-local",
                                        "meta",      "multicast", "host",   NULL};
static const char *const protos_kw[] = {"any", "tcp", "udp", "icmpv4", "icmpv6", NULL};
/* groups_kw index -> group, in the same order */
static const enum msb_pol_group groups_val[] = {MSB_GRP_PUBLIC,     MSB_GRP_PRIVATE,
                                                MSB_GRP_LOOPBACK,   MSB_GRP_LINK_LOCAL,
                                                MSB_GRP_METADATA,   MSB_GRP_MULTICAST,
                                                MSB_GRP_HOST};

__attribute__((format(printf, 3, 4))) static int err(struct msb_pol_tok_error *e,
                                                     enum msb_pol_tok_err kind, const char *fmt,
                                                     ...)
{
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static bool eq(struct sl s, const char *kw)
{
    return s.n == strlen(kw) && memcmp(s.p, kw, s.n) == 0;
}

static int kw_index(const char *const *kws, struct sl s)
{
    for (int i = 0; kws[i]; i++)
        if (eq(s, kws[i]))
            return i;
    return -1;
}

static const char *find(struct sl s, char c)
{
    return s.n ? memchr(s.p, c, s.n) : NULL;
}

/* ---- typo suggestions --------------------------------------------------- */

unsigned msb_pol_edit_distance(const char *a, size_t al, const char *b, unsigned cap)
{
    size_t bl = strlen(b);
    if (bl > 31 || (al > bl ? al - bl : bl - al) > cap)
        return cap + 1;
    unsigned row[32], prev[32];
    for (size_t j = 0; j <= bl; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= al; i++) {
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= bl; j++) {
            unsigned sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            unsigned del = prev[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, row, sizeof row);
    }
    return prev[bl] > cap ? cap + 1 : prev[bl];
}

/* ". Did you mean `kw`?" for the closest keyword within distance 2 (a
 * strictly smaller distance wins; ties keep list order), else "". */
static const char *suggest(const char *const *kws, struct sl raw, char *buf, size_t len)
{
    unsigned best = 3;
    const char *pick = NULL;
    for (int i = 0; kws[i]; i++) {
        unsigned d = msb_pol_edit_distance(raw.p, raw.n, kws[i], 2);
        if (d < best)
            best = d, pick = kws[i];
    }
    buf[0] = '\0';
    if (pick)
        snprintf(buf, len, ". Did you mean `%s`?", pick);
    return buf;
}

/* ---- numbers and ports -------------------------------------------------- */

static bool parse_u16(struct sl s, uint16_t *out)
{
    if (s.n == 0 || s.n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!isdigit((unsigned char)s.p[i]))
            return false;
        v = v * 10 + (unsigned)(s.p[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool split_range(struct sl s, struct sl *lo, struct sl *hi)
{
    const char *dash = find(s, '-');
    if (!dash)
        return false;
    *lo = (struct sl){s.p, (size_t)(dash - s.p)};
    *hi = (struct sl){dash + 1, s.n - lo->n - 1};
    return true;
}

static bool looks_like_port(struct sl s)
{
    uint16_t a, b;
    struct sl lo, hi;
    if (parse_u16(s, &a))
        return true;
    return split_range(s, &lo, &hi) && parse_u16(lo, &a) && parse_u16(hi, &b);
}

static int parse_ports(struct sl s, struct msb_pol_rule *r, struct msb_pol_tok_error *e)
{
    if (eq(s, "any"))
        return 0;
    struct sl lo, hi;
    uint16_t a, b;
    if (split_range(s, &lo, &hi) && parse_u16(lo, &a) && parse_u16(hi, &b)) {
        if (a > b)
            return err(e, MSB_TOK_INVALID_PORT_RANGE,
                       "invalid port range %u..%u; lo must be <= hi", a, b);
    } else if (parse_u16(s, &a)) {
        b = a;
    } else {
        return err(e, MSB_TOK_INVALID_PORTS,
                   "`%.*s` is not a valid ports value. Expected `any`, `<port>`, or `<lo>-<hi>`",
                   SL(s));
    }
    r->nports = 1;
    r->ports[0] = (struct msb_port_range){a, b};
    return 0;
}

static int parse_proto(struct sl s, struct msb_pol_rule *r, struct msb_pol_tok_error *e)
{
    int i = kw_index(protos_kw, s);
    char sug[64];
    if (i < 0)
        return err(e, MSB_TOK_INVALID_PROTOCOL,
                   "`%.*s` is not a recognized protocol. Expected `any`, `tcp`, `udp`, `icmpv4`, "
                   "or `icmpv6`%s",
                   SL(s), suggest(protos_kw, s, sug, sizeof sug));
    if (i > 0)
        r->protos = (uint8_t)(1u << (i - 1));
    return 0;
}

/* proto and ports are optional (p->p == NULL when absent). */
static int parse_tail(const struct sl *proto, const struct sl *ports, struct msb_pol_rule *r,
                      struct msb_pol_tok_error *e)
{
    if (proto->p && parse_proto(*proto, r, e))
        return -1;
    return ports->p ? parse_ports(*ports, r, e) : 0;
}

/* ---- targets ------------------------------------------------------------ */

static int copy_z(struct sl s, char *buf, size_t len)
{
    if (s.n >= len || memchr(s.p, '\0', s.n))
        return -1;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    return 0;
}

static int parse_domain(struct sl s, enum msb_pol_dest kind, struct msb_pol_rule *r,
                        struct msb_pol_tok_error *e)
{
    char why[128];
    if (msb_pol_domain_parse(s.p, s.n, r->name, why, sizeof why))
        return err(e, MSB_TOK_INVALID_DOMAIN, "invalid domain `%.*s`: %s", SL(s), why);
    r->dest = (uint8_t)kind;
    return 0;
}

static bool prefixed(struct sl s, const char *pre, struct sl *rest)
{
    size_t n = strlen(pre);
    if (s.n < n || memcmp(s.p, pre, n) != 0)
        return false;
    *rest = (struct sl){s.p + n, s.n - n};
    return true;
}

static int parse_target(struct sl t, struct msb_pol_rule *r, struct msb_pol_tok_error *e)
{
    struct sl rest;
    char buf[MSB_IP_STRLEN + 1], sug[64];
    if (t.n == 0)
        return err(e, MSB_TOK_INVALID_TARGET,
                   "`` is not a valid target. Expected: any, a group name (public, private, "
                   "loopback, link-local, meta, multicast, host), an IP, a CIDR, a domain (with "
                   "dot), domain=<name>, or suffix=<domain>");
    if (eq(t, "any"))
        return r->dest = MSB_DEST_ANY, 0;
    int g = kw_index(groups_kw, t);
    if (g >= 0) {
        r->dest = MSB_DEST_GROUP;
        r->group = (uint8_t)groups_val[g];
        return 0;
    }
    if (prefixed(t, "suffix=", &rest))
        return parse_domain(rest, MSB_DEST_SUFFIX, r, e);
    if (prefixed(t, "domain=", &rest))
        return parse_domain(rest, MSB_DEST_DOMAIN, r, e);
    if (find(t, '/')) {
        if (msb_pol_cidr_parse(t.p, t.n, &r->addr, &r->prefix))
            return err(e, MSB_TOK_INVALID_CIDR, "invalid CIDR `%.*s`", SL(t));
        return r->dest = MSB_DEST_CIDR, 0;
    }
    if (copy_z(t, buf, sizeof buf) == 0 && msb_ip_parse(buf, &r->addr) == 0) {
        r->prefix = r->addr.family == MSB_FAMILY_V4 ? 32 : 128;
        return r->dest = MSB_DEST_CIDR, 0;
    }
    if (find(t, '.'))
        return parse_domain(t, MSB_DEST_DOMAIN, r, e);
    return err(e, MSB_TOK_AMBIGUOUS_BARE_TOKEN,
               "`%.*s` is ambiguous (looks like a single-label hostname or a typoed keyword). Use "
               "`domain=%.*s` to target a literal hostname%s",
               SL(t), SL(t), suggest(groups_kw, t, sug, sizeof sug));
}

static int parse_bracket_target(struct sl in, struct msb_pol_rule *r, struct msb_pol_tok_error *e)
{
    bool cidr = find(in, '/') != NULL;
    char buf[MSB_IP_STRLEN + 1];
    if (cidr && msb_pol_cidr_parse(in.p, in.n, &r->addr, &r->prefix))
        return err(e, MSB_TOK_INVALID_CIDR, "invalid CIDR `%.*s`", SL(in));
    if (!cidr && (copy_z(in, buf, sizeof buf) || msb_ip_parse(buf, &r->addr)))
        return err(e, MSB_TOK_INVALID_IP, "invalid IP address `%.*s`", SL(in));
    if (r->addr.family != MSB_FAMILY_V6)
        return err(e, MSB_TOK_BRACKETED_NOT_IPV6,
                   "`%.*s` is not an IPv6 address or CIDR; only IPv6 forms belong inside `[...]`",
                   SL(in));
    if (!cidr)
        r->prefix = 128;
    r->dest = MSB_DEST_CIDR;
    return 0;
}

/* Splits s at ':' into at most max fields; returns the field count, or
 * max + 1 when more remain (the caller's TrailingJunk). */
static size_t split_colons(struct sl s, struct sl *f, size_t max)
{
    size_t n = 0;
    for (;;) {
        const char *c = find(s, ':');
        if (n == max)
            return max + 1;
        f[n++] = (struct sl){s.p, c ? (size_t)(c - s.p) : s.n};
        if (!c)
            return n;
        s = (struct sl){c + 1, s.n - (size_t)(c - s.p) - 1};
    }
}

static int trailing(struct sl tok, struct msb_pol_tok_error *e)
{
    return err(e, MSB_TOK_TRAILING_JUNK,
               "rule token `%.*s` has trailing fields after `<ports>`; if this is an IPv6 address, "
               "wrap it as `[<addr>]`",
               SL(tok));
}

static int parse_bracketed(struct sl tok, struct sl right, struct msb_pol_rule *r,
                           struct msb_pol_tok_error *e)
{
    const char *close = find(right, ']');
    if (!close)
        return err(e, MSB_TOK_UNCLOSED_BRACKET,
                   "unclosed `[` in rule token `%.*s`; IPv6 addresses must be wrapped as `[<addr>]`",
                   SL(tok));
    struct sl in = {right.p + 1, (size_t)(close - right.p) - 1};
    struct sl after = {close + 1, right.n - in.n - 2};
    if (parse_bracket_target(in, r, e))
        return -1;
    if (after.n == 0)
        return 0;
    if (after.p[0] != ':')
        return err(e, MSB_TOK_UNEXPECTED_AFTER_BRACKET,
                   "rule token `%.*s` has unexpected content after `]`; expected `:<proto>` or end "
                   "of token",
                   SL(tok));
    struct sl f[2] = {{NULL, 0}, {NULL, 0}};
    size_t n = split_colons((struct sl){after.p + 1, after.n - 1}, f, 2);
    return n > 2 ? trailing(tok, e) : parse_tail(&f[0], &f[1], r, e);
}

static int parse_plain(struct sl tok, struct sl right, struct msb_pol_rule *r,
                       struct msb_pol_tok_error *e)
{
    struct sl f[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    if (split_colons(right, f, 3) > 3)
        return trailing(tok, e);
    /* Before the target: `example.com:443` is a common slip. */
    if (f[1].p && looks_like_port(f[1]))
        return err(e, MSB_TOK_PORT_IN_PROTOCOL_SLOT,
                   "`%.*s` is a port, not a protocol; did you mean `%.*s:tcp:%.*s`? port numbers "
                   "don't belong in the target",
                   SL(f[1]), SL(f[0]), SL(f[1]));
    if (parse_target(f[0], r, e))
        return -1;
    return parse_tail(&f[1], &f[2], r, e);
}

static int parse_left(struct sl left, struct msb_pol_rule *r, struct msb_pol_tok_error *e)
{
    const char *c = find(left, ':');
    struct sl act = {left.p, c ? (size_t)(c - left.p) : left.n};
    char sug[64];
    int a = kw_index(actions_kw, act);
    if (a < 0)
        return err(e, MSB_TOK_INVALID_ACTION,
                   "`%.*s` is not a recognized action. Expected `allow`, `deny`, or `terminate`%s",
                   SL(act), suggest(actions_kw, act, sug, sizeof sug));
    r->action = (uint8_t)a; /* actions_kw is in enum msb_pol_action order */
    if (!c)
        return 0;
    struct sl dir = {c + 1, left.n - act.n - 1};
    int d = kw_index(dirs_kw, dir);
    if (d < 0)
        return err(e, MSB_TOK_INVALID_DIRECTION,
                   "`%.*s` is not a recognized direction. Expected `egress`, `ingress`, or `any`%s",
                   SL(dir), suggest(dirs_kw, dir, sug, sizeof sug));
    r->dir = (uint8_t)d; /* dirs_kw is in enum msb_pol_dir order */
    return 0;
}

int msb_pol_parse_token(const char *p, size_t len, struct msb_pol_rule *r,
                        struct msb_pol_tok_error *e)
{
    e->kind = MSB_TOK_OK;
    e->msg[0] = '\0';
    if (len > MSB_POL_TOKEN_MAX)
        return err(e, MSB_TOK_TOO_LONG, "rule token of %zu bytes, at most %d allowed", len,
                   MSB_POL_TOKEN_MAX);
    struct sl tok = {p, len};
    msb_pol_rule_init(r, MSB_POL_EGRESS, MSB_POL_ALLOW, MSB_DEST_ANY);
    const char *at = find(tok, '@');
    if (!at)
        return err(e, MSB_TOK_MISSING_AT,
                   "rule token `%.*s` is missing `@`; expected "
                   "`<action>[:<direction>]@<target>[:<proto>[:<ports>]]`",
                   SL(tok));
    struct sl left = {p, (size_t)(at - p)}, right = {at + 1, len - left.n - 1};
    if (parse_left(left, r, e))
        return -1;
    int rc = right.n && right.p[0] == '[' ? parse_bracketed(tok, right, r, e)
                                          : parse_plain(tok, right, r, e);
    if (rc)
        return -1;
    if ((r->protos & MSB_PROTO_ICMP) && r->dir != MSB_POL_EGRESS)
        return err(e, MSB_TOK_INGRESS_ICMP,
                   "ingress and any-direction rules do not support ICMP: published ports "
                   "carry TCP and UDP only");
    return 0;
}

static struct sl trim(struct sl s)
{
    while (s.n && isspace((unsigned char)s.p[0]))
        s.p++, s.n--;
    while (s.n && isspace((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

int msb_pol_parse_rule_list(const char *list, struct msb_policy *p, struct msb_pol_tok_error *e)
{
    size_t len = strnlen(list, MSB_POL_LIST_MAX + 1);
    if (len > MSB_POL_LIST_MAX)
        return err(e, MSB_TOK_TOO_LONG, "rule list longer than %d bytes", MSB_POL_LIST_MAX);
    struct sl rest = {list, len};
    while (rest.p) {
        const char *c = find(rest, ',');
        struct sl seg = trim((struct sl){rest.p, c ? (size_t)(c - rest.p) : rest.n});
        rest = c ? (struct sl){c + 1, rest.n - (size_t)(c - rest.p) - 1} : (struct sl){NULL, 0};
        if (seg.n == 0)
            continue;
        struct msb_pol_rule r;
        if (msb_pol_parse_token(seg.p, seg.n, &r, e))
            return -1;
        if (msb_policy_add(p, &r))
            return err(e, MSB_TOK_TOO_MANY_RULES, "more than %d rules", MSB_POL_MAX_RULES);
    }
    e->kind = MSB_TOK_OK;
    return 0;
}

struct msb_policy *msb_policy_parse_text(const char *text, char *err, size_t errlen)
{
    const char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '{')
        return msb_policy_parse_json(text, strnlen(text, MSB_POL_JSON_MAX_BYTES + 1), err, errlen);
    if (!*s) {
        snprintf(err, errlen, "policy: empty (give a JSON object or rule tokens)");
        return NULL;
    }
    struct msb_policy *p = msb_policy_new();
    if (!p) {
        snprintf(err, errlen, "policy: out of memory");
        return NULL;
    }
    /* The original CLI's assembly: egress deny, ingress allow, no implicit
     * DNS or public rule. */
    p->default_egress = MSB_POL_DENY;
    p->default_ingress = MSB_POL_ALLOW;
    struct msb_pol_tok_error *e = malloc(sizeof *e);
    if (!e || msb_pol_parse_rule_list(s, p, e)) {
        snprintf(err, errlen, "policy: %s", e ? e->msg : "out of memory");
        free(e);
        msb_policy_free(p);
        return NULL;
    }
    free(e);
    return p;
}
