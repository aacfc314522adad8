/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UDP datagrams msbnet writes to the guest: IP + UDP headers with computed
 * checksums (IPv4 too: never 0), IPv4 fragmented to the guest MTU.
 */
#ifndef MSB_UDP_REPLY_H
#define MSB_UDP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

struct msb_env;

struct msb_udp_reply {
    const struct msb_ip *src, *dst; /* src: the address the guest dialled */
    uint16_t sport, dport;
    const uint8_t *payload;
    size_t len;
};

/* Sends r to the guest.  An IPv4 datagram over the MTU goes as fragments,
 * all or none (the rx ring must have room for every one); an IPv6 one over
 * the MTU is dropped (udp_reply_too_big).  Drops are counted; true when
 * the datagram went out. */
bool msb_udp_reply_send(struct msb_env *e, const struct msb_udp_reply *r);

#endif
