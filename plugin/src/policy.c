#include "policy.h"

#include "instance.h"

bool msb_policy_allow(struct msbnet *net, uint8_t proto, const struct msb_ip *dst, uint16_t dport)
{
    (void)proto;
    (void)dst;
    (void)dport;
    return net->cfg.egress == MSB_EGRESS_ALLOW;
}
