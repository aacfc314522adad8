/* SPDX-License-Identifier: Apache-2.0 */
/* Guest fragment reassembly: a UDP datagram cut into IPv4 and IPv6
 * fragments comes back byte for byte (and parses as a whole packet with
 * good checksums) in order, out of order and with duplicates; overlaps,
 * oversize, malformed fragments, timeouts and the caps drop and count. */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "lib/ip_reasm.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"

static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t src4[4] = {100, 96, 0, 2}, dst4[4] = {198, 18, 0, 1};
static const uint8_t src6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t dst6[16] = {0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static struct msb_metrics metrics;
static struct msb_reasm *r;

static void setup(uint32_t max_datagrams, uint32_t max_bytes)
{
    msb_reasm_destroy(r);
    msb_metrics_init(&metrics);
    const struct msb_reasm_limits lim = {max_datagrams, max_bytes, 30000};
    r = msb_reasm_create(&lim, &metrics);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
}

static uint64_t drops(enum msb_drop_reason why)
{
    return msb_read(&metrics.drops[why]);
}

static uint64_t total_drops(void)
{
    uint64_t n = 0;
    for (int i = 0; i < MSB_DROP__COUNT; i++)
        n += drops((enum msb_drop_reason)i);
    return n;
}

/* ---- the datagram and its fragments ------------------------------------------ */

#define MAX_L4 70000
static uint8_t l4[MAX_L4]; /* the UDP datagram being fragmented */
static size_t l4_len;

static void make_udp(int family, size_t payload)
{
    l4_len = 8 + payload;
    msb_put16(l4, 40000);
    msb_put16(l4 + 2, 7000);
    msb_put16(l4 + 4, (uint16_t)l4_len);
    msb_put16(l4 + 6, 0);
    for (size_t i = 8; i < l4_len; i++)
        l4[i] = (uint8_t)(i * 7 + 3);
    struct msb_ip s, d;
    if (family == 4) {
        msb_ip_from_v4(&s, src4);
        msb_ip_from_v4(&d, dst4);
    } else {
        msb_ip_from_v6(&s, src6);
        msb_ip_from_v6(&d, dst6);
    }
    msb_put16(l4 + 6, msb_csum_l4(&s, &d, MSB_IPPROTO_UDP, l4, l4_len));
}

struct frag {
    uint8_t b[1600];
    size_t len;
};

/* The IPv4 fragment carrying l4[off, off+len) with id and MF. */
static void frag4(struct frag *f, uint16_t id, size_t off, size_t len, bool more)
{
    CU_ASSERT_FATAL(len + 34 <= sizeof f->b);
    msb_eth_write(f->b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f->b + MSB_ETH_HLEN;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    msb_put16(ip + 2, (uint16_t)(20 + len));
    msb_put16(ip + 4, id);
    msb_put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
    ip[8] = 64;
    ip[9] = MSB_IPPROTO_UDP;
    memcpy(ip + 12, src4, 4);
    memcpy(ip + 16, dst4, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    memcpy(ip + 20, l4 + off, len);
    f->len = MSB_ETH_HLEN + 20 + len;
}

static void frag6(struct frag *f, uint32_t id, size_t off, size_t len, bool more)
{
    CU_ASSERT_FATAL(len + 62 <= sizeof f->b);
    msb_eth_write(f->b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f->b + MSB_ETH_HLEN, *fh = ip + 40;
    memset(ip, 0, 48);
    ip[0] = 0x60;
    msb_put16(ip + 4, (uint16_t)(8 + len));
    ip[6] = 44;
    ip[7] = 64;
    memcpy(ip + 8, src6, 16);
    memcpy(ip + 24, dst6, 16);
    fh[0] = MSB_IPPROTO_UDP;
    msb_put16(fh + 2, (uint16_t)(off | (more ? 1 : 0)));
    msb_put32(fh + 4, id);
    memcpy(fh + 8, l4 + off, len);
    f->len = MSB_ETH_HLEN + 48 + len;
}

static struct msb_frame *feed(const struct frag *f, uint64_t now)
{
    return msb_reasm_input(r, f->b, f->len, now);
}

/* A reassembled frame must parse as the whole datagram, checksums good. */
static void check_whole(struct msb_frame *w, int family)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    struct msb_pkt p;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(w->data, w->len, &p, &why));
    CU_ASSERT_EQUAL(p.ip_version, family);
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_UDP);
    CU_ASSERT_EQUAL_FATAL(p.l4_len, l4_len);
    CU_ASSERT_EQUAL(memcmp(p.l4, l4, l4_len), 0);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    CU_ASSERT_EQUAL(memcmp(p.src_mac, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(p.src.b, family == 4 ? src4 : src6, family == 4 ? 4 : 16), 0);
    if (family == 4)
        CU_ASSERT_EQUAL(msb_get16(p.l3 + 4), 77); /* the id is kept */
    msb_frame_free(w);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 0);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 0);
}

