/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest UDP and ping end to end, in process, no namespaces: the test plays
 * the guest (hand-built frames in through write_frame, frames out through
 * read_frame) against UDP sockets on 127.0.0.1 / ::1 reached through the
 * gateway address, and checks every frame that comes back (addresses,
 * ports, IP/UDP/ICMP checksums computed here independently).  Nothing
 * leaves loopback.
 */
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "cunit_main.h"
#include "instance_harness.h"
#include "loopback_socket.h"
#include "msbnet/msbnet.h"

static uint8_t fr[MSBNET_MAX_FRAME];

/* ---- bytes and checksums (independent of the plugin's own) ---------------- */

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t sum(uint32_t s, const uint8_t *b, size_t n)
{
    for (; n > 1; b += 2, n -= 2)
        s += get16(b);
    if (n)
        s += (uint32_t)b[0] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static uint32_t pseudo(const struct msb_ip *s, const struct msb_ip *d, uint8_t proto, size_t len)
{
    size_t alen = s->family == MSB_FAMILY_V4 ? 4 : 16;
    return sum(sum(0, s->b, alen), d->b, alen) + proto + (uint32_t)len;
}

/* ---- the guest ---------------------------------------------------------------- */

/* An IP packet (no options) from src to dst carrying l4 (whose checksum
 * field the caller left at 0 and which is summed here). */
static size_t guest_ip(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                       const uint8_t *l4, size_t l4len, size_t ck_at)
{
    bool v4 = src->family == MSB_FAMILY_V4;
    size_t hl = v4 ? 20 : 40;
    memcpy(fr, gw_mac, 6);
    memcpy(fr + 6, g_mac, 6);
    put16(fr + 12, v4 ? 0x0800 : 0x86dd);
    uint8_t *ip = fr + 14;
    memset(ip, 0, hl);
    if (v4) {
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(hl + l4len));
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, src->b, 4);
        memcpy(ip + 16, dst->b, 4);
        put16(ip + 10, (uint16_t)~fold(sum(0, ip, 20)));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)l4len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, src->b, 16);
        memcpy(ip + 24, dst->b, 16);
    }
    memcpy(ip + hl, l4, l4len);
    uint32_t s = sum(proto == 1 ? 0 : pseudo(src, dst, proto, l4len), ip + hl, l4len);
    put16(ip + hl + ck_at, (uint16_t)~fold(s));
    return 14 + hl + l4len;
}

static void send_udp(int ver, const struct msb_ip *dst, uint16_t sport, uint16_t dport,
                     const uint8_t *data, size_t n)
{
    static uint8_t l4[65536];
    put16(l4, sport);
    put16(l4 + 2, dport);
    put16(l4 + 4, (uint16_t)(8 + n));
    put16(l4 + 6, 0);
    memcpy(l4 + 8, data, n);
    size_t len = guest_ip(ver == 4 ? &g4 : &g6, dst, 17, l4, 8 + n, 6);
    CU_ASSERT_EQUAL(api->write_frame(net, fr, len), MSBNET_WRITTEN);
}

static void send_echo(int ver, const struct msb_ip *dst, uint16_t ident, uint16_t seq,
                      const uint8_t *data, size_t n)
{
    uint8_t l4[1500];
    memset(l4, 0, 8);
    l4[0] = ver == 4 ? 8 : 128;
    put16(l4 + 4, ident);
    put16(l4 + 6, seq);
    memcpy(l4 + 8, data, n);
    size_t len = guest_ip(ver == 4 ? &g4 : &g6, dst, ver == 4 ? 1 : 58, l4, 8 + n, 2);
    CU_ASSERT_EQUAL(api->write_frame(net, fr, len), MSBNET_WRITTEN);
}

/* The next frame for the guest within ms, or 0. */
static long next_frame(uint8_t *buf, size_t cap, int ms)
{
    uint64_t deadline = msb_now_ms() + (uint64_t)ms;
    for (;;) {
        long n = api->read_frame(net, buf, cap, NULL);
        if (n != 0 || msb_now_ms() >= deadline)
            return n;
        struct pollfd pfd = {api->rx_wake_fd(net), POLLIN, 0};
        poll(&pfd, 1, 20);
    }
}

