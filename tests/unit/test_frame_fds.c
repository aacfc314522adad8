/* SPDX-License-Identifier: Apache-2.0 */
/* set_frame_fds: the stack thread reads guest frames from a descriptor and
 * writes the guest's frames to one, with no read_frame/write_frame in
 * between.  A socketpair stands in for the TAP; the test is the guest. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "api/instance.h"
#include "msbnet/msbnet.h"
#include "lib/pkt_build.h"
#include "stack/stack.h"

static const struct msbnet_api_v1 *api;
static const uint8_t GUEST_MAC[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t GW_MAC[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t GUEST4[4] = {100, 96, 0, 2}, GW4[4] = {100, 96, 0, 1};

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* Waits up to 5 s for *c to reach want. */
static bool reaches(atomic_uint_fast64_t *c, uint64_t want)
{
    for (int i = 0; i < 500 && msb_read(c) < want; i++)
        sleep_ms(10);
    return msb_read(c) >= want;
}

/* The stack thread counts a frame for the guest (rx_frames, rx_bytes)
 * after its write to rx_fd succeeded: only then is it delivered (a write
 * that would block keeps the frame for later, a failed one is a drop).  So
 * the guest may read a frame before it is counted: a count is waited for,
 * then compared exactly (a count past want still fails). */
static uint64_t settled(atomic_uint_fast64_t *c, uint64_t want)
{
    reaches(c, want);
    return msb_read(c);
}

static size_t arp_request(uint8_t *f)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    msb_eth_write(f, bcast, GUEST_MAC, MSB_ETHERTYPE_ARP);
    uint8_t *a = f + MSB_ETH_HLEN;
    memcpy(a, hdr, 8);
    memcpy(a + 8, GUEST_MAC, 6);
    memcpy(a + 14, GUEST4, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, GW4, 4);
    return MSB_ETH_HLEN + 28;
}

/* An ICMP echo request to the gateway (which answers it itself). */
static size_t ping_gateway(uint8_t *f, uint16_t seq)
{
    msb_eth_write(f, GW_MAC, GUEST_MAC, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f + MSB_ETH_HLEN, *ic = ip + 20;
    memset(ip, 0, 20 + 16);
    ip[0] = 0x45;
    msb_put16(ip + 2, 20 + 16);
    ip[8] = 64;
    ip[9] = MSB_IPPROTO_ICMP;
    memcpy(ip + 12, GUEST4, 4);
    memcpy(ip + 16, GW4, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    ic[0] = 8; /* echo request */
    msb_put16(ic + 4, 0x4d53);
    msb_put16(ic + 6, seq);
    memcpy(ic + 8, "msbnet!!", 8);
    msb_put16(ic + 2, msb_csum_finish(msb_csum_add(0, ic, 16)));
    return MSB_ETH_HLEN + 20 + 16;
}

/* One frame from the plugin's end of the pair, waiting up to 2 s. */
static ssize_t recv_frame(int fd, uint8_t *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1)
        return -1;
    return recv(fd, buf, cap, MSG_DONTWAIT);
}

static msbnet_t *started(const char *json, int tx_fd, int rx_fd)
{
    char err[256] = "";
    msbnet_t *net = api->create(json, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(api->set_gateways(net, "100.96.0.1", NULL), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, tx_fd, rx_fd), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(api->start(net, err, sizeof err), MSBNET_OK);
    return net;
}

static void test_contract(void)
{
    char err[256];
    api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    CU_ASSERT(api->struct_size >= offsetof(struct msbnet_api_v1, set_frame_fds) +
                                      sizeof api->set_frame_fds);
    CU_ASSERT_EQUAL(api->set_frame_fds(NULL, -1, -1), MSBNET_EINVAL);
    msbnet_t *net = api->create(NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, -2, -1), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, -1, -7), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, -1, -1), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(api->start(net, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, 0, 1), MSBNET_ESTATE); /* only while stopped */
    api->stop(net);
    CU_ASSERT_EQUAL(api->set_frame_fds(net, -1, -1), MSBNET_OK);
    api->destroy(net);
}

/* A frame written into the fd is answered on the fd; the ring path stays
 * quiet (read_frame 0) and the boundary counters count both frames. */
