/* SPDX-License-Identifier: Apache-2.0 */
/* Policy enforcement for every data path (enforce.h). */
#include "proto/enforce.h"
#include "proto/flow_emit.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/dns_msg.h"
#include "model/policy_engine.h"
#include "msbnet/msbnet.h"
#include "proto/env.h"

static unsigned proto_bit(uint8_t proto)
{
    switch (proto) {
    case MSB_IPPROTO_TCP:
        return MSB_PROTO_TCP;
    case MSB_IPPROTO_UDP:
        return MSB_PROTO_UDP;
    case MSB_IPPROTO_ICMP:
        return MSB_PROTO_ICMPV4;
    case MSB_IPPROTO_ICMPV6:
        return MSB_PROTO_ICMPV6;
    default:
        return 0; /* matches only protocol-less rules */
    }
}

static const char *proto_name(uint8_t proto)
{
    unsigned bit = proto_bit(proto);
    return bit ? msb_pol_proto_name(bit) : "other";
}

static bool has_ports(uint8_t proto)
{
    return proto == MSB_IPPROTO_TCP || proto == MSB_IPPROTO_UDP;
}

/* "tcp 100.96.0.2:40000 -> 198.18.0.1:443" in the guest's direction
 * ("[v6]:port" for IPv6; no ports for ICMP).  The reason's "flow". */
static void endpoint(const struct msb_ip *ip, uint16_t port, bool ports, char *out, size_t len)
{
    char a[MSB_IP_STRLEN];
    msb_ip_format(ip, a, sizeof a);
    if (!ports)
        snprintf(out, len, "%s", a);
    else if (ip->family == MSB_FAMILY_V6)
        snprintf(out, len, "[%s]:%u", a, port);
    else
        snprintf(out, len, "%s:%u", a, port);
}

static void flow_text(const struct msb_flow_ref *f, char *out, size_t len)
{
    char g[MSB_IP_STRLEN + 8], p[MSB_IP_STRLEN + 8];
    bool ports = has_ports(f->proto);
    endpoint(f->guest, f->guest_port, ports, g, sizeof g);
    endpoint(f->peer, f->peer_port, ports, p, sizeof p);
    if (f->ingress)
        snprintf(out, len, "%s %s -> %s", proto_name(f->proto), p, g);
    else
        snprintf(out, len, "%s %s -> %s", proto_name(f->proto), g, p);
}

/* The reason names the rule and the flow so the control plane can report
 * why the sandbox was stopped; fired once, however many flows follow.
 * Built with jansson: a hostile name cannot inject members. */
static void terminate_once(struct msb_env *env, const struct msb_flow_ref *f, long rule,
                           const char *name)
{
    if (atomic_exchange(env->terminated, true))
        return;
    char flow[2 * MSB_IP_STRLEN + 40];
    flow_text(f, flow, sizeof flow);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s}", MSBNET_REASON_KIND, "policy_terminate",
                          MSBNET_REASON_RULE, (json_int_t)rule, MSBNET_REASON_DIRECTION,
                          f->ingress ? "ingress" : "egress", MSBNET_REASON_PROTOCOL,
                          name ? "dns" : proto_name(f->proto), MSBNET_REASON_FLOW, flow);
    if (o && name)
        json_object_set_new(o, MSBNET_REASON_NAME, json_string(name));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    /* Out of memory: the hook still fires, with a reason that says so. */
    msb_hook_trigger(env->hook, text ? text : "{\"reason\":\"policy_terminate\"}");
    free(text);
    json_decref(o);
}

static void count_rule(struct msb_policy_metrics *m, long rule)
{
    size_t b = rule < 0                     ? MSB_POLICY_BUCKET_DEFAULT
               : rule < MSB_POLICY_BY_RULE ? (size_t)rule
                                           : MSB_POLICY_BUCKET_LATER;
    msb_count(&m->by_rule[b], 1);
}

/* One line per decision at log_level debug: enough to find the rule that
 * let a flow through, or stopped it. */
