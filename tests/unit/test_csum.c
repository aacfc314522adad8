/* SPDX-License-Identifier: Apache-2.0 */
/* Internet checksums: RFC 1071 vector, every length and alignment against a
 * byte-at-a-time reference, pseudo-headers against hand-computed sums, and
 * RFC 1624 incremental updates against full recomputation. */
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "lib/pkt.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: fixed seed, so a failure is reproducible */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* The textbook definition: big-endian 16-bit words, odd byte padded. */
static uint16_t ref_fold(const uint8_t *b, size_t len)
{
    uint64_t s = 0;
    for (size_t i = 0; i < len; i += 2)
        s += (uint32_t)(b[i] << 8) | (i + 1 < len ? b[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static uint16_t fold(uint32_t sum)
{
    return (uint16_t)~msb_csum_finish(sum);
}

static void test_rfc1071_vector(void)
{
    static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    uint32_t sum = msb_csum_add(0, b, sizeof b);
    CU_ASSERT_EQUAL(fold(sum), 0xddf2);
    CU_ASSERT_EQUAL(msb_csum_finish(sum), 0x220d);
    /* the same bytes summed in two pieces */
    CU_ASSERT_EQUAL(msb_csum_finish(msb_csum_add(msb_csum_add(0, b, 4), b + 4, 4)), 0x220d);
}

static void test_odd_lengths(void)
{
    static const uint8_t one[] = {0xab};
    CU_ASSERT_EQUAL(fold(msb_csum_add(0, one, 1)), 0xab00);
    CU_ASSERT_EQUAL(msb_csum_finish(msb_csum_add(0, one, 1)), 0x54ff);
    static const uint8_t three[] = {0x12, 0x34, 0x56};
    CU_ASSERT_EQUAL(fold(msb_csum_add(0, three, 3)), 0x1234 + 0x5600);
    CU_ASSERT_EQUAL(msb_csum_finish(msb_csum_add(0, NULL, 0)), 0xffff);
}

static void test_every_length_and_alignment(void)
{
    uint8_t buf[300];
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = round == 0 ? 0xff : (uint8_t)rnd();
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len + off <= sizeof buf; len++) {
                uint16_t got = fold(msb_csum_add(0, buf + off, len));
                uint16_t want = ref_fold(buf + off, len);
                /* 0 and 0xffff are the same number in one's complement */
                if (want == 0)
                    want = 0xffff;
                if (got == 0)
                    got = 0xffff;
                CU_ASSERT_EQUAL_FATAL(got, want);
            }
    }
}

static void test_running_sum_carries(void)
{
    static const uint8_t b[] = {0xff, 0xff, 0xff, 0xff};
    uint32_t big = 0xfffffff0u;
    /* 0xfffffff0 = 0xffff + 0xfff0 mod 0xffff; plus 0xffff twice */
    uint16_t want = ref_fold((const uint8_t[]){0xff, 0xf0, 0xff, 0xff}, 4);
    CU_ASSERT_EQUAL(fold(msb_csum_add(big, b, 4)), want);
}

static void test_pseudo_v4(void)
{
    struct msb_ip s, d;
    CU_ASSERT_EQUAL_FATAL(msb_ip_parse("192.0.2.1", &s), 0);
    CU_ASSERT_EQUAL_FATAL(msb_ip_parse("198.51.100.2", &d), 0);
    /* c000 + 0201 + c633 + 6402 + 0006 + 0014 = 0x1ec50 -> 0xec51 */
    CU_ASSERT_EQUAL(fold(msb_csum_pseudo(&s, &d, 6, 20)), 0xec51);
}

static void test_pseudo_v6(void)
{
    struct msb_ip s, d;
    CU_ASSERT_EQUAL_FATAL(msb_ip_parse("fd42:6d73:62::2", &s), 0);
    CU_ASSERT_EQUAL_FATAL(msb_ip_parse("2001:db8::1", &d), 0);
    /* fd42+6d73+0062+0002 + 2001+0db8+0001 + 0001+2345 (len32) + 0011
     * = 0x1bc2a -> 0xbc2b; the length's upper half counts too */
    CU_ASSERT_EQUAL(fold(msb_csum_pseudo(&s, &d, 17, 0x12345)), 0xbc2b);
}

/* A SYN as Linux sends it: MSS 1460, SACK-permitted, timestamps, NOP,
 * window scale 7.  Checksum computed independently (Python). */
static void test_l4_syn(void)
{
    uint8_t tcp[40] = {
        0x9c, 0x40, 0x00, 0x50,             /* 40000 -> 80 */
        0x12, 0x34, 0x56, 0x78,             /* seq */
        0x00, 0x00, 0x00, 0x00,             /* ack */
        0xa0, 0x02, 0xfa, 0xf0,             /* doff 10, SYN, window 64240 */
        0x00, 0x00, 0x00, 0x00,             /* checksum, urgent */
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, /* MSS 1460, SACK ok */
        0x08, 0x0a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, /* TS */
        0x01, 0x03, 0x03, 0x07,             /* NOP, wscale 7 */
    };
    struct msb_ip s, d;
    msb_ip_parse("10.0.2.15", &s);
    msb_ip_parse("93.184.216.34", &d);
    uint16_t ck = msb_csum_l4(&s, &d, 6, tcp, sizeof tcp);
    CU_ASSERT_EQUAL(ck, 0xf5e8);
    msb_put16(tcp + 16, ck);
    uint32_t verify = msb_csum_add(msb_csum_pseudo(&s, &d, 6, sizeof tcp), tcp, sizeof tcp);
    CU_ASSERT_EQUAL(msb_csum_finish(verify), 0);
}

static void test_l4_udp_zero_goes_out_as_ffff(void)
{
    struct msb_ip s, d;
    msb_ip_parse("100.96.0.2", &s);
    msb_ip_parse("100.96.0.1", &d);
    uint8_t udp[12] = {0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0, 0, 0, 0, 0};
    /* a payload word equal to the checksum makes the full sum 0xffff */
    uint16_t ck = msb_csum_l4(&s, &d, 17, udp, sizeof udp);
    msb_put16(udp + 8, ck);
    CU_ASSERT_EQUAL(msb_csum_l4(&s, &d, 17, udp, sizeof udp), 0xffff);
    /* TCP stores the plain result */
    CU_ASSERT_EQUAL(msb_csum_l4(&s, &d, 6, udp, sizeof udp) == 0xffff, 0);
}

/* ---- RFC 1624 against recomputation ------------------------------------ */

struct rpkt {
    uint8_t b[20 + 20 + 64];
    size_t len;
};

static void fill_edge_or_random(uint8_t *dst, size_t n)
{
    switch (rnd() % 8) {
    case 0:
        memset(dst, 0x00, n);
        break;
    case 1:
        memset(dst, 0xff, n);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            dst[i] = (uint8_t)rnd();
    }
}

static uint16_t full_ip_csum(struct rpkt *k)
{
    k->b[10] = k->b[11] = 0;
    return msb_csum_finish(msb_csum_add(0, k->b, 20));
}

static uint16_t full_tcp_csum(struct rpkt *k)
{
    struct msb_ip s, d;
    msb_ip_from_v4(&s, k->b + 12);
    msb_ip_from_v4(&d, k->b + 16);
    uint8_t *tcp = k->b + 20;
    tcp[16] = tcp[17] = 0;
    return msb_csum_l4(&s, &d, 6, tcp, k->len - 20);
}

static void random_packet(struct rpkt *k)
{
    k->len = 40 + (size_t)(rnd() % 65);
    fill_edge_or_random(k->b, k->len);
    k->b[0] = 0x45;
    k->b[9] = 6;
    msb_put16(k->b + 2, (uint16_t)k->len);
    k->b[32] = 0x50;
    msb_put16(k->b + 10, full_ip_csum(k));
    msb_put16(k->b + 36, full_tcp_csum(k));
}

/* Rewrites the source address (IP header and pseudo-header) and the
 * destination port the way the TCP NAT will, then checks both stored
 * checksums against a recomputation from scratch. */
static void test_replace_random(void)
{
    for (int i = 0; i < 100000; i++) {
        struct rpkt k;
        random_packet(&k);
        uint8_t addr[4], port[2], old[4];
        fill_edge_or_random(addr, 4);
        fill_edge_or_random(port, 2);
        memcpy(old, k.b + 12, 4);
        msb_csum_replace(k.b + 10, old, addr, 4);
        msb_csum_replace(k.b + 36, k.b + 12, addr, 4);
        msb_csum_replace(k.b + 36, k.b + 22, port, 2);
        CU_ASSERT_EQUAL_FATAL(memcmp(k.b + 12, addr, 4), 0);
        CU_ASSERT_EQUAL_FATAL(memcmp(k.b + 22, port, 2), 0);
        uint16_t ip_inc = msb_get16(k.b + 10), tcp_inc = msb_get16(k.b + 36);
        CU_ASSERT_EQUAL_FATAL(ip_inc, full_ip_csum(&k));
        CU_ASSERT_EQUAL_FATAL(tcp_inc, full_tcp_csum(&k));
    }
}

/* The IP header checksum alone, updated for an address change; also the
 * zero-old (field == NULL) form used to add a contribution. */
static void test_replace_ip_header(void)
{
    for (int i = 0; i < 100000; i++) {
        struct rpkt k;
        random_packet(&k);
        uint8_t addr[4];
        fill_edge_or_random(addr, 4);
        msb_csum_replace(k.b + 10, k.b + 16, addr, 4);
        uint16_t inc = msb_get16(k.b + 10);
        CU_ASSERT_EQUAL_FATAL(inc, full_ip_csum(&k));
    }
    struct rpkt k;
    random_packet(&k);
    memset(k.b + 12, 0, 4);
    msb_put16(k.b + 10, full_ip_csum(&k));
    static const uint8_t a[4] = {0xff, 0xff, 0x00, 0x01};
    msb_csum_replace(k.b + 10, NULL, a, 4);
    memcpy(k.b + 12, a, 4);
    uint16_t inc = msb_get16(k.b + 10);
    CU_ASSERT_EQUAL(inc, full_ip_csum(&k));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"rfc1071_vector", test_rfc1071_vector},
        {"odd_lengths", test_odd_lengths},
        {"every_length_and_alignment", test_every_length_and_alignment},
        {"running_sum_carries", test_running_sum_carries},
        {"pseudo_v4", test_pseudo_v4},
        {"pseudo_v6", test_pseudo_v6},
        {"l4_syn", test_l4_syn},
        {"l4_udp_zero_goes_out_as_ffff", test_l4_udp_zero_goes_out_as_ffff},
        {"replace_tcp_nat_rewrite_100000", test_replace_random},
        {"replace_ip_header_100000", test_replace_ip_header},
        {NULL, NULL},
    };
    return cunit_run("csum", tests);
}
