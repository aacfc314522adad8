/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A protocol module run on the test's own thread, with no instance and no
 * stack thread: the env (proto/env.h) is built here around an event_base
 * the test owns, the three msb_env_* calls are env_doubles.h's (frames
 * collected in out[]), addresses come from the default config, the policy
 * from rule text.  The test feeds crafted guest packets (guest_udp,
 * guest_tcp: built with lib/pkt_build.h, parsed with msb_pkt_parse like the
 * stack parses them) and drives the loop with run_until() until a condition
 * holds or a deadline passes.  Frames for the guest are checked with
 * checksums summed here, independently of lib/csum.c.
 *
 * Include once per suite, after the plugin headers.
 */
#ifndef MSB_TEST_THREADLESS_ENV_H
#define MSB_TEST_THREADLESS_ENV_H

#include <event2/event.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/csum.h"
#include "model/addressing.h"
#include "model/config.h"
#include "model/policy_engine.h"

#ifndef ENV_DOUBLES_MAX_OUT
#define ENV_DOUBLES_MAX_OUT 64
#endif
#include "env_doubles.h"

static struct {
    struct event_base *base;
    struct event *tick;
    struct msb_policy *policy;
    atomic_bool terminated;
} th;

/* ---- set-up ------------------------------------------------------------------ */

static void th_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

