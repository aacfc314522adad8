/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS over TCP/53 (RFC 7766), served by msbnet itself.  Guest TCP to port
 * 53 on any address is ended in lwIP like all guest TCP; where the proxy
 * would dial a host socket, it takes one end of a socketpair whose other
 * end is served here.  So the TCP relay (windows, half-close, RST, its own
 * timeouts) stays one code path, and this file only speaks DNS framing:
 * a 2-byte length before each message, several queries in flight per
 * connection (answers in completion order), bounded buffers, an idle
 * timeout.  Each message goes through the UDP path's resolution
 * (dns_forward.c); answers are never truncated.
 */
#ifndef MSB_DNS_TCP_H
#define MSB_DNS_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

struct msb_dns;
struct msb_dns_tcp;
struct msb_dns_conn;
struct event_base;

/* Connections at once; one more is refused (the guest sees RST). */
#define MSB_DNS_TCP_MAX_CONNS 64
/* Queries one connection may have in flight; it is not read meanwhile. */
#define MSB_DNS_TCP_MAX_PENDING 16
/* Closed after this long with nothing in flight and nothing read. */
#define MSB_DNS_TCP_IDLE_MS 10000

struct msb_dns_metrics;

struct msb_dns_tcp *msb_dns_tcp_create(struct msb_dns *d, struct event_base *base,
                                       struct msb_dns_metrics *m);
/* Closes every connection.  NULL ignored. */
void msb_dns_tcp_destroy(struct msb_dns_tcp *t);

/* A new connection from guest:gport to dialled:53.  Returns the proxy's
 * end (non-blocking, close-on-exec), or -1 with errno set (EMFILE at the
 * connection cap). */
int msb_dns_tcp_open(struct msb_dns *d, const struct msb_ip *guest, uint16_t gport,
                     const struct msb_ip *dialled);

/* The answer to one of c's messages (len 0: none).  Never frees c. */
void msb_dns_conn_reply(struct msb_dns_conn *c, const uint8_t *m, size_t len);

#endif
