/* SPDX-License-Identifier: Apache-2.0 */
/* Guest frame parsing (every drop reason, every truncation) and the RST
 * builder, parsed back and checksum-verified. */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"

static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t g4[4] = {100, 96, 0, 2}, d4[4] = {93, 184, 216, 34};
static const uint8_t g6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};

/* ---- frame builders -------------------------------------------------------- */

struct frame {
    uint8_t b[256];
    size_t len;
};

static void fix_ip4_csum(struct frame *f)
{
    uint8_t *ip = f->b + MSB_ETH_HLEN;
    size_t hl = (size_t)(ip[0] & 0x0f) * 4;
    ip[10] = ip[11] = 0;
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, hl)));
}

/* Fills the L4 checksum for the packet's own addresses and protocol. */
static void fix_l4_csum(struct frame *f, int family, size_t hl, uint8_t proto, size_t l4len)
{
    uint8_t *ip = f->b + MSB_ETH_HLEN, *l4 = ip + hl;
    size_t off = proto == MSB_IPPROTO_TCP ? 16 : proto == MSB_IPPROTO_UDP ? 6 : 2;
    l4[off] = l4[off + 1] = 0;
    struct msb_ip s, d;
    if (family == 4) {
        msb_ip_from_v4(&s, ip + 12);
        msb_ip_from_v4(&d, ip + 16);
    } else {
        msb_ip_from_v6(&s, ip + 8);
        msb_ip_from_v6(&d, ip + 24);
    }
    uint16_t ck = proto == MSB_IPPROTO_ICMP ? msb_csum_finish(msb_csum_add(0, l4, l4len))
                                            : msb_csum_l4(&s, &d, proto, l4, l4len);
    msb_put16(l4 + off, ck);
}

static void build4(struct frame *f, uint8_t proto, const uint8_t *l4, size_t l4len, size_t optlen)
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f->b + MSB_ETH_HLEN;
    size_t hl = 20 + optlen;
    ip[0] = (uint8_t)(0x40 | hl / 4);
    msb_put16(ip + 2, (uint16_t)(hl + l4len));
    msb_put16(ip + 4, 0x1234);
    msb_put16(ip + 6, 0x4000); /* DF alone is not a fragment */
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, g4, 4);
    memcpy(ip + 16, d4, 4);
    for (size_t i = 0; i < optlen; i++)
        ip[20 + i] = 1; /* NOP options */
    memcpy(ip + hl, l4, l4len);
    f->len = MSB_ETH_HLEN + hl + l4len;
    fix_ip4_csum(f);
    fix_l4_csum(f, 4, hl, proto, l4len);
}

static void build6(struct frame *f, uint8_t nh, const uint8_t *l4, size_t l4len)
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f->b + MSB_ETH_HLEN;
    ip[0] = 0x60;
    msb_put16(ip + 4, (uint16_t)l4len);
    ip[6] = nh;
    ip[7] = 64;
    memcpy(ip + 8, g6, 16);
    memcpy(ip + 24, d6, 16);
    memcpy(ip + 40, l4, l4len);
    f->len = MSB_ETH_HLEN + 40 + l4len;
    fix_l4_csum(f, 6, 40, nh, l4len);
}

static void build_arp(struct frame *f)
{
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1, 2, 0x6d, 0x73, 0, 0, 2,
                                    100, 96, 0, 2, 0, 0, 0, 0, 0, 0, 100, 96, 0, 1};
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, guest_mac,
                  MSB_ETHERTYPE_ARP);
    memcpy(f->b + MSB_ETH_HLEN, arp, sizeof arp);
    f->len = MSB_ETH_HLEN + sizeof arp;
}

/* TCP header with an MSS option (data offset 6) and optional payload. */
static size_t tcp_seg(uint8_t *t, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    memset(t, 0, 24);
    msb_put16(t, 40000);
    msb_put16(t + 2, 443);
    msb_put32(t + 4, seq);
    msb_put32(t + 8, ack);
    t[12] = 6 << 4;
    t[13] = flags;
    msb_put16(t + 14, 64240);
    t[20] = 2;
    t[21] = 4;
    msb_put16(t + 22, 1460);
    size_t n = data ? strlen(data) : 0;
    if (n)
        memcpy(t + 24, data, n);
    return 24 + n;
}

