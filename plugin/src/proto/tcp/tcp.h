/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest TCP, ended in lwIP and relayed to host sockets.
 *
 * lwIP (Debian's liblwip, unmodified) only accepts packets addressed to its
 * own netif, so each guest flow (G,gp -> D,dp) is mapped to a unique
 * lwIP-side tuple and rewritten at the edge in both directions with
 * incremental checksum updates.  A guest SYN is held until the host
 * connect succeeds: only then does lwIP see it and answer SYN-ACK; a
 * refused or timed-out connect answers the guest with RST.
 */
#ifndef MSB_TCP_H
#define MSB_TCP_H

#include <stddef.h>

#include "lib/pkt.h"

struct msb_env;
struct msb_dns;
struct msb_tcp;
struct msb_flow_page;

/* Initialises lwIP (once per process), its netif and listener.  TCP/53
 * flows are served by dns (dns_tcp.h). */
struct msb_tcp *msb_tcp_create(struct msb_env *env, struct msb_dns *dns, char *err,
                               size_t errlen);

/* Aborts every flow (RST to the guest, close to the host), frees all. */
void msb_tcp_destroy(struct msb_tcp *t);

/* The live flow table's part (issue 15): each open connection's record
 * with its bytes so far, in slot order, into pg (flow_emit.h); bounded by
 * max_flows slots.  Stack thread only. */
void msb_tcp_live(struct msb_tcp *t, struct msb_flow_page *pg);

/* One guest TCP segment: parsed by msb_pkt_parse, addressed from the guest,
 * L4 checksum verified.  May rewrite p->l3 in place. */
void msb_tcp_input(struct msb_tcp *t, struct msb_pkt *p);

/* A connection accepted on a published TCP port (fd non-blocking, owned
 * from here on): ingress policy and the inbound cap, then lwIP opens a
 * connection to the guest's port (tcp_inbound.c). */
struct sockaddr_storage;
struct msb_publish_spec;
void msb_tcp_inbound(struct msb_tcp *t, int fd, const struct sockaddr_storage *peer,
                     const struct msb_publish_spec *spec);

/* End of a batch of guest frames: flush delayed ACKs, reap TIME_WAIT. */
void msb_tcp_batch_end(struct msb_tcp *t);

/* The guest's rx ring has room again: resume flows that stopped for it. */
void msb_tcp_rx_room(struct msb_tcp *t);

/* Emits any segment held back for coalescing: before a frame of another
 * kind goes to the guest, and at the end of an event-handler pass. */
void msb_tcp_flush(struct msb_tcp *t);

/* New rate limits are in force (env->limiter): every flow paused by a
 * byte bucket gets its turn now. */
void msb_tcp_limits_changed(struct msb_tcp *t);

/* After a policy swap: resets the flows the new policy denies (RST to the
 * guest, host socket closed with RST).  Returns how many. */
uint32_t msb_tcp_policy_recheck(struct msb_tcp *t);

#endif
