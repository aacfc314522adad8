/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reassembly of the guest's IPv4 fragments and IPv6 fragments (a fragment
 * header right after the IPv6 header), so a datagram larger than the
 * guest's MTU still reaches the UDP relay or ICMP whole.
 *
 * Memory is bounded: at most max_datagrams in progress, at most max_bytes
 * of fragment data in all (beyond either, the oldest datagram in progress
 * is dropped), at most 65535 bytes per datagram and 256 fragments each.
 * A datagram still incomplete timeout_ms after its first fragment is
 * dropped.  Overlapping or inconsistent fragments drop the whole datagram,
 * and later fragments of it until its timeout (RFC 5722: no teardrop
 * tricks); an exact duplicate is ignored (RFC 8200 §4.5).  Every drop is
 * counted by reason (metrics.h, reasm_*).
 */
#ifndef MSB_IP_REASM_H
#define MSB_IP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/frame.h"
#include "lib/metrics.h"

struct msb_reasm;

struct msb_reasm_limits {
    uint32_t max_datagrams; /* >= 1 */
    uint32_t max_bytes;     /* >= 65535 */
    uint32_t timeout_ms;
};

/* NULL when out of memory.  m receives the drops and the reassembly
 * gauges/counters; it must outlive the reassembler. */
struct msb_reasm *msb_reasm_create(const struct msb_reasm_limits *lim, struct msb_metrics *m);

/* Frees every datagram in progress.  NULL ignored. */
void msb_reasm_destroy(struct msb_reasm *r);

/* True when frame, which msb_pkt_parse refused with why, is an IPv4
 * fragment or an IPv6 packet whose first extension is a fragment header. */
bool msb_reasm_is_fragment(const uint8_t *frame, size_t len, enum msb_drop_reason why);

/* Takes one fragment (an Ethernet frame; the IPv4 header and its checksum
 * already verified by msb_pkt_parse).  Returns the whole datagram as a new
 * frame (Ethernet header and IP header of the first fragment, fragment
 * fields cleared) when this fragment completed it, else NULL: kept for
 * later, or dropped and counted. */
struct msb_frame *msb_reasm_input(struct msb_reasm *r, const uint8_t *frame, size_t len,
                                  uint64_t now_ms);

/* Drops datagrams past their timeout (counted reasm_timeout). */
void msb_reasm_expire(struct msb_reasm *r, uint64_t now_ms);

#endif
