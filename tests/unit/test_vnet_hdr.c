/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net header mode: NEEDS_CSUM completion (TCP/UDP over IPv4/IPv6),
 * GSO super-frames cut into segments whose every field is checked against
 * an independent computation, malformed headers dropped by reason, and the
 * ABI's write/read paths with "vnet_hdr": true. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/csum.h"
#include "cunit_main.h"
#include "api/instance.h"
#include "loopback_socket.h"
#include "msbnet/msbnet.h"
#include "lib/pkt.h"
#include "lib/vnet_hdr.h"

static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0, 0, 2};
static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0, 0, 1};
/* Slot 0's guest addresses; the destination is somewhere "public" until
 * the end-to-end tests aim at the gateway (= the host's loopback). */
static const uint8_t src4[4] = {100, 96, 0, 2};
static const uint8_t src6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, [15] = 2};
static uint8_t dst4[4] = {198, 18, 0, 1};
static uint8_t dst6[16] = {0xfd, 0x42, [15] = 1};
static uint16_t dport = 80;

/* The test's own buffer: header + the largest super-frame, and room to
 * spare for the "too long" cases. */
static uint8_t buf[MSBNET_MAX_VNET_FRAME + 64];

/* ---- an independent frame builder -------------------------------------- */

struct spec {
    uint8_t version; /* 4 or 6 */
    uint8_t proto;   /* 6 or 17 */
    size_t payload;
    size_t tcp_opts; /* bytes of TCP options (multiple of 4) */
    uint8_t tcp_flags;
};

static size_t l4_hdr(const struct spec *s)
{
    return s->proto == MSB_IPPROTO_TCP ? 20 + s->tcp_opts : 8;
}

static size_t l3_hdr(const struct spec *s)
{
    return s->version == 4 ? 20 : 40;
}

static uint8_t payload_byte(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
}

static void ips(const struct spec *s, struct msb_ip *a, struct msb_ip *b)
{
    if (s->version == 4) {
        msb_ip_from_v4(a, src4);
        msb_ip_from_v4(b, dst4);
    } else {
        msb_ip_from_v6(a, src6);
        msb_ip_from_v6(b, dst6);
    }
}

/* Writes the Ethernet frame at fr and returns its length.  The L4 checksum
 * field is left zero. */
