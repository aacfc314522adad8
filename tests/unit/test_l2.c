/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's link layer: ARP replies and NDP advertisements, checked
 * field by field and parsed back; everything it must not answer. The
 * stack's calls (proto/env.h) are doubles that capture frames. */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "proto/l2.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t gw4[4] = {100, 96, 0, 1}, guest4[4] = {100, 96, 0, 2};
static const uint8_t gw6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t guest6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
/* fe80:: + 02:6d:73:00:00:01 with the U/L bit flipped and ff:fe inserted */
static const uint8_t gw_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x6d, 0x73, 0xff, 0xfe, 0, 0, 1};
static const uint8_t guest_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x6d, 0x73, 0xff, 0xfe, 0, 0, 2};
static const uint8_t unspec[16] = {0};
/* ff02::1:ff00:1, the solicited-node group of ...::1 */
static const uint8_t snm[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1};

/* ---- env doubles ------------------------------------------------------------- */

#include "env_doubles.h"

static void reset(bool with_gateways)
{
    static bool inited;
    for (size_t i = 0; i < nout; i++)
        msb_frame_free(out[i]);
    nout = 0;
    if (inited)
        msb_gateways_destroy(&net.gw);
    inited = true;
    msb_metrics_init(&net.metrics);
    CU_ASSERT_EQUAL_FATAL(msb_gateways_init(&net.gw), 0);
    memset(&env, 0, sizeof env);
    env_bind();
    memcpy(env.addrs.gateway_mac, gw_mac, 6);
    memcpy(env.addrs.guest_mac, guest_mac, 6);
    msb_ip_from_v4(&env.addrs.gateway4, gw4);
    msb_ip_from_v4(&env.addrs.guest4, guest4);
    msb_ip_from_v6(&env.addrs.gateway6, gw6);
    msb_ip_from_v6(&env.addrs.guest6, guest6);
    if (with_gateways) {
        struct msb_ip v4, v6;
        msb_ip_from_v4(&v4, gw4);
        msb_ip_from_v6(&v6, gw6);
        CU_ASSERT_EQUAL_FATAL(msb_gateways_set(&net.gw, &v4, &v6), 0);
    }
}

/* ---- frames from the guest ----------------------------------------------------- */

struct frame {
    uint8_t b[256];
    size_t len;
    struct msb_pkt p;
};

static void arp_frame(struct frame *f, uint16_t op, const uint8_t spa[4], const uint8_t tpa[4])
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, bcast, guest_mac, MSB_ETHERTYPE_ARP);
    uint8_t *a = f->b + MSB_ETH_HLEN;
    msb_put16(a, 1);
    msb_put16(a + 2, MSB_ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    msb_put16(a + 6, op);
    memcpy(a + 8, guest_mac, 6);
    memcpy(a + 14, spa, 4);
    memcpy(a + 24, tpa, 4);
    f->len = 60; /* with Ethernet padding, as most guests send it */
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f->b, f->len, &f->p, &why));
}

/* An ICMPv6 message body (checksum filled here) in an IPv6 frame. */
static void icmp6_frame(struct frame *f, const uint8_t src[16], const uint8_t dst[16], uint8_t hop,
                        const uint8_t *msg, size_t len)
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f->b + MSB_ETH_HLEN;
    ip[0] = 0x60;
    msb_put16(ip + 4, (uint16_t)len);
    ip[6] = MSB_IPPROTO_ICMPV6;
    ip[7] = hop;
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    uint8_t *l4 = ip + 40;
    memcpy(l4, msg, len);
    l4[2] = l4[3] = 0;
    struct msb_ip s, d;
    msb_ip_from_v6(&s, src);
    msb_ip_from_v6(&d, dst);
    msb_put16(l4 + 2, msb_csum_l4(&s, &d, MSB_IPPROTO_ICMPV6, l4, len));
    f->len = MSB_ETH_HLEN + 40 + len;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f->b, f->len, &f->p, &why));
}

/* NS for target, with a source link-layer address option unless from ::. */
static void ns_frame(struct frame *f, const uint8_t src[16], const uint8_t target[16], uint8_t hop)
{
    uint8_t m[32] = {135};
    memcpy(m + 8, target, 16);
    size_t len = 24;
    if (memcmp(src, unspec, 16) != 0) {
        m[24] = 1;
        m[25] = 1;
        memcpy(m + 26, guest_mac, 6);
        len = 32;
    }
    icmp6_frame(f, src, snm, hop, m, len);
}

/* ---- ARP ------------------------------------------------------------------------ */

