/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's link layer: ARP replies for the gateway IPv4, neighbour
 * advertisements for the gateway IPv6 (global and link-local). */
#ifndef MSB_L2_H
#define MSB_L2_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/pkt.h"

struct msb_env;

/*
 * Consumes ARP frames and ICMPv6 neighbour solicitations: returns true when
 * p was one of them (answered, or dropped and counted), false when the
 * caller should go on dispatching it.  Answers only for a gateway family
 * that is active (set through set_gateways), never for the guest's own DAD
 * probes (source ::), and only to the guest (source MAC checked by the
 * stack before this is called).
 */
bool msb_l2_handle(struct msb_env *e, const struct msb_pkt *p);

/* fe80::/64 + the modified EUI-64 of mac (RFC 4291 App. A): the gateway's
 * link-local address, which NDP answers for and RAs will come from. */
/* Neighbor Discovery options from byte `off` of the ICMPv6 message: none
 * of length 0, none past the end, no source link-layer address from ::. */
bool msb_nd_options_ok(const struct msb_pkt *p, size_t off, bool from_unspecified);

void msb_ipv6_link_local(const uint8_t mac[6], struct msb_ip *out);

#endif