static size_t udp_dgram(uint8_t *u, const char *data)
{
    size_t n = strlen(data);
    msb_put16(u, 5353);
    msb_put16(u + 2, 53);
    msb_put16(u + 4, (uint16_t)(8 + n));
    u[6] = u[7] = 0;
    memcpy(u + 8, data, n);
    return 8 + n;
}

static size_t echo_req(uint8_t *e, uint8_t type)
{
    static const uint8_t body[16] = {0, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    memcpy(e, body, sizeof body);
    e[0] = type;
    return sizeof body;
}

static void tcp4(struct frame *f, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    uint8_t t[128];
    build4(f, MSB_IPPROTO_TCP, t, tcp_seg(t, flags, seq, ack, data), 0);
}

static void tcp6(struct frame *f, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    uint8_t t[128];
    build6(f, MSB_IPPROTO_TCP, t, tcp_seg(t, flags, seq, ack, data));
}

static bool parse(struct frame *f, struct msb_pkt *p, enum msb_drop_reason *why)
{
    *why = MSB_DROP__COUNT;
    return msb_pkt_parse(f->b, f->len, p, why);
}

/* ---- valid frames ------------------------------------------------------------ */

static void test_ipv4_tcp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    tcp4(&f, MSB_TCP_SYN, 1000, 0, NULL);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(memcmp(p.dst_mac, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(p.src_mac, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(p.ethertype, MSB_ETHERTYPE_IPV4);
    CU_ASSERT_EQUAL(p.ip_version, 4);
    CU_ASSERT_PTR_EQUAL(p.l3, f.b + 14);
    CU_ASSERT_EQUAL(p.l3_len, 44);
    CU_ASSERT_EQUAL(p.l3_hdr_len, 20);
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_TCP);
    CU_ASSERT_EQUAL(p.src.family, MSB_FAMILY_V4);
    CU_ASSERT_EQUAL(memcmp(p.src.b, g4, 4), 0);
    CU_ASSERT_EQUAL(memcmp(p.dst.b, d4, 4), 0);
    CU_ASSERT_PTR_EQUAL(p.l4, f.b + 34);
    CU_ASSERT_EQUAL(p.l4_len, 24);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 24);
    CU_ASSERT_EQUAL(p.sport, 40000);
    CU_ASSERT_EQUAL(p.dport, 443);
    CU_ASSERT_EQUAL(p.tcp_flags, MSB_TCP_SYN);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    f.b[f.len - 1] ^= 1; /* inside the MSS option */
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv4_udp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t u[64];
    build4(&f, MSB_IPPROTO_UDP, u, udp_dgram(u, "hello"), 0);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_UDP);
    CU_ASSERT_EQUAL(p.l4_len, 13);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 8);
    CU_ASSERT_EQUAL(p.sport, 5353);
    CU_ASSERT_EQUAL(p.dport, 53);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    f.b[f.len - 1] ^= 0x40;
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
    /* 0 = "no checksum", which IPv4 allows */
    p.l4[6] = p.l4[7] = 0;
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv4_icmp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t e[32];
    build4(&f, MSB_IPPROTO_ICMP, e, echo_req(e, 8), 0);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_ICMP);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 8);
    CU_ASSERT_EQUAL(p.l4_len, 16);
    CU_ASSERT_EQUAL(p.sport, 0);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    p.l4[9] ^= 1;
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv4_other_protocol(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    static const uint8_t gre[8] = {0};
    build4(&f, 47, gre, sizeof gre, 0);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l4_proto, 47);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 0);
    CU_ASSERT_EQUAL(p.l4_len, 8);
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv6_tcp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    tcp6(&f, MSB_TCP_ACK | MSB_TCP_PSH, 5, 6, "GET /");
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.ethertype, MSB_ETHERTYPE_IPV6);
    CU_ASSERT_EQUAL(p.ip_version, 6);
    CU_ASSERT_EQUAL(p.l3_hdr_len, 40);
    CU_ASSERT_EQUAL(p.l3_len, 40 + 29);
    CU_ASSERT_EQUAL(p.src.family, MSB_FAMILY_V6);
    CU_ASSERT_EQUAL(memcmp(p.src.b, g6, 16), 0);
    CU_ASSERT_EQUAL(memcmp(p.dst.b, d6, 16), 0);
    CU_ASSERT_PTR_EQUAL(p.l4, f.b + 54);
    CU_ASSERT_EQUAL(p.l4_len, 29);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 24);
    CU_ASSERT_EQUAL(p.tcp_flags, MSB_TCP_ACK | MSB_TCP_PSH);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    p.l3[8] ^= 1; /* the source address is in the pseudo-header */
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv6_udp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t u[64];
    build6(&f, MSB_IPPROTO_UDP, u, udp_dgram(u, "x"));
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_UDP);
    CU_ASSERT_EQUAL(p.l4_len, 9);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    /* IPv6 has no "no checksum" */
    p.l4[6] = p.l4[7] = 0;
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv6_icmpv6(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t e[32];
    build6(&f, MSB_IPPROTO_ICMPV6, e, echo_req(e, 128));
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_ICMPV6);
    CU_ASSERT_EQUAL(p.l4_hdr_len, 8);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    /* ICMPv6 covers the pseudo-header: a plain ICMP sum would not verify */
    p.l3[39] ^= 1;
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_FALSE(msb_pkt_l4_checksum_ok(&p));
}