static void test_arp_request_answered(void)
{
    reset(true);
    struct frame f;
    arp_frame(&f, 1, guest4, gw4);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    const uint8_t *r = out[0]->data;
    CU_ASSERT_EQUAL(out[0]->len, 42);
    CU_ASSERT_EQUAL(memcmp(r, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r + 6, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(msb_get16(r + 12), MSB_ETHERTYPE_ARP);
    const uint8_t *a = r + 14;
    CU_ASSERT_EQUAL(msb_get16(a), 1);
    CU_ASSERT_EQUAL(msb_get16(a + 2), 0x0800);
    CU_ASSERT_EQUAL(a[4], 6);
    CU_ASSERT_EQUAL(a[5], 4);
    CU_ASSERT_EQUAL(msb_get16(a + 6), 2);
    CU_ASSERT_EQUAL(memcmp(a + 8, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(a + 14, gw4, 4), 0);
    CU_ASSERT_EQUAL(memcmp(a + 18, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(a + 24, guest4, 4), 0);
    CU_ASSERT_EQUAL(total_drops(), 0);
    struct msb_pkt back;
    enum msb_drop_reason why;
    CU_ASSERT(msb_pkt_parse(out[0]->data, out[0]->len, &back, &why));
}

static void test_arp_ignored(void)
{
    static const uint8_t other[4] = {100, 96, 0, 3}, zero[4] = {0};
    static const struct {
        uint16_t op;
        const uint8_t *spa, *tpa;
        const char *what;
    } cases[] = {
        {1, guest4, other, "request for another address"},
        {1, zero, gw4, "probe (sender 0.0.0.0)"},
        {1, guest4, guest4, "gratuitous for the guest"},
        {1, gw4, gw4, "gratuitous claiming the gateway"},
        {2, guest4, gw4, "a reply"},
        {3, guest4, gw4, "RARP opcode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(true);
        struct frame f;
        arp_frame(&f, cases[i].op, cases[i].spa, cases[i].tpa);
        CU_ASSERT(msb_l2_handle(&env, &f.p));
        CU_ASSERT_EQUAL(nout, 0);
        CU_ASSERT_EQUAL(drops(MSB_DROP_ARP_IGNORED), 1);
        CU_ASSERT_EQUAL(total_drops(), 1);
    }
}

static void test_inactive_gateway(void)
{
    reset(false);
    struct frame f;
    arp_frame(&f, 1, guest4, gw4);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_ARP_IGNORED), 1);
    ns_frame(&f, guest6, gw6, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    ns_frame(&f, guest_ll, gw_ll, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 2);

    /* one family active: only that family answers */
    struct msb_ip v4;
    msb_ip_from_v4(&v4, gw4);
    CU_ASSERT_EQUAL_FATAL(msb_gateways_set(&net.gw, &v4, NULL), 0);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 0);
    arp_frame(&f, 1, guest4, gw4);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 1);
}

/* ---- NDP ------------------------------------------------------------------------ */

static void check_na(const struct msb_frame *fr, const uint8_t target[16], const uint8_t dst[16])
{
    struct msb_pkt r;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse((uint8_t *)fr->data, fr->len, &r, &why));
    CU_ASSERT_EQUAL(fr->len, 14 + 40 + 32);
    CU_ASSERT_EQUAL(memcmp(r.dst_mac, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r.src_mac, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(r.ip_version, 6);
    CU_ASSERT_EQUAL(r.l4_proto, MSB_IPPROTO_ICMPV6);
    CU_ASSERT_EQUAL(r.l3[7], 255);
    CU_ASSERT_EQUAL(memcmp(r.src.b, target, 16), 0);
    CU_ASSERT_EQUAL(memcmp(r.dst.b, dst, 16), 0);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&r));
    CU_ASSERT_EQUAL_FATAL(r.l4_len, 32);
    CU_ASSERT_EQUAL(r.l4[0], 136);
    CU_ASSERT_EQUAL(r.l4[1], 0);
    CU_ASSERT_EQUAL(msb_get32(r.l4 + 4), 0xe0000000u); /* Router, Solicited, Override */
    CU_ASSERT_EQUAL(memcmp(r.l4 + 8, target, 16), 0);
    CU_ASSERT_EQUAL(r.l4[24], 2); /* target link-layer address */
    CU_ASSERT_EQUAL(r.l4[25], 1);
    CU_ASSERT_EQUAL(memcmp(r.l4 + 26, gw_mac, 6), 0);
}

static void test_ns_global(void)
{
    reset(true);
    struct frame f;
    ns_frame(&f, guest6, gw6, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    check_na(out[0], gw6, guest6);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_ns_link_local(void)
{
    reset(true);
    struct msb_ip ll;
    msb_ipv6_link_local(gw_mac, &ll);
    CU_ASSERT_EQUAL(ll.family, MSB_FAMILY_V6);
    CU_ASSERT_EQUAL(memcmp(ll.b, gw_ll, 16), 0);
    struct frame f;
    ns_frame(&f, guest_ll, gw_ll, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    check_na(out[0], gw_ll, guest_ll);
    /* the guest asks by its global address about our link-local one too */
    ns_frame(&f, guest6, gw_ll, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL_FATAL(nout, 2);
    check_na(out[1], gw_ll, guest6);
}

static void test_ns_dad_unanswered(void)
{
    reset(true);
    struct frame f;
    /* the guest's DAD for its own addresses, and even for ours */
    const uint8_t *targets[] = {guest6, guest_ll, gw6, gw_ll};
    for (size_t i = 0; i < 4; i++) {
        ns_frame(&f, unspec, targets[i], 255);
        CU_ASSERT(msb_l2_handle(&env, &f.p));
    }
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 4);
}

static void test_ns_not_for_us(void)
{
    reset(true);
    struct frame f;
    static const uint8_t other[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
    ns_frame(&f, guest6, other, 255);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    ns_frame(&f, guest6, guest6, 255); /* never claim the guest's own address */
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 2);
}

static void test_ns_invalid(void)
{
    struct frame f;

    reset(true);
    ns_frame(&f, guest6, gw6, 255);
    f.p.l4[2] ^= 0x5a;
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(drops(MSB_DROP_L4_BAD_CHECKSUM), 1);

    /* hop limit is not in the checksum: a routed NS is forged */
    static const uint8_t hops[] = {64, 254, 1, 0};
    for (size_t i = 0; i < sizeof hops; i++) {
        ns_frame(&f, guest6, gw6, hops[i]);
        CU_ASSERT(msb_l2_handle(&env, &f.p));
    }
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_MALFORMED), 4);

    uint8_t m[40] = {135, 1};
    memcpy(m + 8, gw6, 16);
    icmp6_frame(&f, guest6, snm, 255, m, 24); /* code 1 */
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    m[1] = 0;
    icmp6_frame(&f, guest6, snm, 255, m, 16); /* too short for a target */
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    m[24] = 1; /* option of length 0 */
    icmp6_frame(&f, guest6, snm, 255, m, 32);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    m[25] = 2; /* option running past the message */
    icmp6_frame(&f, guest6, snm, 255, m, 32);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    icmp6_frame(&f, guest6, snm, 255, m, 25); /* half an option header */
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    m[25] = 1; /* a source link-layer option from :: */
    icmp6_frame(&f, unspec, snm, 255, m, 32);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    memcpy(m + 8, snm, 16); /* multicast target */
    icmp6_frame(&f, guest6, snm, 255, m, 32);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_MALFORMED), 4 + 7);
    CU_ASSERT_EQUAL(nout, 0);

    /* two valid options (SLLA + an unknown one) are fine */
    memcpy(m + 8, gw6, 16);
    m[24] = 1;
    m[25] = 1;
    memcpy(m + 26, guest_mac, 6);
    m[32] = 99;
    m[33] = 1;
    icmp6_frame(&f, guest6, snm, 255, m, 40);
    CU_ASSERT(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 1);
}

