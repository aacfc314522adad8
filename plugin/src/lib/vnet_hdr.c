/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net headers (vnet_hdr.h): the guest's offloads completed or refused
 * on the writer's thread, GSO super-frames resolved on the stack thread,
 * and the headers of frames to the guest. */
#include "lib/vnet_hdr.h"

#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "msbnet/msbnet.h"
#include "lib/pkt.h"


static uint16_t get_le16(const uint8_t *b)
{
    return (uint16_t)(b[0] | b[1] << 8);
}

static void put_le16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

void msb_vnet_hdr_read(const uint8_t *b, struct msb_vnet_hdr *h)
{
    h->flags = b[0];
    h->gso_type = b[1];
    h->hdr_len = get_le16(b + 2);
    h->gso_size = get_le16(b + 4);
    h->csum_start = get_le16(b + 6);
    h->csum_offset = get_le16(b + 8);
    h->num_buffers = get_le16(b + 10);
}

void msb_vnet_hdr_write(uint8_t *b, const struct msb_vnet_hdr *h)
{
    b[0] = h->flags;
    b[1] = h->gso_type;
    put_le16(b + 2, h->hdr_len);
    put_le16(b + 4, h->gso_size);
    put_le16(b + 6, h->csum_start);
    put_le16(b + 8, h->csum_offset);
    put_le16(b + 10, h->num_buffers);
}

static struct msb_frame *fail(enum msb_drop_reason *why, enum msb_drop_reason r)
{
    *why = r;
    return NULL;
}

/* ---- the layout of a super-frame ---------------------------------------- */

/* Where the headers of a GSO super-frame end and how it is cut.  Lengths
 * come from the frame itself: the IP length fields of a super-frame are
 * rewritten per segment anyway, and the frame is what was really sent. */
struct gso_layout {
    uint8_t version;  /* 4 or 6 */
    uint8_t proto;    /* TCP or UDP */
    size_t l4;        /* offset of the transport header */
    size_t hdrs;      /* offset of the payload: every header, copied per segment */
    size_t payload;   /* bytes after hdrs */
    size_t nsegs;
};

/* The transport a gso_type promises, or 0 for types we do not segment. */
static uint8_t gso_proto(uint8_t base)
{
    switch (base) {
    case MSB_VNET_GSO_TCPV4:
    case MSB_VNET_GSO_TCPV6:
        return MSB_IPPROTO_TCP;
    case MSB_VNET_GSO_UDP_L4:
        return MSB_IPPROTO_UDP;
    default:
        return 0;
    }
}

/* IP header of fr: sets version and l4, checks the protocol and that the
 * packet is not an IPv4 fragment.  False = malformed. */