static void test_round_trip(void)
{
    int sp[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
    msbnet_t *net = started(NULL, sp[1], sp[1]);
    uint8_t f[128], r[256];
    size_t n = arp_request(f);
    CU_ASSERT_EQUAL(send(sp[0], f, n, 0), (ssize_t)n);
    CU_ASSERT_EQUAL_FATAL(recv_frame(sp[0], r, sizeof r), 42);
    CU_ASSERT(memcmp(r, GUEST_MAC, 6) == 0);
    CU_ASSERT(memcmp(r + MSB_ETH_HLEN + 8, GW_MAC, 6) == 0);
    CU_ASSERT_EQUAL(api->read_frame(net, r, sizeof r, NULL), 0);
    CU_ASSERT_EQUAL(settled(&net->metrics.tx_frames, 1), 1);
    CU_ASSERT_EQUAL(settled(&net->metrics.rx_frames, 1), 1);
    CU_ASSERT_EQUAL(settled(&net->metrics.rx_bytes, 42), 42);
    /* An empty datagram is a refused frame, not the end of the link. */
    CU_ASSERT_EQUAL(send(sp[0], f, 0, 0), 0);
    CU_ASSERT(reaches(&net->metrics.drops[MSB_DROP_TX_BAD_LENGTH], 1));
    CU_ASSERT_EQUAL(send(sp[0], f, n, 0), (ssize_t)n);
    CU_ASSERT_EQUAL(recv_frame(sp[0], r, sizeof r), 42);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.drops[MSB_DROP_TX_FD_ERROR]), 0);
    /* write_frame still feeds the stack alongside the fd. */
    CU_ASSERT_EQUAL(api->write_frame(net, f, n), MSBNET_WRITTEN);
    CU_ASSERT_EQUAL(recv_frame(sp[0], r, sizeof r), 42);
    api->destroy(net);
    close(sp[0]);
    close(sp[1]);
}

/* vnet_hdr: frames in and out carry the 12-byte header (zeroed out). */
static void test_vnet_hdr(void)
{
    int sp[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
    msbnet_t *net = started("{\"vnet_hdr\": true}", sp[1], sp[1]);
    uint8_t f[128] = {0}, r[256];
    memset(r, 0xaa, sizeof r);
    size_t n = MSBNET_VNET_HDR_LEN + arp_request(f + MSBNET_VNET_HDR_LEN);
    CU_ASSERT_EQUAL(send(sp[0], f, n, 0), (ssize_t)n);
    CU_ASSERT_EQUAL_FATAL(recv_frame(sp[0], r, sizeof r), MSBNET_VNET_HDR_LEN + 42);
    static const uint8_t zero[MSBNET_VNET_HDR_LEN];
    CU_ASSERT(memcmp(r, zero, sizeof zero) == 0);
    CU_ASSERT(memcmp(r + MSBNET_VNET_HDR_LEN, GUEST_MAC, 6) == 0);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.vnet.frames), 1);
    api->destroy(net);
    close(sp[0]);
    close(sp[1]);
}

/* A guest that does not read: rx_fd fills, the replies wait in the rx ring
 * and all come out, in order, once the guest reads; nothing is dropped. */
static void test_blocked_rx_keeps_order(void)
{
    enum { PINGS = 64 };
    int sp[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
    int small = 1; /* the kernel rounds it up to its minimum: a few frames */
    CU_ASSERT_EQUAL(setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    msbnet_t *net = started(NULL, sp[1], sp[1]);
    uint8_t f[128], r[256];
    for (uint16_t i = 0; i < PINGS; i++) {
        size_t n = ping_gateway(f, i);
        CU_ASSERT_EQUAL(send(sp[0], f, n, 0), (ssize_t)n);
    }
    CU_ASSERT(reaches(&net->metrics.tx_frames, PINGS));
    /* Some replies had to wait: the socket takes a few, the rest queue in
     * the rx ring as the stack thread answers (waited for, not slept). */
    bool waited = false;
    for (int i = 0; i < 500 && !(waited = msb_ring_count(&net->rx) > 0); i++)
        sleep_ms(10);
    CU_ASSERT_TRUE(waited);
    for (uint16_t i = 0; i < PINGS; i++) {
        ssize_t got = recv_frame(sp[0], r, sizeof r);
        CU_ASSERT_EQUAL_FATAL(got, MSB_ETH_HLEN + 20 + 16);
        const uint8_t *ic = r + MSB_ETH_HLEN + 20;
        CU_ASSERT_EQUAL(ic[0], 0); /* echo reply */
        CU_ASSERT_EQUAL(msb_get16(ic + 6), i);
    }
    CU_ASSERT_EQUAL(settled(&net->metrics.rx_frames, PINGS), PINGS);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.drops[MSB_DROP_RX_RING_FULL]), 0);
    api->destroy(net);
    close(sp[0]);
    close(sp[1]);
}

