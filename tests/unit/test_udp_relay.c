/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The UDP relay (proto/udp_relay.c) on the test's own thread: no instance,
 * no stack thread (threadless_env.h).  Guest datagrams to the gateway reach
 * UDP servers on 127.0.0.1 / ::1; their replies come back as frames whose
 * addresses, ports and checksums are checked here.  Also: one session per
 * tuple, the session cap recycling the least recently active session (its
 * socket closed), the idle timeout and its re-arming by traffic, the
 * policy re-check after a swap, port unreachable, blocked ports, and the
 * flow record each session leaves when it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "lib/flow_records.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/flow_emit.h"
#include "loopback_socket.h"
#include "proto/udp_relay.h"
#include "threadless_env.h"

static struct msb_udp *relay(void)
{
    char err[128];
    struct msb_udp *u = msb_udp_create(&env, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    return u;
}

static void send_guest(struct msb_udp *u, int ver, uint16_t sport, uint16_t dport,
                       const char *text)
{
    struct guest_pkt g;
    guest_udp(&g, th_gateway(ver), sport, dport, text, strlen(text));
    msb_udp_input(u, &g.p);
}

/* ---- a loopback server --------------------------------------------------------- */

struct server {
    int fd;
    uint16_t port;
    uint8_t buf[2048];
    ssize_t n;
    struct sockaddr_storage from;
    socklen_t fl;
};

static void server_open(struct server *s, int ver)
{
    memset(s, 0, sizeof *s);
    s->fd = loopback_socket(ver, SOCK_DGRAM, &s->port);
}

static bool server_got(const void *arg)
{
    struct server *s = (struct server *)arg;
    s->fl = sizeof s->from;
    s->n = recvfrom(s->fd, s->buf, sizeof s->buf, MSG_DONTWAIT, (struct sockaddr *)&s->from,
                    &s->fl);
    return s->n >= 0;
}

/* The next datagram the server gets (within 2 s), NUL-terminated. */
static const char *server_recv(struct server *s)
{
    if (!run_until(server_got, s, 2000))
        return "";
    s->buf[s->n] = 0;
    return (const char *)s->buf;
}

/* The host-side port of the session whose datagram the server got last. */
static uint16_t from_port(const struct server *s)
{
    struct msb_ip ip;
    uint16_t port;
    msb_ip_from_sockaddr(&s->from, &ip, &port);
    return port;
}

static void server_send_to(struct server *s, uint16_t port, const char *text)
{
    struct sockaddr_storage to = s->from;
    if (to.ss_family == AF_INET)
        ((struct sockaddr_in *)&to)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&to)->sin6_port = htons(port);
    CU_ASSERT(sendto(s->fd, text, strlen(text), 0, (struct sockaddr *)&to, s->fl) >= 0);
}

/* The next frame for the guest: a UDP datagram from the gateway's
 * server_port to the guest's gport carrying text, with valid checksums. */
static void expect_reply(int ver, uint16_t server_port, uint16_t gport, const char *text)
{
    struct msb_frame *f = th_next(2000);
    struct msb_pkt p;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (th_check_frame(f, &p)) {
        CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_UDP);
        CU_ASSERT(msb_ip_equal(&p.src, th_gateway(ver)));
        CU_ASSERT(msb_ip_equal(&p.dst, th_guest(ver)));
        CU_ASSERT_EQUAL(p.sport, server_port);
        CU_ASSERT_EQUAL(p.dport, gport);
        CU_ASSERT_EQUAL(p.l4_len - MSB_UDP_HLEN, strlen(text));
        CU_ASSERT_EQUAL(memcmp(p.l4 + MSB_UDP_HLEN, text, strlen(text)), 0);
    }
    msb_frame_free(f);
}

/* ---- tests ------------------------------------------------------------------------ */

