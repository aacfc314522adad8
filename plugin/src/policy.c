#include "policy.h"

#include <stdio.h>

#include "clock.h"
#include "instance.h"
#include "policy_engine.h"

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
static void terminate_once(struct msbnet *net, const struct msb_pol_flow *f, long rule)
{
    if (atomic_exchange(&net->terminated, true))
        return;
    char ip[MSB_IP_STRLEN], reason[256];
    snprintf(reason, sizeof reason,
             "{\"reason\":\"policy_terminate\",\"rule\":%ld,\"direction\":\"%s\","
             "\"protocol\":\"%s\",\"destination\":\"%s\",\"port\":%d}",
             rule, msb_pol_dir_name(f->dir), f->proto ? msb_pol_proto_name(f->proto) : "other",
             msb_ip_format(f->addr, ip, sizeof ip), f->port);
    msb_hook_trigger(&net->hook, reason);
}

static bool decide(struct msbnet *net, enum msb_pol_dir dir, uint8_t proto,
                   const struct msb_ip *addr, uint16_t port)
{
    unsigned bit = proto_bit(proto);
    struct msb_pol_flow f = {dir, bit, addr, (bit & MSB_PROTO_ICMP) ? -1 : port};
    struct msb_pol_env env = {&net->hidx, &net->gw, msb_now_ms()};
    struct msb_pol_verdict v = msb_policy_eval(net->policy, &env, &f);
    struct msb_policy_metrics *m = &net->metrics.policy;
    switch (v.action) {
    case MSB_POL_ALLOW:
        msb_count(&m->allowed, 1);
        return true;
    case MSB_POL_TERMINATE:
        msb_count(&m->terminated, 1);
        terminate_once(net, &f, v.rule);
        return false;
    default:
        msb_count(&m->denied, 1);
        return false;
    }
}

bool msb_policy_allow(struct msbnet *net, uint8_t proto, const struct msb_ip *dst, uint16_t dport)
{
    return decide(net, MSB_POL_EGRESS, proto, dst, dport);
}

bool msb_policy_allow_ingress(struct msbnet *net, uint8_t proto, const struct msb_ip *peer,
                              uint16_t guest_port)
{
    return decide(net, MSB_POL_INGRESS, proto, peer, guest_port);
}
