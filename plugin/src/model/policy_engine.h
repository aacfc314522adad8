/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine over the model (policy_model.h): address groups,
 * evaluation of one flow, shadow warnings, the JSON wire format and the CLI
 * token grammar.  All pure functions of their inputs (plus the hostname
 * index for domain rules), so the stack thread and the control plane share
 * them.
 */
#ifndef MSB_POLICY_ENGINE_H
#define MSB_POLICY_ENGINE_H

#include <jansson.h>

#include "lib/gateway.h"
#include "lib/hostindex.h"
#include "lib/localnet.h"
#include "model/policy_model.h"

/* ---- policy_groups.c ---------------------------------------------------- */

/* Unwraps an IPv6 address that carries an IPv4 one to that IPv4: mapped
 * (::ffff:a.b.c.d), compatible (::a.b.c.d, except :: and ::1), NAT64
 * (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16), Teredo (2001::/32, the
 * client's address); others are copied. */
void msb_pol_unwrap(const struct msb_ip *in, struct msb_ip *out);

/* The group of a destination, in this order: host (a gateway), loopback
 * (127/8, ::1 and the unspecified 0/8 and ::), metadata, host again (what
 * the kernel delivers locally: `local`, may be NULL), private, link-local,
 * multicast, reserved (240/4, unknown families), public.  gw may be NULL. */
enum msb_pol_group msb_pol_classify(const struct msb_ip *ip, const struct msb_gateways *gw,
                                    struct msb_localnet *local);

/* ---- policy_eval.c ------------------------------------------------------ */

struct msb_pol_env {
    struct msb_hidx *hidx;          /* NULL: domain rules never match */
    const struct msb_gateways *gw;  /* NULL: the host group never matches */
    uint64_t now_ms;
    struct msb_localnet *local;     /* NULL: only the gateways are the host */
};

struct msb_pol_flow {
    enum msb_pol_dir dir;      /* EGRESS or INGRESS */
    unsigned proto;            /* one MSB_PROTO_* bit */
    const struct msb_ip *addr; /* egress: destination; ingress: the peer */
    int port;                  /* egress: dst port; ingress: guest port; -1: none (ICMP) */
};

struct msb_pol_verdict {
    enum msb_pol_action action;
    long rule; /* index of the matching rule, -1 = the direction's default */
};

struct msb_pol_verdict msb_policy_eval(const struct msb_policy *p, const struct msb_pol_env *env,
                                       const struct msb_pol_flow *f);

/* The same walk for a flow that claimed TLS SNI `sni` (canonical: lower
 * case, no trailing dot; NULL = msb_policy_eval): an allow rule naming a
 * domain matches only when the SNI is its name (suffix: under it) and the
 * address is also bound in the index to a name the rule matches; deny and
 * terminate rules match on the SNI alone. */
struct msb_pol_verdict msb_policy_eval_sni(const struct msb_policy *p,
                                           const struct msb_pol_env *env,
                                           const struct msb_pol_flow *f, const char *sni);

/* True when some egress/any rule has a domain or suffix destination: only
 * then can a TLS SNI change a decision. */
bool msb_policy_has_domain_rules(const struct msb_policy *p);

/* True when every flow rule `later` matches is matched by `earlier` first
 * (the action is not compared: either way `later` never decides). */
bool msb_pol_shadows(const struct msb_pol_rule *earlier, const struct msb_pol_rule *later);

#define MSB_POL_MAX_WARNINGS 256

/* Fills *out with up to MSB_POL_MAX_WARNINGS malloc'd strings (one per
 * shadowed rule, naming the first rule that shadows it); returns the count
 * or -1 on allocation failure.  Free with msb_pol_warnings_free. */
long msb_policy_shadow_warnings(const struct msb_policy *p, char ***out);
void msb_pol_warnings_free(char **w, long n);

/* ---- policy_dns.c ------------------------------------------------------- */

/* The verdict on a DNS query for name (presentation form, any case, no
 * trailing dot): the first egress/any rule whose destination is that
 * domain, or a suffix of it, decides; protocol and port filters are
 * ignored, as the original did (a name rule names the name).  Address,
 * group and "any" rules never match a name (they govern the resolver's
 * address, checked on its own).  No name rule matches -> ALLOW, rule -1. */
struct msb_pol_verdict msb_policy_dns_name(const struct msb_policy *p, const char *name);

/* ---- policy_json.c ------------------------------------------------------ */

#define MSB_POL_JSON_MAX_BYTES (4u << 20)

/* Parses the original's JSON policy format from a JSON object,
 * strictly: unknown keys, wrong types, out-of-range values, inverted port
 * ranges and ICMP in ingress/any rules or with ports are errors naming the
 * rule index.  Returns the policy, or NULL with a one-line message. */
struct msb_policy *msb_policy_from_json(const json_t *obj, char *err, size_t errlen);
struct msb_policy *msb_policy_parse_json(const char *text, size_t len, char *err, size_t errlen);

/* Every field written (defaults too); NULL on allocation failure. */
json_t *msb_policy_to_json(const struct msb_policy *p);

/* ---- policy_rules.c ----------------------------------------------------- */

#define MSB_POL_TOKEN_MAX 1024
#define MSB_POL_LIST_MAX (MSB_POL_TOKEN_MAX * 64)

enum msb_pol_tok_err {
    MSB_TOK_OK,
    MSB_TOK_MISSING_AT,
    MSB_TOK_INVALID_ACTION,
    MSB_TOK_INVALID_DIRECTION,
    MSB_TOK_INVALID_TARGET,
    MSB_TOK_AMBIGUOUS_BARE_TOKEN,
    MSB_TOK_INVALID_DOMAIN,
    MSB_TOK_INVALID_CIDR,
    MSB_TOK_INVALID_IP,
    MSB_TOK_INVALID_PROTOCOL,
    MSB_TOK_INVALID_PORTS,
    MSB_TOK_INVALID_PORT_RANGE,
    MSB_TOK_INGRESS_ICMP,
    MSB_TOK_TRAILING_JUNK,
    MSB_TOK_UNCLOSED_BRACKET,
    MSB_TOK_UNEXPECTED_AFTER_BRACKET,
    MSB_TOK_BRACKETED_NOT_IPV6,
    MSB_TOK_PORT_IN_PROTOCOL_SLOT,
    MSB_TOK_TOO_LONG,
    MSB_TOK_TOO_MANY_RULES,
};

struct msb_pol_tok_error {
    enum msb_pol_tok_err kind;
    char msg[3 * MSB_POL_TOKEN_MAX + 512];
};

/* `<action>[:<direction>]@<target>[:<proto>[:<ports>]]` (the original
 * CLI's grammar, plus `terminate`).  Returns 0 with *r filled, or -1 with e
 * set. */
int msb_pol_parse_token(const char *tok, size_t len, struct msb_pol_rule *r,
                        struct msb_pol_tok_error *e);

/* Comma list: segments trimmed, empty ones skipped, stops at the first
 * error.  Appends to p. */
int msb_pol_parse_rule_list(const char *list, struct msb_policy *p, struct msb_pol_tok_error *e);

/* A policy from text: a JSON policy object when the first non-space
 * character is '{', else a comma list of rule tokens with default_egress
 * deny and default_ingress allow and no implicit rules (as the original
 * CLI assembled a rule list).  NULL with the parser's message in err. */
struct msb_policy *msb_policy_parse_text(const char *text, char *err, size_t errlen);

/* Levenshtein distance, capped: returns cap + 1 when larger. */
unsigned msb_pol_edit_distance(const char *a, size_t al, const char *b, unsigned cap);

#endif