/* l4 in fragments of at most mtu_data bytes (a multiple of 8), fed in the
 * order given by perm (indexes into the fragment list); the datagram must
 * come back exactly at the last one. */
static void roundtrip(int family, size_t chunk, const size_t *perm, size_t n)
{
    size_t nfrags = (l4_len + chunk - 1) / chunk;
    CU_ASSERT_EQUAL_FATAL(nfrags, n);
    for (size_t i = 0; i < n; i++) {
        size_t k = perm[i], off = k * chunk;
        size_t len = off + chunk > l4_len ? l4_len - off : chunk;
        struct frag f;
        if (family == 4)
            frag4(&f, 77, off, len, k + 1 < nfrags);
        else
            frag6(&f, 77, off, len, k + 1 < nfrags);
        struct msb_frame *w = feed(&f, 1000);
        if (i + 1 < n) {
            CU_ASSERT_PTR_NULL(w);
            msb_frame_free(w);
        } else {
            check_whole(w, family);
        }
    }
}

/* ---- tests ------------------------------------------------------------------- */

static void test_in_order_v4(void)
{
    setup(64, 262144);
    make_udp(4, 4000);
    static const size_t order[] = {0, 1, 2};
    roundtrip(4, 1480, order, 3);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.fragments), 3);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.reassembled), 1);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_out_of_order_v4(void)
{
    setup(64, 262144);
    make_udp(4, 4000);
    static const size_t order[] = {2, 0, 1};
    roundtrip(4, 1480, order, 3);
    static const size_t order2[] = {1, 2, 0};
    roundtrip(4, 1480, order2, 3);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_v6(void)
{
    setup(64, 262144);
    make_udp(6, 4000);
    static const size_t order[] = {2, 1, 0};
    roundtrip(6, 1448, order, 3);
    static const size_t order2[] = {0, 1, 2};
    roundtrip(6, 1448, order2, 3);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

/* A 65,000-byte datagram in 45 fragments: the largest kind there is. */
static void test_large_v4(void)
{
    setup(64, 262144);
    make_udp(4, 65507 - 8);
    size_t order[45];
    for (size_t i = 0; i < 45; i++)
        order[i] = (i * 7) % 45; /* a permutation: 7 and 45 are coprime */
    roundtrip(4, 1480, order, 45);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_duplicate_ignored(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag a, b, c;
    frag4(&a, 77, 0, 1480, true);
    frag4(&b, 77, 1480, 1480, true);
    frag4(&c, 77, 2960, l4_len - 2960, false);
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_PTR_NULL(feed(&b, 1000));
    CU_ASSERT_PTR_NULL(feed(&b, 1000));
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_DUPLICATE), 2);
    check_whole(feed(&c, 1000), 4);
    CU_ASSERT_EQUAL(total_drops(), 2);
}

/* Overlap with different bytes (a teardrop-style rewrite): the datagram is
 * dropped, and its later fragments too, until the timeout. */
static void test_overlap_drops_datagram(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag a, b, c, evil;
    frag4(&a, 77, 0, 1480, true);
    frag4(&b, 77, 1480, 1480, true);
    frag4(&c, 77, 2960, l4_len - 2960, false);
    frag4(&evil, 77, 1472, 16, true); /* straddles a and b */
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_PTR_NULL(feed(&evil, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_OVERLAP), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 0);
    CU_ASSERT_PTR_NULL(feed(&b, 1000));
    CU_ASSERT_PTR_NULL(feed(&c, 1000));
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_OVERLAP), 4);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.reassembled), 0);
    /* after the timeout the id is free again */
    msb_reasm_expire(r, 1000 + 30000);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_TIMEOUT), 0); /* already counted */
    CU_ASSERT_PTR_NULL(feed(&a, 40000));
    CU_ASSERT_PTR_NULL(feed(&b, 40000));
    check_whole(feed(&c, 40000), 4);

    /* same offset, same length, different bytes: an overlap too */
    setup(64, 262144);
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    a.b[MSB_ETH_HLEN + 20 + 100] ^= 1;
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_OVERLAP), 1);
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_DUPLICATE), 0);
}