static void round_trip(int ver)
{
    th_up("allow@host");
    struct msb_udp *u = relay();
    struct server s;
    server_open(&s, ver);
    send_guest(u, ver, 40000, s.port, "ping");
    CU_ASSERT_STRING_EQUAL(server_recv(&s), "ping");
    server_send_to(&s, from_port(&s), "pong");
    expect_reply(ver, s.port, 40000, "pong");
    struct msb_udp_metrics *m = &net.metrics.udp;
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 1);
    CU_ASSERT_EQUAL(msb_read(&m->datagrams_to_host), 1);
    CU_ASSERT_EQUAL(msb_read(&m->datagrams_to_guest), 1);
    CU_ASSERT_EQUAL(msb_read(&m->bytes_to_guest), 4);
    CU_ASSERT_EQUAL(total_drops(), 0);
    msb_udp_destroy(u);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 0);
    close(s.fd);
    th_down();
}

static void test_round_trip_v4(void)
{
    round_trip(4);
}

static void test_round_trip_v6(void)
{
    round_trip(6);
}

static void test_one_session_per_tuple(void)
{
    th_up("allow@host");
    struct msb_udp *u = relay();
    struct server s;
    server_open(&s, 4);
    send_guest(u, 4, 40000, s.port, "a");
    CU_ASSERT_STRING_EQUAL(server_recv(&s), "a");
    uint16_t first = from_port(&s);
    send_guest(u, 4, 40000, s.port, "b");
    CU_ASSERT_STRING_EQUAL(server_recv(&s), "b");
    CU_ASSERT_EQUAL(from_port(&s), first); /* the same host socket */
    send_guest(u, 4, 40001, s.port, "c");
    CU_ASSERT_STRING_EQUAL(server_recv(&s), "c");
    CU_ASSERT_NOT_EQUAL(from_port(&s), first);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.udp.sessions_opened), 2);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.udp.sessions), 2);
    msb_udp_destroy(u);
    close(s.fd);
    th_down();
}

/* Opens (or uses) the session of guest port gp; returns its host port. */
static uint16_t via(struct msb_udp *u, struct server *s, uint16_t gp)
{
    char text[16];
    snprintf(text, sizeof text, "from %u", gp);
    send_guest(u, 4, gp, s->port, text);
    CU_ASSERT_STRING_EQUAL(server_recv(s), text);
    return from_port(s);
}

/* A reply to host port hp reaches the guest's port gp (true), or nothing
 * arrives, checked behind a reply known to arrive (to the live session
 * of guest port live_gp on host port live_hp). */
static bool reply_arrives(struct server *s, uint16_t hp, uint16_t gp, uint16_t live_hp,
                          uint16_t live_gp)
{
    th_clear_out();
    server_send_to(s, hp, "late");
    server_send_to(s, live_hp, "live");
    struct msb_frame *f = th_next(2000);
    struct msb_pkt p;
    bool got = false;
    if (f && th_check_frame(f, &p) && p.dport == gp) {
        got = true;
        msb_frame_free(f);
        f = th_next(2000);
    }
    CU_ASSERT_FATAL(f && th_check_frame(f, &p));
    CU_ASSERT_EQUAL(p.dport, live_gp);
    msb_frame_free(f);
    return got;
}

static void test_cap_recycles_least_recent(void)
{
    th_up("allow@host");
    net.cfg.max_udp_sessions = 3;
    struct msb_udp *u = relay();
    struct msb_udp_metrics *m = &net.metrics.udp;
    struct server s;
    server_open(&s, 4);
    uint16_t ha = via(u, &s, 1001), hb = via(u, &s, 1002), hc = via(u, &s, 1003);
    CU_ASSERT_EQUAL(via(u, &s, 1001), ha); /* order: B, C, A */
    CU_ASSERT_EQUAL(msb_read(&m->sessions_recycled), 0);
    uint16_t hd = via(u, &s, 1004); /* full: B, the least recently active, goes */
    CU_ASSERT_EQUAL(msb_read(&m->sessions_recycled), 1);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 3);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_opened), 4);
    CU_ASSERT(!reply_arrives(&s, hb, 1002, ha, 1001)); /* B's socket is closed */
    CU_ASSERT(reply_arrives(&s, hc, 1003, hd, 1004));  /* C lives */
    /* Replies are activity too (order now A, C, D): B's return recycles A. */
    uint16_t hb2 = via(u, &s, 1002);
    CU_ASSERT_NOT_EQUAL(hb2, hb);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_recycled), 2);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_opened), 5);
    CU_ASSERT(!reply_arrives(&s, ha, 1001, hb2, 1002));
    CU_ASSERT_EQUAL(via(u, &s, 1003), hc); /* C and D were kept */
    CU_ASSERT_EQUAL(via(u, &s, 1004), hd);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_opened), 5);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 3);
    msb_udp_destroy(u);
    close(s.fd);
    th_down();
}

