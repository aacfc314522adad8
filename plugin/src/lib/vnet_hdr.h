/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net header mode (config "vnet_hdr": true).
 *
 * A VMM whose device speaks virtio-net (or a TAP opened with IFF_VNET_HDR)
 * puts a 12-byte struct virtio_net_hdr_v1 in front of every frame, all
 * fields little-endian:
 *
 *   0 flags  1 gso_type  2 hdr_len  4 gso_size  6 csum_start  8 csum_offset
 *   10 num_buffers
 *
 * Frames from the guest may then carry offloads the guest kernel left to
 * the "device": NEEDS_CSUM (the L4 checksum field holds only the
 * pseudo-header sum; the device sums from csum_start to the end and stores
 * the result at csum_start + csum_offset) and GSO (one TCP or UDP
 * "super-frame" of up to 64 KiB to be cut into gso_size-payload segments).
 *
 * Guest frames are validated and their checksums completed on the writer's
 * thread (msb_vnet_ingest): the stack thread never sees a partial checksum.
 * GSO super-frames cross the tx ring whole (one slot, so write_frame stays
 * all-or-nothing) and are resolved on the stack thread just before
 * dispatch: made one valid TCP segment (msb_vnet_whole) or cut into real
 * segments (msb_vnet_segment).
 *
 * Frames to the guest carry a zeroed header and full checksums, so no flag
 * asks the VMM for anything, unless "vnet_guest_tso" says the guest takes
 * TSO super-frames (VIRTIO_NET_F_GUEST_CSUM + GUEST_TSO4 + GUEST_TSO6, as
 * a TAP with IFF_VNET_HDR does): then the TCP coalescer (tcp_gro.c) grows
 * segments to 64 KiB and marks them (msb_vnet_mark_tso) for the guest's
 * kernel to take whole, as it takes a super-frame from a real NIC's LRO.
 */
#ifndef MSB_VNET_HDR_H
#define MSB_VNET_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/frame.h"
#include "lib/metrics.h"
#include "msbnet/msbnet.h"

/* The ABI fixes the header's size; this is its name inside the plugin. */
#define MSB_VNET_HDR_LEN MSBNET_VNET_HDR_LEN

/* virtio 1.x §5.1.6 values. */
#define MSB_VNET_F_NEEDS_CSUM 1
#define MSB_VNET_GSO_NONE 0
#define MSB_VNET_GSO_TCPV4 1
#define MSB_VNET_GSO_UDP 3 /* UFO: IP fragmentation, which the stack refuses */
#define MSB_VNET_GSO_TCPV6 4
#define MSB_VNET_GSO_UDP_L4 5 /* USO: one UDP datagram per segment */
#define MSB_VNET_GSO_ECN 0x80

/* A guest's TCP MSS is at least 48 (Linux tcp_min_snd_mss), which cuts a
 * 64 KiB super-frame into 1366 segments; more than this is not a frame any
 * kernel sends, only a way to make the stack thread loop. */
#define MSB_VNET_MAX_SEGMENTS 2048

struct msb_vnet_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};

void msb_vnet_hdr_read(const uint8_t *b, struct msb_vnet_hdr *h);
void msb_vnet_hdr_write(uint8_t *b, const struct msb_vnet_hdr *h);

/* What ingest did, counted by the caller only once the frame is queued
 * (a frame refused for backpressure comes back and must not count twice). */
struct msb_vnet_ingested {
    bool csum_completed;
    bool gso;
};

/*
 * Takes buf[0..len) as written by the VMM (header + Ethernet frame).
 * Returns a new frame without the header: checksum completed for
 * NEEDS_CSUM, or, for a GSO super-frame, validated and tagged with
 * gso_type/gso_size for the stack thread.  NULL with *why on refusal:
 * VNET_HDR_SHORT, TX_BAD_LENGTH (frame outside [14, MSBNET_MAX_FRAME], or
 * a super-frame above MSBNET_MAX_GSO_FRAME), VNET_BAD_CSUM_OFFSETS,
 * VNET_GSO_SIZE_ZERO, VNET_GSO_MALFORMED, VNET_GSO_UNSUPPORTED,
 * TX_NO_MEMORY.
 */
struct msb_frame *msb_vnet_ingest(const uint8_t *buf, size_t len, struct msb_vnet_ingested *out,
                                  enum msb_drop_reason *why);

/* True when f is a GSO super-frame that must go through msb_vnet_segment. */
static inline bool msb_vnet_is_gso(const struct msb_frame *f)
{
    return f->gso_type != MSB_VNET_GSO_NONE;
}

/*
 * Cuts super-frame f into segments with their own IP lengths and ids,
 * sequence numbers, flags (CWR on the first only, FIN/PSH on the last
 * only) and full checksums, and hands each to emit, one at a time, in
 * order.  The segment belongs to this function: emit may modify it but
 * must not keep it.  Returns the number emitted, or 0 with *why (layout
 * re-checked, VNET_GSO_MALFORMED; TX_NO_MEMORY).
 */
typedef void (*msb_vnet_emit_fn)(void *ctx, struct msb_frame *seg);
size_t msb_vnet_segment(const struct msb_frame *f, msb_vnet_emit_fn emit, void *ctx,
                        enum msb_drop_reason *why);

/*
 * "vnet_gso": "whole" (the default): a TCP super-frame becomes one valid
 * segment of up to 64 KiB in place (IP length, IPv4 header checksum, TCP
 * checksum; gso tags cleared), for the stack to take whole.  lwIP accepts
 * any segment inside its window whatever its MSS, and the host socket
 * re-segments anyway, so nothing on the wire changes while the stack
 * thread handles one segment instead of ~45.  False (f untouched) for UDP,
 * or when the IP length field could not hold it: then msb_vnet_segment.
 */
bool msb_vnet_whole(struct msb_frame *f);

/*
 * Marks f (Ethernet + IPv4/IPv6 + TCP, its IP lengths final) as a TSO
 * super-frame for the guest: gso_type TCPV4/TCPV6, gso_size mss, and the
 * TCP checksum field holding only the pseudo-header sum, to be completed
 * from csum_start (NEEDS_CSUM; the guest's kernel trusts it unchecked, as
 * from a NIC that verified it).  False (f untouched) for anything else.
 */
bool msb_vnet_mark_tso(struct msb_frame *f, uint16_t mss);

/* The header in front of f toward the guest: all zero, or for a frame
 * marked by msb_vnet_mark_tso NEEDS_CSUM + its GSO type and sizes. */
void msb_vnet_rx_hdr(const struct msb_frame *f, uint8_t *hdr);

#endif