/* A frame for the guest, parsed: L3 header checked (v4 header checksum),
 * addresses out, L4 start and length. */
struct rx {
    long len;
    int ver;
    uint8_t proto;
    struct msb_ip src, dst;
    uint8_t *ip, *l4;
    size_t l4len;
    uint16_t frag; /* v4 flags + offset */
};

static bool parse_rx(uint8_t *buf, long len, struct rx *r)
{
    memset(r, 0, sizeof *r);
    if (len < 14 + 20 || memcmp(buf, g_mac, 6) != 0 || memcmp(buf + 6, gw_mac, 6) != 0)
        return false;
    r->len = len;
    r->ip = buf + 14;
    if (get16(buf + 12) == 0x0800) {
        size_t tot = get16(r->ip + 2);
        if (r->ip[0] != 0x45 || tot + 14 != (size_t)len || fold(sum(0, r->ip, 20)) != 0xffff)
            return false;
        r->ver = 4;
        r->proto = r->ip[9];
        r->frag = get16(r->ip + 6);
        msb_ip_from_v4(&r->src, r->ip + 12);
        msb_ip_from_v4(&r->dst, r->ip + 16);
        r->l4 = r->ip + 20;
        r->l4len = tot - 20;
        return true;
    }
    if (len < 14 + 40 || (size_t)get16(r->ip + 4) + 54 != (size_t)len)
        return false;
    r->ver = 6;
    r->proto = r->ip[6];
    msb_ip_from_v6(&r->src, r->ip + 8);
    msb_ip_from_v6(&r->dst, r->ip + 24);
    r->l4 = r->ip + 40;
    r->l4len = get16(r->ip + 4);
    return true;
}

static bool l4_sum_ok(const struct rx *r, const uint8_t *l4, size_t n)
{
    uint32_t s = (r->proto == 1) ? 0 : pseudo(&r->src, &r->dst, r->proto, n);
    return fold(sum(s, l4, n)) == 0xffff;
}

/* ---- host peers ------------------------------------------------------------------ */

static int peer(int ver, uint16_t *port)
{
    return loopback_socket(ver, SOCK_DGRAM, port);
}

/* The datagram the peer got (within 2 s), and where from. */
static ssize_t peer_recv(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from,
                         socklen_t *fl)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1)
        return -1;
    *fl = sizeof *from;
    return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, fl);
}

/* ---- instance ----------------------------------------------------------------------- */

/* Counters move just after the frame they count is handed over: a test
 * that has read the frame waits (briefly) for the count. */
static long long wait_metric(const char *section, const char *name, long long want)
{
    uint64_t dl = msb_now_ms() + 1000;
    long long v;
    while ((v = metric(section, name)) != want && msb_now_ms() < dl)
        usleep(1000);
    return v;
}

static void stop(void)
{
    api->destroy(net);
    net = NULL;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31u + seed);
}

/* ---- tests --------------------------------------------------------------------------- */

/* Guest -> gateway:port reaches the peer on loopback; the peer's answer
 * comes back from the gateway address with a checksum that verifies. */
static void round_trip(int ver, size_t out_len, size_t back_len)
{
    const struct msb_ip *gw = ver == 4 ? &gw4 : &gw6, *g = ver == 4 ? &g4 : &g6;
    uint16_t port;
    int fd = peer(ver, &port);
    static uint8_t out[65536], back[65536], got[65536];
    fill(out, out_len, 1);
    fill(back, back_len, 7);
    send_udp(ver, gw, 41000, port, out, out_len);
    struct sockaddr_storage from;
    socklen_t fl;
    CU_ASSERT_EQUAL_FATAL(peer_recv(fd, got, sizeof got, &from, &fl), (ssize_t)out_len);
    CU_ASSERT(memcmp(got, out, out_len) == 0);
    CU_ASSERT_EQUAL(sendto(fd, back, back_len, 0, (struct sockaddr *)&from, fl), (ssize_t)back_len);
    long n = next_frame(fr, sizeof fr, 2000);
    struct rx r;
    CU_ASSERT_FATAL(parse_rx(fr, n, &r));
    CU_ASSERT_EQUAL(r.proto, 17);
    CU_ASSERT(msb_ip_equal(&r.src, gw) && msb_ip_equal(&r.dst, g));
    CU_ASSERT_EQUAL(get16(r.l4), port);
    CU_ASSERT_EQUAL(get16(r.l4 + 2), 41000);
    CU_ASSERT_EQUAL(get16(r.l4 + 4), 8 + back_len);
    CU_ASSERT_NOT_EQUAL(get16(r.l4 + 6), 0);
    CU_ASSERT(l4_sum_ok(&r, r.l4, r.l4len));
    CU_ASSERT(r.l4len == 8 + back_len && memcmp(r.l4 + 8, back, back_len) == 0);
    close(fd);
}