static bool after(const void *arg)
{
    return msb_now_ms() >= *(const uint64_t *)arg;
}

static void test_idle_timeout(void)
{
    th_up("allow@host");
    net.cfg.udp_idle_timeout_s = 1;
    struct msb_udp *u = relay();
    struct msb_udp_metrics *m = &net.metrics.udp;
    struct server s;
    server_open(&s, 4);
    uint64_t t0 = msb_now_ms();
    via(u, &s, 2001);
    via(u, &s, 2002);
    uint64_t t1 = t0 + 600;
    run_until(after, &t1, 2000);
    via(u, &s, 2001); /* moves A's expiry, not its timer */
    CU_ASSERT_FATAL(RUN_UNTIL_COUNT(&m->idle_timeouts, 1, 3000));
    CU_ASSERT(msb_now_ms() - t0 >= 1000);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 1); /* A re-armed, still open */
    CU_ASSERT_FATAL(RUN_UNTIL_COUNT(&m->idle_timeouts, 2, 3000));
    CU_ASSERT(msb_now_ms() - t0 >= 1600);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 0);
    /* A gone means a new session for its tuple. */
    via(u, &s, 2001);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_opened), 3);
    msb_udp_destroy(u);
    close(s.fd);
    th_down();
}

static void expect_icmp_unreach(int code, const struct msb_ip *from)
{
    struct msb_frame *f = th_next(2000);
    struct msb_pkt p;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (th_check_frame(f, &p)) {
        CU_ASSERT_EQUAL(p.l4_proto, MSB_IPPROTO_ICMP);
        CU_ASSERT_EQUAL(p.l4[0], 3);
        CU_ASSERT_EQUAL(p.l4[1], code);
        CU_ASSERT(msb_ip_equal(&p.src, from));
        CU_ASSERT(msb_ip_equal(&p.dst, &env.addrs.guest4));
    }
    msb_frame_free(f);
}

static void test_policy_recheck(void)
{
    th_up("allow@host");
    struct msb_udp *u = relay();
    struct msb_udp_metrics *m = &net.metrics.udp;
    struct server s;
    server_open(&s, 4);
    uint16_t h = via(u, &s, 3001);
    via(u, &s, 3002);
    CU_ASSERT_EQUAL(msb_udp_policy_recheck(u), 0); /* same policy: nothing closed */
    th_set_policy("allow@public");
    CU_ASSERT_EQUAL(msb_udp_policy_recheck(u), 2);
    CU_ASSERT_EQUAL(msb_read(&m->sessions), 0);
    /* The closed sessions hear nothing more... */
    server_send_to(&s, h, "late");
    size_t one = 1;
    CU_ASSERT(!run_until(th_frames_at_least, &one, 200));
    /* ...and a new datagram is refused: admin prohibited from the gateway. */
    send_guest(u, 4, 3001, s.port, "again");
    expect_icmp_unreach(13, &env.addrs.gateway4);
    CU_ASSERT_EQUAL(msb_read(&m->admin_prohibited), 1);
    CU_ASSERT_EQUAL(drops(MSB_DROP_UDP_DENIED), 1);
    CU_ASSERT_EQUAL(msb_read(&m->sessions_opened), 2);
    msb_udp_destroy(u);
    close(s.fd);
    th_down();
}

static void test_port_unreachable(void)
{
    th_up("allow@host");
    struct msb_udp *u = relay();
    uint16_t port;
    close(loopback_socket(4, SOCK_DGRAM, &port)); /* a port nobody listens on */
    send_guest(u, 4, 4001, port, "anyone?");
    expect_icmp_unreach(3, &env.addrs.gateway4);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.udp.port_unreachable), 1);
    msb_udp_destroy(u);
    th_down();
}

