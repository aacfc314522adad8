/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The original's JSON policy format, read strictly:
 * serde accepted unknown keys, inverted port ranges and ICMP rules that can
 * never match; here each is an error naming the rule, so a typo cannot
 * silently widen or narrow a sandbox's network.
 */
#include "model/policy_engine.h"
#include "lib/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_PROTOCOL_ITEMS 16
#define MAX_CIDR_TEXT 64

/* Keys are echoed in messages: cut them so a huge key cannot fill err. */
#define KEYFMT "%.64s"

static int check_keys(const json_t *o, const char *const *allowed, const char *where, long idx,
                      char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok && idx >= 0)
            return msb_fail(err, errlen, "policy: rules[%ld]: unknown key \"" KEYFMT "\"", idx, key);
        if (!ok)
            return msb_fail(err, errlen, "%s: unknown key \"" KEYFMT "\"", where, key);
    }
    return 0;
}

static int parse_action(const json_t *v, const char *what, long idx, uint8_t *out, char *err,
                        size_t errlen)
{
    int a = msb_pol_action_lookup(json_string_value(v));
    if (a >= 0) {
        *out = (uint8_t)a;
        return 0;
    }
    if (idx >= 0)
        return msb_fail(err, errlen, "policy: rules[%ld]: %s must be \"allow\", \"deny\" or "
                                 "\"terminate\"", idx, what);
    return msb_fail(err, errlen, "policy: %s must be \"allow\", \"deny\" or \"terminate\"", what);
}

static int parse_name(const json_t *v, long idx, struct msb_pol_rule *r, char *err, size_t errlen)
{
    char why[128];
    const char *s = json_string_value(v);
    if (!s)
        return msb_fail(err, errlen, "policy: rules[%ld]: domain must be a string", idx);
    if (msb_pol_domain_parse(s, json_string_length(v), r->name, why, sizeof why))
        return msb_fail(err, errlen, "policy: rules[%ld]: invalid domain `%.256s`: %s", idx, s, why);
    return 0;
}

static int parse_dest_object(const json_t *d, long idx, struct msb_pol_rule *r, char *err,
                             size_t errlen)
{
    if (json_object_size(d) != 1)
        return msb_fail(err, errlen, "policy: rules[%ld]: destination must have exactly one of "
                                 "cidr, domain, domain_suffix, group", idx);
    const char *key = json_object_iter_key(json_object_iter((json_t *)(uintptr_t)d));
    const json_t *v = json_object_get(d, key);
    const char *s = json_string_value(v);
    if (strcmp(key, "cidr") == 0) {
        r->dest = MSB_DEST_CIDR;
        if (!s || msb_pol_cidr_parse(s, json_string_length(v), &r->addr, &r->prefix))
            return msb_fail(err, errlen, "policy: rules[%ld]: invalid CIDR `%.64s`", idx, s ? s : "");
        return 0;
    }
    if (strcmp(key, "group") == 0) {
        int g = msb_pol_group_lookup(s);
        if (g < 0)
            return msb_fail(err, errlen, "policy: rules[%ld]: group must be one of public, private, "
                                     "loopback, link_local, metadata, multicast, host", idx);
        r->dest = MSB_DEST_GROUP;
        r->group = (uint8_t)g;
        return 0;
    }
    if (strcmp(key, "domain") == 0 || strcmp(key, "domain_suffix") == 0) {
        r->dest = key[6] ? MSB_DEST_SUFFIX : MSB_DEST_DOMAIN;
        return parse_name(v, idx, r, err, errlen);
    }
    return msb_fail(err, errlen, "policy: rules[%ld]: unknown destination \"" KEYFMT "\"", idx, key);
}

static int parse_dest(const json_t *d, long idx, struct msb_pol_rule *r, char *err, size_t errlen)
{
    if (!d)
        return msb_fail(err, errlen, "policy: rules[%ld]: missing \"destination\"", idx);
    if (json_is_string(d) && strcmp(json_string_value(d), "any") == 0) {
        r->dest = MSB_DEST_ANY;
        return 0;
    }
    if (!json_is_object(d))
        return msb_fail(err, errlen, "policy: rules[%ld]: destination must be \"any\" or an object",
                    idx);
    return parse_dest_object(d, idx, r, err, errlen);
}

