/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP NAT (proto/tcp/tcp_nat.c) on the test's own thread, no instance
 * (threadless_env.h).  First the table and the rewrite alone: alloc /
 * lookup / release, the lwIP-side reverse lookup, the cap, the FIFO slot
 * reuse order, and both rewrites keeping IPv4 and TCP checksums valid
 * (summed here, independently).  Then the whole TCP module with lwIP on
 * the test's event_base against loopback servers: handshake and data both
 * ways, refused / denied / over-cap SYNs answered with RST, slots of
 * released flows reused in the order they were freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "loopback_socket.h"
#include "proto/tcp/tcp_int.h"
#include "threadless_env.h"

static const uint8_t far4[4] = {93, 184, 216, 34};
static const uint8_t far6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x34};

static struct msb_ip far(int ver)
{
    struct msb_ip ip;
    if (ver == 4)
        msb_ip_from_v4(&ip, far4);
    else
        msb_ip_from_v6(&ip, far6);
    return ip;
}

/* ---- the NAT alone -------------------------------------------------------------- */

static struct msb_tcp *nat(uint32_t max_flows)
{
    struct msb_tcp *t = calloc(1, sizeof *t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    t->env = &env;
    t->m = &net.metrics.tcp;
    t->max_flows = max_flows;
    CU_ASSERT_EQUAL_FATAL(msb_tcp_nat_init(t), 0);
    return t;
}

static void nat_free(struct msb_tcp *t)
{
    msb_tcp_nat_free(t);
    free(t);
}

static uint32_t slot_of_port(struct msb_tcp *t, int ver, uint16_t gp)
{
    struct msb_ip d = far(ver);
    struct tcp_flow *f = msb_tcp_nat_find(t, th_guest(ver), gp, &d, 443);
    return f ? msb_tcp_nat_slot(t, f) : UINT32_MAX;
}

static struct tcp_flow *open_tuple(struct msb_tcp *t, int ver, uint16_t gp)
{
    struct msb_ip d = far(ver);
    struct tcp_flow *f = msb_tcp_nat_alloc_tuple(t, th_guest(ver), gp, &d, 443);
    if (f)
        f->state = FLOW_OPEN; /* what admission would do; the reverse lookup wants it */
    return f;
}

static void close_flow(struct msb_tcp *t, struct tcp_flow *f)
{
    f->state = FLOW_FREE;
    msb_tcp_nat_release(t, f);
}

static void test_alloc_lookup_release(void)
{
    th_up("allow@host");
    struct msb_tcp *t = nat(8);
    struct tcp_flow *f = open_tuple(t, 4, 40000), *g6 = open_tuple(t, 6, 40000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g6);
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, f), 0);
    CU_ASSERT_EQUAL(f->lw_port, LW_PORT);
    CU_ASSERT(!f->inbound);
    /* By tuple, and by the guest's packet. */
    CU_ASSERT_EQUAL(slot_of_port(t, 4, 40000), 0);
    CU_ASSERT_EQUAL(slot_of_port(t, 6, 40000), 1);
    CU_ASSERT_EQUAL(slot_of_port(t, 4, 40001), UINT32_MAX);
    struct msb_ip d = far(4);
    struct guest_pkt g;
    guest_tcp(&g, &d, 40000, 443, 1, 0, MSB_TCP_SYN, NULL, 0);
    CU_ASSERT_PTR_EQUAL(msb_tcp_nat_lookup(t, &g.p), f);
    guest_tcp(&g, &d, 40000, 444, 1, 0, MSB_TCP_SYN, NULL, 0);
    CU_ASSERT_PTR_NULL(msb_tcp_nat_lookup(t, &g.p));
    /* lwIP's side: the fake address names the slot, the port must match. */
    uint8_t fake[16];
    msb_tcp_nat_fake_addr(4, 0, fake);
    CU_ASSERT_PTR_EQUAL(msb_tcp_nat_from_lwip(t, 4, fake, 40000), f);
    CU_ASSERT_PTR_NULL(msb_tcp_nat_from_lwip(t, 4, fake, 40001));
    CU_ASSERT_PTR_NULL(msb_tcp_nat_from_lwip(t, 6, fake, 40000));
    msb_tcp_nat_fake_addr(4, 8, fake); /* beyond max_flows */
    CU_ASSERT_PTR_NULL(msb_tcp_nat_from_lwip(t, 4, fake, 40000));
    msb_tcp_nat_fake_addr(6, 1, fake);
    CU_ASSERT_PTR_EQUAL(msb_tcp_nat_from_lwip(t, 6, fake, 40000), g6);
    fake[0] = 0xfe; /* not our prefix */
    CU_ASSERT_PTR_NULL(msb_tcp_nat_from_lwip(t, 6, fake, 40000));
    /* Release: gone both ways, and the generation tells stale holders. */
    uint32_t gen = f->gen;
    close_flow(t, f);
    CU_ASSERT_EQUAL(f->gen, gen + 1);
    CU_ASSERT_EQUAL(slot_of_port(t, 4, 40000), UINT32_MAX);
    msb_tcp_nat_fake_addr(4, 0, fake);
    CU_ASSERT_PTR_NULL(msb_tcp_nat_from_lwip(t, 4, fake, 40000));
    CU_ASSERT_EQUAL(slot_of_port(t, 6, 40000), 1);
    nat_free(t);
    th_down();
}