static void test_refused_before_a_session(void)
{
    th_up("allow@host,allow@loopback");
    struct msb_udp *u = relay();
    struct guest_pkt g;
    guest_udp(&g, th_gateway(4), 5001, 5353, "mdns", 4); /* blocked port */
    msb_udp_input(u, &g.p);
    CU_ASSERT_EQUAL(drops(MSB_DROP_UDP_BLOCKED_PORT), 1);
    struct msb_ip lo;
    msb_ip_from_v4(&lo, (const uint8_t[]){127, 0, 0, 1});
    guest_udp(&g, &lo, 5001, 9, "lo", 2); /* loopback, whatever the policy says */
    msb_udp_input(u, &g.p);
    CU_ASSERT_EQUAL(drops(MSB_DROP_UDP_DENIED), 1);
    expect_icmp_unreach(13, &env.addrs.gateway4);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.udp.sessions_opened), 0);
    msb_udp_destroy(u);
    th_down();
}

/* The next record: a UDP session of guest port gp (any when 0) to the
 * server, allowed by rule 0, ended as end, with these counts (out: guest
 * -> server).  Returns its guest port. */
static uint16_t expect_record(struct msb_flowrec_log *l, const struct server *s, uint16_t gp,
                          uint8_t end, const uint64_t counts[4])
{
    struct msb_flowrec r;
    CU_ASSERT_FATAL(msb_flowrec_pop(l, &r));
    CU_ASSERT_EQUAL(r.proto, MSB_FR_UDP);
    CU_ASSERT_EQUAL(r.action, MSB_FR_ALLOW);
    CU_ASSERT_EQUAL(r.rule, 0);
    CU_ASSERT_EQUAL(r.end, end);
    CU_ASSERT(!r.ingress);
    CU_ASSERT(msb_ip_equal(&r.guest, &env.addrs.guest4));
    CU_ASSERT(msb_ip_equal(&r.dst, &env.addrs.gateway4));
    CU_ASSERT(!gp || r.guest_port == gp);
    CU_ASSERT_EQUAL(r.dst_port, s->port);
    CU_ASSERT_EQUAL(r.bytes_out, counts[0]);
    CU_ASSERT_EQUAL(r.pkts_out, counts[1]);
    CU_ASSERT_EQUAL(r.bytes_in, counts[2]);
    CU_ASSERT_EQUAL(r.pkts_in, counts[3]);
    CU_ASSERT(r.opened_unix_ms > 0 && r.closed_unix_ms >= r.opened_unix_ms);
    return r.guest_port;
}

/* One record per session, at its end: recycled at the cap, closed by a
 * policy replace, closed at the stop; none for a refused datagram. */
static void test_flow_records(void)
{
    th_up("allow@host");
    struct msb_flowrec_log fl;
    CU_ASSERT_FATAL(msb_flowrec_init(&fl) == 0);
    env.flows = &fl;
    net.cfg.max_udp_sessions = 2;
    struct msb_udp *u = relay();
    struct server s;
    server_open(&s, 4);
    uint16_t h = via(u, &s, 6001); /* "from 6001": 9 bytes */
    server_send_to(&s, h, "pong");
    expect_reply(4, s.port, 6001, "pong");
    via(u, &s, 6001);
    via(u, &s, 6002);
    struct msb_flowrec r;
    CU_ASSERT(!msb_flowrec_pop(&fl, &r)); /* nothing ended yet */
    via(u, &s, 6003); /* recycles 6001 */
    expect_record(&fl, &s, 6001, MSB_FR_END_CAP, (const uint64_t[]){18, 2, 4, 1});
    th_set_policy("allow@public");
    CU_ASSERT_EQUAL(msb_udp_policy_recheck(u), 2);
    const uint64_t one_out[4] = {9, 1, 0, 0};
    uint16_t a = expect_record(&fl, &s, 0, MSB_FR_END_POLICY_REPLACE, one_out); /* slot order */
    uint16_t b = expect_record(&fl, &s, 0, MSB_FR_END_POLICY_REPLACE, one_out);
    CU_ASSERT((a == 6002 && b == 6003) || (a == 6003 && b == 6002));
    send_guest(u, 4, 6004, s.port, "no"); /* refused: enforce.c's record, no session */
    expect_icmp_unreach(13, &env.addrs.gateway4);
    CU_ASSERT_FATAL(msb_flowrec_pop(&fl, &r));
    CU_ASSERT(r.action != MSB_FR_ALLOW && r.end == MSB_FR_END_REFUSED && r.guest_port == 6004);
    th_set_policy("allow@host");
    via(u, &s, 6005);
    msb_udp_destroy(u);
    expect_record(&fl, &s, 6005, MSB_FR_END_STOP, one_out);
    CU_ASSERT(!msb_flowrec_pop(&fl, &r));
    close(s.fd);
    env.flows = NULL;
    msb_flowrec_destroy(&fl);
    th_down();
}