static size_t build(uint8_t *fr, const struct spec *s)
{
    size_t l3 = l3_hdr(s), l4 = l4_hdr(s), total = l3 + l4 + s->payload;
    memcpy(fr, gw_mac, 6);
    memcpy(fr + 6, guest_mac, 6);
    msb_put16(fr + 12, s->version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    uint8_t *ip = fr + 14, *th = ip + l3;
    memset(ip, 0, l3 + l4);
    if (s->version == 4) {
        ip[0] = 0x45;
        msb_put16(ip + 2, (uint16_t)(total > 0xffff ? 0xffff : total));
        msb_put16(ip + 4, 0xfff0); /* near the wrap, to check it */
        msb_put16(ip + 6, 0x4000);
        ip[8] = 64;
        ip[9] = s->proto;
        memcpy(ip + 12, src4, 4);
        memcpy(ip + 16, dst4, 4);
        msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    } else {
        ip[0] = 0x60;
        msb_put16(ip + 4, (uint16_t)(l4 + s->payload));
        ip[6] = s->proto;
        ip[7] = 64;
        memcpy(ip + 8, src6, 16);
        memcpy(ip + 24, dst6, 16);
    }
    msb_put16(th, 40000);
    msb_put16(th + 2, dport);
    if (s->proto == MSB_IPPROTO_TCP) {
        msb_put32(th + 4, 0xfffff000u); /* the sequence wraps inside 64 KiB */
        msb_put32(th + 8, 12345);
        th[12] = (uint8_t)(((20 + s->tcp_opts) / 4) << 4);
        th[13] = s->tcp_flags;
        msb_put16(th + 14, 65535);
        for (size_t i = 0; i < s->tcp_opts; i++)
            th[20 + i] = i + 1 == s->tcp_opts ? 0 : 1; /* NOPs, then EOL */
    } else {
        msb_put16(th + 4, (uint16_t)(8 + s->payload));
    }
    for (size_t i = 0; i < s->payload; i++)
        th[l4 + i] = payload_byte(i);
    return 14 + total;
}

/* The checksum field's offset within the L4 header. */
static size_t ck_off(const struct spec *s)
{
    return s->proto == MSB_IPPROTO_TCP ? 16 : 6;
}

/* What a guest kernel writes for NEEDS_CSUM: the folded pseudo-header sum,
 * not inverted, in the checksum field. */
static void write_partial(uint8_t *fr, const struct spec *s)
{
    struct msb_ip a, b;
    ips(s, &a, &b);
    size_t l4len = l4_hdr(s) + s->payload;
    uint16_t partial = (uint16_t)~msb_csum_finish(msb_csum_pseudo(&a, &b, s->proto, l4len));
    msb_put16(fr + 14 + l3_hdr(s) + ck_off(s), partial);
}

/* The correct checksum, computed here from scratch. */
static uint16_t reference_ck(const uint8_t *fr, const struct spec *s)
{
    uint8_t tmp[2048];
    size_t l4len = l4_hdr(s) + s->payload;
    CU_ASSERT_FATAL(l4len <= sizeof tmp);
    memcpy(tmp, fr + 14 + l3_hdr(s), l4len);
    msb_put16(tmp + ck_off(s), 0);
    struct msb_ip a, b;
    ips(s, &a, &b);
    return msb_csum_l4(&a, &b, s->proto, tmp, l4len);
}

static void put_hdr(uint8_t *b, uint8_t flags, uint8_t gso_type, uint16_t gso_size,
                    uint16_t csum_start, uint16_t csum_offset)
{
    struct msb_vnet_hdr h = {.flags = flags, .gso_type = gso_type, .gso_size = gso_size,
                             .csum_start = csum_start, .csum_offset = csum_offset,
                             .hdr_len = 0, .num_buffers = 0};
    msb_vnet_hdr_write(b, &h);
}

/* ---- header layout ------------------------------------------------------- */

static void test_header_is_little_endian(void)
{
    uint8_t b[12];
    put_hdr(b, 1, 0x81, 0x05a8, 0x0022, 0x0010);
    static const uint8_t want[12] = {1, 0x81, 0, 0, 0xa8, 0x05, 0x22, 0, 0x10, 0, 0, 0};
    CU_ASSERT_EQUAL(memcmp(b, want, 12), 0);
    struct msb_vnet_hdr h;
    msb_vnet_hdr_read(b, &h);
    CU_ASSERT_EQUAL(h.gso_size, 1448);
    CU_ASSERT_EQUAL(h.csum_start, 34);
    CU_ASSERT_EQUAL(h.csum_offset, 16);
    CU_ASSERT_EQUAL(h.gso_type, 0x81);
}

/* ---- NEEDS_CSUM ---------------------------------------------------------- */

static void check_needs_csum(uint8_t version, uint8_t proto, size_t payload)
{
    struct spec s = {.version = version, .proto = proto, .payload = payload,
                     .tcp_flags = MSB_TCP_ACK | MSB_TCP_PSH};
    uint8_t *fr = buf + 12;
    size_t flen = build(fr, &s);
    write_partial(fr, &s);
    uint16_t want = reference_ck(fr, &s);
    size_t start = 14 + l3_hdr(&s);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, (uint16_t)start, (uint16_t)ck_off(&s));
    struct msb_vnet_ingested in;
    enum msb_drop_reason why;
    struct msb_frame *f = msb_vnet_ingest(buf, flen + 12, &in, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(in.csum_completed);
    CU_ASSERT(!in.gso);
    CU_ASSERT_EQUAL(f->len, flen);
    CU_ASSERT_EQUAL(f->gso_type, 0);
    CU_ASSERT_EQUAL(msb_get16(f->data + start + ck_off(&s)), want);
    struct msb_pkt p;
    CU_ASSERT_FATAL(msb_pkt_parse(f->data, f->len, &p, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    /* The rest of the frame is untouched. */
    CU_ASSERT_EQUAL(memcmp(f->data, fr, start + ck_off(&s)), 0);
    msb_frame_free(f);
}

static void test_needs_csum_tcp4(void)
{
    check_needs_csum(4, MSB_IPPROTO_TCP, 1000);
    check_needs_csum(4, MSB_IPPROTO_TCP, 0);
    check_needs_csum(4, MSB_IPPROTO_TCP, 1); /* odd length */
}

static void test_needs_csum_tcp6(void)
{
    check_needs_csum(6, MSB_IPPROTO_TCP, 1440);
    check_needs_csum(6, MSB_IPPROTO_TCP, 333);
}

static void test_needs_csum_udp4(void)
{
    check_needs_csum(4, MSB_IPPROTO_UDP, 512);
    check_needs_csum(4, MSB_IPPROTO_UDP, 7);
}

static void test_needs_csum_udp6(void)
{
    check_needs_csum(6, MSB_IPPROTO_UDP, 1232);
    check_needs_csum(6, MSB_IPPROTO_UDP, 0);
}

/* A UDP sum that comes to 0 must be stored as 0xffff: 0 means "none" (and
 * is illegal over IPv6). */
static void test_needs_csum_udp_zero_becomes_ffff(void)
{
    struct spec s = {.version = 6, .proto = MSB_IPPROTO_UDP, .payload = 64};
    uint8_t *fr = buf + 12;
    size_t flen = build(fr, &s);
    size_t l4 = 14 + 40;
    /* Choose the last payload word so the whole sum folds to 0xffff. */
    msb_put16(fr + flen - 2, 0);
    struct msb_ip a, b;
    ips(&s, &a, &b);
    uint32_t sum = msb_csum_pseudo(&a, &b, s.proto, flen - l4);
    sum = msb_csum_add(sum, fr + l4, flen - l4);
    msb_put16(fr + flen - 2, msb_csum_finish(sum));
    write_partial(fr, &s);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, (uint16_t)l4, 6);
    struct msb_vnet_ingested in;
    enum msb_drop_reason why;
    struct msb_frame *f = msb_vnet_ingest(buf, flen + 12, &in, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(msb_get16(f->data + l4 + 6), 0xffff);
    struct msb_pkt p;
    CU_ASSERT_FATAL(msb_pkt_parse(f->data, f->len, &p, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    msb_frame_free(f);
}

/* No flag: the frame passes exactly as written (no checksum is touched). */
static void test_no_flags_is_a_plain_frame(void)
{
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_UDP, .payload = 100};
    uint8_t *fr = buf + 12;
    size_t flen = build(fr, &s);
    put_hdr(buf, 0, 0, 0, 0, 0);
    struct msb_vnet_ingested in;
    enum msb_drop_reason why;
    struct msb_frame *f = msb_vnet_ingest(buf, flen + 12, &in, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(!in.csum_completed && !in.gso);
    CU_ASSERT_EQUAL(f->len, flen);
    CU_ASSERT_EQUAL(memcmp(f->data, fr, flen), 0);
    msb_frame_free(f);
}

/* ---- GSO ------------------------------------------------------------------- */

struct collected {
    size_t n;
    struct msb_frame *segs[MSB_VNET_MAX_SEGMENTS];
};

static void collect(void *ctx, struct msb_frame *seg)
{
    struct collected *c = ctx;
    if (c->n < MSB_VNET_MAX_SEGMENTS) {
        c->segs[c->n] = msb_frame_new(seg->data, seg->len);
        c->n++;
    }
    /* The segmenter's buffer is ours to scribble on during the call. */
    memset(seg->data, 0xee, seg->len);
}

static void free_collected(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        msb_frame_free(c->segs[i]);
    c->n = 0;
}

static struct collected got;

/* Writes a super-frame for s behind a GSO header and ingests it. */
static struct msb_frame *super_frame(const struct spec *s, uint8_t gso_type, uint16_t gso_size,
                                     uint8_t **orig, size_t *olen)
{
    uint8_t *fr = buf + 12;
    size_t flen = build(fr, s);
    write_partial(fr, s);
    size_t start = 14 + l3_hdr(s);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, gso_type, gso_size, (uint16_t)start, (uint16_t)ck_off(s));
    struct msb_vnet_ingested in;
    enum msb_drop_reason why = MSB_DROP__COUNT;
    struct msb_frame *f = msb_vnet_ingest(buf, flen + 12, &in, &why);
    CU_ASSERT_PTR_NOT_NULL(f);
    if (!f) {
        fprintf(stderr, "\n  ingest refused: %s\n", msb_drop_name(why));
        return NULL;
    }
    CU_ASSERT(in.gso);
    CU_ASSERT(!in.csum_completed);
    CU_ASSERT_EQUAL(f->gso_size, gso_size);
    CU_ASSERT_EQUAL(f->gso_type, gso_type);
    *orig = fr;
    *olen = flen;
    return f;
}

/* Checks segment i of a TCP super-frame against the original. */
static void check_tcp_segment(const struct spec *s, const uint8_t *orig, size_t i, size_t nsegs,
                              uint16_t mss)
{
    const struct msb_frame *seg = got.segs[i];
    size_t hdrs = 14 + l3_hdr(s) + l4_hdr(s);
    size_t off = i * mss, n = s->payload - off < mss ? s->payload - off : mss;
    CU_ASSERT_EQUAL_FATAL(seg->len, hdrs + n);
    struct msb_pkt p;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse((uint8_t *)seg->data, seg->len, &p, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p)); /* also proves the IP length fields */
    CU_ASSERT_EQUAL(p.l3_len, seg->len - 14);
    CU_ASSERT_EQUAL(p.l4_hdr_len, l4_hdr(s));
    const uint8_t *th = p.l4;
    CU_ASSERT_EQUAL(msb_get32(th + 4), (uint32_t)(0xfffff000u + off)); /* wraps mod 2^32 */
    CU_ASSERT_EQUAL(msb_get32(th + 8), 12345);
    uint8_t want_flags = s->tcp_flags;
    if (i > 0)
        want_flags &= (uint8_t)~0x80; /* CWR on the first segment only */
    if (i + 1 < nsegs)
        want_flags &= (uint8_t)~(MSB_TCP_FIN | MSB_TCP_PSH);
    CU_ASSERT_EQUAL(th[13], want_flags);
    /* Options repeated, payload slice intact. */
    CU_ASSERT_EQUAL(memcmp(th + 20, orig + 14 + l3_hdr(s) + 20, s->tcp_opts), 0);
    CU_ASSERT_EQUAL(memcmp(seg->data + hdrs, orig + hdrs + off, n), 0);
    if (s->version == 4)
        CU_ASSERT_EQUAL(msb_get16(p.l3 + 4), (uint16_t)(0xfff0 + i)); /* ids count up, wrap */
}

static void check_tcp_gso(uint8_t version, uint8_t gso_type, size_t payload, uint16_t mss)
{
    struct spec s = {.version = version, .proto = MSB_IPPROTO_TCP, .payload = payload,
                     .tcp_opts = 12,
                     .tcp_flags = 0x80 | MSB_TCP_ACK | MSB_TCP_PSH | MSB_TCP_FIN};
    uint8_t *orig;
    size_t olen;
    struct msb_frame *f = super_frame(&s, gso_type, mss, &orig, &olen);
    if (!f)
        return;
    enum msb_drop_reason why;
    size_t want = (payload + mss - 1) / mss;
    size_t n = msb_vnet_segment(f, collect, &got, &why);
    CU_ASSERT_EQUAL(n, want);
    CU_ASSERT_EQUAL_FATAL(got.n, want);
    size_t total = 0;
    for (size_t i = 0; i < got.n; i++) {
        check_tcp_segment(&s, orig, i, got.n, mss);
        total += got.segs[i]->len - (14 + l3_hdr(&s) + l4_hdr(&s));
    }
    CU_ASSERT_EQUAL(total, payload);
    free_collected(&got);
    msb_frame_free(f);
}

/* 64 KiB of IPv4: the IP total length at its 65535 maximum, MSS 1448. */
static void test_gso_tcp4_64k(void)
{
    size_t payload = 65535 - 20 - 32;
    check_tcp_gso(4, MSB_VNET_GSO_TCPV4, payload, 1448);
    check_tcp_gso(4, MSB_VNET_GSO_TCPV4 | MSB_VNET_GSO_ECN, payload, 1448);
    check_tcp_gso(4, MSB_VNET_GSO_TCPV4, 1448 * 3, 1448); /* exact multiple */
    check_tcp_gso(4, MSB_VNET_GSO_TCPV4, 9000, 536);
}

/* 64 KiB of IPv6 payload (a full 16-bit payload length), MSS 1428. */
static void test_gso_tcp6_64k(void)
{
    size_t payload = 65535 - 32;
    check_tcp_gso(6, MSB_VNET_GSO_TCPV6, payload, 1428);
    check_tcp_gso(6, MSB_VNET_GSO_TCPV6 | MSB_VNET_GSO_ECN, 20000, 1220);
}

/* One segment's worth: passed on as that one segment, checksummed. */
static void test_gso_single_segment(void)
{
    check_tcp_gso(4, MSB_VNET_GSO_TCPV4, 1000, 1448);
    check_tcp_gso(6, MSB_VNET_GSO_TCPV6, 1428, 1428);
}

static void test_gso_udp_l4(void)
{
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_UDP, .payload = 10000};
    uint8_t *orig;
    size_t olen;
    struct msb_frame *f = super_frame(&s, MSB_VNET_GSO_UDP_L4, 1400, &orig, &olen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    enum msb_drop_reason why;
    CU_ASSERT_EQUAL(msb_vnet_segment(f, collect, &got, &why), 8);
    for (size_t i = 0; i < got.n; i++) {
        struct msb_pkt p;
        CU_ASSERT_FATAL(msb_pkt_parse(got.segs[i]->data, got.segs[i]->len, &p, &why));
        CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
        size_t n = i + 1 < got.n ? 1400 : 10000 - 7 * 1400;
        CU_ASSERT_EQUAL(msb_get16(p.l4 + 4), 8 + n);
        CU_ASSERT_EQUAL(memcmp(p.l4 + 8, orig + 14 + 20 + 8 + i * 1400, n), 0);
    }
    free_collected(&got);
    msb_frame_free(f);
}

/* "vnet_gso": "whole": the super-frame becomes one valid segment. */
static void check_whole(uint8_t version, uint8_t gso_type, size_t payload)
{
    struct spec s = {.version = version, .proto = MSB_IPPROTO_TCP, .payload = payload,
                     .tcp_opts = 12, .tcp_flags = MSB_TCP_ACK | MSB_TCP_PSH};
    uint8_t *orig;
    size_t olen;
    struct msb_frame *f = super_frame(&s, gso_type, 1448, &orig, &olen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_FATAL(msb_vnet_whole(f));
    CU_ASSERT(!msb_vnet_is_gso(f));
    CU_ASSERT_EQUAL(f->len, olen);
    struct msb_pkt p;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f->data, f->len, &p, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    CU_ASSERT_EQUAL(p.l3_len, olen - 14);
    CU_ASSERT_EQUAL(msb_get32(p.l4 + 4), 0xfffff000u);
    CU_ASSERT_EQUAL(p.l4[13], MSB_TCP_ACK | MSB_TCP_PSH);
    size_t hdrs = 14 + l3_hdr(&s) + l4_hdr(&s);
    CU_ASSERT_EQUAL(memcmp(f->data + hdrs, orig + hdrs, payload), 0);
    msb_frame_free(f);
}

static void test_gso_whole(void)
{
    check_whole(4, MSB_VNET_GSO_TCPV4, 65535 - 20 - 32);
    check_whole(6, MSB_VNET_GSO_TCPV6 | MSB_VNET_GSO_ECN, 65535 - 32);
    check_whole(4, MSB_VNET_GSO_TCPV4, 100);
    /* UDP is always segmented: a datagram cannot be one big segment. */
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_UDP, .payload = 3000};
    uint8_t *orig;
    size_t olen;
    struct msb_frame *f = super_frame(&s, MSB_VNET_GSO_UDP_L4, 1400, &orig, &olen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(!msb_vnet_whole(f));
    CU_ASSERT(msb_vnet_is_gso(f));
    CU_ASSERT_EQUAL(memcmp(f->data, orig, olen), 0); /* untouched */
    msb_frame_free(f);
}

/* ---- malformed ------------------------------------------------------------- */

static enum msb_drop_reason refused(size_t len)
{
    struct msb_vnet_ingested in;
    enum msb_drop_reason why = MSB_DROP__COUNT;
    struct msb_frame *f = msb_vnet_ingest(buf, len, &in, &why);
    CU_ASSERT_PTR_NULL(f);
    msb_frame_free(f);
    return why;
}

static size_t tcp4_frame(size_t payload)
{
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_TCP, .payload = payload,
                     .tcp_flags = MSB_TCP_ACK};
    return build(buf + 12, &s) + 12;
}

static void test_malformed_header_and_lengths(void)
{
    memset(buf, 0, 64);
    CU_ASSERT_EQUAL(refused(0), MSB_DROP_VNET_HDR_SHORT);
    CU_ASSERT_EQUAL(refused(11), MSB_DROP_VNET_HDR_SHORT);
    CU_ASSERT_EQUAL(refused(12 + 13), MSB_DROP_TX_BAD_LENGTH);
    put_hdr(buf, 0, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(refused(12 + MSBNET_MAX_FRAME + 1), MSB_DROP_TX_BAD_LENGTH);
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV4, 1448, 0, 0);
    CU_ASSERT_EQUAL(refused(MSBNET_MAX_VNET_FRAME + 1), MSB_DROP_TX_BAD_LENGTH);
}

static void test_malformed_csum_offsets(void)
{
    size_t len = tcp4_frame(100), flen = len - 12;
    /* csum_start beyond the frame */
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, (uint16_t)(flen + 10), 16);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_BAD_CSUM_OFFSETS);
    /* the field itself would straddle the end */
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, 34, (uint16_t)(flen - 34 - 1));
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_BAD_CSUM_OFFSETS);
    /* start + offset overflowing 16 bits must not wrap into the frame */
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, 0xfff0, 0x20);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_BAD_CSUM_OFFSETS);
    /* inside the Ethernet header */
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, 4, 0);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_BAD_CSUM_OFFSETS);
    /* the last legal position is accepted */
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, 34, (uint16_t)(flen - 34 - 2));
    struct msb_vnet_ingested in;
    enum msb_drop_reason why;
    struct msb_frame *f = msb_vnet_ingest(buf, len, &in, &why);
    CU_ASSERT_PTR_NOT_NULL(f);
    msb_frame_free(f);
}