static bool layout_ip(const uint8_t *fr, size_t flen, uint8_t base, struct gso_layout *g)
{
    uint16_t type = msb_get16(fr + 12);
    const uint8_t *ip = fr + MSB_ETH_HLEN;
    size_t avail = flen - MSB_ETH_HLEN;
    if (type == MSB_ETHERTYPE_IPV4 && base != MSB_VNET_GSO_TCPV6) {
        if (avail < MSB_IPV4_HLEN || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
            return false;
        size_t hl = (size_t)(ip[0] & 15) * 4;
        if (hl > avail || ip[9] != g->proto || (msb_get16(ip + 6) & 0x3fff))
            return false;
        g->version = 4;
        g->l4 = MSB_ETH_HLEN + hl;
        return true;
    }
    if (type == MSB_ETHERTYPE_IPV6 && base != MSB_VNET_GSO_TCPV4) {
        /* No extension headers: the stack refuses them anyway. */
        if (avail < MSB_IPV6_HLEN || ip[0] >> 4 != 6 || ip[6] != g->proto)
            return false;
        g->version = 6;
        g->l4 = MSB_ETH_HLEN + MSB_IPV6_HLEN;
        return true;
    }
    return false;
}

/* Transport header: sets hdrs.  A SYN or RST is never offloaded by a
 * kernel; one in a super-frame would be repeated in every segment. */
static bool layout_l4(const uint8_t *fr, size_t flen, struct gso_layout *g)
{
    if (g->proto == MSB_IPPROTO_UDP) {
        g->hdrs = g->l4 + MSB_UDP_HLEN;
        return g->hdrs <= flen;
    }
    if (g->l4 + MSB_TCP_HLEN > flen)
        return false;
    size_t doff = (size_t)(fr[g->l4 + 12] >> 4) * 4;
    if (doff < MSB_TCP_HLEN || g->l4 + doff > flen)
        return false;
    if (fr[g->l4 + 13] & (MSB_TCP_SYN | MSB_TCP_RST))
        return false;
    g->hdrs = g->l4 + doff;
    return true;
}

static bool gso_layout(const uint8_t *fr, size_t flen, uint8_t gso_type, uint16_t gso_size,
                       struct gso_layout *g, enum msb_drop_reason *why)
{
    uint8_t base = gso_type & (uint8_t)~MSB_VNET_GSO_ECN;
    memset(g, 0, sizeof *g);
    if (!(g->proto = gso_proto(base))) {
        *why = MSB_DROP_VNET_GSO_UNSUPPORTED;
        return false;
    }
    if (gso_size == 0) {
        *why = MSB_DROP_VNET_GSO_SIZE_ZERO;
        return false;
    }
    *why = MSB_DROP_VNET_GSO_MALFORMED;
    if (flen < MSB_ETH_HLEN || !layout_ip(fr, flen, base, g) || !layout_l4(fr, flen, g))
        return false;
    g->payload = flen - g->hdrs;
    /* Like the kernel, a super-frame with one segment's worth (or none) is
     * passed on as that one segment. */
    g->nsegs = g->payload ? (g->payload + gso_size - 1) / gso_size : 1;
    if (g->nsegs > MSB_VNET_MAX_SEGMENTS)
        return false;
    /* Every segment's IP length must fit its 16-bit field. */
    size_t largest = g->hdrs + (g->payload < gso_size ? g->payload : gso_size);
    size_t ip_len_field = largest - MSB_ETH_HLEN - (g->version == 6 ? MSB_IPV6_HLEN : 0);
    return ip_len_field <= 0xffff;
}

/* ---- guest frames in ------------------------------------------------------ */

/* NEEDS_CSUM: the checksum field must lie inside the frame, after the
 * Ethernet header; the sum runs from csum_start to the end of the frame
 * (virtio §5.1.6.2; zero Ethernet padding does not change a sum). */
static bool csum_offsets_ok(const struct msb_vnet_hdr *h, size_t flen)
{
    size_t field = (size_t)h->csum_start + h->csum_offset;
    return h->csum_start >= MSB_ETH_HLEN && field + 2 <= flen;
}

static void complete_csum(uint8_t *fr, size_t flen, const struct msb_vnet_hdr *h)
{
    uint8_t *field = fr + h->csum_start + h->csum_offset;
    uint32_t sum = msb_csum_add(0, fr + h->csum_start, flen - h->csum_start);
    uint16_t ck = msb_csum_finish(sum);
    /* 0 and 0xffff verify alike; 0 would mean "no checksum" to UDP. */
    msb_put16(field, ck ? ck : 0xffff);
}

struct msb_frame *msb_vnet_ingest(const uint8_t *buf, size_t len, struct msb_vnet_ingested *out,
                                  enum msb_drop_reason *why)
{
    memset(out, 0, sizeof *out);
    if (len < MSB_VNET_HDR_LEN)
        return fail(why, MSB_DROP_VNET_HDR_SHORT);
    struct msb_vnet_hdr h;
    msb_vnet_hdr_read(buf, &h);
    const uint8_t *fr = buf + MSB_VNET_HDR_LEN;
    size_t flen = len - MSB_VNET_HDR_LEN;
    bool gso = (h.gso_type & (uint8_t)~MSB_VNET_GSO_ECN) != MSB_VNET_GSO_NONE;
    size_t max = gso ? MSBNET_MAX_GSO_FRAME : MSBNET_MAX_FRAME;
    if (flen < MSBNET_MIN_FRAME || flen > max)
        return fail(why, MSB_DROP_TX_BAD_LENGTH);
    bool needs_csum = h.flags & MSB_VNET_F_NEEDS_CSUM;
    if (needs_csum && !csum_offsets_ok(&h, flen))
        return fail(why, MSB_DROP_VNET_BAD_CSUM_OFFSETS);
    struct gso_layout g;
    if (gso && !gso_layout(fr, flen, h.gso_type, h.gso_size, &g, why))
        return NULL;
    struct msb_frame *f = msb_frame_new(fr, flen);
    if (!f)
        return fail(why, MSB_DROP_TX_NO_MEMORY);
    if (gso) {
        /* Every segment's checksum is computed whole when it is cut. */
        f->gso_type = h.gso_type;
        f->gso_size = h.gso_size;
        out->gso = true;
    } else if (needs_csum) {
        complete_csum(f->data, flen, &h);
        out->csum_completed = true;
    }
    return f;
}

/* ---- segmentation ------------------------------------------------------------ */

/* Fixes the IP header of segment i carrying l3_len bytes of IP packet. */
static void fix_ip(uint8_t *ip, const struct gso_layout *g, size_t l3_len, size_t i)
{
    if (g->version == 6) {
        msb_put16(ip + 4, (uint16_t)(l3_len - MSB_IPV6_HLEN));
        return;
    }
    size_t hl = (size_t)(ip[0] & 15) * 4;
    msb_put16(ip + 2, (uint16_t)l3_len);
    /* Consecutive ids, as a NIC doing TSO gives them. */
    msb_put16(ip + 4, (uint16_t)(msb_get16(ip + 4) + i));
    msb_put16(ip + 10, 0);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, hl)));
}