static void test_round_trip_v4(void)
{
    start("{\"egress\": \"allow\"}");
    round_trip(4, 100, 1000);
    round_trip(4, 1400, 0);
    CU_ASSERT_EQUAL(wait_metric("udp", "datagrams_to_guest", 2), 2);
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 2);
}

static void test_round_trip_v6(void)
{
    round_trip(6, 1, 1400);
    round_trip(6, 1200, 3);
}

/* 8 KiB at MTU 1500: fragments of at most 1500 bytes of IP, offsets in
 * order, MF on all but the last; reassembled, the datagram verifies. */
static void test_fragmented_reply(void)
{
    uint16_t port;
    int fd = peer(4, &port);
    static uint8_t back[8192], got[65536], dgram[65536];
    fill(back, sizeof back, 3);
    send_udp(4, &gw4, 41001, port, (const uint8_t *)"x", 1);
    struct sockaddr_storage from;
    socklen_t fl;
    CU_ASSERT_EQUAL_FATAL(peer_recv(fd, got, sizeof got, &from, &fl), 1);
    sendto(fd, back, sizeof back, 0, (struct sockaddr *)&from, fl);
    size_t have = 0, frames = 0;
    bool last = false;
    uint16_t id = 0;
    while (!last) {
        long n = next_frame(fr, sizeof fr, 2000);
        struct rx r;
        CU_ASSERT_FATAL(parse_rx(fr, n, &r));
        CU_ASSERT(n - 14 <= 1500);
        size_t off = (size_t)(r.frag & 0x1fff) * 8;
        CU_ASSERT_EQUAL_FATAL(off, have);
        if (frames++ == 0)
            id = get16(r.ip + 4);
        CU_ASSERT_EQUAL(get16(r.ip + 4), id);
        memcpy(dgram + off, r.l4, r.l4len);
        have += r.l4len;
        last = !(r.frag & 0x2000);
        CU_ASSERT_FATAL(frames < 20);
    }
    CU_ASSERT_EQUAL(frames, 6); /* 8200 bytes in 1480-byte pieces */
    CU_ASSERT_EQUAL(have, 8 + sizeof back);
    struct rx whole = {.proto = 17, .src = gw4, .dst = g4};
    CU_ASSERT(l4_sum_ok(&whole, dgram, have));
    CU_ASSERT(memcmp(dgram + 8, back, sizeof back) == 0);
    CU_ASSERT_EQUAL(wait_metric("udp", "fragmented_replies", 1), 1);
    close(fd);
}

/* IPv6 has no fragmentation on the way: too big for the MTU is a drop. */
static void test_v6_too_big_dropped(void)
{
    uint16_t port;
    int fd = peer(6, &port);
    static uint8_t back[4000], got[16];
    send_udp(6, &gw6, 41002, port, (const uint8_t *)"y", 1);
    struct sockaddr_storage from;
    socklen_t fl;
    CU_ASSERT_EQUAL_FATAL(peer_recv(fd, got, sizeof got, &from, &fl), 1);
    sendto(fd, back, sizeof back, 0, (struct sockaddr *)&from, fl);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 300), 0);
    CU_ASSERT_EQUAL(metric("drops", "udp_reply_too_big"), 1);
    close(fd);
}