static void test_cap_and_reuse_order(void)
{
    th_up("allow@host");
    struct msb_tcp *t = nat(4);
    struct tcp_flow *f[4];
    for (uint16_t i = 0; i < 4; i++) {
        f[i] = open_tuple(t, 4, (uint16_t)(1000 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(f[i]);
        CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, f[i]), i);
    }
    CU_ASSERT_PTR_NULL(open_tuple(t, 4, 2000));
    close_flow(t, f[2]);
    close_flow(t, f[0]);
    /* The slot freed first comes back first: 2, then 0. */
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, open_tuple(t, 4, 2000)), 2);
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, open_tuple(t, 4, 2001)), 0);
    CU_ASSERT_PTR_NULL(open_tuple(t, 4, 2002));
    nat_free(t);
    /* Slots never used wait ahead of a slot just freed. */
    t = nat(4);
    struct tcp_flow *a = open_tuple(t, 4, 1000);
    open_tuple(t, 4, 1001);
    close_flow(t, a);
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, open_tuple(t, 4, 1002)), 2);
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, open_tuple(t, 4, 1003)), 3);
    CU_ASSERT_EQUAL(msb_tcp_nat_slot(t, open_tuple(t, 4, 1004)), 0);
    nat_free(t);
    th_down();
}

/* ---- the rewrite ------------------------------------------------------------------- */

static uint32_t addr_sum(const uint8_t *a, size_t n)
{
    return th_sum(0, a, n);
}

/* Checks a whole IP packet: addresses and ports as given, IPv4 header
 * checksum, TCP checksum over the pseudo-header of those addresses. */
static void expect_segment(const uint8_t *l3, const uint8_t *src, uint16_t sport,
                           const uint8_t *dst, uint16_t dport)
{
    bool v4 = (l3[0] >> 4) == 4;
    size_t hl = v4 ? (size_t)(l3[0] & 15) * 4 : MSB_IPV6_HLEN, alen = v4 ? 4 : 16;
    size_t total = v4 ? msb_get16(l3 + 2) : MSB_IPV6_HLEN + msb_get16(l3 + 4);
    const uint8_t *s = l3 + (v4 ? 12 : 8), *d = l3 + (v4 ? 16 : 24), *tcp = l3 + hl;
    CU_ASSERT_EQUAL(memcmp(s, src, alen), 0);
    CU_ASSERT_EQUAL(memcmp(d, dst, alen), 0);
    CU_ASSERT_EQUAL(msb_get16(tcp), sport);
    CU_ASSERT_EQUAL(msb_get16(tcp + 2), dport);
    if (v4)
        CU_ASSERT_EQUAL(th_fold(th_sum(0, l3, hl)), 0xffff);
    uint32_t ps = addr_sum(s, alen) + addr_sum(d, alen) + MSB_IPPROTO_TCP + (uint32_t)(total - hl);
    CU_ASSERT_EQUAL(th_fold(th_sum(ps, tcp, total - hl)), 0xffff);
}

/* An lwIP-side segment: from lwIP's address and port to the flow's fake
 * address and the guest's port (what tcp_lwip.c's output hands over). */