static void test_arp(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    build_arp(&f);
    f.len = 60; /* padded to the Ethernet minimum */
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.ethertype, MSB_ETHERTYPE_ARP);
    CU_ASSERT_EQUAL(p.ip_version, 0);
    CU_ASSERT_PTR_EQUAL(p.l3, f.b + 14);
    CU_ASSERT_EQUAL(p.l3_len, 28);
    CU_ASSERT_PTR_NULL(p.l4);
}

static void test_padding_trimmed(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t u[64];
    build4(&f, MSB_IPPROTO_UDP, u, udp_dgram(u, "a"), 0); /* 43 bytes */
    memset(f.b + f.len, 0xee, 60 - f.len);
    f.len = 60;
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.frame_len, 60);
    CU_ASSERT_EQUAL(p.l3_len, 29);
    CU_ASSERT_EQUAL(p.l4_len, 9);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    tcp6(&f, MSB_TCP_ACK, 1, 2, NULL);
    f.len += 10;
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(p.l3_len, 64);
    CU_ASSERT_EQUAL(p.l4_len, 24);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
}

static void test_ipv4_options(void)
{
    for (size_t opt = 4; opt <= 40; opt += 4) {
        struct frame f;
        struct msb_pkt p;
        enum msb_drop_reason why;
        uint8_t t[128];
        build4(&f, MSB_IPPROTO_TCP, t, tcp_seg(t, MSB_TCP_SYN, 1, 0, "abc"), opt);
        CU_ASSERT_FATAL(parse(&f, &p, &why));
        CU_ASSERT_EQUAL(p.l3_hdr_len, 20 + opt);
        CU_ASSERT_PTR_EQUAL(p.l4, p.l3 + 20 + opt);
        CU_ASSERT_EQUAL(p.l4_len, 27);
        CU_ASSERT_EQUAL(p.sport, 40000);
        CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
    }
}

/* ---- drop reasons ------------------------------------------------------------ */

static void expect_drop(struct frame *f, enum msb_drop_reason want, const char *what)
{
    struct msb_pkt p;
    enum msb_drop_reason why;
    bool ok = parse(f, &p, &why);
    if (ok || why != want)
        fprintf(stderr, "\n  %s: ok=%d why=%s want=%s\n", what, ok,
                ok ? "-" : msb_drop_name(why), msb_drop_name(want));
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_EQUAL(why, want);
}