static void log_decision(struct msb_env *env, const struct msb_pol_flow *f,
                         struct msb_pol_verdict v, const char *sni)
{
    if (env->cfg->log_level < MSB_LOG_DEBUG)
        return;
    char ip[MSB_IP_STRLEN], rule[24], port[24] = "";
    if (v.rule < 0)
        snprintf(rule, sizeof rule, "default");
    else
        snprintf(rule, sizeof rule, "#%ld", v.rule);
    if (f->port >= 0)
        snprintf(port, sizeof port, " port %d", f->port);
    fprintf(stderr, "msbnet[%u]: policy %s by rule %s: %s %s %s%s%s%s\n", env->cfg->slot,
            msb_pol_action_name(v.action), rule, msb_pol_dir_name(f->dir),
            f->proto ? msb_pol_proto_name(f->proto) : "other",
            msb_ip_format(f->addr, ip, sizeof ip), port, sni ? " sni " : "", sni ? sni : "");
}

static struct msb_pol_verdict evaluate(struct msb_env *env, const struct msb_pol_flow *f,
                                       const char *sni)
{
    struct msb_pol_env pe = {env->hidx, env->gw, msb_now_ms(), env->local};
    return msb_policy_eval_sni(*env->policy, &pe, f, sni);
}

/* Counts and acts on one verdict; true when the flow may proceed.  A
 * refusal makes a flow record unless the flow already has one of its own
 * (an SNI refusal: the TCP flow's record says so when it ends). */
static bool apply(struct msb_env *env, const struct msb_flow_ref *ref,
                  const struct msb_pol_flow *f, struct msb_pol_verdict v, const char *sni)
{
    const struct msb_flow_ref *rec = sni ? NULL : ref;
    struct msb_policy_metrics *m = &env->metrics->policy;
    count_rule(m, v.rule);
    log_decision(env, f, v, sni);
    env->verdict.rule = (int32_t)v.rule;
    switch (v.action) {
    case MSB_POL_ALLOW:
        msb_count(&m->allowed, 1);
        env->verdict.action = MSB_FR_ALLOW;
        return true;
    case MSB_POL_TERMINATE:
        msb_count(&m->terminated, 1);
        terminate_once(env, ref, v.rule, NULL);
        env->verdict.action = MSB_FR_TERMINATE;
        if (rec)
            msb_flow_refused(env, rec, MSB_FR_TERMINATE, (int32_t)v.rule);
        return false;
    default:
        msb_count(&m->denied, 1);
        env->verdict.action = MSB_FR_DENY;
        if (rec)
            msb_flow_refused(env, rec, MSB_FR_DENY, (int32_t)v.rule);
        return false;
    }
}

/* The rule engine's view: egress judges the destination and its port,
 * ingress the peer and the guest port it was forwarded to. */
static struct msb_pol_flow pol_flow(const struct msb_flow_ref *r)
{
    unsigned bit = proto_bit(r->proto);
    int port = (bit & MSB_PROTO_ICMP) ? -1 : r->ingress ? r->guest_port : r->peer_port;
    return (struct msb_pol_flow){r->ingress ? MSB_POL_INGRESS : MSB_POL_EGRESS, bit, r->peer,
                                 port};
}

/* A host destination on a protected endpoint: the gateway stands for the
 * host's loopback (that is where it is dialled), an unspecified entry for
 * every host address. */
static bool is_protected(const struct msb_env *env, const struct msb_ip *ip, bool gateway,
                         uint16_t port)
{
    static const uint8_t lo6[16] = {[15] = 1};
    struct msb_ip dialled = *ip;
    if (gateway && ip->family == MSB_FAMILY_V4)
        msb_ip_from_v4(&dialled, (const uint8_t[4]){127, 0, 0, 1});
    else if (gateway)
        msb_ip_from_v6(&dialled, lo6);
    static const uint8_t zero[16];
    for (uint32_t i = 0; i < env->cfg->n_protected; i++) {
        const struct msb_endpoint *e = &env->cfg->protected_ports[i];
        if (e->port == port && (memcmp(e->addr.b, zero, 16) == 0 || msb_ip_equal(&e->addr, &dialled)))
            return true;
    }
    return false;
}

