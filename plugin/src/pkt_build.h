/* Packets msbnet writes itself: Ethernet headers and TCP resets. */
#ifndef MSB_PKT_BUILD_H
#define MSB_PKT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

void msb_eth_write(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6], uint16_t type);

/*
 * The RST answering guest segment p (RFC 9293 §3.10.7.1: if p has ACK,
 * seq = its ack; else seq 0, ACK set, ack = its seq + payload length + SYN
 * + FIN), as a full IP packet from p's destination to p's source, with
 * correct checksums.  Writes into buf (cap >= 60 bytes) and returns the
 * length, or 0 when p itself is a RST (never answer a RST).
 */
size_t msb_build_tcp_rst(const struct msb_pkt *p, uint8_t *buf, size_t cap);

#endif
