#include "proto/enforce.h"

#include <stdio.h>

#include "lib/clock.h"
#include "proto/env.h"
#include "model/policy_engine.h"

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

/* The reason names the rule and the flow so the control plane can report
 * why the sandbox was stopped; fired once, however many flows follow. */
static void terminate_once(struct msb_env *env, const struct msb_pol_flow *f, long rule)
{
    if (atomic_exchange(env->terminated, true))
        return;
    char ip[MSB_IP_STRLEN], reason[256];
    snprintf(reason, sizeof reason,
             "{\"reason\":\"policy_terminate\",\"rule\":%ld,\"direction\":\"%s\","
             "\"protocol\":\"%s\",\"destination\":\"%s\",\"port\":%d}",
             rule, msb_pol_dir_name(f->dir), f->proto ? msb_pol_proto_name(f->proto) : "other",
             msb_ip_format(f->addr, ip, sizeof ip), f->port);
    msb_hook_trigger(env->hook, reason);
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
    struct msb_pol_env pe = {env->hidx, env->gw, msb_now_ms()};
    return msb_policy_eval_sni(*env->policy, &pe, f, sni);
}

/* Counts and acts on one verdict; true when the flow may proceed. */
static bool apply(struct msb_env *env, const struct msb_pol_flow *f, struct msb_pol_verdict v,
                  const char *sni)
{
    struct msb_policy_metrics *m = &env->metrics->policy;
    count_rule(m, v.rule);
    log_decision(env, f, v, sni);
    switch (v.action) {
    case MSB_POL_ALLOW:
        msb_count(&m->allowed, 1);
        return true;
    case MSB_POL_TERMINATE:
        msb_count(&m->terminated, 1);
        terminate_once(env, f, v.rule);
        return false;
    default:
        msb_count(&m->denied, 1);
        return false;
    }
}

static struct msb_pol_flow flow_of(enum msb_pol_dir dir, uint8_t proto, const struct msb_ip *addr,
                                   uint16_t port)
{
    unsigned bit = proto_bit(proto);
    return (struct msb_pol_flow){dir, bit, addr, (bit & MSB_PROTO_ICMP) ? -1 : port};
}

static struct msb_pol_flow egress(uint8_t proto, const struct msb_ip *dst, uint16_t dport)
{
    return flow_of(MSB_POL_EGRESS, proto, dst, dport);
}

bool msb_policy_allow(struct msb_env *env, uint8_t proto, const struct msb_ip *dst, uint16_t dport)
{
    struct msb_pol_flow f = egress(proto, dst, dport);
    return apply(env, &f, evaluate(env, &f, NULL), NULL);
}

bool msb_policy_allow_ingress(struct msb_env *env, uint8_t proto, const struct msb_ip *peer,
                              uint16_t guest_port)
{
    struct msb_pol_flow f = flow_of(MSB_POL_INGRESS, proto, peer, guest_port);
    return apply(env, &f, evaluate(env, &f, NULL), NULL);
}

bool msb_policy_wants_sni(struct msb_env *env)
{
    return msb_policy_has_domain_rules(*env->policy);
}

bool msb_policy_allow_sni(struct msb_env *env, const struct msb_ip *dst, uint16_t dport,
                          const char *sni)
{
    struct msb_pol_flow f = egress(MSB_IPPROTO_TCP, dst, dport);
    struct msb_pol_verdict v = evaluate(env, &f, sni);
    if (v.action == MSB_POL_ALLOW) {
        log_decision(env, &f, v, sni); /* already counted at SYN time */
        return true;
    }
    msb_count(&env->metrics->policy.sni_mismatch, 1);
    return apply(env, &f, v, sni);
}

bool msb_policy_still_allowed(struct msb_env *env, uint8_t proto, const struct msb_ip *dst,
                              uint16_t dport)
{
    struct msb_pol_flow f = egress(proto, dst, dport);
    return evaluate(env, &f, NULL).action == MSB_POL_ALLOW;
}