static int parse_protocols(const json_t *a, long idx, struct msb_pol_rule *r, char *err,
                           size_t errlen)
{
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MAX_PROTOCOL_ITEMS)
        return msb_fail(err, errlen, "policy: rules[%ld]: protocols must be an array of at most %d "
                                 "of tcp, udp, icmpv4, icmpv6", idx, MAX_PROTOCOL_ITEMS);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        int bit = msb_pol_proto_lookup(json_string_value(v));
        if (bit < 0)
            return msb_fail(err, errlen, "policy: rules[%ld]: protocols[%zu] must be one of tcp, "
                                     "udp, icmpv4, icmpv6", idx, i);
        r->protos |= (uint8_t)bit;
    }
    return 0;
}

static int port_field(const json_t *o, const char *key, long idx, size_t k, uint16_t *out,
                      char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (n < 0 || n > 65535)
        return msb_fail(err, errlen, "policy: rules[%ld]: ports[%zu].%s must be an integer 0..65535",
                    idx, k, key);
    *out = (uint16_t)n;
    return 0;
}

static int parse_range(const json_t *o, long idx, size_t k, struct msb_port_range *pr, char *err,
                       size_t errlen)
{
    static const char *const keys[] = {"start", "end", NULL};
    if (!json_is_object(o))
        return msb_fail(err, errlen, "policy: rules[%ld]: ports[%zu] must be {\"start\", \"end\"}",
                    idx, k);
    if (check_keys(o, keys, NULL, idx, err, errlen) ||
        port_field(o, "start", idx, k, &pr->lo, err, errlen) ||
        port_field(o, "end", idx, k, &pr->hi, err, errlen))
        return -1;
    if (pr->lo > pr->hi)
        return msb_fail(err, errlen, "policy: rules[%ld]: invalid port range %u..%u; lo must be <= hi",
                    idx, pr->lo, pr->hi);
    return 0;
}

static int parse_ports(const json_t *a, long idx, struct msb_pol_rule *r, char *err,
                       size_t errlen)
{
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MSB_POL_MAX_PORT_RANGES)
        return msb_fail(err, errlen, "policy: rules[%ld]: ports must be an array of at most %d ranges",
                    idx, MSB_POL_MAX_PORT_RANGES);
    size_t k;
    const json_t *v;
    json_array_foreach(a, k, v) {
        if (parse_range(v, idx, k, &r->ports[k], err, errlen))
            return -1;
    }
    r->nports = (uint16_t)json_array_size(a);
    return 0;
}

/* The checks the original's JSON path lacked: ICMP rules that can never
 * match (ingress or any direction, or with ports). */
static int validate_rule(const struct msb_pol_rule *r, long idx, char *err, size_t errlen)
{
    if (!(r->protos & MSB_PROTO_ICMP))
        return 0;
    if (r->dir != MSB_POL_EGRESS)
        return msb_fail(err, errlen, "policy: rules[%ld]: ICMP protocols are egress-only; ingress "
                                 "and any-direction rules cannot include icmpv4 or icmpv6", idx);
    if (r->nports)
        return msb_fail(err, errlen, "policy: rules[%ld]: ICMP has no ports; a rule with icmpv4 or "
                                 "icmpv6 cannot list ports", idx);
    return 0;
}

static int parse_rule(const json_t *o, long idx, struct msb_pol_rule *r, char *err, size_t errlen)
{
    static const char *const keys[] = {"direction", "destination", "protocols", "ports",
                                       "action",    NULL};
    if (!json_is_object(o))
        return msb_fail(err, errlen, "policy: rules[%ld]: must be an object", idx);
    if (check_keys(o, keys, NULL, idx, err, errlen))
        return -1;
    msb_pol_rule_init(r, MSB_POL_EGRESS, MSB_POL_DENY, MSB_DEST_ANY);
    int d = msb_pol_dir_lookup(json_string_value(json_object_get(o, "direction")));
    if (d < 0)
        return msb_fail(err, errlen, "policy: rules[%ld]: direction must be \"egress\", \"ingress\" "
                                 "or \"any\"", idx);
    r->dir = (uint8_t)d;
    if (parse_action(json_object_get(o, "action"), "action", idx, &r->action, err, errlen) ||
        parse_dest(json_object_get(o, "destination"), idx, r, err, errlen) ||
        parse_protocols(json_object_get(o, "protocols"), idx, r, err, errlen) ||
        parse_ports(json_object_get(o, "ports"), idx, r, err, errlen))
        return -1;
    return validate_rule(r, idx, err, errlen);
}

