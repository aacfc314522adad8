/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The destinations this network namespace's kernel delivers to itself:
 * every route of type local, broadcast, anycast or multicast (the `local`
 * routing table: interface addresses of both families, 127/8, subnet
 * broadcasts, AnyIP prefixes), kept current from rtnetlink route events.
 * A sandbox must not reach the host through one of these, whatever the
 * host's addresses are and whenever they were added.
 *
 * The set is bounded (MSB_LOCALNET_MAX prefixes).  When it overflows, or
 * the kernel reports lost events, every question is answered by asking the
 * kernel directly (a route lookup per call) until a fresh dump fits again.
 * Single-threaded: the owner calls msb_localnet_readable when fd is readable.
 */
#ifndef MSB_LOCALNET_H
#define MSB_LOCALNET_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

#define MSB_LOCALNET_MAX 4096

struct msb_localnet_prefix {
    struct msb_ip net;
    uint8_t len;
};

struct msb_localnet {
    int fd;          /* rtnetlink, subscribed to route changes */
    int query_fd;    /* rtnetlink for synchronous lookups (overflow mode) */
    uint32_t seq;
    bool overflow;   /* the set is not complete: ask the kernel per call */
    bool stale;      /* events were lost: dump again */
    uint32_t n;
    struct msb_localnet_prefix p[MSB_LOCALNET_MAX];
    char buf[16384];    /* one netlink read */
};

/* Opens the sockets and reads the current routes.  0, or -1 with errno. */
int msb_localnet_open(struct msb_localnet *l);
void msb_localnet_close(struct msb_localnet *l);

/* The fd to watch for route changes. */
int msb_localnet_fd(const struct msb_localnet *l);

/* Applies the route changes waiting on fd (bounded work per call). */
void msb_localnet_readable(struct msb_localnet *l);

/* True when the kernel would deliver a packet to ip locally.  Exactly the
 * address given: callers unwrap mapped/embedded forms themselves. */
bool msb_localnet_contains(struct msb_localnet *l, const struct msb_ip *ip);

#endif