/* An ICMP error for the guest quoting its datagram to dport. */
static void expect_icmp_error(int ver, const struct msb_ip *from, uint8_t type, uint8_t code,
                              uint16_t dport)
{
    long n = next_frame(fr, sizeof fr, 2000);
    struct rx r;
    CU_ASSERT_FATAL(parse_rx(fr, n, &r));
    CU_ASSERT_EQUAL(r.proto, ver == 4 ? 1 : 58);
    CU_ASSERT(msb_ip_equal(&r.src, from));
    CU_ASSERT_EQUAL(r.l4[0], type);
    CU_ASSERT_EQUAL(r.l4[1], code);
    CU_ASSERT(l4_sum_ok(&r, r.l4, r.l4len));
    size_t hl = ver == 4 ? 20 : 40;
    CU_ASSERT_FATAL(r.l4len >= 8 + hl + 8);
    CU_ASSERT_EQUAL(get16(r.l4 + 8 + hl + 2), dport);
}

static uint16_t closed_port(int ver)
{
    uint16_t port;
    close(peer(ver, &port));
    return port;
}

static void test_closed_port_unreachable(void)
{
    uint16_t p4 = closed_port(4), p6 = closed_port(6);
    uint64_t t0 = msb_now_ms();
    send_udp(4, &gw4, 41003, p4, (const uint8_t *)"z", 1);
    expect_icmp_error(4, &gw4, 3, 3, p4);
    send_udp(6, &gw6, 41003, p6, (const uint8_t *)"z", 1);
    expect_icmp_error(6, &gw6, 1, 4, p6);
    CU_ASSERT(msb_now_ms() - t0 < 1000);
    CU_ASSERT_EQUAL(metric("udp", "port_unreachable"), 2);
}

static void test_blocked_ports(void)
{
    static const uint16_t ports[] = {853, 5353, 5355, 137};
    for (int i = 0; i < 4; i++)
        send_udp(4, &gw4, 41004, ports[i], (const uint8_t *)"q", 1);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 200), 0);
    CU_ASSERT_EQUAL(metric("drops", "udp_blocked_port"), 4);
}

/* The guest's loopback is never dialled: denied like a policy refusal. */
static void test_loopback_denied(void)
{
    struct msb_ip lo;
    msb_ip_parse("127.0.0.1", &lo);
    send_udp(4, &lo, 41005, 9, (const uint8_t *)"l", 1);
    expect_icmp_error(4, &gw4, 3, 13, 9);
    CU_ASSERT_EQUAL(metric("drops", "udp_denied"), 1);
}

static void check_echo_reply(int ver, const struct msb_ip *from, uint16_t ident, uint16_t seq,
                             const uint8_t *data, size_t n)
{
    long len = next_frame(fr, sizeof fr, 2000);
    struct rx r;
    CU_ASSERT_FATAL(parse_rx(fr, len, &r));
    CU_ASSERT_EQUAL(r.proto, ver == 4 ? 1 : 58);
    CU_ASSERT(msb_ip_equal(&r.src, from));
    CU_ASSERT(msb_ip_equal(&r.dst, ver == 4 ? &g4 : &g6));
    CU_ASSERT_EQUAL(r.l4[0], ver == 4 ? 0 : 129);
    CU_ASSERT_EQUAL(get16(r.l4 + 4), ident);
    CU_ASSERT_EQUAL(get16(r.l4 + 6), seq);
    CU_ASSERT(l4_sum_ok(&r, r.l4, r.l4len));
    CU_ASSERT(r.l4len == 8 + n && memcmp(r.l4 + 8, data, n) == 0);
}

static void test_ping_gateway(void)
{
    uint8_t data[56];
    fill(data, sizeof data, 9);
    send_echo(4, &gw4, 0x1234, 1, data, sizeof data);
    check_echo_reply(4, &gw4, 0x1234, 1, data, sizeof data);
    send_echo(6, &gw6, 0xbeef, 7, data, 13);
    check_echo_reply(6, &gw6, 0xbeef, 7, data, 13);
    CU_ASSERT_EQUAL(metric("icmp", "echo_local"), 2);
}