/* Sequence number and flags of TCP segment i starting at payload offset off. */
static void fix_tcp(uint8_t *th, size_t off, bool first, bool last)
{
    msb_put32(th + 4, msb_get32(th + 4) + (uint32_t)off);
    if (!first)
        th[13] &= (uint8_t)~MSB_TCP_CWR;
    if (!last)
        th[13] &= (uint8_t)~(MSB_TCP_FIN | MSB_TCP_PSH);
}

static void fix_l4_csum(uint8_t *fr, const struct gso_layout *g, size_t seg_len)
{
    const uint8_t *ip = fr + MSB_ETH_HLEN;
    uint8_t *l4 = fr + g->l4;
    struct msb_ip src, dst;
    if (g->version == 4) {
        msb_ip_from_v4(&src, ip + 12);
        msb_ip_from_v4(&dst, ip + 16);
    } else {
        msb_ip_from_v6(&src, ip + 8);
        msb_ip_from_v6(&dst, ip + 24);
    }
    size_t l4_len = seg_len - g->l4;
    uint8_t *ck = l4 + (g->proto == MSB_IPPROTO_TCP ? 16 : 6);
    msb_put16(ck, 0);
    msb_put16(ck, msb_csum_l4(&src, &dst, g->proto, l4, l4_len));
}

/* Writes segment i of f into seg (headers from f, then its payload slice). */
static void build_segment(const struct msb_frame *f, const struct gso_layout *g, size_t i,
                          struct msb_frame *seg)
{
    size_t off = i * f->gso_size;
    size_t n = g->payload - off < f->gso_size ? g->payload - off : f->gso_size;
    memcpy(seg->data, f->data, g->hdrs);
    memcpy(seg->data + g->hdrs, f->data + g->hdrs + off, n);
    seg->len = (uint32_t)(g->hdrs + n);
    fix_ip(seg->data + MSB_ETH_HLEN, g, seg->len - MSB_ETH_HLEN, i);
    if (g->proto == MSB_IPPROTO_TCP)
        fix_tcp(seg->data + g->l4, off, i == 0, i + 1 == g->nsegs);
    else
        msb_put16(seg->data + g->l4 + 4, (uint16_t)(seg->len - g->l4));
    fix_l4_csum(seg->data, g, seg->len);
}

size_t msb_vnet_segment(const struct msb_frame *f, msb_vnet_emit_fn emit, void *ctx,
                        enum msb_drop_reason *why)
{
    struct gso_layout g;
    if (!gso_layout(f->data, f->len, f->gso_type, f->gso_size, &g, why))
        return 0;
    size_t cap = g.hdrs + (g.payload < f->gso_size ? g.payload : f->gso_size);
    /* One buffer for every segment: emit copies whatever it keeps. */
    struct msb_frame *seg = msb_frame_alloc(cap);
    if (!seg) {
        *why = MSB_DROP_TX_NO_MEMORY;
        return 0;
    }
    for (size_t i = 0; i < g.nsegs; i++) {
        build_segment(f, &g, i, seg);
        emit(ctx, seg);
    }
    msb_frame_free(seg);
    return g.nsegs;
}

