/*
 * Egress decisions.  Until the policy engine lands this is the config's
 * "egress" switch (allow / deny everything); every data path already asks
 * here, so the engine plugs in without touching them.
 */
#ifndef MSB_POLICY_H
#define MSB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "pkt.h"

struct msbnet;

bool msb_policy_allow(struct msbnet *net, uint8_t proto, const struct msb_ip *dst, uint16_t dport);

#endif
