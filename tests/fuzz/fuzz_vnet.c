/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the virtio-net header path (vnet_hdr.c): every input is
 * a write_frame() buffer in "vnet_hdr" mode.  Invariants, checked with
 * abort(): a refused input names a reason; an accepted plain frame is the
 * input minus the header and, when NEEDS_CSUM was asked, its checksum
 * field lies inside it; every segment cut from an accepted super-frame
 * parses as a packet with a correct L4 checksum, is no larger than the
 * headers plus gso_size, and the segments' payloads add up to the
 * super-frame's.
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_vnet), and everywhere as
 * fuzz_vnet_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over mutations
 * of valid TSO/USO/NEEDS_CSUM buffers, registered with ctest.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "msbnet/msbnet.h"
#include "lib/pkt.h"
#include "lib/vnet_hdr.h"

#define FUZZ_TARGET "fuzz_vnet"
#define FUZZ_SEED 0xa4093822299f31d0ull
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long plain_ok, gso_ok, segments;

struct seg_check {
    size_t max_len, payload;
};

static void on_segment(void *ctx, struct msb_frame *seg)
{
    struct seg_check *c = ctx;
    struct msb_pkt p;
    enum msb_drop_reason why;
    check(seg->len <= c->max_len, "segment within headers + gso_size");
    check(msb_pkt_parse(seg->data, seg->len, &p, &why), "segment parses");
    check(p.l3_len + MSB_ETH_HLEN == seg->len, "IP length is the segment's");
    check(msb_pkt_l4_checksum_ok(&p), "segment checksum");
    c->payload += p.l4_len - p.l4_hdr_len;
    segments++;
}

static void check_gso(const struct msb_frame *f)
{
    /* Where the headers end (ingest checked they are inside the frame and
     * that the protocol matches the GSO type). */
    const uint8_t *d = f->data;
    bool v4 = msb_get16(d + 12) == MSB_ETHERTYPE_IPV4;
    size_t l4 = MSB_ETH_HLEN + (v4 ? (size_t)(d[MSB_ETH_HLEN] & 15) * 4 : 40);
    bool tcp = d[MSB_ETH_HLEN + (v4 ? 9 : 6)] == MSB_IPPROTO_TCP;
    size_t hdrs = l4 + (tcp ? (size_t)(d[l4 + 12] >> 4) * 4 : 8);
    check(hdrs <= f->len, "headers inside the super-frame");
    struct seg_check c = {.max_len = hdrs + f->gso_size, .payload = 0};
    enum msb_drop_reason why;
    check(msb_vnet_segment(f, on_segment, &c, &why) > 0, "an accepted super-frame segments");
    check(c.payload == f->len - hdrs, "payload preserved");
    /* "vnet_gso": "whole": one segment carrying everything, or untouched. */
    struct msb_frame *w = msb_frame_new(f->data, f->len);
    check(w != NULL, "malloc");
    w->gso_type = f->gso_type;
    w->gso_size = f->gso_size;
    if (msb_vnet_whole(w)) {
        struct msb_pkt p;
        check(tcp && !msb_vnet_is_gso(w), "whole only for TCP");
        check(msb_pkt_parse(w->data, w->len, &p, &why), "whole parses");
        check(p.l3_len + MSB_ETH_HLEN == w->len, "whole IP length");
        check(msb_pkt_l4_checksum_ok(&p), "whole checksum");
        check(memcmp(w->data + hdrs, f->data + hdrs, f->len - hdrs) == 0, "whole payload");
    } else {
        check(memcmp(w->data, f->data, f->len) == 0 && msb_vnet_is_gso(w), "untouched");
    }
    msb_frame_free(w);
    gso_ok++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MSBNET_MAX_VNET_FRAME)
        return 0;
    /* An exact-size heap copy: ASan/valgrind see any read past the end. */
    uint8_t *b = malloc(size ? size : 1);
    check(b != NULL, "malloc");
    memcpy(b, data, size);
    struct msb_vnet_ingested in;
    enum msb_drop_reason why = MSB_DROP__COUNT;
    struct msb_frame *f = msb_vnet_ingest(b, size, &in, &why);
    if (!f) {
        check(why < MSB_DROP__COUNT, "refusal names a reason");
    } else if (msb_vnet_is_gso(f)) {
        check(in.gso && !in.csum_completed, "gso result");
        check_gso(f);
    } else {
        check(f->len == size - MSB_VNET_HDR_LEN, "plain frame length");
        check(memcmp(f->data, b + MSB_VNET_HDR_LEN, 12) == 0, "MACs kept");
        if (in.csum_completed) {
            struct msb_vnet_hdr h;
            msb_vnet_hdr_read(b, &h);
            check((size_t)h.csum_start + h.csum_offset + 2 <= f->len, "csum field inside");
        }
        plain_ok++;
    }
    msb_frame_free(f);
    free(b);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
/* A valid buffer: header + Ethernet + IPv4/IPv6 + TCP/UDP + payload, with
 * the pseudo-header sum in the checksum field as a guest kernel leaves it. */