/* The peer goes away: end of file stops the reading (counted, no spin),
 * a frame for the gone peer is a counted rx_fd_error, never a SIGPIPE. */
static void test_peer_gone(void)
{
    int sp[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
    msbnet_t *net = started(NULL, sp[1], sp[1]);
    uint8_t f[128];
    close(sp[0]);
    CU_ASSERT(reaches(&net->metrics.drops[MSB_DROP_TX_FD_ERROR], 1));
    size_t n = arp_request(f);
    CU_ASSERT_EQUAL(api->write_frame(net, f, n), MSBNET_WRITTEN);
    CU_ASSERT(reaches(&net->metrics.drops[MSB_DROP_RX_FD_ERROR], 1));
    sleep_ms(50);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.drops[MSB_DROP_TX_FD_ERROR]), 1);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.rx_frames), 0);
    api->destroy(net);
    close(sp[1]);
}

/* CPU seconds the stack thread has used: its own clock, so neither this
 * thread nor the rest of a loaded machine counts. */
static double stack_cpu_s(msbnet_t *net)
{
    clockid_t clk;
    struct timespec ts = {0, 0};
    CU_ASSERT_EQUAL_FATAL(pthread_getcpuclockid(net->stack->thread, &clk), 0);
    CU_ASSERT_EQUAL(clock_gettime(clk, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* busy_poll_us: answers as before; once the guest is quiet the stack
 * thread sleeps again (no CPU), and stop() still ends it at once. */
static void test_busy_poll_idles(void)
{
    char err[256];
    msbnet_t *bad = api->create("{\"busy_poll_us\": 1001}", err, sizeof err);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "busy_poll_us"));
    int sp[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
    msbnet_t *net = started("{\"busy_poll_us\": 1000}", sp[1], sp[1]);
    uint8_t f[128], r[256];
    for (uint16_t i = 0; i < 20; i++) {
        size_t n = ping_gateway(f, i);
        CU_ASSERT_EQUAL(send(sp[0], f, n, 0), (ssize_t)n);
        CU_ASSERT_EQUAL(recv_frame(sp[0], r, sizeof r), (ssize_t)n);
    }
    sleep_ms(20); /* past the 1 ms window */
    /* One second of a quiet guest.  Idle, the thread wakes for its 1 s
     * maintenance timer and spins 1 ms after it: a few ms.  Spinning
     * through, it would use what the scheduler gives it: with a busy
     * process on every core and another test beside, still a few tenths
     * of a second, so 0.1 s tells the two apart under load. */
    double before = stack_cpu_s(net);
    sleep_ms(1000);
    double used = stack_cpu_s(net) - before;
    CU_ASSERT(used < 0.1);
    if (used >= 0.1)
        fprintf(stderr, "\n  idle stack thread used %.3f s of CPU in 1 s\n", used);
    api->destroy(net);
    close(sp[0]);
    close(sp[1]);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"contract: bad fds, only while stopped", test_contract},
        {"a frame from tx_fd is answered on rx_fd", test_round_trip},
        {"vnet_hdr frames through the fds", test_vnet_hdr},
        {"blocked rx_fd: replies wait in order, none dropped", test_blocked_rx_keeps_order},
        {"peer gone: EOF and write errors counted", test_peer_gone},
        {"busy_poll_us: answers, then sleeps when idle", test_busy_poll_idles},
        {NULL, NULL},
    };
    return cunit_run("frame_fds", tests);
}
