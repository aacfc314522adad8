/* SPDX-License-Identifier: Apache-2.0 */
/* Router advertisements: the RA parsed back field by field and option by
 * option; answers to solicitations (unicast / all-nodes), rate limit,
 * malformed solicitations, the unsolicited schedule and the switches.  The
 * stack's calls (proto/env.h) are doubles that capture frames. */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "proto/ndp_ra.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t gw6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t guest6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 7, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t prefix[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 7};
static const uint8_t gw_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x6d, 0x73, 0xff, 0xfe, 0, 0, 1};
static const uint8_t guest_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x6d, 0x73, 0xff, 0xfe, 0, 0, 2};
static const uint8_t unspec[16] = {0};
static const uint8_t all_routers[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

/* ---- env doubles ------------------------------------------------------------- */

#define ENV_DOUBLES_MAX_OUT 16
#include "env_doubles.h"

static void clear_out(void)
{
    for (size_t i = 0; i < nout; i++)
        msb_frame_free(out[i]);
    nout = 0;
}

static void activate(void)
{
    struct msb_ip v6;
    msb_ip_from_v6(&v6, gw6);
    CU_ASSERT_EQUAL_FATAL(msb_gateways_set(&net.gw, NULL, &v6), 0);
}

static void reset_with(bool gateway)
{
    static bool inited;
    clear_out();
    if (inited)
        msb_gateways_destroy(&net.gw);
    inited = true;
    msb_metrics_init(&net.metrics);
    memset(&net.cfg, 0, sizeof net.cfg);
    net.cfg.ra = true;
    CU_ASSERT_EQUAL_FATAL(msb_gateways_init(&net.gw), 0);
    memset(&env, 0, sizeof env);
    env_bind();
    memcpy(env.addrs.gateway_mac, gw_mac, 6);
    memcpy(env.addrs.guest_mac, guest_mac, 6);
    msb_ip_from_v6(&env.addrs.gateway6, gw6);
    msb_ip_from_v6(&env.addrs.guest6, guest6);
    env.addrs.prefix6 = 64;
    env.addrs.mtu = 1500;
    if (gateway)
        activate();
}

static void reset(void)
{
    reset_with(true);
}

/* ---- solicitations ----------------------------------------------------------- */

struct frame {
    uint8_t b[256];
    size_t len;
    struct msb_pkt p;
};

/* An ICMPv6 message (checksum computed unless bad_csum) in an IPv6 frame. */
static void icmp6_frame(struct frame *f, const uint8_t src[16], const uint8_t dst[16], uint8_t hop,
                        const uint8_t *msg, size_t len, bool bad_csum)
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, (const uint8_t[]){0x33, 0x33, 0, 0, 0, 2}, guest_mac, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f->b + MSB_ETH_HLEN, *l4 = ip + 40;
    msb_ip6_write(ip, len, hop, MSB_IPPROTO_ICMPV6, src, dst);
    memcpy(l4, msg, len);
    l4[2] = l4[3] = 0;
    struct msb_ip s, d;
    msb_ip_from_v6(&s, src);
    msb_ip_from_v6(&d, dst);
    msb_put16(l4 + 2, msb_csum_l4(&s, &d, MSB_IPPROTO_ICMPV6, l4, len));
    if (bad_csum)
        l4[3] ^= 0x11;
    f->len = MSB_ETH_HLEN + 40 + len;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f->b, f->len, &f->p, &why));
}

/* RS with a source link-layer option unless from ::. */
static void rs_frame(struct frame *f, const uint8_t src[16])
{
    uint8_t m[16] = {133};
    size_t len = 8;
    if (memcmp(src, unspec, 16) != 0) {
        m[8] = 1;
        m[9] = 1;
        memcpy(m + 10, guest_mac, 6);
        len = 16;
    }
    icmp6_frame(f, src, all_routers, 255, m, len, false);
}

static bool solicit(const uint8_t src[16], uint64_t now)
{
    struct frame f;
    rs_frame(&f, src);
    return msb_ra_handle(&env, &f.p, now);
}

/* ---- the advertisement ------------------------------------------------------- */

static const uint8_t *find_opt(const struct msb_pkt *r, uint8_t type)
{
    size_t off = 16;
    while (off + 2 <= r->l4_len) {
        size_t olen = (size_t)r->l4[off + 1] * 8;
        CU_ASSERT_FATAL(olen > 0 && off + olen <= r->l4_len);
        if (r->l4[off] == type)
            return r->l4 + off;
        off += olen;
    }
    return NULL;
}