static size_t seed(uint8_t *b, uint8_t version, uint8_t proto, uint8_t gso_type,
                   uint16_t gso_size, size_t payload)
{
    static const uint8_t s4[4] = {100, 96, 0, 2}, d4[4] = {198, 18, 0, 1};
    static const uint8_t s6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, [15] = 2};
    static const uint8_t d6[16] = {0xfd, 0x42, [15] = 1};
    uint8_t *fr = b + MSB_VNET_HDR_LEN, *ip = fr + 14;
    size_t l3 = version == 4 ? 20 : 40, l4 = proto == 6 ? 32 : 8;
    memset(b, 0, MSB_VNET_HDR_LEN + 14 + l3 + l4);
    memset(fr, 0x02, 12);
    msb_put16(fr + 12, version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    struct msb_ip src, dst;
    if (version == 4) {
        ip[0] = 0x45;
        msb_put16(ip + 2, (uint16_t)(l3 + l4 + payload));
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, s4, 4);
        memcpy(ip + 16, d4, 4);
        msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
        msb_ip_from_v4(&src, s4);
        msb_ip_from_v4(&dst, d4);
    } else {
        ip[0] = 0x60;
        msb_put16(ip + 4, (uint16_t)(l4 + payload));
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, s6, 16);
        memcpy(ip + 24, d6, 16);
        msb_ip_from_v6(&src, s6);
        msb_ip_from_v6(&dst, d6);
    }
    uint8_t *th = ip + l3;
    msb_put16(th, 40000);
    msb_put16(th + 2, 80);
    if (proto == 6) {
        th[12] = 0x80;
        th[13] = MSB_TCP_ACK | MSB_TCP_PSH;
    } else {
        msb_put16(th + 4, (uint16_t)(8 + payload));
    }
    for (size_t i = 0; i < payload; i++)
        th[l4 + i] = (uint8_t)rnd();
    size_t ck = proto == 6 ? 16 : 6;
    msb_put16(th + ck, (uint16_t)~msb_csum_finish(msb_csum_pseudo(&src, &dst, proto, l4 + payload)));
    struct msb_vnet_hdr h = {.flags = MSB_VNET_F_NEEDS_CSUM, .gso_type = gso_type,
                             .gso_size = gso_size, .csum_start = (uint16_t)(14 + l3),
                             .csum_offset = (uint16_t)ck};
    msb_vnet_hdr_write(b, &h);
    return MSB_VNET_HDR_LEN + 14 + l3 + l4 + payload;
}

static size_t any_seed(uint8_t *b)
{
    switch (rnd() % 5) {
    case 0:
        return seed(b, 4, 6, MSB_VNET_GSO_TCPV4, 1448, 1 + rnd() % 9000);
    case 1:
        return seed(b, 6, 6, MSB_VNET_GSO_TCPV6 | MSB_VNET_GSO_ECN, 1428, 1 + rnd() % 9000);
    case 2:
        return seed(b, 4, 17, MSB_VNET_GSO_UDP_L4, 1200, 1 + rnd() % 5000);
    case 3:
        return seed(b, 6, 17, 0, 0, rnd() % 1400);
    default:
        return seed(b, 4, 6, 0, 0, rnd() % 1400);
    }
}

/* Mutations aimed at the fields the parser trusts least: the header's
 * offsets and sizes, IP/TCP header lengths, and the length itself. */
static void mutate(uint8_t *b, size_t *len, size_t cap)
{
    size_t pos = *len ? (size_t)(rnd() % *len) : 0;
    switch (rnd() % 6) {
    case 0: /* a header field */
        b[rnd() % MSB_VNET_HDR_LEN] = (const uint8_t[]){0, 1, 2, 3, 4, 5, 0x80, 0xff}[rnd() % 8];
        break;
    case 1: /* IHL / version / next header / data offset region */
        if (*len > MSB_VNET_HDR_LEN + 14 + 54)
            b[MSB_VNET_HDR_LEN + 14 + rnd() % 54] = (uint8_t)rnd();
        break;
    case 2:
        if (*len)
            b[pos] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 3: /* a 16-bit header field to an edge value */
        msb_put16(b + 2 * (rnd() % 5) + 2,
                  (const uint16_t[]){0, 1, 13, 14, 0xffff, 0xfff0, 1448}[rnd() % 7]);
        break;
    case 4:
        *len = *len ? (size_t)(rnd() % (*len + 1)) : 0;
        break;
    default:
        for (size_t k = rnd() % 64; k > 0 && *len < cap; k--)
            b[(*len)++] = (uint8_t)rnd();
    }
}

static int write_corpus(const char *dir)
{
    static uint8_t b[16384];
    for (size_t i = 0; i < 5; i++) {
        size_t n = any_seed(b);
        if (fuzz_write_seed(dir, i, "", 0, b, n))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 100000;
    static uint8_t in[16384];
    for (long i = 0; i < runs; i++) {
        size_t len = any_seed(in);
        for (int m = (int)(rnd() % 3); m >= 0; m--)
            mutate(in, &len, sizeof in);
        LLVMFuzzerTestOneInput(in, len);
    }
    printf("fuzz_vnet_replay: %ld inputs, %lu plain and %lu super-frames accepted, %lu segments\n",
           runs, plain_ok, gso_ok, segments);
    return 0;
}
#endif