static void test_other_traffic_passes(void)
{
    reset(true);
    struct frame f;
    static const uint8_t types[] = {128, 129, 133, 134, 136, 137, 1};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t m[24] = {types[i]};
        memcpy(m + 8, gw6, 16);
        icmp6_frame(&f, guest6, gw6, 255, m, sizeof m);
        CU_ASSERT_FALSE(msb_l2_handle(&env, &f.p));
    }
    /* an IPv4 TCP segment */
    memset(&f, 0, sizeof f);
    msb_eth_write(f.b, gw_mac, guest_mac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f.b + 14;
    ip[0] = 0x45;
    msb_put16(ip + 2, 40);
    ip[8] = 64;
    ip[9] = MSB_IPPROTO_TCP;
    memcpy(ip + 12, guest4, 4);
    memcpy(ip + 16, gw4, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    ip[20 + 12] = 0x50;
    f.len = 54;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f.b, f.len, &f.p, &why));
    CU_ASSERT_FALSE(msb_l2_handle(&env, &f.p));
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_cleanup(void)
{
    reset(false);
    msb_gateways_destroy(&net.gw);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"arp_request_answered", test_arp_request_answered},
        {"arp_ignored", test_arp_ignored},
        {"inactive_gateway", test_inactive_gateway},
        {"ns_global", test_ns_global},
        {"ns_link_local", test_ns_link_local},
        {"ns_dad_unanswered", test_ns_dad_unanswered},
        {"ns_not_for_us", test_ns_not_for_us},
        {"ns_invalid", test_ns_invalid},
        {"other_traffic_passes", test_other_traffic_passes},
        {"cleanup", test_cleanup},
        {NULL, NULL},
    };
    return cunit_run("l2", tests);
}
