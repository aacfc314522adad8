/* The gateway's link layer: ARP replies for the gateway IPv4, neighbour
 * advertisements for the gateway IPv6 (global and link-local). */
#ifndef MSB_L2_H
#define MSB_L2_H

#include <stdbool.h>

#include "pkt.h"

struct msb_stack;

/*
 * Consumes ARP frames and ICMPv6 neighbour solicitations: returns true when
 * p was one of them (answered, or dropped and counted), false when the
 * caller should go on dispatching it.  Answers only for a gateway family
 * that is active (set through set_gateways), never for the guest's own DAD
 * probes (source ::), and only to the guest (source MAC checked by the
 * stack before this is called).
 */
bool msb_l2_handle(struct msb_stack *s, const struct msb_pkt *p);

#endif