/* ---- the whole super-frame as one segment -------------------------------- */

bool msb_vnet_whole(struct msb_frame *f)
{
    struct gso_layout g;
    enum msb_drop_reason why;
    if (!gso_layout(f->data, f->len, f->gso_type, f->gso_size, &g, &why) ||
        g.proto != MSB_IPPROTO_TCP)
        return false;
    size_t l3_len = f->len - MSB_ETH_HLEN;
    if (l3_len - (g.version == 6 ? MSB_IPV6_HLEN : 0) > 0xffff)
        return false;
    /* Segment 0 of 1: IP length and checksums for the whole payload, the
     * flags as the guest wrote them. */
    fix_ip(f->data + MSB_ETH_HLEN, &g, l3_len, 0);
    fix_l4_csum(f->data, &g, f->len);
    f->gso_type = MSB_VNET_GSO_NONE;
    f->gso_size = 0;
    return true;
}

/* ---- super-frames to the guest ------------------------------------------ */

/* Offsets of the TCP header and of the payload in a frame to the guest;
 * false when it is not IPv4/IPv6 + TCP with room for both headers. */
static bool tcp_offsets(const struct msb_frame *f, size_t *l4, size_t *hdrs, uint8_t *v)
{
    if (f->len < MSB_ETH_HLEN + MSB_IPV4_HLEN + MSB_TCP_HLEN)
        return false;
    const uint8_t *ip = f->data + MSB_ETH_HLEN;
    *v = ip[0] >> 4;
    if (*v == 4 && ip[9] == MSB_IPPROTO_TCP && (ip[0] & 15) >= 5)
        *l4 = MSB_ETH_HLEN + (size_t)(ip[0] & 15) * 4;
    else if (*v == 6 && ip[6] == MSB_IPPROTO_TCP)
        *l4 = MSB_ETH_HLEN + MSB_IPV6_HLEN;
    else
        return false;
    if (*l4 + MSB_TCP_HLEN > f->len)
        return false;
    size_t doff = (size_t)(f->data[*l4 + 12] >> 4) * 4;
    *hdrs = *l4 + doff;
    return doff >= MSB_TCP_HLEN && *hdrs <= f->len;
}

bool msb_vnet_mark_tso(struct msb_frame *f, uint16_t mss)
{
    size_t l4, hdrs;
    uint8_t v;
    if (!mss || !tcp_offsets(f, &l4, &hdrs, &v))
        return false;
    const uint8_t *ip = f->data + MSB_ETH_HLEN;
    struct msb_ip src, dst;
    if (v == 4) {
        msb_ip_from_v4(&src, ip + 12);
        msb_ip_from_v4(&dst, ip + 16);
    } else {
        msb_ip_from_v6(&src, ip + 8);
        msb_ip_from_v6(&dst, ip + 24);
    }
    /* Folded, not inverted: what a stack doing CHECKSUM_PARTIAL leaves. */
    uint32_t sum = msb_csum_pseudo(&src, &dst, MSB_IPPROTO_TCP, f->len - l4);
    msb_put16(f->data + l4 + 16, (uint16_t)~msb_csum_finish(sum));
    f->gso_type = v == 4 ? MSB_VNET_GSO_TCPV4 : MSB_VNET_GSO_TCPV6;
    f->gso_size = mss;
    return true;
}

void msb_vnet_rx_hdr(const struct msb_frame *f, uint8_t *hdr)
{
    struct msb_vnet_hdr h;
    memset(&h, 0, sizeof h);
    size_t l4, hdrs;
    uint8_t v;
    if (f->gso_type != MSB_VNET_GSO_NONE && tcp_offsets(f, &l4, &hdrs, &v)) {
        h.flags = MSB_VNET_F_NEEDS_CSUM;
        h.gso_type = f->gso_type;
        h.gso_size = f->gso_size;
        h.hdr_len = (uint16_t)hdrs;
        h.csum_start = (uint16_t)l4;
        h.csum_offset = 16;
    }
    msb_vnet_hdr_write(hdr, &h);
}