static void test_ping_loopback_denied(void)
{
    struct msb_ip lo;
    msb_ip_parse("::1", &lo);
    send_echo(6, &lo, 1, 1, (const uint8_t *)"p", 1);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 200), 0);
    CU_ASSERT_EQUAL(metric("drops", "icmp_denied"), 1);
    stop();
}

static void test_egress_deny(void)
{
    start("{\"egress\": \"deny\"}");
    struct msb_ip dst4, dst6;
    msb_ip_parse("198.18.0.1", &dst4);
    msb_ip_parse("fd42::1", &dst6);
    send_udp(4, &dst4, 41006, 7000, (const uint8_t *)"d", 1);
    expect_icmp_error(4, &gw4, 3, 13, 7000);
    send_udp(6, &dst6, 41006, 7000, (const uint8_t *)"d", 1);
    expect_icmp_error(6, &gw6, 1, 1, 7000);
    CU_ASSERT_EQUAL(metric("drops", "udp_denied"), 2);
    CU_ASSERT_EQUAL(metric("udp", "admin_prohibited"), 2);
    CU_ASSERT_EQUAL(metric("udp", "sessions_opened"), 0);
    send_echo(4, &dst4, 1, 1, (const uint8_t *)"e", 1);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 200), 0);
    CU_ASSERT_EQUAL(metric("drops", "icmp_denied"), 1);
    stop();
}

/* Two sessions at most: a third recycles the least recently active one,
 * and the survivor still relays. */
static void test_session_cap(void)
{
    start("{\"egress\": \"allow\", \"max_udp_sessions\": 2}");
    uint16_t port;
    int fd = peer(4, &port);
    uint8_t got[16];
    struct sockaddr_storage from[3];
    socklen_t fl;
    for (uint16_t i = 0; i < 3; i++) {
        send_udp(4, &gw4, (uint16_t)(42000 + i), port, (const uint8_t *)"c", 1);
        CU_ASSERT_EQUAL(peer_recv(fd, got, sizeof got, &from[i], &fl), 1);
    }
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 2);
    CU_ASSERT_EQUAL(metric("udp", "sessions_recycled"), 1);
    CU_ASSERT_EQUAL(metric("udp", "sessions_opened"), 3);
    sendto(fd, "r", 1, 0, (struct sockaddr *)&from[2], fl);
    long n = next_frame(fr, sizeof fr, 2000);
    struct rx r;
    CU_ASSERT_FATAL(parse_rx(fr, n, &r));
    CU_ASSERT_EQUAL(get16(r.l4 + 2), 42002);
    close(fd);
    stop();
}

/* A session with no traffic for udp_idle_timeout_s goes; traffic from the
 * host side keeps it alive. */
static void test_idle_timeout(void)
{
    start("{\"egress\": \"allow\", \"udp_idle_timeout_s\": 1}");
    uint16_t port;
    int fd = peer(4, &port);
    uint8_t got[16];
    struct sockaddr_storage from;
    socklen_t fl;
    send_udp(4, &gw4, 43000, port, (const uint8_t *)"i", 1);
    CU_ASSERT_EQUAL(peer_recv(fd, got, sizeof got, &from, &fl), 1);
    for (int i = 0; i < 3; i++) { /* 1.5 s of host -> guest traffic */
        usleep(500000);
        sendto(fd, "k", 1, 0, (struct sockaddr *)&from, fl);
        CU_ASSERT(next_frame(fr, sizeof fr, 1000) > 0);
    }
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 1);
    uint64_t dl = msb_now_ms() + 3000;
    while (metric("udp", "sessions") != 0 && msb_now_ms() < dl)
        usleep(50000);
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 0);
    CU_ASSERT_EQUAL(metric("udp", "idle_timeouts"), 1);
    close(fd);
    stop();
}

/* A policy replaced at run time closes the sessions it denies: the host's
 * later reply no longer reaches the guest, and a session it still allows
 * keeps relaying. */
