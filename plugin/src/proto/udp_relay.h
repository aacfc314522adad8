/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest UDP relayed through host sockets: one connected, non-blocking
 * socket per (guest source, guest destination) session on the stack's
 * event base.  Connecting filters replies to the dialled peer, so nothing
 * else on the host can inject datagrams into a session.
 *
 * Sessions end after udp_idle_timeout_s without traffic either way; beyond
 * max_udp_sessions the least recently active one is recycled (counted).
 * Replies come from the address the guest dialled, with a computed
 * checksum; IPv4 replies over the guest MTU are fragmented, IPv6 ones are
 * dropped (counted), as a router would.  Port unreachable on the host
 * socket becomes ICMP port unreachable to the guest; a policy denial
 * becomes administratively prohibited.  UDP/53 never reaches the relay:
 * the stack hands it to DNS interception (dns_forward.h).
 *
 * Each session that opened leaves one flow record when it ends (idle,
 * recycled at the cap, a policy replace, the stop): the verdict and the
 * hostname at open, datagrams and payload bytes each way (flow_emit.h).
 */
#ifndef MSB_UDP_RELAY_H
#define MSB_UDP_RELAY_H

#include <stddef.h>

#include "lib/pkt.h"

struct msb_env;
struct msb_udp;
struct msb_flow_page;

struct msb_udp *msb_udp_create(struct msb_env *env, char *err, size_t errlen);

/* Closes every session and frees everything.  NULL ignored. */
void msb_udp_destroy(struct msb_udp *u);

/* The live flow table's part (issue 15): each open session's record with
 * the counts so far, in slot order, into pg (flow_emit.h).  Work is bounded
 * by max_udp_sessions slots.  Stack thread only (the sessions are its own). */
void msb_udp_live(struct msb_udp *u, struct msb_flow_page *pg);

/* One guest UDP datagram: parsed, from the guest, checksum verified. */
void msb_udp_input(struct msb_udp *u, const struct msb_pkt *p);

/* After a policy swap: closes the sessions the new policy denies, so no
 * more replies reach the guest.  Returns how many. */
uint32_t msb_udp_policy_recheck(struct msb_udp *u);

#endif