static size_t lwip_segment(uint8_t *l3, int ver, uint32_t slot, uint16_t gp, const char *data)
{
    uint8_t fake[16];
    msb_tcp_nat_fake_addr((uint8_t)ver, slot, fake);
    size_t hl = ver == 4 ? MSB_IPV4_HLEN : MSB_IPV6_HLEN, n = strlen(data);
    size_t l4 = MSB_TCP_HLEN + n;
    const uint8_t *lw = ver == 4 ? msb_tcp_lw_addr4 : msb_tcp_lw_addr6;
    if (ver == 4)
        msb_ip4_write(l3, hl + l4, 7, 0, 64, MSB_IPPROTO_TCP, lw, fake);
    else
        msb_ip6_write(l3, l4, 64, MSB_IPPROTO_TCP, lw, fake);
    uint8_t *tcp = l3 + hl;
    memset(tcp, 0, MSB_TCP_HLEN);
    msb_put16(tcp, LW_PORT);
    msb_put16(tcp + 2, gp);
    msb_put32(tcp + 4, 0x11223344);
    msb_put32(tcp + 8, 0x55667788);
    tcp[12] = (MSB_TCP_HLEN / 4) << 4;
    tcp[13] = MSB_TCP_ACK | MSB_TCP_PSH;
    msb_put16(tcp + 14, 29200);
    memcpy(tcp + MSB_TCP_HLEN, data, n);
    struct msb_ip s, d;
    if (ver == 4) {
        msb_ip_from_v4(&s, lw);
        msb_ip_from_v4(&d, fake);
    } else {
        msb_ip_from_v6(&s, lw);
        msb_ip_from_v6(&d, fake);
    }
    msb_put16(tcp + 16, msb_csum_l4(&s, &d, MSB_IPPROTO_TCP, tcp, l4));
    return hl + l4;
}

static void rewrite_both_ways(int ver)
{
    th_up("allow@host");
    struct msb_tcp *t = nat(300);
    for (uint16_t i = 0; i < 260; i++) /* a slot number using more than one byte */
        open_tuple(t, ver, (uint16_t)(5000 + i));
    struct tcp_flow *f = open_tuple(t, ver, 40000);
    uint32_t slot = msb_tcp_nat_slot(t, f);
    CU_ASSERT_EQUAL(slot, 260);
    uint8_t fake[16];
    msb_tcp_nat_fake_addr((uint8_t)ver, slot, fake);
    const uint8_t *lw = ver == 4 ? msb_tcp_lw_addr4 : msb_tcp_lw_addr6;
    /* Guest -> lwIP: the guest's segment, rewritten in place. */
    struct msb_ip d = far(ver);
    struct guest_pkt g;
    guest_tcp(&g, &d, 40000, 443, 0xdeadbeef, 0x01020304, MSB_TCP_ACK | MSB_TCP_PSH, "hello", 5);
    msb_tcp_nat_to_lwip(t, f, g.p.l3);
    expect_segment(g.p.l3, fake, 40000, lw, LW_PORT);
    CU_ASSERT_EQUAL(memcmp(g.p.l3 + g.p.l3_len - 5, "hello", 5), 0);
    CU_ASSERT_EQUAL(msb_get32(g.p.l4 + 4), 0xdeadbeef);
    /* lwIP -> guest: lwIP's answer comes from the destination the guest dialled. */
    uint8_t l3[256];
    size_t n = lwip_segment(l3, ver, slot, 40000, "world!");
    msb_tcp_nat_to_guest(f, l3);
    expect_segment(l3, d.b, 443, th_guest(ver)->b, 40000);
    CU_ASSERT_EQUAL(memcmp(l3 + n - 6, "world!", 6), 0);
    nat_free(t);
    th_down();
}

static void test_rewrite_v4(void)
{
    rewrite_both_ways(4);
}

static void test_rewrite_v6(void)
{
    rewrite_both_ways(6);
}

/* An IPv4 guest segment with header options: the TCP header is found
 * behind them, and the rewrite still sums right. */
