/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate limits on the stack thread (issue 16): one token bucket per kind of
 * model/limits_config.h, shared by every flow of the instance, and the
 * decisions the data paths ask of them.  What the guest sees:
 *   connections  a new TCP flow over the budget is refused with RST, a new
 *                UDP session's first datagram is dropped (both counted);
 *   dns_queries  a query over the budget is answered REFUSED;
 *   egress and ingress bytes  TCP is paused, never dropped: guest bytes stay
 *                in lwIP (its window closes) and host sockets are not read
 *                while the bucket is empty (tcp_throttle.c); UDP datagrams
 *                over the budget are dropped and counted.
 * Buckets are refilled from the monotonic clock at each decision; a kind
 * with rate 0 costs one branch.
 */
#ifndef MSB_PROTO_LIMITS_H
#define MSB_PROTO_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/token_bucket.h"
#include "model/limits_config.h"

struct msb_env;

struct msb_limiter {
    struct msb_tbucket b[MSB_LIMIT_KINDS];
};

/* Every bucket from the config, full. */
void msb_limiter_init(struct msb_limiter *l, const struct msb_limits *cfg, uint64_t now_ns);

/* New rates at run time: tokens held are kept up to the new bursts. */
void msb_limiter_set(struct msb_limiter *l, const struct msb_limits *cfg, uint64_t now_ns);

static inline bool msb_limit_on(const struct msb_limiter *l, enum msb_limit_kind k)
{
    return l->b[k].rate != 0;
}

/* A new TCP connection (udp false) or UDP session: true when the
 * connections budget allows it, else counted (limits.tcp_refused or
 * limits.udp_refused). */
bool msb_limit_new_flow(struct msb_env *e, bool udp);

/* A DNS query: true when the budget allows it, else counted
 * (limits.dns_refused). */
bool msb_limit_dns_query(struct msb_env *e);

/* A UDP datagram of BYTES payload bytes in direction K (egress: guest to
 * world, ingress: world to guest): true when it may go, else counted
 * (limits.udp_egress_dropped / udp_ingress_dropped). */
bool msb_limit_datagram(struct msb_env *e, enum msb_limit_kind k, size_t bytes);

#endif
