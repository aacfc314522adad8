/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports through the ABI on a started stack: host peers are
 * loopback sockets, the guest is scripted frame by frame (IPv4). */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/csum.h"
#include "cunit_main.h"
#include "loopback_socket.h"
#include "msbnet/msbnet.h"
#include "lib/pkt.h"

static const struct msbnet_api_v1 *api;
static msbnet_t *net;
static uint8_t gw_mac[6], g_mac[6];
static struct msb_ip g4, gw4;

/* ---- the plugin --------------------------------------------------------- */

static void parse_mac(const char *s, uint8_t m[6])
{
    unsigned v[6];
    CU_ASSERT_EQUAL(sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
}

static msbnet_t *create(const char *config)
{
    char err[256] = "";
    msbnet_t *n = api->create(config, err, sizeof err);
    if (!n)
        fprintf(stderr, "\n  create: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    char *a = api->addresses_json(n);
    json_t *j = json_loads(a, 0, NULL);
    api->free_string(a);
    parse_mac(json_string_value(json_object_get(j, "gateway_mac")), gw_mac);
    parse_mac(json_string_value(json_object_get(j, "guest_mac")), g_mac);
    msb_ip_parse(json_string_value(json_object_get(j, "guest_ipv4")), &g4);
    msb_ip_parse(json_string_value(json_object_get(j, "gateway_ipv4")), &gw4);
    json_decref(j);
    return n;
}

static void start(void)
{
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(api->start(net, err, sizeof err), MSBNET_OK);
}

static long long metric(const char *section, const char *name)
{
    char *s = api->metrics_json(net);
    json_t *j = json_loads(s, 0, NULL);
    api->free_string(s);
    long long v = json_integer_value(json_object_get(json_object_get(j, section), name));
    json_decref(j);
    return v;
}

/* The stack thread updates gauges just after the host sees the effect. */
static long long metric_wait(const char *section, const char *name, long long want)
{
    uint64_t dl = msb_now_ms() + 4000; /* > two 1 s idle sweeps */
    long long v;
    while ((v = metric(section, name)) != want && msb_now_ms() < dl)
        usleep(2000);
    return v;
}

/* Published listeners bind PUB_ADDR, a loopback address no other test
 * binds, on a port the kernel assigned to a reservation: a socket bound to
 * 127.0.0.1:0 that stays open until finish().  While it is bound the
 * kernel gives that port to no other bind(0) or connect() on the machine
 * (tests run in parallel), and it does not conflict with the listener on
 * another address.  Nothing is ever released and bound again. */
#define PUB_ADDR "127.0.0.3"
static int reserved[8], nreserved;

static uint16_t reserve_port(int type)
{
    uint16_t port;
    CU_ASSERT_FATAL(nreserved < (int)(sizeof reserved / sizeof reserved[0]));
    reserved[nreserved++] = loopback_socket(4, type, &port);
    return port;
}

static struct sockaddr_in pub_addr(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    CU_ASSERT_EQUAL(inet_pton(AF_INET, PUB_ADDR, &a.sin_addr), 1);
    return a;
}

static int publish(bool open, const char *proto, uint16_t host, uint16_t guest, bool real_peer,
                   char *err, size_t errlen)
{
    char spec[200], gp[32] = "";
    if (guest) /* unpublish names the host side only */
        snprintf(gp, sizeof gp, ",\"guest_port\":%u", guest);
    snprintf(spec, sizeof spec,
             "{\"protocol\":\"%s\",\"host_address\":\"" PUB_ADDR "\",\"host_port\":%u%s,"
             "\"real_peer\":%s}",
             proto, host, gp, real_peer ? "true" : "false");
    return open ? api->publish_port(net, spec, err, errlen)
                : api->unpublish_port(net, spec, err, errlen);
}

/* ---- the host peer ------------------------------------------------------- */

static int host_connect(int type, uint16_t port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = pub_addr(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* recv with a deadline: bytes, 0 at EOF, -errno. */
static ssize_t host_recv(int fd, void *buf, size_t n, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) != 1)
        return -ETIMEDOUT;
    ssize_t r = recv(fd, buf, n, 0);
    return r < 0 ? -errno : r;
}

/* ---- the scripted guest ---------------------------------------------------- */

struct seg {
    uint8_t proto, flags;
    struct msb_ip src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t data[2048];
    size_t len;
};

/* The next TCP or UDP packet for the guest within ms, parsed. */
static bool next_seg(struct seg *s, uint8_t proto, int ms)
{
    static uint8_t fr[MSBNET_MAX_FRAME];
    uint64_t deadline = msb_now_ms() + (uint64_t)ms;
    while (msb_now_ms() < deadline) {
        struct pollfd p = {api->rx_wake_fd(net), POLLIN, 0};
        poll(&p, 1, 5);
        long n;
        while ((n = api->read_frame(net, fr, sizeof fr, NULL)) > 0) {
            struct msb_pkt pk;
            enum msb_drop_reason why;
            if (!msb_pkt_parse(fr, (size_t)n, &pk, &why) || pk.l4_proto != proto)
                continue;
            CU_ASSERT(msb_pkt_l4_checksum_ok(&pk));
            s->proto = proto;
            s->src = pk.src;
            s->dst = pk.dst;
            s->sport = pk.sport;
            s->dport = pk.dport;
            s->flags = pk.tcp_flags;
            s->seq = proto == MSB_IPPROTO_TCP ? msb_get32(pk.l4 + 4) : 0;
            s->ack = proto == MSB_IPPROTO_TCP ? msb_get32(pk.l4 + 8) : 0;
            s->len = pk.l4_len - pk.l4_hdr_len;
            if (s->len > sizeof s->data)
                s->len = sizeof s->data;
            memcpy(s->data, pk.l4 + pk.l4_hdr_len, s->len);
            return true;
        }
    }
    return false;
}

/* One IPv4 packet from the guest (g4:sport) to dst:dport. */
static void guest_send(uint8_t proto, const struct msb_ip *dst, uint16_t sport, uint16_t dport,
                       uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
{
    uint8_t fr[14 + 20 + 20 + 2048];
    size_t l4h = proto == MSB_IPPROTO_TCP ? 20 : 8, l4 = l4h + len, ipl = 20 + l4;
    memset(fr, 0, sizeof fr);
    memcpy(fr, gw_mac, 6);
    memcpy(fr + 6, g_mac, 6);
    msb_put16(fr + 12, 0x0800);
    uint8_t *ip = fr + 14, *t = ip + 20;
    ip[0] = 0x45;
    msb_put16(ip + 2, (uint16_t)ipl);
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, g4.b, 4);
    memcpy(ip + 16, dst->b, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    msb_put16(t, sport);
    msb_put16(t + 2, dport);
    if (proto == MSB_IPPROTO_TCP) {
        msb_put32(t + 4, seq);
        msb_put32(t + 8, ack);
        t[12] = 5 << 4;
        t[13] = flags;
        msb_put16(t + 14, 65535);
    } else {
        msb_put16(t + 4, (uint16_t)l4);
    }
    if (len)
        memcpy(t + l4h, data, len);
    msb_put16(t + (proto == MSB_IPPROTO_TCP ? 16 : 6), msb_csum_l4(&g4, dst, proto, t, l4));
    CU_ASSERT_EQUAL(api->write_frame(net, fr, 14 + ipl), MSBNET_WRITTEN);
}

#define SYN MSB_TCP_SYN
#define ACK MSB_TCP_ACK
#define RST MSB_TCP_RST
#define PSH MSB_TCP_PSH

/* Waits for the plugin's SYN to guest_port and answers SYN-ACK (ISN 1000). */
static bool guest_accept(struct seg *syn, uint16_t guest_port)
{
    if (!next_seg(syn, MSB_IPPROTO_TCP, 3000))
        return false;
    CU_ASSERT_EQUAL(syn->flags & (SYN | ACK), SYN);
    CU_ASSERT_EQUAL(syn->dport, guest_port);
    CU_ASSERT(msb_ip_equal(&syn->dst, &g4));
    guest_send(MSB_IPPROTO_TCP, &syn->src, guest_port, syn->sport, SYN | ACK, 1000, syn->seq + 1,
               NULL, 0);
    return true;
}

/* The next data segment for the guest (pure ACKs skipped). */
static bool guest_data(struct seg *s)
{
    while (next_seg(s, MSB_IPPROTO_TCP, 3000))
        if (s->len)
            return true;
    return false;
}

/* No flow, inbound or not, moved outside the TCP state table. */
static void finish(void)
{
    CU_ASSERT_EQUAL(metric("tcp", "bad_transition"), 0);
    api->destroy(net);
    net = NULL;
    while (nreserved > 0)
        close(reserved[--nreserved]);
}

/* ---- tests --------------------------------------------------------------- */

static void test_runtime_publish_tcp(void)
{
    net = create("{\"egress\":\"allow\"}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 8000, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(metric("inbound", "listeners"), 1);
    int h = host_connect(SOCK_STREAM, port);
    CU_ASSERT_FATAL(h >= 0);
    struct seg syn, s;
    CU_ASSERT_FATAL(guest_accept(&syn, 8000));
    /* without real_peer the guest sees the gateway */
    CU_ASSERT(msb_ip_equal(&syn.src, &gw4));
    CU_ASSERT_EQUAL(send(h, "hello", 5, 0), 5);
    CU_ASSERT_FATAL(guest_data(&s));
    CU_ASSERT(s.len == 5 && memcmp(s.data, "hello", 5) == 0);
    CU_ASSERT_EQUAL(s.seq, syn.seq + 1);
    guest_send(MSB_IPPROTO_TCP, &syn.src, 8000, syn.sport, ACK | PSH, 1001, s.seq + 5, "world", 5);
    char buf[16] = "";
    CU_ASSERT_EQUAL(host_recv(h, buf, sizeof buf, 3000), 5);
    CU_ASSERT_NSTRING_EQUAL(buf, "world", 5);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_open"), 1);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_accepted"), 1);

    /* Unpublished: new peers are refused at once, the open flow lives on. */
    CU_ASSERT_EQUAL(publish(false, "tcp", port, 0, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(host_connect(SOCK_STREAM, port), -ECONNREFUSED);
    CU_ASSERT_EQUAL(metric("inbound", "listeners"), 0);
    CU_ASSERT_EQUAL(send(h, "more", 4, 0), 4);
    CU_ASSERT_FATAL(guest_data(&s));
    CU_ASSERT(s.len == 4 && memcmp(s.data, "more", 4) == 0);
    CU_ASSERT_EQUAL(publish(false, "tcp", port, 0, false, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no such published port"));
    /* And published again on the same port: a new listener. */
    CU_ASSERT_EQUAL(publish(true, "tcp", port, 8001, false, err, sizeof err), MSBNET_OK);
    int h2 = host_connect(SOCK_STREAM, port);
    CU_ASSERT(h2 >= 0);
    CU_ASSERT(guest_accept(&syn, 8001));
    close(h2);
    close(h);
    finish(); /* open flows are reset, listeners closed (ASan/valgrind see leaks) */
}

static void set_policy(const char *text)
{
    char err[256] = "";
    int rc = api->set_policy(net, text, NULL, err, sizeof err);
    if (rc != MSBNET_OK)
        fprintf(stderr, "set_policy %s: %s\n", text, err);
    CU_ASSERT_EQUAL_FATAL(rc, MSBNET_OK);
}

/* A published port's connection answers to the ingress rules when the
 * policy changes: an unchanged policy (public_only, whose egress rules
 * would deny the gateway-sourced flow) leaves it alone, an ingress deny
 * resets it. */
static void test_policy_replace_ingress(void)
{
    net = create("{}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 8000, false, err, sizeof err), MSBNET_OK);
    int h = host_connect(SOCK_STREAM, port);
    CU_ASSERT_FATAL(h >= 0);
    struct seg syn, s;
    CU_ASSERT_FATAL(guest_accept(&syn, 8000));
    char *same = api->policy_json(net);
    CU_ASSERT_PTR_NOT_NULL_FATAL(same);
    set_policy(same);
    api->free_string(same);
    CU_ASSERT_EQUAL(metric_wait("policy", "replaced", 1), 1);
    CU_ASSERT_EQUAL(send(h, "still", 5, 0), 5);
    CU_ASSERT_FATAL(guest_data(&s));
    CU_ASSERT(s.len == 5 && memcmp(s.data, "still", 5) == 0);
    CU_ASSERT_EQUAL(metric("policy", "flows_reset"), 0);
    set_policy("{\"default_egress\":\"allow\",\"default_ingress\":\"deny\"}");
    CU_ASSERT_EQUAL(metric_wait("policy", "flows_reset", 1), 1);
    char buf[8];
    CU_ASSERT(host_recv(h, buf, sizeof buf, 3000) <= 0); /* reset, or closed */
    close(h);
    finish();
}

static void test_publish_errors(void)
{
    net = create("{\"egress\":\"allow\"}");
    uint16_t port = reserve_port(SOCK_STREAM);
    int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* someone else's listener */
    struct sockaddr_in ba = pub_addr(port);
    CU_ASSERT_EQUAL(bind(busy, (struct sockaddr *)&ba, sizeof ba), 0);
    CU_ASSERT_EQUAL(listen(busy, 1), 0);
    char err[256] = "";
    CU_ASSERT_EQUAL(publish(true, "tcp", port, 80, false, err, sizeof err), MSBNET_ESYS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bind"));
    close(busy);
    CU_ASSERT_EQUAL(api->publish_port(net, "{\"host_port\":1", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->publish_port(net, "{\"host_port\":1}", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"guest_port\" is required"));
    CU_ASSERT_EQUAL(api->publish_port(NULL, "{}", NULL, 0), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->publish_port(net, NULL, NULL, 0), MSBNET_EINVAL);
    /* Published before start: the listener works once the stack runs. */
    port = reserve_port(SOCK_STREAM);
    CU_ASSERT_EQUAL(publish(true, "tcp", port, 80, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(publish(true, "tcp", port, 81, false, err, sizeof err), MSBNET_EEXIST);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already published"));
    start();
    int h = host_connect(SOCK_STREAM, port);
    struct seg syn;
    CU_ASSERT(guest_accept(&syn, 80));
    close(h);
    /* Stop and start again: the listener is attached to the new stack. */
    api->stop(net);
    uint8_t fr[MSBNET_MAX_FRAME];
    while (api->read_frame(net, fr, sizeof fr, NULL) > 0)
        ; /* what the stop sent (RSTs) */
    start();
    h = host_connect(SOCK_STREAM, port);
    CU_ASSERT(guest_accept(&syn, 80));
    close(h);
    finish();
}

/* The flow records drained now, as a JSON array (one object per line). */
static json_t *drain_records(void)
{
    char *text = NULL;
    long n = api->drain_flow_records(net, 0, &text);
    json_t *arr = json_array();
    CU_ASSERT_FATAL(n >= 0 && text != NULL);
    for (char *line = text, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL(j);
        if (j)
            json_array_append_new(arr, j);
    }
    CU_ASSERT_EQUAL(json_array_size(arr), (size_t)n);
    api->free_string(text);
    return arr;
}

static const char *rec_str(json_t *arr, size_t i, const char *key)
{
    const char *s = json_string_value(json_object_get(json_array_get(arr, i), key));
    return s ? s : "(none)";
}

static long long rec_int(json_t *arr, size_t i, const char *key)
{
    return json_integer_value(json_object_get(json_array_get(arr, i), key));
}

/* published_ports_json lists what is published, oldest first, with every
 * key written, and forgets what was unpublished. */
static void test_list_json(void)
{
    net = create("{\"egress\":\"allow\"}");
    char err[256] = "", want[512];
    char *s = api->published_ports_json(net);
    CU_ASSERT_STRING_EQUAL(s, "[]");
    api->free_string(s);
    uint16_t tp = reserve_port(SOCK_STREAM), up = reserve_port(SOCK_DGRAM);
    CU_ASSERT_EQUAL(publish(true, "tcp", tp, 80, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(publish(true, "udp", up, 53, true, err, sizeof err), MSBNET_OK);
    snprintf(want, sizeof want,
             "[{\"protocol\":\"tcp\",\"host_address\":\"" PUB_ADDR "\",\"host_port\":%u,"
             "\"guest_port\":80,\"real_peer\":false},{\"protocol\":\"udp\",\"host_address\":"
             "\"" PUB_ADDR "\",\"host_port\":%u,\"guest_port\":53,\"real_peer\":true}]",
             tp, up);
    s = api->published_ports_json(net);
    CU_ASSERT_STRING_EQUAL(s, want);
    api->free_string(s);
    start();
    CU_ASSERT_EQUAL(publish(false, "tcp", tp, 0, false, err, sizeof err), MSBNET_OK);
    snprintf(want, sizeof want,
             "[{\"protocol\":\"udp\",\"host_address\":\"" PUB_ADDR "\",\"host_port\":%u,"
             "\"guest_port\":53,\"real_peer\":true}]",
             up);
    s = api->published_ports_json(net); /* removed at once, before the stack's sync */
    CU_ASSERT_STRING_EQUAL(s, want);
    api->free_string(s);
    CU_ASSERT_PTR_NULL(api->published_ports_json(NULL));
    finish();
}

/* The guest's RST to the SYN resets the host peer; the flow is gone. */
static void test_guest_refuses(void)
{
    net = create("{\"egress\":\"allow\"}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 9, false, err, sizeof err), MSBNET_OK);
    int h = host_connect(SOCK_STREAM, port);
    struct seg syn;
    CU_ASSERT_FATAL(next_seg(&syn, MSB_IPPROTO_TCP, 3000));
    guest_send(MSB_IPPROTO_TCP, &syn.src, 9, syn.sport, RST | ACK, 0, syn.seq + 1, NULL, 0);
    char buf[8];
    CU_ASSERT_EQUAL(host_recv(h, buf, sizeof buf, 3000), -ECONNRESET);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_guest_refused"), 1);
    CU_ASSERT_EQUAL(metric_wait("inbound", "tcp_open", 0), 0);
    CU_ASSERT_EQUAL(metric_wait("tcp", "flows", 0), 0);
    close(h);
    /* The allowed flow's record: the default rule, the guest's reset. */
    json_t *r = drain_records();
    CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
    CU_ASSERT_STRING_EQUAL(rec_str(r, 0, "action"), "allow");
    CU_ASSERT_EQUAL(rec_int(r, 0, "rule"), -1);
    CU_ASSERT_STRING_EQUAL(rec_str(r, 0, "end"), "rst_guest");
    CU_ASSERT_EQUAL(rec_int(r, 0, "bytes_out"), 0);
    CU_ASSERT(rec_int(r, 0, "closed_unix_ms") >= rec_int(r, 0, "opened_unix_ms"));
    json_decref(r);
    finish();
}

/* real_peer: the guest sees the client's address and port, and its
 * replies to them belong to the flow (no egress admission, which would
 * refuse a loopback destination outright). */
static void test_tcp_real_peer(void)
{
    net = create("{\"policy\":{\"default_egress\":\"deny\",\"default_ingress\":\"allow\"}}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 8000, true, err, sizeof err), MSBNET_OK);
    uint16_t cport;
    int h = loopback_socket(4, SOCK_STREAM, &cport);
    struct sockaddr_in a = pub_addr(port);
    CU_ASSERT_EQUAL_FATAL(connect(h, (struct sockaddr *)&a, sizeof a), 0);
    struct seg syn, s;
    CU_ASSERT_FATAL(guest_accept(&syn, 8000));
    struct msb_ip lo;
    msb_ip_parse("127.0.0.1", &lo);
    CU_ASSERT(msb_ip_equal(&syn.src, &lo));
    CU_ASSERT_EQUAL(syn.sport, cport);
    CU_ASSERT_EQUAL(send(h, "q", 1, 0), 1);
    CU_ASSERT_FATAL(guest_data(&s));
    guest_send(MSB_IPPROTO_TCP, &syn.src, 8000, syn.sport, ACK | PSH, 1001, s.seq + 1, "answer", 6);
    char buf[16] = "";
    CU_ASSERT_EQUAL(host_recv(h, buf, sizeof buf, 3000), 6);
    CU_ASSERT_NSTRING_EQUAL(buf, "answer", 6);
    CU_ASSERT_EQUAL(metric("tcp", "denied"), 0);
    CU_ASSERT_EQUAL(metric("policy", "denied"), 0);
    close(h);
    finish();
}

/* A guest that never answers the SYN: the peer is reset after
 * connect_timeout_ms, not after lwIP's minute of retransmissions. */
static void test_guest_silent(void)
{
    net = create("{\"egress\":\"allow\",\"connect_timeout_ms\":300}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 81, false, err, sizeof err), MSBNET_OK);
    uint64_t t0 = msb_now_ms();
    int h = host_connect(SOCK_STREAM, port);
    char buf[8];
    CU_ASSERT_EQUAL(host_recv(h, buf, sizeof buf, 3000), -ECONNRESET);
    uint64_t ms = msb_now_ms() - t0;
    CU_ASSERT(ms >= 250 && ms < 2000);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_guest_timeout"), 1);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_guest_refused"), 0);
    CU_ASSERT_EQUAL(metric_wait("tcp", "flows", 0), 0);
    close(h);
    finish();
}

/* Ingress policy and the cap: the peer is reset before the guest sees a SYN. */
static void expect_reset_no_syn(uint16_t port)
{
    int h = host_connect(SOCK_STREAM, port);
    char buf[8];
    if (h >= 0) {
        CU_ASSERT_EQUAL(host_recv(h, buf, sizeof buf, 3000), -ECONNRESET);
        close(h);
    } else {
        CU_ASSERT_EQUAL(h, -ECONNRESET);
    }
    struct seg s;
    CU_ASSERT_FALSE(next_seg(&s, MSB_IPPROTO_TCP, 200));
}

static void test_ingress_denied(void)
{
    net = create("{\"policy\":{\"default_egress\":\"allow\",\"default_ingress\":\"allow\","
                 "\"rules\":[{\"direction\":\"ingress\",\"destination\":{\"cidr\":\"127.0.0.0/8\"},"
                 "\"protocols\":[\"tcp\",\"udp\"],\"ports\":[{\"start\":22,\"end\":22}],"
                 "\"action\":\"deny\"}]}}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM), uport = reserve_port(SOCK_DGRAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 22, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(publish(true, "udp", uport, 22, false, err, sizeof err), MSBNET_OK);
    expect_reset_no_syn(port);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_denied"), 1);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_accepted"), 0);
    int u = host_connect(SOCK_DGRAM, uport);
    CU_ASSERT_EQUAL(send(u, "x", 1, 0), 1);
    struct seg s;
    CU_ASSERT_FALSE(next_seg(&s, MSB_IPPROTO_UDP, 300));
    CU_ASSERT_EQUAL(metric("inbound", "udp_denied"), 1);
    close(u);
    /* One record per refusal, naming the rule, the peer and the guest port. */
    json_t *r = drain_records();
    CU_ASSERT_EQUAL_FATAL(json_array_size(r), 2);
    CU_ASSERT_STRING_EQUAL(rec_str(r, 0, "proto"), "tcp");
    CU_ASSERT_STRING_EQUAL(rec_str(r, 1, "proto"), "udp");
    for (size_t i = 0; i < 2; i++) {
        CU_ASSERT_STRING_EQUAL(rec_str(r, i, "direction"), "ingress");
        CU_ASSERT_STRING_EQUAL(rec_str(r, i, "action"), "deny");
        CU_ASSERT_STRING_EQUAL(rec_str(r, i, "end"), "refused");
        CU_ASSERT_EQUAL(strncmp(rec_str(r, i, "dst"), "127.", 4), 0); /* the peer */
        CU_ASSERT_EQUAL(rec_int(r, i, "rule"), 0);
        CU_ASSERT_EQUAL(rec_int(r, i, "guest_port"), 22);
        CU_ASSERT_EQUAL(rec_int(r, i, "v"), 1);
    }
    json_decref(r);
    r = drain_records(); /* each record is handed out once */
    CU_ASSERT_EQUAL(json_array_size(r), 0);
    json_decref(r);
    CU_ASSERT_EQUAL(api->drain_flow_records(net, 0, NULL), MSBNET_EINVAL);
    finish();
}

static void test_cap(void)
{
    net = create("{\"egress\":\"allow\",\"max_inbound_flows\":1}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 80, false, err, sizeof err), MSBNET_OK);
    int h = host_connect(SOCK_STREAM, port);
    struct seg syn;
    CU_ASSERT(next_seg(&syn, MSB_IPPROTO_TCP, 3000));
    expect_reset_no_syn(port);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_cap"), 1);
    CU_ASSERT_EQUAL(metric("inbound", "tcp_open"), 1);
    close(h);
    finish();
}

static int highest_fd(void)
{
    int hi = 2;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (atoi(e->d_name) > hi)
            hi = atoi(e->d_name);
    if (d)
        closedir(d);
    return hi;
}

/* accept() failing with EMFILE leaves the listener readable: the stack
 * must pause instead of spinning, and accept once descriptors are back. */
static void test_out_of_descriptors_pauses(void)
{
    net = create("{\"egress\":\"allow\"}");
    start();
    uint16_t port = reserve_port(SOCK_STREAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "tcp", port, 80, false, err, sizeof err), MSBNET_OK);
    int h = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct rlimit old, low;
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd() + 1;
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[256], nfill = 0; /* the holes below the limit, too */
    while (nfill < 256 && (fill[nfill] = dup(0)) >= 0)
        nfill++;
    struct sockaddr_in a = pub_addr(port);
    CU_ASSERT_EQUAL(connect(h, (struct sockaddr *)&a, sizeof a), 0);
    struct seg syn;
    CU_ASSERT_FALSE(next_seg(&syn, MSB_IPPROTO_TCP, 400));
    long long errs = metric("inbound", "tcp_errors");
    CU_ASSERT(errs >= 1 && errs <= 10); /* a few tries, not a spin */
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    CU_ASSERT_EQUAL(setrlimit(RLIMIT_NOFILE, &old), 0);
    CU_ASSERT(guest_accept(&syn, 80));
    close(h);
    finish();
}

/* A datagram to the host port reaches the guest; the reply goes back. */
static void udp_round_trip(bool real_peer)
{
    net = create("{\"egress\":\"allow\"}");
    start();
    uint16_t port = reserve_port(SOCK_DGRAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "udp", port, 5000, real_peer, err, sizeof err), MSBNET_OK);
    uint16_t cport;
    int c = loopback_socket(4, SOCK_DGRAM, &cport);
    struct sockaddr_in to = pub_addr(port);
    CU_ASSERT_EQUAL(sendto(c, "ping", 4, 0, (struct sockaddr *)&to, sizeof to), 4);
    struct seg s;
    CU_ASSERT_FATAL(next_seg(&s, MSB_IPPROTO_UDP, 3000));
    CU_ASSERT(s.len == 4 && memcmp(s.data, "ping", 4) == 0);
    CU_ASSERT(msb_ip_equal(&s.dst, &g4) && s.dport == 5000);
    struct msb_ip lo;
    msb_ip_parse("127.0.0.1", &lo);
    bool src_ok = real_peer ? msb_ip_equal(&s.src, &lo) && s.sport == cport
                            : msb_ip_equal(&s.src, &gw4);
    CU_ASSERT(src_ok);
    guest_send(MSB_IPPROTO_UDP, &s.src, 5000, s.sport, 0, 0, 0, "pong", 4);
    char buf[16] = "";
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    struct pollfd p = {c, POLLIN, 0};
    CU_ASSERT_EQUAL_FATAL(poll(&p, 1, 3000), 1);
    CU_ASSERT_EQUAL(recvfrom(c, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 4);
    CU_ASSERT_NSTRING_EQUAL(buf, "pong", 4);
    CU_ASSERT_EQUAL(ntohs(from.sin_port), port); /* from the published port */
    CU_ASSERT_EQUAL(metric("inbound", "udp_sessions"), 1);
    CU_ASSERT_EQUAL(metric_wait("inbound", "udp_datagrams_to_peer", 1), 1);
    CU_ASSERT_EQUAL(metric("udp", "sessions"), 0); /* never the egress relay's */
    /* Removing the port ends its sessions. */
    CU_ASSERT_EQUAL(publish(false, "udp", port, 0, false, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(metric_wait("inbound", "udp_sessions", 0), 0);
    close(c);
    finish();
}

/* Sessions end after udp_idle_timeout_s of silence; a later datagram from
 * the same peer opens a new one. */
static void test_udp_idle(void)
{
    net = create("{\"egress\":\"allow\",\"udp_idle_timeout_s\":1}");
    start();
    uint16_t port = reserve_port(SOCK_DGRAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "udp", port, 5000, false, err, sizeof err), MSBNET_OK);
    int c = host_connect(SOCK_DGRAM, port);
    CU_ASSERT_EQUAL(send(c, "a", 1, 0), 1);
    struct seg s;
    CU_ASSERT(next_seg(&s, MSB_IPPROTO_UDP, 3000));
    CU_ASSERT_EQUAL(metric("inbound", "udp_sessions"), 1);
    uint64_t t0 = msb_now_ms();
    /* The sweep lowers the gauge, then counts the timeout: wait for the
     * later of the two, and the gauge is down by then. */
    CU_ASSERT_EQUAL(metric_wait("inbound", "udp_idle_timeouts", 1), 1);
    CU_ASSERT(msb_now_ms() - t0 >= 500); /* not at once */
    CU_ASSERT_EQUAL(metric("inbound", "udp_sessions"), 0);
    /* the same peer again: a new session */
    CU_ASSERT_EQUAL(send(c, "b", 1, 0), 1);
    CU_ASSERT(next_seg(&s, MSB_IPPROTO_UDP, 3000));
    CU_ASSERT_EQUAL(metric("inbound", "udp_sessions_opened"), 2);
    close(c);
    finish();
}

/* Beyond max_inbound_flows sessions a new peer's datagrams are dropped;
 * the existing session keeps working. */
static void test_udp_cap(void)
{
    net = create("{\"egress\":\"allow\",\"max_inbound_flows\":1}");
    start();
    uint16_t port = reserve_port(SOCK_DGRAM);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(publish(true, "udp", port, 5000, false, err, sizeof err), MSBNET_OK);
    int a = host_connect(SOCK_DGRAM, port), b = host_connect(SOCK_DGRAM, port);
    struct seg s;
    CU_ASSERT_EQUAL(send(a, "a", 1, 0), 1);
    CU_ASSERT(next_seg(&s, MSB_IPPROTO_UDP, 3000));
    CU_ASSERT_EQUAL(send(b, "b", 1, 0), 1);
    CU_ASSERT_FALSE(next_seg(&s, MSB_IPPROTO_UDP, 300));
    CU_ASSERT_EQUAL(metric("inbound", "udp_cap"), 1);
    CU_ASSERT_EQUAL(send(a, "c", 1, 0), 1);
    CU_ASSERT(next_seg(&s, MSB_IPPROTO_UDP, 3000) && s.len == 1 && s.data[0] == 'c');
    close(a);
    close(b);
    finish();
}

static void test_udp_gateway(void)
{
    udp_round_trip(false);
}

static void test_udp_real_peer(void)
{
    udp_round_trip(true);
}

int main(void)
{
    char err[256];
    api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    if (!api)
        return 1;
    static const struct test_case tests[] = {
        {"runtime_publish_tcp", test_runtime_publish_tcp},
        {"publish_errors", test_publish_errors},
        {"list_json", test_list_json},
        {"policy_replace_ingress", test_policy_replace_ingress},
        {"guest_refuses", test_guest_refuses},
        {"tcp_real_peer", test_tcp_real_peer},
        {"guest_silent", test_guest_silent},
        {"ingress_denied", test_ingress_denied},
        {"cap", test_cap},
        {"out_of_descriptors_pauses", test_out_of_descriptors_pauses},
        {"udp_gateway", test_udp_gateway},
        {"udp_idle", test_udp_idle},
        {"udp_cap", test_udp_cap},
        {"udp_real_peer", test_udp_real_peer},
        {NULL, NULL},
    };
    return cunit_run("publish", tests);
}