static void test_rewrite_v4_options(void)
{
    th_up("allow@host");
    struct msb_tcp *t = nat(4);
    struct tcp_flow *f = open_tuple(t, 4, 40000);
    struct msb_ip d = far(4);
    uint8_t l3[MSB_IPV4_HLEN + 4 + MSB_TCP_HLEN];
    uint8_t *tcp = l3 + MSB_IPV4_HLEN + 4;
    msb_ip4_write(l3, sizeof l3, 9, 0, 64, MSB_IPPROTO_TCP, th_guest(4)->b, d.b);
    l3[0] = 0x46;
    memset(l3 + MSB_IPV4_HLEN, 1, 4); /* four NOP options */
    msb_put16(l3 + 10, 0);
    msb_put16(l3 + 10, msb_csum_finish(msb_csum_add(0, l3, MSB_IPV4_HLEN + 4)));
    memset(tcp, 0, MSB_TCP_HLEN);
    msb_put16(tcp, 40000);
    msb_put16(tcp + 2, 443);
    tcp[12] = 5 << 4;
    tcp[13] = MSB_TCP_ACK;
    msb_put16(tcp + 16, msb_csum_l4(th_guest(4), &d, MSB_IPPROTO_TCP, tcp, MSB_TCP_HLEN));
    msb_tcp_nat_to_lwip(t, f, l3);
    uint8_t fake[16];
    msb_tcp_nat_fake_addr(4, 0, fake);
    expect_segment(l3, fake, 40000, msb_tcp_lw_addr4, LW_PORT);
    nat_free(t);
    th_down();
}

/* ---- the whole module, lwIP included --------------------------------------------------- */