static void test_malformed(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag f;
    frag4(&f, 77, 0, 1001, true); /* not a multiple of 8, not last */
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 1);
    frag4(&f, 77, 1480, 0, true); /* empty */
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 2);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 0);

    /* two different ends */
    frag4(&f, 78, 1480, 800, false);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    frag4(&f, 78, 2960, 40, false);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 3);
    /* data past a known end */
    frag4(&f, 79, 1480, 800, false);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    frag4(&f, 79, 2960, 48, true);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 4);
    /* an end below data already held */
    frag4(&f, 80, 1480, 1480, true);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    frag4(&f, 80, 0, 1000, false);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 5);

    /* IPv6: a fragment of a fragment */
    make_udp(6, 3000);
    frag6(&f, 5, 0, 1448, true);
    f.b[MSB_ETH_HLEN + 40] = 44;
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 6);
    /* frame cut short of its IP length */
    frag6(&f, 5, 0, 1448, true);
    CU_ASSERT_PTR_NULL(msb_reasm_input(r, f.b, f.len - 1, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_MALFORMED), 7);
}

static void test_too_big(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag f;
    frag4(&f, 77, 0, 1480, true);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    /* offset 8189*8 = 65512 + 24 bytes + 20 header > 65535 */
    frag4(&f, 77, 0, 24, false);
    msb_put16(f.b + MSB_ETH_HLEN + 6, 8189);
    uint8_t *ip = f.b + MSB_ETH_HLEN;
    msb_put16(ip + 10, 0);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_TOO_BIG), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 0);

    /* IPv6: offset 65528 + 16 > 65535 */
    make_udp(6, 100);
    frag6(&f, 9, 0, 16, false);
    msb_put16(f.b + MSB_ETH_HLEN + 42, 65528);
    CU_ASSERT_PTR_NULL(feed(&f, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_TOO_BIG), 2);
}

static void test_timeout(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag a, c;
    frag4(&a, 77, 0, 1480, true);
    frag4(&c, 77, 2960, l4_len - 2960, false);
    CU_ASSERT_PTR_NULL(feed(&a, 1000));
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 1480);
    msb_reasm_expire(r, 1000 + 29999);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 1);
    msb_reasm_expire(r, 1000 + 30000);
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_TIMEOUT), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 0);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 0);
    /* a late fragment starts over (and times out in turn) */
    CU_ASSERT_PTR_NULL(feed(&c, 31000));
    CU_ASSERT_PTR_NULL(feed(&a, 61000 + 1)); /* expires the first on the way in */
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_TIMEOUT), 2);
}

static void test_datagram_cap(void)
{
    setup(2, 262144);
    make_udp(4, 3000);
    struct frag f;
    for (uint16_t id = 1; id <= 3; id++) {
        frag4(&f, id, 0, 1480, true);
        CU_ASSERT_PTR_NULL(feed(&f, 1000 + id));
    }
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_CAP), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 2);
    /* id 1 was the oldest and is gone; 2 and 3 still complete (and
     * leave room for id 1 to start over, without its first fragment) */
    static const uint16_t ids[] = {2, 3, 1};
    for (size_t i = 0; i < 3; i++) {
        uint16_t id = ids[i];
        frag4(&f, id, 1480, 1480, true);
        CU_ASSERT_PTR_NULL(feed(&f, 2000));
        frag4(&f, id, 2960, l4_len - 2960, false);
        struct msb_frame *w = feed(&f, 2000);
        if (id == 1) {
            CU_ASSERT_PTR_NULL(w);
            msb_frame_free(w);
        } else {
            CU_ASSERT_PTR_NOT_NULL(w);
            msb_frame_free(w);
        }
    }
}