static int parse_rules(const json_t *a, struct msb_policy *p, char *err, size_t errlen)
{
    if (!a)
        return 0;
    if (!json_is_array(a))
        return msb_fail(err, errlen, "policy: rules must be an array");
    if (json_array_size(a) > MSB_POL_MAX_RULES)
        return msb_fail(err, errlen, "policy: %zu rules, at most %d allowed", json_array_size(a),
                    MSB_POL_MAX_RULES);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        struct msb_pol_rule r;
        if (parse_rule(v, (long)i, &r, err, errlen))
            return -1;
        if (msb_policy_add(p, &r))
            return msb_fail(err, errlen, "policy: out of memory");
    }
    return 0;
}

static int parse_default(const json_t *o, const char *key, uint8_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    return v ? parse_action(v, key, -1, out, err, errlen) : 0;
}

struct msb_policy *msb_policy_from_json(const json_t *o, char *err, size_t errlen)
{
    static const char *const keys[] = {"default_egress", "default_ingress", "rules", NULL};
    if (!json_is_object(o)) {
        msb_fail(err, errlen, "policy: expected a JSON object");
        return NULL;
    }
    struct msb_policy *p = msb_policy_new();
    if (!p) {
        msb_fail(err, errlen, "policy: out of memory");
        return NULL;
    }
    if (check_keys(o, keys, "policy", -1, err, errlen) ||
        parse_default(o, "default_egress", &p->default_egress, err, errlen) ||
        parse_default(o, "default_ingress", &p->default_ingress, err, errlen) ||
        parse_rules(json_object_get(o, "rules"), p, err, errlen)) {
        msb_policy_free(p);
        return NULL;
    }
    return p;
}

struct msb_policy *msb_policy_parse_json(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > MSB_POL_JSON_MAX_BYTES) {
        msb_fail(err, errlen, "policy: %zu bytes, at most %u allowed", len, MSB_POL_JSON_MAX_BYTES);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        msb_fail(err, errlen, "policy: invalid JSON at line %d column %d: %.80s", je.line, je.column,
             je.text);
        return NULL;
    }
    struct msb_policy *p = msb_policy_from_json(root, err, errlen);
    json_decref(root);
    return p;
}

/* ---- serialisation ------------------------------------------------------ */

static json_t *dest_json(const struct msb_pol_rule *r)
{
    char ip[MSB_IP_STRLEN], cidr[MAX_CIDR_TEXT];
    switch (r->dest) {
    case MSB_DEST_GROUP:
        return json_pack("{s:s}", "group", msb_pol_group_name(r->group));
    case MSB_DEST_CIDR:
        snprintf(cidr, sizeof cidr, "%s/%u", msb_ip_format(&r->addr, ip, sizeof ip), r->prefix);
        return json_pack("{s:s}", "cidr", cidr);
    case MSB_DEST_DOMAIN:
        return json_pack("{s:s}", "domain", r->name);
    case MSB_DEST_SUFFIX:
        return json_pack("{s:s}", "domain_suffix", r->name);
    default:
        return json_string("any");
    }
}

static json_t *rule_json(const struct msb_pol_rule *r)
{
    json_t *protos = json_array(), *ports = json_array();
    for (unsigned b = 1; protos && b <= MSB_PROTO_ICMPV6; b <<= 1)
        if (r->protos & b)
            json_array_append_new(protos, json_string(msb_pol_proto_name(b)));
    for (unsigned i = 0; ports && i < r->nports; i++)
        json_array_append_new(ports, json_pack("{s:i,s:i}", "start", r->ports[i].lo, "end",
                                               r->ports[i].hi));
    return json_pack("{s:s,s:o,s:o,s:o,s:s}", "direction", msb_pol_dir_name(r->dir),
                     "destination", dest_json(r), "protocols", protos, "ports", ports, "action",
                     msb_pol_action_name(r->action));
}

json_t *msb_policy_to_json(const struct msb_policy *p)
{
    json_t *rules = json_array();
    for (size_t i = 0; rules && i < p->nrules; i++) {
        json_t *r = rule_json(&p->rules[i]);
        if (!r || json_array_append_new(rules, r)) {
            json_decref(rules);
            return NULL;
        }
    }
    return json_pack("{s:s,s:s,s:o}", "default_egress", msb_pol_action_name(p->default_egress),
                     "default_ingress", msb_pol_action_name(p->default_ingress), "rules", rules);
}
