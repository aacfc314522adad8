/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest frames, parsed and validated: Ethernet, then ARP or IPv4/IPv6, then
 * the transport header.  Every length is checked against the bytes really
 * present before anything is read; a frame that fails is dropped with one
 * named reason (metrics.h).
 */
#ifndef MSB_PKT_H
#define MSB_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/metrics.h"
#include "lib/wire.h"

struct msb_pkt {
    uint8_t *frame; /* the whole frame; the stack owns it during dispatch */
    size_t frame_len;
    const uint8_t *dst_mac, *src_mac;
    uint16_t ethertype;
    /* IPv4/IPv6 only (ip_version 0 for ARP, where l3 is the ARP body): */
    uint8_t *l3;       /* IP header; l3_len = the IP total length (Ethernet padding cut) */
    size_t l3_len;
    size_t l3_hdr_len; /* IPv4 IHL * 4, IPv6 40 */
    uint8_t ip_version;
    uint8_t l4_proto;
    struct msb_ip src, dst;
    uint8_t *l4; /* transport header; l4_len runs to the end of the IP packet */
    size_t l4_len;
    size_t l4_hdr_len; /* TCP data offset * 4, UDP 8, ICMP 8 (0 for others) */
    uint16_t sport, dport; /* TCP/UDP */
    uint8_t tcp_flags;     /* TCP */
};

/*
 * Parses frame[0..len).  On success returns true and fills *p.  On failure
 * returns false and sets *why.  Checks: Ethernet header present; ARP body
 * long enough (28 bytes, Ethernet/IPv4 only); IPv4 version, IHL >= 5, total
 * length within the frame, header checksum, not a fragment (MF or offset);
 * IPv6 payload length within the frame, no extension headers (next header
 * must be TCP, UDP or ICMPv6); TCP data offset within bounds, UDP length
 * consistent with the IP length.  L4 checksums are not verified here.
 * A frame cut short of a header or of the IP length it claims is ETH_SHORT
 * (ARP: ARP_MALFORMED); fields that contradict each other are *_MALFORMED.
 * The UDP length must equal the IP payload length.  Other IPv4 protocols
 * (and ICMP over IPv6 / ICMPv6 over IPv4) parse with l4_hdr_len 0.
 */
bool msb_pkt_parse(uint8_t *frame, size_t len, struct msb_pkt *p, enum msb_drop_reason *why);

/* True when p's TCP/UDP/ICMPv6/ICMP checksum is correct (UDP/IPv4 0 = none). */
bool msb_pkt_l4_checksum_ok(const struct msb_pkt *p);

static inline uint16_t msb_get16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t msb_get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void msb_put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline void msb_put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

#endif