/* Checks out[i] is a complete, valid RA to dst; returns it parsed. */
static struct msb_pkt check_ra(size_t i, const uint8_t dst[16], const uint8_t dst_mac[6])
{
    struct msb_pkt r;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(i < nout);
    CU_ASSERT_FATAL(msb_pkt_parse(out[i]->data, out[i]->len, &r, &why));
    CU_ASSERT_EQUAL(memcmp(r.dst_mac, dst_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r.src_mac, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(r.ip_version, 6);
    CU_ASSERT_EQUAL_FATAL(r.l4_proto, MSB_IPPROTO_ICMPV6);
    CU_ASSERT_EQUAL(r.l3[7], 255);
    CU_ASSERT_EQUAL(memcmp(r.src.b, gw_ll, 16), 0);
    CU_ASSERT_EQUAL(memcmp(r.dst.b, dst, 16), 0);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&r));
    CU_ASSERT_EQUAL_FATAL(r.l4_len, 16 + 8 + 8 + 32 + 24);
    const uint8_t *m = r.l4;
    CU_ASSERT_EQUAL(m[0], 134);
    CU_ASSERT_EQUAL(m[1], 0);
    CU_ASSERT_EQUAL(m[4], 64);         /* cur hop limit */
    CU_ASSERT_EQUAL(m[5], 0);          /* M=0 O=0 */
    CU_ASSERT_EQUAL(msb_get16(m + 6), 1800);
    CU_ASSERT_EQUAL(msb_get32(m + 8), 0);
    CU_ASSERT_EQUAL(msb_get32(m + 12), 0);

    const uint8_t *o = find_opt(&r, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o[1], 1);
    CU_ASSERT_EQUAL(memcmp(o + 2, gw_mac, 6), 0);
    o = find_opt(&r, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o[1], 1);
    CU_ASSERT_EQUAL(msb_get32(o + 4), env.addrs.mtu);
    o = find_opt(&r, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o[1], 4);
    CU_ASSERT_EQUAL(o[2], 64);
    CU_ASSERT_EQUAL(o[3], 0xc0); /* L=1 A=1 */
    CU_ASSERT_EQUAL(msb_get32(o + 4), 86400);
    CU_ASSERT_EQUAL(msb_get32(o + 8), 14400);
    CU_ASSERT_EQUAL(memcmp(o + 16, prefix, 16), 0);
    o = find_opt(&r, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o[1], 3);
    CU_ASSERT_EQUAL(msb_get32(o + 4), 1800);
    CU_ASSERT_EQUAL(memcmp(o + 8, gw6, 16), 0);
    return r;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_rs_unicast_answer(void)
{
    reset();
    CU_ASSERT(solicit(guest_ll, 1000));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    check_ra(0, guest_ll, guest_mac);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.ra.solicitations), 1);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.ra.sent_solicited), 1);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_rs_from_unspecified(void)
{
    reset();
    CU_ASSERT(solicit(unspec, 1000));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    check_ra(0, all_nodes, all_nodes_mac);
}

static void test_rate_limit(void)
{
    reset();
    CU_ASSERT(solicit(guest_ll, 10000));
    CU_ASSERT(solicit(guest_ll, 10500));
    CU_ASSERT_EQUAL(nout, 1);
    CU_ASSERT_EQUAL(drops(MSB_DROP_RA_RATE_LIMITED), 1);
    CU_ASSERT(solicit(guest_ll, 11000));
    CU_ASSERT_EQUAL(nout, 2);
}