static void test_malformed_gso(void)
{
    size_t len = tcp4_frame(5000);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, MSB_VNET_GSO_TCPV4, 0, 34, 16);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_SIZE_ZERO);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, MSB_VNET_GSO_UDP, 1400, 34, 16);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_UNSUPPORTED);
    put_hdr(buf, 0, 2, 1400, 0, 0); /* no such type */
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_UNSUPPORTED);
    /* TCPv6 type on an IPv4 frame, UDP_L4 on a TCP packet */
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV6, 1400, 0, 0);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_MALFORMED);
    put_hdr(buf, 0, MSB_VNET_GSO_UDP_L4, 1400, 0, 0);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_MALFORMED);
    /* more segments than any kernel makes */
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV4, 2, 0, 0);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_MALFORMED);
    /* a SYN is never offloaded */
    buf[12 + 14 + 20 + 13] |= MSB_TCP_SYN;
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV4, 1448, 0, 0);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_MALFORMED);
    buf[12 + 14 + 20 + 13] &= (uint8_t)~MSB_TCP_SYN;
    /* TCP data offset pointing past the frame */
    size_t short_len = 12 + 14 + 20 + 24;
    buf[12 + 14 + 20 + 12] = 0xf0;
    CU_ASSERT_EQUAL(refused(short_len), MSB_DROP_VNET_GSO_MALFORMED);
    /* headers cut: only Ethernet + part of IPv4 */
    CU_ASSERT_EQUAL(refused(12 + 14 + 10), MSB_DROP_VNET_GSO_MALFORMED);
    /* an IPv4 fragment */
    tcp4_frame(5000);
    msb_put16(buf + 12 + 14 + 6, 0x2000);
    CU_ASSERT_EQUAL(refused(len), MSB_DROP_VNET_GSO_MALFORMED);
}