/* The live table: open sessions with their counts so far, paged. */
/* The next page of the live table: offset, limit into recs. */
static struct msb_flow_page page(struct msb_udp *u, uint32_t offset, uint32_t limit,
                                 struct msb_flowrec *recs)
{
    struct msb_flow_page pg = {.offset = offset, .limit = limit, .out = recs};
    msb_udp_live(u, &pg);
    return pg;
}

/* The live table: open sessions with their counts so far, paged. */
static void test_live_sessions(void)
{
    th_up("allow@host"); /* no record ring: the live table does not need one */
    struct msb_udp *u = relay();
    struct server s;
    server_open(&s, 4);
    uint16_t h = via(u, &s, 7001);
    server_send_to(&s, h, "pong");
    expect_reply(4, s.port, 7001, "pong");
    via(u, &s, 7002);
    via(u, &s, 7002);
    struct msb_flowrec live[4];
    struct msb_flow_page pg = page(u, 0, 4, live);
    CU_ASSERT_EQUAL_FATAL(pg.n, 2);
    CU_ASSERT_EQUAL(pg.total, 2);
    for (int i = 0; i < 2; i++) {
        struct msb_flowrec *r = &live[i];
        bool a = r->guest_port == 7001;
        CU_ASSERT(a || r->guest_port == 7002);
        CU_ASSERT_EQUAL(r->end, MSB_FR_END_OPEN);
        CU_ASSERT_EQUAL(r->closed_unix_ms, 0);
        CU_ASSERT(r->opened_unix_ms > 0);
        CU_ASSERT_EQUAL(r->proto, MSB_FR_UDP);
        CU_ASSERT(msb_ip_equal(&r->dst, &env.addrs.gateway4));
        CU_ASSERT_EQUAL(r->dst_port, s.port);
        CU_ASSERT_EQUAL(r->pkts_out, a ? 1 : 2);
        CU_ASSERT_EQUAL(r->bytes_out, a ? 9 : 18);
        CU_ASSERT_EQUAL(r->bytes_in, a ? 4 : 0);
    }
    /* Paged: the second alone, then past the end, then an empty page. */
    struct msb_flowrec one;
    pg = page(u, 1, 1, &one);
    CU_ASSERT(pg.n == 1 && pg.total == 2 && one.guest_port == live[1].guest_port);
    pg = page(u, 2, 1, &one);
    CU_ASSERT(pg.n == 0 && pg.total == 2);
    pg = page(u, 0, 0, &one);
    CU_ASSERT(pg.n == 0 && pg.total == 2);
    msb_udp_destroy(u);
    close(s.fd);
    th_down();
}

int main(void)
{
    static const struct test_case tests[] = {
        {"round_trip_v4", test_round_trip_v4},
        {"round_trip_v6", test_round_trip_v6},
        {"one_session_per_tuple", test_one_session_per_tuple},
        {"cap_recycles_least_recent", test_cap_recycles_least_recent},
        {"idle_timeout", test_idle_timeout},
        {"policy_recheck", test_policy_recheck},
        {"port_unreachable", test_port_unreachable},
        {"refused_before_a_session", test_refused_before_a_session},
        {"flow_records", test_flow_records},
        {"live_sessions", test_live_sessions},
        {NULL, NULL},
    };
    return cunit_run("udp_relay", tests);
}