static void test_malformed_rs(void)
{
    struct {
        uint8_t hop, code, optlen;
        const uint8_t *src;
        bool bad_csum;
        enum msb_drop_reason why;
    } cases[] = {
        {64, 0, 1, guest_ll, false, MSB_DROP_NDP_MALFORMED},  /* forwarded */
        {255, 1, 1, guest_ll, false, MSB_DROP_NDP_MALFORMED}, /* code */
        {255, 0, 0, guest_ll, false, MSB_DROP_NDP_MALFORMED}, /* option length 0 */
        {255, 0, 2, guest_ll, false, MSB_DROP_NDP_MALFORMED}, /* option past the end */
        {255, 0, 1, unspec, false, MSB_DROP_NDP_MALFORMED},   /* SLLA from :: */
        {255, 0, 1, guest_ll, true, MSB_DROP_L4_BAD_CHECKSUM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        uint8_t m[16] = {133, cases[i].code};
        m[8] = 1;
        m[9] = cases[i].optlen;
        memcpy(m + 10, guest_mac, 6);
        struct frame f;
        icmp6_frame(&f, cases[i].src, all_routers, cases[i].hop, m, 16, cases[i].bad_csum);
        CU_ASSERT(msb_ra_handle(&env, &f.p, 1000));
        CU_ASSERT_EQUAL(nout, 0);
        CU_ASSERT_EQUAL(drops(cases[i].why), 1);
        CU_ASSERT_EQUAL(total_drops(), 1);
        /* a refused solicitation does not turn unsolicited RAs on */
        msb_ra_tick(&env, 2000);
        CU_ASSERT_EQUAL(nout, 0);
    }
}

static void test_not_rs(void)
{
    reset();
    uint8_t ns[24] = {135};
    memcpy(ns + 8, gw6, 16);
    struct frame f;
    icmp6_frame(&f, guest_ll, all_nodes, 255, ns, sizeof ns, false);
    CU_ASSERT_FALSE(msb_ra_handle(&env, &f.p, 1000));
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_switches(void)
{
    reset_with(false);
    CU_ASSERT(solicit(guest_ll, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 1);
    reset();
    net.cfg.ra = false;
    CU_ASSERT(solicit(guest_ll, 1000));
    msb_ra_tick(&env, 5000);
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 1);
    reset();
    env.addrs.mtu = 1279; /* no IPv6 on such a link */
    CU_ASSERT(solicit(guest_ll, 1000));
    CU_ASSERT_EQUAL(drops(MSB_DROP_NDP_IGNORED), 1);
    CU_ASSERT_EQUAL(nout, 0);
}

static size_t periodic_at(uint64_t now)
{
    size_t before = nout;
    msb_ra_tick(&env, now);
    return nout - before;
}

static void test_unsolicited_schedule(void)
{
    reset();
    /* never solicited: a guest with static IPv6 gets no RA noise */
    CU_ASSERT_EQUAL(periodic_at(1000), 0);
    CU_ASSERT_EQUAL(periodic_at(500000), 0);
    CU_ASSERT(solicit(guest_ll, 500000));
    CU_ASSERT_EQUAL(nout, 1);
    /* three quick ones, 2 s apart */
    CU_ASSERT_EQUAL(periodic_at(501000), 1);
    check_ra(1, all_nodes, all_nodes_mac);
    CU_ASSERT_EQUAL(periodic_at(502000), 0);
    CU_ASSERT_EQUAL(periodic_at(503000), 1);
    CU_ASSERT_EQUAL(periodic_at(505000), 1);
    /* then 200..600 s */
    CU_ASSERT_EQUAL(periodic_at(505000 + 199000), 0);
    CU_ASSERT_EQUAL(periodic_at(505000 + 600000), 1);
    CU_ASSERT_EQUAL(periodic_at(505000 + 600000 + 199000), 0);
    CU_ASSERT_EQUAL(periodic_at(505000 + 1200000), 1);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.ra.sent_periodic), 5);
    clear_out();
}

/* The guest asked before the gateway was active (ignored): the burst
 * starts as soon as it is. */
static void test_burst_on_activation(void)
{
    reset_with(false);
    CU_ASSERT(solicit(unspec, 1000));
    CU_ASSERT_EQUAL(periodic_at(2000), 0);
    activate();
    CU_ASSERT_EQUAL(periodic_at(3000), 1);
    check_ra(0, all_nodes, all_nodes_mac);
    CU_ASSERT_EQUAL(periodic_at(5000), 1);
}

static void test_prefix_not_64(void)
{
    reset();
    env.addrs.prefix6 = 56;
    CU_ASSERT(solicit(guest_ll, 1000));
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct msb_pkt r;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(out[0]->data, out[0]->len, &r, &why));
    const uint8_t *o = find_opt(&r, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o[2], 56);
    CU_ASSERT_EQUAL(o[3], 0x80); /* on-link, no SLAAC */
    CU_ASSERT_EQUAL(o[16 + 7], 0); /* bits past /56 cleared */
    clear_out();
    msb_gateways_destroy(&net.gw);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"RS -> unicast RA with every option", test_rs_unicast_answer},
        {"RS from :: -> RA to all nodes", test_rs_from_unspecified},
        {"one answer per second", test_rate_limit},
        {"malformed RS dropped and counted", test_malformed_rs},
        {"other ICMPv6 passed on", test_not_rs},
        {"inactive gateway, ra off, small MTU", test_switches},
        {"unsolicited: burst then 200..600 s", test_unsolicited_schedule},
        {"burst when the gateway becomes active", test_burst_on_activation},
        {"prefix other than /64: no A flag", test_prefix_not_64},
        {NULL, NULL},
    };
    return cunit_run("ndp_ra", tests);
}