static void test_drop_eth(void)
{
    struct frame f;
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.len = 13;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "13 bytes");
    f.len = 0;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "empty");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.len = 14 + 19;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "v4 header cut");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.len -= 1;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "v4 total length beyond frame");
    tcp6(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.len -= 1;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "v6 payload beyond frame");
    tcp6(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.len = 14 + 39;
    expect_drop(&f, MSB_DROP_ETH_SHORT, "v6 header cut");

    static const uint16_t types[] = {0x8100, 0x88a8, 0x88cc, 0x8035, 0x0000, 0xffff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
        msb_put16(f.b + 12, types[i]);
        expect_drop(&f, MSB_DROP_ETH_TYPE, "ethertype");
    }
}

static void test_drop_arp(void)
{
    struct frame f;
    build_arp(&f);
    f.len -= 1;
    expect_drop(&f, MSB_DROP_ARP_MALFORMED, "arp 27 bytes");
    static const struct {
        size_t off;
        uint8_t val;
    } bad[] = {{1, 6}, {2, 0x86}, {4, 8}, {5, 16}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        build_arp(&f);
        f.b[14 + bad[i].off] = bad[i].val;
        expect_drop(&f, MSB_DROP_ARP_MALFORMED, "arp htype/ptype/hlen/plen");
    }
}

static void test_drop_ip(void)
{
    struct frame f;
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[14] = 0x65;
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_IP_MALFORMED, "version 6 under 0x0800");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[14] = 0x44;
    expect_drop(&f, MSB_DROP_IP_MALFORMED, "IHL 4");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    msb_put16(f.b + 16, 19);
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_IP_MALFORMED, "total length < header");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[14] = 0x4f; /* 60-byte header, the frame has 58 after Ethernet */
    expect_drop(&f, MSB_DROP_ETH_SHORT, "IHL beyond frame");
    tcp6(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[14] = 0x40;
    expect_drop(&f, MSB_DROP_IP_MALFORMED, "version 4 under 0x86dd");

    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[14 + 8] ^= 0x01; /* TTL changed, checksum not */
    expect_drop(&f, MSB_DROP_IP_BAD_CHECKSUM, "header checksum");

    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    msb_put16(f.b + 20, 0x2000);
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_IP_FRAGMENT, "MF");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    msb_put16(f.b + 20, 0x0001);
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_IP_FRAGMENT, "offset");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    msb_put16(f.b + 20, 0x5fff);
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_IP_FRAGMENT, "DF+offset");

    static const uint8_t ext[] = {0, 43, 44, 50, 51, 60, 59, 135, 1, 132};
    for (size_t i = 0; i < sizeof ext; i++) {
        tcp6(&f, MSB_TCP_SYN, 1, 0, NULL);
        f.b[14 + 6] = ext[i];
        expect_drop(&f, MSB_DROP_IPV6_EXT_HEADER, "v6 next header");
    }
}

static void test_drop_l4(void)
{
    struct frame f;
    uint8_t b[64] = {0};
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[34 + 12] = 4 << 4;
    fix_ip4_csum(&f);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "TCP data offset 4");
    tcp4(&f, MSB_TCP_SYN, 1, 0, NULL);
    f.b[34 + 12] = 7 << 4; /* 28 > 24 */
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "TCP data offset past the segment");
    build4(&f, MSB_IPPROTO_TCP, b, 19, 0);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "TCP 19 bytes");
    build6(&f, MSB_IPPROTO_TCP, b, 0);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "TCP 0 bytes");

    size_t n = udp_dgram(b, "abcd");
    msb_put16(b + 4, (uint16_t)(n - 1));
    build4(&f, MSB_IPPROTO_UDP, b, n, 0);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "UDP length short of IP");
    msb_put16(b + 4, (uint16_t)(n + 1));
    build6(&f, MSB_IPPROTO_UDP, b, n);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "UDP length past IP");
    msb_put16(b + 4, 7);
    build4(&f, MSB_IPPROTO_UDP, b, 7, 0);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "UDP 7 bytes");

    echo_req(b, 8);
    build4(&f, MSB_IPPROTO_ICMP, b, 7, 0);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "ICMP 7 bytes");
    echo_req(b, 128);
    build6(&f, MSB_IPPROTO_ICMPV6, b, 7);
    expect_drop(&f, MSB_DROP_L4_MALFORMED, "ICMPv6 7 bytes");
}