static struct msb_tcp *tcp_up(void)
{
    char err[128];
    struct msb_tcp *t = msb_tcp_create(&env, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static void tcp_down(struct msb_tcp *t)
{
    th_clear_out();
    msb_tcp_destroy(t);
    th_clear_out(); /* the aborts' resets */
}

static int server(int ver, uint16_t *port)
{
    int fd = loopback_socket(ver, SOCK_STREAM, port);
    CU_ASSERT_EQUAL_FATAL(listen(fd, 16), 0);
    CU_ASSERT_EQUAL(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void guest_send(struct msb_tcp *t, const struct msb_ip *dst, uint16_t gp, uint16_t dp,
                       uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
    struct guest_pkt g;
    guest_tcp(&g, dst, gp, dp, seq, ack, flags, data, data ? strlen(data) : 0);
    msb_tcp_input(t, &g.p);
    msb_tcp_batch_end(t); /* what the stack does after each batch of frames */
}

/* The next frame for guest port gp with all of `flags` set (and payload,
 * if data), checked end to end; others are skipped.  Its parse in *p. */
static struct msb_frame *frame_for(uint16_t gp, uint8_t flags, bool data, struct msb_pkt *p)
{
    for (;;) {
        struct msb_frame *f = th_next(3000);
        if (!f)
            return NULL;
        if (th_check_frame(f, p) && p->l4_proto == MSB_IPPROTO_TCP && p->dport == gp &&
            (p->tcp_flags & flags) == flags && (!data || p->l4_len > p->l4_hdr_len))
            return f;
        msb_frame_free(f);
    }
}

struct conn {
    int ver, lfd; /* lfd: the server's listener */
    uint16_t gp, port;
    uint32_t seq, ack; /* the guest's next sequence number, and its acknowledgement */
    int fd;            /* the server's side, once accepted */
};

static bool accepted(const void *arg)
{
    struct conn *c = (struct conn *)arg;
    if (c->fd < 0)
        c->fd = accept(c->lfd, NULL, NULL);
    return c->fd >= 0;
}

/* The guest's handshake through lwIP: SYN, the SYN-ACK (checked), ACK. */
static void connect_guest(struct msb_tcp *t, struct conn *c)
{
    const struct msb_ip *gw = th_gateway(c->ver);
    c->fd = -1;
    c->seq = 1000u * c->gp;
    guest_send(t, gw, c->gp, c->port, c->seq, 0, MSB_TCP_SYN, NULL);
    struct msb_pkt p;
    struct msb_frame *f = frame_for(c->gp, MSB_TCP_SYN | MSB_TCP_ACK, false, &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(msb_ip_equal(&p.src, gw));
    CU_ASSERT(msb_ip_equal(&p.dst, th_guest(c->ver)));
    CU_ASSERT_EQUAL(p.sport, c->port);
    CU_ASSERT_EQUAL(msb_get32(p.l4 + 8), c->seq + 1);
    c->seq++;
    c->ack = msb_get32(p.l4 + 4) + 1;
    msb_frame_free(f);
    guest_send(t, gw, c->gp, c->port, c->seq, c->ack, MSB_TCP_ACK, NULL);
    CU_ASSERT_FATAL(run_until(accepted, c, 3000));
}

static void reset_guest(struct msb_tcp *t, struct conn *c)
{
    guest_send(t, th_gateway(c->ver), c->gp, c->port, c->seq, c->ack, MSB_TCP_RST | MSB_TCP_ACK,
               NULL);
}

static uint32_t slot_of_conn(struct msb_tcp *t, const struct conn *c)
{
    struct tcp_flow *f = msb_tcp_nat_find(t, th_guest(c->ver), c->gp, th_gateway(c->ver), c->port);
    return f ? msb_tcp_nat_slot(t, f) : UINT32_MAX;
}

struct rd {
    int fd;
    char buf[64];
    size_t n, want;
    bool closed;
};

static bool server_read(const void *arg)
{
    struct rd *r = (struct rd *)arg;
    ssize_t n = recv(r->fd, r->buf + r->n, sizeof r->buf - 1 - r->n, MSG_DONTWAIT);
    if (n > 0)
        r->n += (size_t)n;
    r->closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    r->buf[r->n] = 0;
    return r->closed || r->n >= r->want;
}

static void handshake_and_data(int ver)
{
    th_up("allow@host");
    struct msb_tcp *t = tcp_up();
    struct msb_tcp_metrics *m = &net.metrics.tcp;
    struct conn c = {.ver = ver, .gp = 40000};
    c.lfd = server(ver, &c.port);
    connect_guest(t, &c);
    CU_ASSERT_EQUAL(msb_read(&m->flows), 1);
    CU_ASSERT_EQUAL(msb_read(&m->established), 1);
    /* Guest -> host. */
    guest_send(t, th_gateway(ver), c.gp, c.port, c.seq, c.ack, MSB_TCP_ACK | MSB_TCP_PSH, "hello");
    c.seq += 5;
    struct rd r = {.fd = c.fd, .want = 5};
    CU_ASSERT(run_until(server_read, &r, 3000));
    CU_ASSERT_STRING_EQUAL(r.buf, "hello");
    /* Host -> guest: from the address and port the guest dialled. */
    CU_ASSERT_EQUAL(send(c.fd, "world", 5, 0), 5);
    struct msb_pkt p;
    struct msb_frame *f = frame_for(c.gp, MSB_TCP_ACK, true, &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(msb_ip_equal(&p.src, th_gateway(ver)));
    CU_ASSERT_EQUAL(p.sport, c.port);
    CU_ASSERT_EQUAL(msb_get32(p.l4 + 4), c.ack);
    CU_ASSERT_EQUAL(p.l4_len - p.l4_hdr_len, 5);
    CU_ASSERT_EQUAL(memcmp(p.l4 + p.l4_hdr_len, "world", 5), 0);
    c.ack += 5;
    msb_frame_free(f);
    CU_ASSERT_EQUAL(msb_read(&m->bytes_to_host), 5);
    CU_ASSERT_EQUAL(msb_read(&m->bytes_to_guest), 5);
    /* Guest RST: the host hears it, the flow and its tuple are gone. */
    reset_guest(t, &c);
    CU_ASSERT(RUN_UNTIL_COUNT(&m->flows, 0, 3000));
    CU_ASSERT_EQUAL(slot_of_conn(t, &c), UINT32_MAX);
    r.want = sizeof r.buf;
    CU_ASSERT(run_until(server_read, &r, 3000) && r.closed);
    tcp_down(t);
    close(c.fd);
    close(c.lfd);
    th_down();
}

static void test_handshake_and_data_v4(void)
{
    handshake_and_data(4);
}

static void test_handshake_and_data_v6(void)
{
    handshake_and_data(6);
}

/* A RST for the guest's SYN (isn): from dst:dport, acknowledging the SYN. */
static void expect_syn_reset(const struct msb_ip *dst, uint16_t dport, uint16_t gp, uint32_t isn)
{
    struct msb_pkt p;
    struct msb_frame *f = frame_for(gp, MSB_TCP_RST, false, &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(msb_ip_equal(&p.src, dst));
    CU_ASSERT_EQUAL(p.sport, dport);
    CU_ASSERT_EQUAL(msb_get32(p.l4 + 8), isn + 1);
    msb_frame_free(f);
}

static void test_refused_and_denied(void)
{
    th_up("allow@host");
    struct msb_tcp *t = tcp_up();
    struct msb_tcp_metrics *m = &net.metrics.tcp;
    uint16_t closed;
    close(loopback_socket(4, SOCK_STREAM, &closed));
    guest_send(t, th_gateway(4), 41000, closed, 77, 0, MSB_TCP_SYN, NULL);
    expect_syn_reset(th_gateway(4), closed, 41000, 77);
    CU_ASSERT_EQUAL(msb_read(&m->connects_refused), 1);
    CU_ASSERT(RUN_UNTIL_COUNT(&m->flows, 0, 3000));
    /* Outside the policy: refused at once, no flow, no host socket. */
    struct msb_ip d = far(4);
    guest_send(t, &d, 41001, 443, 88, 0, MSB_TCP_SYN, NULL);
    CU_ASSERT_EQUAL(nout, 1);
    expect_syn_reset(&d, 443, 41001, 88);
    CU_ASSERT_EQUAL(msb_read(&m->denied), 1);
    CU_ASSERT_EQUAL(msb_read(&m->flows), 0);
    /* A segment for no flow is answered like a closed port. */
    guest_send(t, &d, 41002, 443, 99, 5, MSB_TCP_ACK, NULL);
    CU_ASSERT_EQUAL(drops(MSB_DROP_TCP_NO_FLOW), 1);
    th_clear_out();
    tcp_down(t);
    th_down();
}

/* Flows released in one order give their slots back in that order, and
 * the cap answers RST. */
static void test_cap_and_slot_reuse(void)
{
    th_up("allow@host");
    net.cfg.max_flows = 3;
    struct msb_tcp *t = tcp_up();
    struct msb_tcp_metrics *m = &net.metrics.tcp;
    uint16_t port;
    int lfd = server(4, &port);
    struct conn c[5];
    for (int i = 0; i < 5; i++)
        c[i] = (struct conn){.ver = 4, .lfd = lfd, .gp = (uint16_t)(1001 + i), .port = port};
    for (int i = 0; i < 3; i++) {
        connect_guest(t, &c[i]);
        CU_ASSERT_EQUAL(slot_of_conn(t, &c[i]), (uint32_t)i);
    }
    guest_send(t, th_gateway(4), 1100, port, 5, 0, MSB_TCP_SYN, NULL);
    expect_syn_reset(th_gateway(4), port, 1100, 5);
    CU_ASSERT_EQUAL(drops(MSB_DROP_TCP_FLOW_CAP), 1);
    reset_guest(t, &c[1]);
    CU_ASSERT(RUN_UNTIL_COUNT(&m->flows, 2, 3000));
    reset_guest(t, &c[0]);
    CU_ASSERT(RUN_UNTIL_COUNT(&m->flows, 1, 3000));
    connect_guest(t, &c[3]);
    connect_guest(t, &c[4]);
    CU_ASSERT_EQUAL(slot_of_conn(t, &c[3]), 1);
    CU_ASSERT_EQUAL(slot_of_conn(t, &c[4]), 0);
    CU_ASSERT_EQUAL(slot_of_conn(t, &c[2]), 2);
    CU_ASSERT_EQUAL(msb_read(&m->flows), 3);
    tcp_down(t);
    for (int i = 0; i < 5; i++)
        if (c[i].fd >= 0)
            close(c[i].fd);
    close(lfd);
    th_down();
}

int main(void)
{
    static const struct test_case tests[] = {
        {"alloc_lookup_release", test_alloc_lookup_release},
        {"cap_and_reuse_order", test_cap_and_reuse_order},
        {"rewrite_v4", test_rewrite_v4},
        {"rewrite_v6", test_rewrite_v6},
        {"rewrite_v4_options", test_rewrite_v4_options},
        {"handshake_and_data_v4", test_handshake_and_data_v4},
        {"handshake_and_data_v6", test_handshake_and_data_v6},
        {"refused_and_denied", test_refused_and_denied},
        {"cap_and_slot_reuse", test_cap_and_slot_reuse},
        {NULL, NULL},
    };
    return cunit_run("tcp_nat", tests);
}