/* ---- through the ABI --------------------------------------------------------- */

static const struct msbnet_api_v1 *api;

static void test_abi_vnet_mode(void)
{
    char err[256] = "";
    api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    CU_ASSERT_PTR_NULL(api->create("{\"vnet_hdr\": 1}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"vnet_hdr\""));
    CU_ASSERT_PTR_NULL(api->create("{\"vnet_gso\": \"tso\"}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"vnet_gso\""));
    msbnet_t *n = api->create("{\"vnet_hdr\": true, \"queue_capacity\": 4}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);

    /* In: a NEEDS_CSUM frame and a super-frame are taken, bad ones counted. */
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_TCP, .payload = 300,
                     .tcp_flags = MSB_TCP_ACK};
    size_t flen = build(buf + 12, &s);
    write_partial(buf + 12, &s);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, 0, 0, 34, 16);
    CU_ASSERT_EQUAL(api->write_frame(n, buf, flen + 12), MSBNET_WRITTEN);
    s.payload = 60000;
    flen = build(buf + 12, &s);
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV4, 1448, 0, 0);
    CU_ASSERT_EQUAL(api->write_frame(n, buf, flen + 12), MSBNET_WRITTEN);
    CU_ASSERT_EQUAL(api->write_frame(n, buf, 5), MSBNET_EINVAL);
    put_hdr(buf, 0, MSB_VNET_GSO_TCPV4, 0, 0, 0);
    CU_ASSERT_EQUAL(api->write_frame(n, buf, flen + 12), MSBNET_EINVAL);
    struct msb_metrics *m = &n->metrics;
    CU_ASSERT_EQUAL(msb_read(&m->tx_frames), 2);
    CU_ASSERT_EQUAL(msb_read(&m->tx_bytes), (14 + 20 + 20 + 300) + flen);
    CU_ASSERT_EQUAL(msb_read(&m->vnet.frames), 2);
    CU_ASSERT_EQUAL(msb_read(&m->vnet.csum_completed), 1);
    CU_ASSERT_EQUAL(msb_read(&m->vnet.gso_frames), 1);
    CU_ASSERT_EQUAL(msb_read(&m->drops[MSB_DROP_VNET_HDR_SHORT]), 1);
    CU_ASSERT_EQUAL(msb_read(&m->drops[MSB_DROP_VNET_GSO_SIZE_ZERO]), 1);
    char *json = api->metrics_json(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"vnet\":{\"frames\":2,\"csum_completed\":1,"
                                        "\"gso_frames\":1,\"gso_whole\":0,\"gso_segments\":0,"
                                        "\"rx_tso_frames\":0}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"vnet_gso_size_zero\":1"));
    api->free_string(json);

    /* Out: a zeroed header in front; ENOSPC asks for the header too. */
    struct msb_frame *f = msb_frame_alloc(100);
    memset(f->data, 0xab, 100);
    CU_ASSERT_FATAL(msb_instance_emit(n, f));
    uint8_t out[200];
    memset(out, 0x55, sizeof out);
    size_t needed = 0;
    CU_ASSERT_EQUAL(api->read_frame(n, out, 111, &needed), MSBNET_ENOSPC);
    CU_ASSERT_EQUAL(needed, 112);
    CU_ASSERT_EQUAL(api->read_frame(n, out, sizeof out, &needed), 112);
    static const uint8_t zero[12];
    CU_ASSERT_EQUAL(memcmp(out, zero, 12), 0);
    CU_ASSERT_EQUAL(out[12], 0xab);
    CU_ASSERT_EQUAL(out[111], 0xab);
    CU_ASSERT_EQUAL(out[112], 0x55);
    CU_ASSERT_EQUAL(msb_read(&m->rx_bytes), 100);
    api->destroy(n);
}