/* Every prefix of a valid frame, in an exact-size heap buffer (so ASan or
 * valgrind flags any read past it), fails with a reason; only the whole
 * frame parses. */
static void truncations(const struct frame *f)
{
    for (size_t len = 0; len <= f->len; len++) {
        uint8_t *b = malloc(len ? len : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        memcpy(b, f->b, len);
        struct msb_pkt p;
        enum msb_drop_reason why = MSB_DROP__COUNT;
        bool ok = msb_pkt_parse(b, len, &p, &why);
        if (len == f->len) {
            CU_ASSERT(ok);
            if (ok && p.ip_version)
                CU_ASSERT(msb_pkt_l4_checksum_ok(&p));
        } else {
            CU_ASSERT_FALSE(ok);
            CU_ASSERT(why == MSB_DROP_ETH_SHORT || why == MSB_DROP_ARP_MALFORMED);
        }
        free(b);
    }
}

static void test_truncated_everywhere(void)
{
    struct frame f;
    uint8_t b[64] = {0};
    tcp4(&f, MSB_TCP_SYN, 1, 0, "payload");
    truncations(&f);
    build4(&f, MSB_IPPROTO_TCP, b, tcp_seg(b, MSB_TCP_ACK, 1, 2, NULL), 12);
    truncations(&f);
    build4(&f, MSB_IPPROTO_UDP, b, udp_dgram(b, "q"), 0);
    truncations(&f);
    build4(&f, MSB_IPPROTO_ICMP, b, echo_req(b, 8), 0);
    truncations(&f);
    tcp6(&f, MSB_TCP_FIN | MSB_TCP_ACK, 1, 2, "bye");
    truncations(&f);
    build6(&f, MSB_IPPROTO_UDP, b, udp_dgram(b, "dns"));
    truncations(&f);
    build6(&f, MSB_IPPROTO_ICMPV6, b, echo_req(b, 128));
    truncations(&f);
    build_arp(&f);
    truncations(&f);
}

/* ---- RST builder ------------------------------------------------------------- */

/* Builds the RST for f, checks it parses back with good checksums and the
 * addresses/ports swapped, and returns it parsed in *r (into out). */
static void rst_for(struct frame *f, struct frame *out, struct msb_pkt *r)
{
    struct msb_pkt p;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(parse(f, &p, &why));
    memset(out, 0, sizeof *out);
    size_t n = msb_build_tcp_rst(&p, out->b + 14, 60);
    CU_ASSERT_EQUAL_FATAL(n, p.ip_version == 4 ? 40u : 60u);
    msb_eth_write(out->b, guest_mac, gw_mac, p.ethertype);
    out->len = 14 + n;
    CU_ASSERT_FATAL(parse(out, r, &why));
    CU_ASSERT(msb_pkt_l4_checksum_ok(r));
    CU_ASSERT(msb_ip_equal(&r->src, &p.dst));
    CU_ASSERT(msb_ip_equal(&r->dst, &p.src));
    CU_ASSERT_EQUAL(r->sport, p.dport);
    CU_ASSERT_EQUAL(r->dport, p.sport);
    CU_ASSERT_EQUAL(r->l4_hdr_len, 20);
    CU_ASSERT_EQUAL(r->l4_len, 20);
    CU_ASSERT_EQUAL(msb_get16(r->l4 + 14), 0); /* window */
    CU_ASSERT_EQUAL(msb_get16(r->l4 + 18), 0); /* urgent */
    if (r->ip_version == 4) {
        CU_ASSERT_EQUAL(r->l3[0], 0x45);
        CU_ASSERT_EQUAL(msb_get16(r->l3 + 4), 0);      /* id */
        CU_ASSERT_EQUAL(msb_get16(r->l3 + 6), 0x4000); /* DF */
        CU_ASSERT_EQUAL(r->l3[8], 64);
    } else {
        CU_ASSERT_EQUAL(msb_get32(r->l3), 0x60000000u);
        CU_ASSERT_EQUAL(r->l3[7], 64);
    }
}

static void rst_cases(void (*mk)(struct frame *, uint8_t, uint32_t, uint32_t, const char *))
{
    struct frame f, out;
    struct msb_pkt r;

    mk(&f, MSB_TCP_SYN, 1000, 0, NULL);
    rst_for(&f, &out, &r);
    CU_ASSERT_EQUAL(r.tcp_flags, MSB_TCP_RST | MSB_TCP_ACK);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 4), 0);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 8), 1001);

    mk(&f, MSB_TCP_ACK, 1000, 0xdeadbeef, NULL);
    rst_for(&f, &out, &r);
    CU_ASSERT_EQUAL(r.tcp_flags, MSB_TCP_RST);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 4), 0xdeadbeef);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 8), 0);

    mk(&f, MSB_TCP_ACK | MSB_TCP_PSH | MSB_TCP_FIN, 1000, 77, "data");
    rst_for(&f, &out, &r);
    CU_ASSERT_EQUAL(r.tcp_flags, MSB_TCP_RST);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 4), 77);

    mk(&f, MSB_TCP_PSH | MSB_TCP_FIN, 1000, 0, "data");
    rst_for(&f, &out, &r);
    CU_ASSERT_EQUAL(r.tcp_flags, MSB_TCP_RST | MSB_TCP_ACK);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 8), 1000 + 4 + 1);

    mk(&f, MSB_TCP_SYN, 0xffffffffu, 0, NULL); /* sequence space wraps */
    rst_for(&f, &out, &r);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 8), 0);

    static const uint8_t rsts[] = {MSB_TCP_RST, MSB_TCP_RST | MSB_TCP_ACK,
                                   MSB_TCP_RST | MSB_TCP_SYN};
    for (size_t i = 0; i < sizeof rsts; i++) {
        struct msb_pkt p;
        enum msb_drop_reason why;
        mk(&f, rsts[i], 5, 6, NULL);
        CU_ASSERT_FATAL(parse(&f, &p, &why));
        CU_ASSERT_EQUAL(msb_build_tcp_rst(&p, out.b, sizeof out.b), 0);
    }
}