__attribute__((unused))
static void th_set_policy(const char *rules)
{
    char err[256];
    struct msb_policy *p = msb_policy_parse_text(rules, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    msb_policy_free(th.policy);
    th.policy = p;
}

/* Default config (the caller adjusts net.cfg before creating its module),
 * addresses derived from it, both gateways active, the given policy. */
static void th_up(const char *rules)
{
    memset(&net, 0, sizeof net);
    memset(&env, 0, sizeof env);
    nout = 0;
    msb_config_defaults(&net.cfg);
    msb_metrics_init(&net.metrics);
    CU_ASSERT_EQUAL_FATAL(msb_gateways_init(&net.gw), 0);
    env_bind();
    msb_addrs_derive(&net.cfg, &env.addrs);
    env.guest_mac_learned = true;
    CU_ASSERT_EQUAL_FATAL(msb_gateways_set(&net.gw, &env.addrs.gateway4, &env.addrs.gateway6), 0);
    th.base = event_base_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(th.base);
    env.base = th.base;
    atomic_init(&th.terminated, false);
    env.terminated = &th.terminated;
    th.policy = NULL;
    th_set_policy(rules);
    env.policy = &th.policy;
    /* Bounds every blocking loop pass (run_until), so a wait never spins
     * and never oversleeps an event it could not see coming. */
    th.tick = event_new(th.base, -1, EV_PERSIST, th_tick, NULL);
    const struct timeval tv = {0, 5000};
    CU_ASSERT_EQUAL_FATAL(event_add(th.tick, &tv), 0);
}

__attribute__((unused))
static void th_clear_out(void)
{
    for (size_t i = 0; i < nout; i++)
        msb_frame_free(out[i]);
    nout = 0;
}

static void th_down(void)
{
    th_clear_out();
    event_free(th.tick);
    event_base_free(th.base);
    msb_policy_free(th.policy);
    th.policy = NULL;
    msb_gateways_destroy(&net.gw);
    msb_config_release(&net.cfg);
}

/* ---- the loop ------------------------------------------------------------------ */

typedef bool (*th_cond)(const void *arg);

/* Runs the module's events until cond(arg) holds (true) or ms pass (false). */
static bool run_until(th_cond cond, const void *arg, int ms)
{
    uint64_t deadline = msb_now_ms() + (uint64_t)ms;
    for (;;) {
        event_base_loop(th.base, EVLOOP_NONBLOCK);
        if (cond(arg))
            return true;
        if (msb_now_ms() >= deadline)
            return false;
        event_base_loop(th.base, EVLOOP_ONCE); /* the next event, or the tick */
    }
}

static bool th_frames_at_least(const void *arg)
{
    return nout >= *(const size_t *)arg;
}

struct th_count {
    atomic_uint_fast64_t *c;
    uint64_t want;
};

__attribute__((unused))
static bool th_counter_is(const void *arg)
{
    const struct th_count *w = arg;
    return msb_read(w->c) == w->want;
}

/* Runs until counter c reads want; false at the deadline. */
#define RUN_UNTIL_COUNT(c, want, ms)                                                               \
    run_until(th_counter_is, &(const struct th_count){(c), (want)}, (ms))

/* Takes the oldest frame emitted (the caller frees it), or NULL. */
static struct msb_frame *th_take(void)
{
    if (!nout)
        return NULL;
    struct msb_frame *f = out[0];
    memmove(out, out + 1, (nout - 1) * sizeof out[0]);
    nout--;
    return f;
}

/* Waits up to ms for a frame and takes it. */
__attribute__((unused))
static struct msb_frame *th_next(int ms)
{
    size_t one = 1;
    run_until(th_frames_at_least, &one, ms);
    return th_take();
}

/* ---- guest packets ---------------------------------------------------------------- */

struct guest_pkt {
    uint8_t b[2048];
    size_t len;
    struct msb_pkt p;
};

static const struct msb_ip *th_guest(int ver)
{
    return ver == 4 ? &env.addrs.guest4 : &env.addrs.guest6;
}

__attribute__((unused))
static const struct msb_ip *th_gateway(int ver)
{
    return ver == 4 ? &env.addrs.gateway4 : &env.addrs.gateway6;
}

/* Wraps the L4 segment at g->b + 14 + IP header (l4len bytes, checksum
 * field at ck_at zero) in Ethernet + IP from the guest to dst, sums it and
 * parses the frame as the stack would. */
static void th_finish(struct guest_pkt *g, const struct msb_ip *dst, uint8_t proto,
                      size_t l4len, size_t ck_at)
{
    int ver = dst->family == MSB_FAMILY_V4 ? 4 : 6;
    const struct msb_ip *src = th_guest(ver);
    size_t hl = ver == 4 ? MSB_IPV4_HLEN : MSB_IPV6_HLEN;
    uint8_t *ip = g->b + MSB_ETH_HLEN, *l4 = ip + hl;
    msb_eth_write(g->b, env.addrs.gateway_mac, env.addrs.guest_mac,
                  ver == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    if (ver == 4)
        msb_ip4_write(ip, hl + l4len, 1, MSB_IPV4_DF, 64, proto, src->b, dst->b);
    else
        msb_ip6_write(ip, l4len, 64, proto, src->b, dst->b);
    msb_put16(l4 + ck_at, msb_csum_l4(src, dst, proto, l4, l4len));
    g->len = MSB_ETH_HLEN + hl + l4len;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(g->b, g->len, &g->p, &why));
    CU_ASSERT_FATAL(msb_pkt_l4_checksum_ok(&g->p));
}

static uint8_t *th_l4_start(struct guest_pkt *g, const struct msb_ip *dst)
{
    memset(g, 0, sizeof *g);
    return g->b + MSB_ETH_HLEN + (dst->family == MSB_FAMILY_V4 ? MSB_IPV4_HLEN : MSB_IPV6_HLEN);
}

__attribute__((unused))
static void guest_udp(struct guest_pkt *g, const struct msb_ip *dst, uint16_t sport,
                      uint16_t dport, const void *data, size_t n)
{
    uint8_t *u = th_l4_start(g, dst);
    CU_ASSERT_FATAL(n <= sizeof g->b - 100);
    msb_put16(u, sport);
    msb_put16(u + 2, dport);
    msb_put16(u + 4, (uint16_t)(MSB_UDP_HLEN + n));
    memcpy(u + MSB_UDP_HLEN, data, n);
    th_finish(g, dst, MSB_IPPROTO_UDP, MSB_UDP_HLEN + n, 6);
}

__attribute__((unused))
static void guest_tcp(struct guest_pkt *g, const struct msb_ip *dst, uint16_t sport,
                      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                      const void *data, size_t n)
{
    uint8_t *t = th_l4_start(g, dst);
    CU_ASSERT_FATAL(n <= sizeof g->b - 100);
    msb_put16(t, sport);
    msb_put16(t + 2, dport);
    msb_put32(t + 4, seq);
    msb_put32(t + 8, ack);
    t[12] = (MSB_TCP_HLEN / 4) << 4;
    t[13] = flags;
    msb_put16(t + 14, 65535);
    if (n) /* data may be NULL for a bare segment */
        memcpy(t + MSB_TCP_HLEN, data, n);
    th_finish(g, dst, MSB_IPPROTO_TCP, MSB_TCP_HLEN + n, 16);
}

/* ---- frames for the guest, checked independently ------------------------------------ */

static uint32_t th_sum(uint32_t s, const uint8_t *b, size_t n)
{
    for (; n > 1; b += 2, n -= 2)
        s += (uint32_t)(b[0] << 8 | b[1]);
    if (n)
        s += (uint32_t)b[0] << 8;
    return s;
}

static uint16_t th_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Parses a frame for the guest into *p and checks it end to end: Ethernet
 * gateway -> guest, IPv4 header checksum, L4 checksum over the pseudo-header
 * (ICMPv4: over the message alone).  False (with CUnit failures) if not. */
__attribute__((unused))
static bool th_check_frame(struct msb_frame *f, struct msb_pkt *p)
{
    enum msb_drop_reason why;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    bool ok = msb_pkt_parse(f->data, f->len, p, &why);
    CU_ASSERT(ok);
    if (!ok)
        return false;
    CU_ASSERT_EQUAL(memcmp(p->dst_mac, env.addrs.guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(p->src_mac, env.addrs.gateway_mac, 6), 0);
    if (p->ip_version == 4)
        CU_ASSERT_EQUAL(th_fold(th_sum(0, p->l3, p->l3_hdr_len)), 0xffff);
    size_t alen = p->ip_version == 4 ? 4 : 16;
    uint32_t s = 0;
    if (p->l4_proto != MSB_IPPROTO_ICMP)
        s = th_sum(th_sum(0, p->src.b, alen), p->dst.b, alen) + p->l4_proto + (uint32_t)p->l4_len;
    bool sum_ok = th_fold(th_sum(s, p->l4, p->l4_len)) == 0xffff;
    CU_ASSERT(sum_ok);
    return sum_ok;
}

#endif
