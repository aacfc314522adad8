/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Router advertisements (RFC 4861 §6, RFC 4862, RFC 8106) so a stock guest
 * configures IPv6 with no agent: SLAAC from the guest's /64 (A=1, L=1), the
 * link MTU, the gateway as DNS server (RDNSS) and as default router, from
 * the gateway's link-local address (l2.h), hop limit 255.  M=0 O=0: there
 * is no DHCPv6.
 *
 * Sent in answer to router solicitations (at most one answer per second;
 * more are counted), and unsolicited once the guest has solicited at least
 * once: three times 2 s apart (also when the gateway becomes active only
 * after the guest asked), then every 200..600 s to refresh the lifetimes.
 * A guest that never solicits (accept_ra=0, static IPv6) sees no RA.  Only
 * while config "ra" is true, the IPv6 gateway is set and the MTU carries
 * IPv6 (>= 1280).
 */
#ifndef MSB_NDP_RA_H
#define MSB_NDP_RA_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/pkt.h"

struct msb_env;

/* Lives in struct msb_env; all zero = nothing sent yet. */
struct msb_ra_state {
    uint64_t next_ms;        /* next unsolicited RA (0 = as soon as active) */
    uint64_t last_solicited_ms;
    bool answered_once;      /* last_solicited_ms is meaningful */
    uint8_t initial_left;    /* quick RAs still to send after activation */
    bool started;            /* the initial burst has begun */
    bool solicited;          /* the guest sent a valid solicitation */
};

/* Consumes router solicitations (true: answered or dropped, counted);
 * false for anything else. */
bool msb_ra_handle(struct msb_env *e, const struct msb_pkt *p, uint64_t now_ms);

/* Called about once a second on the stack thread: sends the unsolicited
 * RA that is due, if any. */
void msb_ra_tick(struct msb_env *e, uint64_t now_ms);

#endif