static void test_policy_replace_closes_denied(void)
{
    start("{\"egress\": \"allow\"}");
    uint16_t p1, p2;
    int f1 = peer(4, &p1), f2 = peer(4, &p2);
    uint8_t got[16];
    struct sockaddr_storage from1, from2;
    socklen_t fl;
    send_udp(4, &gw4, 44001, p1, (const uint8_t *)"a", 1);
    CU_ASSERT_EQUAL(peer_recv(f1, got, sizeof got, &from1, &fl), 1);
    send_udp(4, &gw4, 44002, p2, (const uint8_t *)"b", 1);
    CU_ASSERT_EQUAL(peer_recv(f2, got, sizeof got, &from2, &fl), 1);
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 2);
    char rule[64], err[256];
    snprintf(rule, sizeof rule, "allow@host:udp:%u", p2);
    CU_ASSERT_EQUAL(api->set_policy(net, rule, NULL, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(wait_metric("policy", "flows_reset", 1), 1);
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 1);
    sendto(f1, "x", 1, 0, (struct sockaddr *)&from1, fl); /* to a closed socket */
    sendto(f2, "y", 1, 0, (struct sockaddr *)&from2, fl);
    long n = next_frame(fr, sizeof fr, 2000);
    struct rx r;
    CU_ASSERT_FATAL(parse_rx(fr, n, &r));
    CU_ASSERT_EQUAL(get16(r.l4 + 2), 44002);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 300), 0);
    close(f1);
    close(f2);
    stop();
}

/* A 4-frame rx ring nobody reads: replies beyond it are dropped and
 * counted, a fragmented reply that cannot fit whole is not started, and
 * the stack keeps serving (never waits for the reader). */
static void test_rx_full_drops(void)
{
    start("{\"egress\": \"allow\", \"queue_capacity\": 4}");
    uint16_t port;
    int fd = peer(4, &port);
    uint8_t got[16];
    static uint8_t back[8192];
    struct sockaddr_storage from;
    socklen_t fl;
    send_udp(4, &gw4, 44000, port, (const uint8_t *)"f", 1);
    CU_ASSERT_EQUAL(peer_recv(fd, got, sizeof got, &from, &fl), 1);
    for (int i = 0; i < 6; i++)
        sendto(fd, "r", 1, 0, (struct sockaddr *)&from, fl);
    CU_ASSERT_EQUAL(wait_metric("udp", "datagrams_to_guest", 4), 4);
    CU_ASSERT_EQUAL(wait_metric("drops", "rx_ring_full", 2), 2);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(next_frame(fr, sizeof fr, 1000) > 0);
    sendto(fd, back, sizeof back, 0, (struct sockaddr *)&from, fl); /* 6 fragments > 4 */
    CU_ASSERT_EQUAL(wait_metric("drops", "rx_ring_full", 3), 3);
    CU_ASSERT_EQUAL(next_frame(fr, sizeof fr, 100), 0);
    send_echo(4, &gw4, 5, 5, (const uint8_t *)"s", 1); /* still serving */
    check_echo_reply(4, &gw4, 5, 5, (const uint8_t *)"s", 1);
    close(fd);
    stop();
}

int main(void)
{
    fds_at_start = count_fds();
    static const struct test_case tests[] = {
        {"IPv4 round trip through the gateway, checksums", test_round_trip_v4},
        {"IPv6 round trip through the gateway, checksums", test_round_trip_v6},
        {"8 KiB reply fragmented at MTU 1500", test_fragmented_reply},
        {"IPv6 reply over the MTU dropped, counted", test_v6_too_big_dropped},
        {"closed port: ICMP port unreachable, both families", test_closed_port_unreachable},
        {"DoQ/mDNS/LLMNR/NetBIOS ports dropped, counted", test_blocked_ports},
        {"guest loopback destination: admin prohibited", test_loopback_denied},
        {"ping the gateway, both families", test_ping_gateway},
        {"ping to loopback denied", test_ping_loopback_denied},
        {"egress deny: admin prohibited, echo dropped", test_egress_deny},
        {"session cap: oldest recycled", test_session_cap},
        {"idle timeout, refreshed by host traffic", test_idle_timeout},
        {"rx ring full: replies dropped and counted, never waits", test_rx_full_drops},
        {"set_policy closes the sessions it denies", test_policy_replace_closes_denied},
        {"no fd leak", test_no_fd_leak},
        {NULL, NULL},
    };
    return cunit_run("udp", tests);
}