static void test_byte_cap(void)
{
    setup(64, 65535);
    make_udp(4, 50000);
    struct frag f;
    /* 30 fragments of datagram 1 = 44,400 bytes held */
    for (size_t k = 0; k < 30; k++) {
        frag4(&f, 1, k * 1480, 1480, true);
        CU_ASSERT_PTR_NULL(feed(&f, 1000));
    }
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 30 * 1480);
    /* datagram 2 needs room: datagram 1, the oldest, gives way */
    for (size_t k = 0; k < 15; k++) {
        frag4(&f, 2, k * 1480, 1480, true);
        CU_ASSERT_PTR_NULL(feed(&f, 1000));
    }
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_CAP), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 1);
    CU_ASSERT(msb_read(&metrics.reasm.bytes) <= 65535);
}

/* 8-byte fragments: at most 256 per datagram. */
static void test_piece_cap(void)
{
    setup(64, 262144);
    make_udp(4, 4000);
    struct frag f;
    for (size_t k = 0; k < 300; k++) {
        frag4(&f, 5, k * 8, 8, true);
        CU_ASSERT_PTR_NULL(feed(&f, 1000));
    }
    CU_ASSERT_EQUAL(drops(MSB_DROP_REASM_CAP), 1);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.bytes), 0);
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.fragments), 256);
}

/* RFC 6946: offset 0 without more fragments is a whole packet. */
static void test_atomic_fragment(void)
{
    setup(64, 262144);
    make_udp(6, 500);
    struct frag f;
    frag6(&f, 3, 0, l4_len, false);
    check_whole(feed(&f, 1000), 6);
}

static void test_is_fragment(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    frag4(&f, 1, 0, 1480, true);
    CU_ASSERT_FALSE(msb_pkt_parse(f.b, f.len, &p, &why));
    CU_ASSERT(msb_reasm_is_fragment(f.b, f.len, why));
    make_udp(6, 3000);
    frag6(&f, 1, 0, 1448, true);
    CU_ASSERT_FALSE(msb_pkt_parse(f.b, f.len, &p, &why));
    CU_ASSERT(msb_reasm_is_fragment(f.b, f.len, why));
    f.b[MSB_ETH_HLEN + 6] = 43; /* routing header: not ours */
    CU_ASSERT_FALSE(msb_pkt_parse(f.b, f.len, &p, &why));
    CU_ASSERT_FALSE(msb_reasm_is_fragment(f.b, f.len, why));
    CU_ASSERT_FALSE(msb_reasm_is_fragment(f.b, f.len, MSB_DROP_IP_BAD_CHECKSUM));
    msb_reasm_destroy(r);
    r = NULL;
}

/* Destroy with datagrams in progress frees everything (ASan/valgrind). */
static void test_destroy_with_pending(void)
{
    setup(64, 262144);
    make_udp(4, 3000);
    struct frag f;
    for (uint16_t id = 1; id <= 10; id++) {
        frag4(&f, id, 1480, 1480, true);
        CU_ASSERT_PTR_NULL(feed(&f, 1000));
    }
    CU_ASSERT_EQUAL(msb_read(&metrics.reasm.pending), 10);
    msb_reasm_destroy(r);
    r = NULL;
}

int main(void)
{
    static const struct test_case tests[] = {
        {"IPv4 in order", test_in_order_v4},
        {"IPv4 out of order", test_out_of_order_v4},
        {"IPv6 fragment header, both orders", test_v6},
        {"IPv4 65,507-byte datagram, shuffled", test_large_v4},
        {"exact duplicates ignored", test_duplicate_ignored},
        {"overlap drops the whole datagram", test_overlap_drops_datagram},
        {"malformed fragments", test_malformed},
        {"beyond 65535 bytes", test_too_big},
        {"timeout", test_timeout},
        {"datagram cap: oldest evicted", test_datagram_cap},
        {"byte cap: oldest evicted", test_byte_cap},
        {"fragment count cap", test_piece_cap},
        {"IPv6 atomic fragment", test_atomic_fragment},
        {"which frames are fragments", test_is_fragment},
        {"destroy with datagrams pending", test_destroy_with_pending},
        {NULL, NULL},
    };
    return cunit_run("ip_reasm", tests);
}
