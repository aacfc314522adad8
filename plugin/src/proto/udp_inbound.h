/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Published UDP ports: a datagram to a host listener becomes a datagram
 * from the gateway (or, with real_peer, from the peer's own address and
 * port) to the guest's port; the guest's replies to that source go back to
 * the peer through the same listener socket.  One session per (listener,
 * peer), ended after udp_idle_timeout_s without traffic; at most
 * max_inbound_flows sessions (beyond: dropped, counted).  The ingress
 * policy decides every datagram (deny: dropped, counted).  Each session
 * leaves one ingress flow record when it ends (idle, policy replace,
 * unpublished: "closed", the stop), datagrams and bytes each way.
 */
#ifndef MSB_UDP_INBOUND_H
#define MSB_UDP_INBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/pkt.h"

struct msb_env;
struct msb_udp_in;
struct msb_publish_spec;
struct msb_flow_page;

struct msb_udp_in *msb_udp_inbound_create(struct msb_env *env, char *err, size_t errlen);
void msb_udp_inbound_destroy(struct msb_udp_in *u);

/* The live flow table's part (issue 15): each session's record with its
 * counts so far, in slot order, into pg (flow_emit.h); bounded by the
 * session cap.  NULL ignored.  Stack thread only. */
void msb_udp_inbound_live(struct msb_udp_in *u, struct msb_flow_page *pg);

/* A published port's socket fd is readable: relay what waits (bounded per
 * call).  spec is the listener's own (its address names the listener until
 * msb_udp_inbound_forget). */
void msb_udp_inbound_readable(struct msb_udp_in *u, int fd, const struct msb_publish_spec *spec);

/* A guest datagram: true when it answers an inbound session (sent to the
 * peer or dropped, counted), false when it is the egress relay's. */
bool msb_udp_inbound_input(struct msb_udp_in *u, const struct msb_pkt *p);

/* After a policy swap: ends the sessions the new ingress rules deny (the
 * peer's next datagram is judged afresh).  Returns how many. */
uint32_t msb_udp_inbound_policy_recheck(struct msb_udp_in *u);

/* The listener is going away: end its sessions. */
void msb_udp_inbound_forget(struct msb_udp_in *u, const struct msb_publish_spec *spec);

#endif