/* ---- TSO super-frames to the guest ("vnet_guest_tso") ------------------------ */

/* A coalesced frame marked for the guest: its header says what a device
 * (or the guest kernel) must do, doing it gives the checksum the frame
 * would have had, and cutting it as the header says gives valid segments
 * (the segmenter here stands in for the guest kernel's GSO). */
static void check_tso_to_guest(uint8_t version, size_t payload, uint16_t mss)
{
    struct spec s = {.version = version, .proto = MSB_IPPROTO_TCP, .payload = payload,
                     .tcp_opts = 12, .tcp_flags = MSB_TCP_ACK | MSB_TCP_PSH};
    uint8_t *fr = buf + 12;
    size_t flen = build(fr, &s), l4 = 14 + l3_hdr(&s);
    struct msb_ip a, b;
    ips(&s, &a, &b);
    uint16_t full = msb_csum_l4(&a, &b, MSB_IPPROTO_TCP, fr + l4, flen - l4);
    struct msb_frame *f = msb_frame_new(fr, flen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_FATAL(msb_vnet_mark_tso(f, mss));
    CU_ASSERT_EQUAL(f->gso_type, version == 4 ? MSB_VNET_GSO_TCPV4 : MSB_VNET_GSO_TCPV6);
    CU_ASSERT_EQUAL(f->gso_size, mss);
    CU_ASSERT_EQUAL(memcmp(f->data, fr, l4 + 16), 0); /* only the checksum changed */
    CU_ASSERT_EQUAL(memcmp(f->data + l4 + 18, fr + l4 + 18, flen - l4 - 18), 0);

    uint8_t hb[12];
    struct msb_vnet_hdr h;
    msb_vnet_rx_hdr(f, hb);
    msb_vnet_hdr_read(hb, &h);
    CU_ASSERT_EQUAL(h.flags, MSB_VNET_F_NEEDS_CSUM);
    CU_ASSERT_EQUAL(h.gso_type, f->gso_type);
    CU_ASSERT_EQUAL(h.gso_size, mss);
    CU_ASSERT_EQUAL(h.csum_start, l4);
    CU_ASSERT_EQUAL(h.csum_offset, 16);
    CU_ASSERT_EQUAL(h.hdr_len, l4 + 20 + s.tcp_opts);
    CU_ASSERT_EQUAL(h.num_buffers, 0);
    /* What the device does for NEEDS_CSUM. */
    uint16_t done = msb_csum_finish(msb_csum_add(0, f->data + l4, flen - l4));
    CU_ASSERT_EQUAL(done, full);

    /* Back in as a guest would send it: cut into valid segments. */
    memcpy(buf, hb, 12);
    memcpy(buf + 12, f->data, flen);
    struct msb_vnet_ingested in;
    enum msb_drop_reason why = MSB_DROP__COUNT;
    struct msb_frame *g = msb_vnet_ingest(buf, flen + 12, &in, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT(in.gso);
    build(fr, &s); /* the original again, for the comparison */
    size_t want = (payload + mss - 1) / mss;
    CU_ASSERT_EQUAL(msb_vnet_segment(g, collect, &got, &why), want);
    CU_ASSERT_EQUAL_FATAL(got.n, want);
    for (size_t i = 0; i < got.n; i++)
        check_tcp_segment(&s, fr, i, got.n, mss);
    free_collected(&got);
    msb_frame_free(g);
    msb_frame_free(f);
}

static void test_tso_to_guest(void)
{
    check_tso_to_guest(4, 65535 - 20 - 32, 1460);
    check_tso_to_guest(4, 3000, 1448);
    check_tso_to_guest(6, 65535 - 32, 1440);
}

/* Only TCP is marked; an unmarked frame gets the all-zero header. */
static void test_tso_to_guest_only_tcp(void)
{
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_UDP, .payload = 3000};
    size_t flen = build(buf, &s);
    struct msb_frame *f = msb_frame_new(buf, flen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(!msb_vnet_mark_tso(f, 1460));
    CU_ASSERT_EQUAL(f->gso_type, MSB_VNET_GSO_NONE);
    CU_ASSERT_EQUAL(memcmp(f->data, buf, flen), 0);
    uint8_t hb[12];
    static const uint8_t zero[12];
    memset(hb, 0x55, sizeof hb);
    msb_vnet_rx_hdr(f, hb);
    CU_ASSERT_EQUAL(memcmp(hb, zero, 12), 0);
    s.proto = MSB_IPPROTO_TCP;
    CU_ASSERT(!msb_vnet_mark_tso(f, 0)); /* gso_size 0 is no size */
    msb_frame_free(f);
}

/* Through the ABI: the key needs vnet_hdr, and read_frame writes the
 * super-frame's header. */
static void test_tso_to_guest_abi(void)
{
    char err[256] = "";
    const struct msbnet_api_v1 *a = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NULL(a->create("{\"vnet_guest_tso\": true}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"vnet_guest_tso\" needs \"vnet_hdr\""));
    msbnet_t *n = a->create("{\"vnet_hdr\": true, \"vnet_guest_tso\": true}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT(n->cfg.vnet_guest_tso);
    struct spec s = {.version = 6, .proto = MSB_IPPROTO_TCP, .payload = 20000,
                     .tcp_flags = MSB_TCP_ACK};
    size_t flen = build(buf, &s);
    struct msb_frame *f = msb_frame_new(buf, flen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_FATAL(msb_vnet_mark_tso(f, 1400));
    CU_ASSERT_FATAL(msb_instance_emit(n, f));
    static uint8_t out[MSBNET_MAX_VNET_FRAME];
    CU_ASSERT_EQUAL(a->read_frame(n, out, sizeof out, NULL), (long)(12 + flen));
    struct msb_vnet_hdr h;
    msb_vnet_hdr_read(out, &h);
    CU_ASSERT_EQUAL(h.flags, MSB_VNET_F_NEEDS_CSUM);
    CU_ASSERT_EQUAL(h.gso_type, MSB_VNET_GSO_TCPV6);
    CU_ASSERT_EQUAL(h.gso_size, 1400);
    CU_ASSERT_EQUAL(h.csum_start, 54);
    CU_ASSERT_EQUAL(memcmp(out + 12, buf, 54 + 16), 0);
    a->destroy(n);
}

/* ---- end to end through a started stack -------------------------------------- */

/* A started vnet_hdr instance, the guest talking to a UDP socket on
 * 127.0.0.1 through the gateway address: offloaded frames must reach the
 * peer as the datagrams the guest meant, and replies come back with a
 * zeroed header and a correct checksum. */
static msbnet_t *run_net;

/* One datagram within ms; *from (if not NULL) gets the sender. */
static ssize_t recv_wait(int fd, uint8_t *b, size_t cap, int ms, struct sockaddr_storage *from,
                         socklen_t *fromlen)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return -1;
    return recvfrom(fd, b, cap, 0, (struct sockaddr *)from, fromlen);
}

/* The next UDP/IPv4 frame for the guest within ms (header included), or 0. */
static long next_udp(uint8_t *out, size_t cap, int ms)
{
    uint64_t deadline = msb_now_ms() + (uint64_t)ms;
    while (msb_now_ms() < deadline) {
        long n = api->read_frame(run_net, out, cap, NULL);
        if (n > 12 + 14 + 20 && msb_get16(out + 12 + 12) == MSB_ETHERTYPE_IPV4 &&
            out[12 + 14 + 9] == MSB_IPPROTO_UDP)
            return n;
        if (n == 0) {
            struct pollfd p = {.fd = api->rx_wake_fd(run_net), .events = POLLIN};
            poll(&p, 1, 20);
        }
    }
    return 0;
}

/* Writes a UDP datagram of `payload` bytes to the peer, offloaded as asked. */
static void send_offloaded(size_t payload, uint8_t gso_type, uint16_t gso_size)
{
    struct spec s = {.version = 4, .proto = MSB_IPPROTO_UDP, .payload = payload};
    size_t flen = build(buf + 12, &s);
    write_partial(buf + 12, &s);
    put_hdr(buf, MSB_VNET_F_NEEDS_CSUM, gso_type, gso_size, 14 + 20, 6);
    CU_ASSERT_EQUAL(api->write_frame(run_net, buf, flen + 12), MSBNET_WRITTEN);
}

static void test_stack_udp_offloads(void)
{
    char err[256] = "";
    run_net = api->create("{\"vnet_hdr\": true, \"egress\": \"allow\"}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run_net);
    CU_ASSERT_EQUAL(api->set_gateways(run_net, "100.96.0.1", "fd42:6d73:62::1"), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(api->start(run_net, err, sizeof err), MSBNET_OK);
    uint16_t port;
    int peer = loopback_socket(4, SOCK_DGRAM, &port);
    memcpy(dst4, (const uint8_t[]){100, 96, 0, 1}, 4); /* the gateway = host loopback */
    dport = port;
    struct msb_metrics *m = &run_net->metrics;
    static uint8_t dgram[65536];
    struct sockaddr_storage relay;
    socklen_t rl = sizeof relay;

    /* NEEDS_CSUM: one datagram, delivered intact. */
    send_offloaded(500, MSB_VNET_GSO_NONE, 0);
    CU_ASSERT_EQUAL(recv_wait(peer, dgram, sizeof dgram, 3000, &relay, &rl), 500);
    CU_ASSERT_EQUAL(dgram[0], payload_byte(0));
    CU_ASSERT_EQUAL(dgram[499], payload_byte(499));

    /* USO: 3000 bytes at gso_size 1200 -> three datagrams, in order. */
    send_offloaded(3000, MSB_VNET_GSO_UDP_L4, 1200);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        ssize_t n = recv_wait(peer, dgram, sizeof dgram, 3000, NULL, NULL);
        CU_ASSERT_EQUAL(n, i < 2 ? 1200 : 600);
        if (n <= 0)
            break;
        CU_ASSERT_EQUAL(dgram[0], payload_byte(off));
        CU_ASSERT_EQUAL(dgram[n - 1], payload_byte(off + (size_t)n - 1));
        off += (size_t)n;
    }
    CU_ASSERT_EQUAL(msb_read(&m->vnet.gso_frames), 1);
    CU_ASSERT_EQUAL(msb_read(&m->vnet.gso_segments), 3);
    CU_ASSERT_EQUAL(msb_read(&m->vnet.csum_completed), 1);
    CU_ASSERT_EQUAL(msb_read(&m->drops[MSB_DROP_L4_BAD_CHECKSUM]), 0);

    /* The reply: a zeroed header, then a frame whose checksum verifies. */
    CU_ASSERT_EQUAL(sendto(peer, "pong", 4, 0, (struct sockaddr *)&relay, rl), 4);
    static uint8_t out[MSBNET_MAX_VNET_FRAME];
    long n = next_udp(out, sizeof out, 3000);
    CU_ASSERT_FATAL(n > 12);
    static const uint8_t zero[12];
    CU_ASSERT_EQUAL(memcmp(out, zero, 12), 0);
    struct msb_pkt pk;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(out + 12, (size_t)n - 12, &pk, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(&pk));
    CU_ASSERT_EQUAL(pk.l4_len, 8 + 4);
    CU_ASSERT_EQUAL(memcmp(pk.l4 + 8, "pong", 4), 0);
    CU_ASSERT_EQUAL(pk.dport, 40000);
    close(peer);
    api->destroy(run_net);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"header_is_little_endian", test_header_is_little_endian},
        {"needs_csum_tcp4", test_needs_csum_tcp4},
        {"needs_csum_tcp6", test_needs_csum_tcp6},
        {"needs_csum_udp4", test_needs_csum_udp4},
        {"needs_csum_udp6", test_needs_csum_udp6},
        {"needs_csum_udp_zero_becomes_ffff", test_needs_csum_udp_zero_becomes_ffff},
        {"no_flags_is_a_plain_frame", test_no_flags_is_a_plain_frame},
        {"gso_tcp4_64k", test_gso_tcp4_64k},
        {"gso_tcp6_64k", test_gso_tcp6_64k},
        {"gso_single_segment", test_gso_single_segment},
        {"gso_udp_l4", test_gso_udp_l4},
        {"gso_whole", test_gso_whole},
        {"malformed_header_and_lengths", test_malformed_header_and_lengths},
        {"malformed_csum_offsets", test_malformed_csum_offsets},
        {"malformed_gso", test_malformed_gso},
        {"abi_vnet_mode", test_abi_vnet_mode},
        {"tso_to_guest", test_tso_to_guest},
        {"tso_to_guest_only_tcp", test_tso_to_guest_only_tcp},
        {"tso_to_guest_abi", test_tso_to_guest_abi},
        {"stack_udp_offloads", test_stack_udp_offloads},
        {NULL, NULL},
    };
    return cunit_run("vnet_hdr", tests);
}
