/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UDP sockets to the DNS upstreams, shared by the queries in flight.
 *
 * A fresh socket per query (socket, connect, register, close) cost more
 * than a third of the forwarder's time under load.  Here each socket is
 * connected to one upstream (the kernel drops datagrams from anyone else),
 * bound to a random port by the kernel, and carries at most
 * MSB_DNS_POOL_USES queries or MSB_DNS_POOL_AGE_MS of time before it is
 * retired and closed once its last query is done, so the source port still
 * changes often.  Every query gets a random transaction ID not in use on
 * its socket; an answer is matched to its query by (socket, ID), and the
 * caller still checks the question.  Stack thread only.
 */
#ifndef MSB_DNS_POOL_H
#define MSB_DNS_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct msb_sipkey;
struct msb_dns_pool;

#define MSB_DNS_POOL_SOCKETS 32
#define MSB_DNS_POOL_USES 64
#define MSB_DNS_POOL_AGE_MS 10000
#define MSB_DNS_POOL_NONE UINT32_MAX

/* An answer for query q (MSB_DNS_POOL_NONE: it matches no query waiting;
 * drop it), or the socket of q failing (port unreachable and the like). */
struct msb_dns_pool_calls {
    void (*answer)(void *ctx, uint32_t q, uint8_t *msg, size_t n);
    void (*failed)(void *ctx, uint32_t q);
    void *ctx;
};

/* Queries are numbered 0..max_queries-1 by the caller. */
struct msb_dns_pool *msb_dns_pool_new(struct event_base *base, uint32_t max_queries,
                                      const struct msb_dns_pool_calls *calls);
void msb_dns_pool_free(struct msb_dns_pool *p);

/* Sends msg (len bytes; its ID, the first two bytes, is chosen here) to the
 * upstream at ss for query q, which must not be waiting already.  0, or -1
 * when no socket could be had or the send failed (nothing is waiting). */
int msb_dns_pool_send(struct msb_dns_pool *p, const struct sockaddr_storage *ss, socklen_t sl,
                      uint32_t q, uint8_t *msg, size_t len);

/* Query q waits no more (answered, timed out, moved on); harmless if it
 * was not waiting. */
void msb_dns_pool_cancel(struct msb_dns_pool *p, uint32_t q);

#endif