static void test_rst_ipv4(void)
{
    rst_cases(tcp4);
}

static void test_rst_ipv6(void)
{
    rst_cases(tcp6);
}

static void test_rst_refuses(void)
{
    struct frame f;
    struct msb_pkt p;
    enum msb_drop_reason why;
    uint8_t out[64], u[32];
    tcp6(&f, MSB_TCP_SYN, 1, 0, NULL);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(msb_build_tcp_rst(&p, out, 59), 0); /* no room */
    build4(&f, MSB_IPPROTO_UDP, u, udp_dgram(u, "x"), 0);
    CU_ASSERT_FATAL(parse(&f, &p, &why));
    CU_ASSERT_EQUAL(msb_build_tcp_rst(&p, out, sizeof out), 0); /* not TCP */
}

int main(void)
{
    static const struct test_case tests[] = {
        {"ipv4_tcp", test_ipv4_tcp},
        {"ipv4_udp", test_ipv4_udp},
        {"ipv4_icmp", test_ipv4_icmp},
        {"ipv4_other_protocol", test_ipv4_other_protocol},
        {"ipv6_tcp", test_ipv6_tcp},
        {"ipv6_udp", test_ipv6_udp},
        {"ipv6_icmpv6", test_ipv6_icmpv6},
        {"arp", test_arp},
        {"padding_trimmed", test_padding_trimmed},
        {"ipv4_options", test_ipv4_options},
        {"drop_eth", test_drop_eth},
        {"drop_arp", test_drop_arp},
        {"drop_ip", test_drop_ip},
        {"drop_l4", test_drop_l4},
        {"truncated_everywhere", test_truncated_everywhere},
        {"rst_ipv4", test_rst_ipv4},
        {"rst_ipv6", test_rst_ipv6},
        {"rst_refuses", test_rst_refuses},
        {NULL, NULL},
    };
    return cunit_run("pkt", tests);
}
