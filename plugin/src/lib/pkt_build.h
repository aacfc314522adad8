/* SPDX-License-Identifier: Apache-2.0 */
/* Packets msbnet writes itself: Ethernet headers and TCP resets. */
#ifndef MSB_PKT_BUILD_H
#define MSB_PKT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "lib/pkt.h"

void msb_eth_write(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6], uint16_t type);

/* A 20-byte IPv4 header (no options) with its checksum; total is the whole
 * packet's length, frag the flags+offset field (0x4000 = DF). */
void msb_ip4_write(uint8_t *ip, size_t total, uint16_t id, uint16_t frag, uint8_t ttl,
                   uint8_t proto, const uint8_t src[4], const uint8_t dst[4]);

/* A 40-byte IPv6 header; payload is the length of what follows it. */
void msb_ip6_write(uint8_t *ip, size_t payload, uint8_t hop_limit, uint8_t next,
                   const uint8_t src[16], const uint8_t dst[16]);

/*
 * The RST answering guest segment p (RFC 9293 §3.10.7.1: if p has ACK,
 * seq = its ack; else seq 0, ACK set, ack = its seq + payload length + SYN
 * + FIN), as a full IP packet from p's destination to p's source, with
 * correct checksums.  Writes into buf (cap >= 60 bytes) and returns the
 * length, or 0 when p itself is a RST (never answer a RST).
 */
size_t msb_build_tcp_rst(const struct msb_pkt *p, uint8_t *buf, size_t cap);

#endif