/* Before any rule: a destination that is the host's loopback (or the
 * unspecified address, which Linux connects to it) is never dialled, nor is
 * the host's own control plane; the guest reaches the host's loopback only
 * through the gateway address. */
static bool never_dialled(struct msb_env *env, const struct msb_flow_ref *r, bool count)
{
    if (r->ingress)
        return false;
    struct msb_policy_metrics *m = &env->metrics->policy;
    enum msb_pol_group g = msb_pol_classify(r->peer, env->gw, env->local);
    if (g == MSB_GRP_LOOPBACK) {
        if (count)
            msb_count(&m->refused_loopback, 1);
        return true;
    }
    if (g != MSB_GRP_HOST)
        return false;
    struct msb_ip ip;
    msb_pol_unwrap(r->peer, &ip);
    bool gateway = msb_gateway_is(env->gw, &ip);
    if (has_ports(r->proto) && is_protected(env, &ip, gateway, r->peer_port)) {
        if (count)
            msb_count(&m->refused_protected, 1);
        return true;
    }
    if (count && !gateway)
        msb_count(&m->host_local, 1);
    return false;
}

bool msb_policy_allow(struct msb_env *env, const struct msb_flow_ref *r)
{
    if (never_dialled(env, r, true)) {
        msb_flow_refused(env, r, MSB_FR_REFUSED, -1);
        return false;
    }
    struct msb_pol_flow f = pol_flow(r);
    return apply(env, r, &f, evaluate(env, &f, NULL), NULL);
}

bool msb_policy_wants_sni(struct msb_env *env)
{
    return msb_policy_has_domain_rules(*env->policy);
}

bool msb_policy_allow_sni(struct msb_env *env, const struct msb_flow_ref *r, const char *sni)
{
    struct msb_pol_flow f = pol_flow(r);
    struct msb_pol_verdict v = evaluate(env, &f, sni);
    if (v.action == MSB_POL_ALLOW) {
        log_decision(env, &f, v, sni); /* already counted at SYN time */
        return true;
    }
    msb_count(&env->metrics->policy.sni_mismatch, 1);
    return apply(env, r, &f, v, sni);
}

bool msb_policy_allow_name(struct msb_env *env, const struct msb_flow_ref *r, const char *name,
                           uint16_t qtype, int32_t *rule)
{
    struct msb_pol_verdict v = msb_policy_dns_name(*env->policy, name);
    struct msb_policy_metrics *m = &env->metrics->policy;
    uint8_t action = v.action == MSB_POL_ALLOW  ? MSB_FR_ALLOW
                     : v.action == MSB_POL_DENY ? MSB_FR_DENY
                                                : MSB_FR_TERMINATE;
    *rule = (int32_t)v.rule;
    /* A refused name's record now (the guest gets REFUSED); an allowed
     * one's when its reply goes (the forwarder's, with the rcode). */
    if (action != MSB_FR_ALLOW)
        msb_flow_dns(env, r, action, (int32_t)v.rule, name,
                     (struct msb_flow_dns_reply){qtype, MSB_DNS_REFUSED, 0, NULL, 0});
    if (v.action == MSB_POL_ALLOW) {
        if (v.rule >= 0)
            msb_count(&m->allowed, 1);
        return true;
    }
    if (v.action == MSB_POL_DENY) {
        msb_count(&m->denied, 1);
        return false;
    }
    msb_count(&m->terminated, 1);
    terminate_once(env, r, v.rule, name);
    return false;
}

bool msb_policy_still_allowed(struct msb_env *env, const struct msb_flow_ref *r)
{
    if (never_dialled(env, r, false))
        return false;
    struct msb_pol_flow f = pol_flow(r);
    return evaluate(env, &f, NULL).action == MSB_POL_ALLOW;
}
