/* SPDX-License-Identifier: Apache-2.0 */
/* The stack thread as a VMM drives it: start/stop rules, the link layer,
 * anti-spoofing and malformed frames, observed through frames and counters
 * only (the thread runs asynchronously, so each check waits for its effect
 * with a deadline). */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "api/instance.h"
#include "msbnet/msbnet.h"
#include "lib/pkt_build.h"

static const struct msbnet_api_v1 *api;
static msbnet_t *net;
static const uint8_t GUEST_MAC[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t GW_MAC[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t GUEST4[4] = {100, 96, 0, 2}, GW4[4] = {100, 96, 0, 1};
static int fds_at_start, threads_at_start; /* before the first instance */

/* Entries of a /proc directory: open descriptors, or threads. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static uint64_t drops(enum msb_drop_reason r)
{
    return msb_read(&net->metrics.drops[r]);
}

/* Waits up to 2 s for the stack thread to count one more drop of reason r. */
static bool dropped(enum msb_drop_reason r, uint64_t before)
{
    for (int i = 0; i < 200; i++) {
        if (drops(r) > before)
            return true;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return false;
}

static long read_reply(uint8_t *buf, size_t cap)
{
    struct pollfd p = {.fd = api->rx_wake_fd(net), .events = POLLIN};
    for (int i = 0; i < 20; i++) {
        long n = api->read_frame(net, buf, cap, NULL);
        if (n != 0)
            return n;
        poll(&p, 1, 100);
    }
    return 0;
}

static size_t arp_request(uint8_t *f, const uint8_t smac[6], const uint8_t sip[4],
                          const uint8_t tip[4])
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    msb_eth_write(f, bcast, smac, MSB_ETHERTYPE_ARP);
    uint8_t *a = f + MSB_ETH_HLEN;
    static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    memcpy(a, hdr, 8);
    memcpy(a + 8, smac, 6);
    memcpy(a + 14, sip, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, tip, 4);
    return MSB_ETH_HLEN + 28;
}

/* A valid IPv4 packet (TCP SYN or UDP) from src to dst, checksums right. */
static size_t ip4_packet(uint8_t *f, const uint8_t smac[6], const uint8_t src[4],
                         const uint8_t dst[4], uint8_t proto)
{
    msb_eth_write(f, GW_MAC, smac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f + MSB_ETH_HLEN, *l4 = ip + 20;
    size_t l4len = proto == MSB_IPPROTO_TCP ? 20 : 8;
    memset(ip, 0, 20 + l4len);
    ip[0] = 0x45;
    msb_put16(ip + 2, (uint16_t)(20 + l4len));
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    msb_put16(l4, 40000);
    msb_put16(l4 + 2, 80);
    if (proto == MSB_IPPROTO_TCP) {
        l4[12] = 5 << 4;
        l4[13] = MSB_TCP_SYN;
        msb_put16(l4 + 14, 65535);
    } else {
        msb_put16(l4 + 4, (uint16_t)l4len);
    }
    struct msb_ip s, d;
    msb_ip_from_v4(&s, src);
    msb_ip_from_v4(&d, dst);
    msb_put16(l4 + (proto == MSB_IPPROTO_TCP ? 16 : 6), msb_csum_l4(&s, &d, proto, l4, l4len));
    return MSB_ETH_HLEN + 20 + l4len;
}

#ifdef MSBNET_TSAN
static void *no_op(void *arg)
{
    return arg;
}
#endif

static void test_start_rules(void)
{
    char err[256];
#ifdef MSBNET_TSAN
    /* ThreadSanitizer starts its own background thread at the process's
     * first pthread_create; one made and joined here puts it in the baseline. */
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, no_op, NULL), 0);
    pthread_join(t, NULL);
#endif
    fds_at_start = count_entries("/proc/self/fd");
    threads_at_start = count_entries("/proc/self/task");
    api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    net = api->create("{\"egress\": \"deny\"}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(api->set_gateways(net, "100.96.0.1", "fd42:6d73:62::1"), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(api->start(net, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->start(net, err, sizeof err), MSBNET_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already started"));
    msbnet_t *other = api->create(NULL, err, sizeof err);
    CU_ASSERT_EQUAL(api->start(other, err, sizeof err), MSBNET_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "another msbnet instance"));
    api->destroy(other);
    /* stop + start again: lwIP stays initialised across runs */
    api->stop(net);
    api->stop(net);
    CU_ASSERT_EQUAL(api->start(net, err, sizeof err), MSBNET_OK);
}

static void test_arp_for_gateway(void)
{
    uint8_t f[64], r[128];
    size_t n = arp_request(f, GUEST_MAC, GUEST4, GW4);
    CU_ASSERT_EQUAL(api->write_frame(net, f, n), MSBNET_WRITTEN);
    long got = read_reply(r, sizeof r);
    CU_ASSERT_EQUAL_FATAL(got, 42);
    CU_ASSERT(memcmp(r, GUEST_MAC, 6) == 0);
    CU_ASSERT(memcmp(r + MSB_ETH_HLEN + 8, GW_MAC, 6) == 0); /* sender = gateway MAC */
    CU_ASSERT(memcmp(r + MSB_ETH_HLEN + 14, GW4, 4) == 0);
}

static void test_spoofed_mac_dropped(void)
{
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
    uint8_t f[64];
    uint64_t before = drops(MSB_DROP_ETH_SPOOFED_MAC);
    size_t n = ip4_packet(f, other, GUEST4, GW4, MSB_IPPROTO_TCP);
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_ETH_SPOOFED_MAC, before));
}

static void test_spoofed_ip_dropped(void)
{
    static const uint8_t fake[4] = {100, 96, 0, 77};
    uint8_t f[64];
    uint64_t before = drops(MSB_DROP_IP_SPOOFED_SRC);
    size_t n = ip4_packet(f, GUEST_MAC, fake, GW4, MSB_IPPROTO_TCP);
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_IP_SPOOFED_SRC, before));
}

/* A UDP datagram from src (IPv6, 16 bytes) to I's fd42::1, sums right. */
static size_t ip6_udp(uint8_t *f, const uint8_t src[16])
{
    static const uint8_t dst[16] = {0xfd, 0x42, [15] = 1};
    msb_eth_write(f, GW_MAC, GUEST_MAC, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f + MSB_ETH_HLEN, *l4 = ip + MSB_IPV6_HLEN;
    msb_ip6_write(ip, 8, 64, MSB_IPPROTO_UDP, src, dst);
    memset(l4, 0, 8);
    msb_put16(l4, 40000);
    msb_put16(l4 + 2, 9);
    msb_put16(l4 + 4, 8);
    struct msb_ip s, d;
    msb_ip_from_v6(&s, src);
    msb_ip_from_v6(&d, dst);
    msb_put16(l4 + 6, msb_csum_l4(&s, &d, MSB_IPPROTO_UDP, l4, 8));
    return MSB_ETH_HLEN + MSB_IPV6_HLEN + 8;
}

/* The gateway's IPv6 addresses lie in the guest's /64 and in fe80::/10,
 * which the guest may use, but are never its own; another address of
 * the /64 (SLAAC) stays the guest's. */
static void test_gateway_ipv6_source_dropped(void)
{
    static const uint8_t gw6[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, [15] = 1};
    static const uint8_t gw_ll[16] = {0xfe, 0x80, [8] = 0x00, 0x6d, 0x73, 0xff, 0xfe, 0, 0, 1};
    static const uint8_t slaac[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, [14] = 0x12, 0x34};
    uint8_t f[128];
    uint64_t before = drops(MSB_DROP_IP_SPOOFED_SRC);
    api->write_frame(net, f, ip6_udp(f, gw6));
    CU_ASSERT(dropped(MSB_DROP_IP_SPOOFED_SRC, before));
    before = drops(MSB_DROP_IP_SPOOFED_SRC);
    api->write_frame(net, f, ip6_udp(f, gw_ll));
    CU_ASSERT(dropped(MSB_DROP_IP_SPOOFED_SRC, before));
    /* egress deny: the SLAAC source passes the check and meets the policy */
    before = drops(MSB_DROP_UDP_DENIED);
    uint64_t spoofed = drops(MSB_DROP_IP_SPOOFED_SRC);
    api->write_frame(net, f, ip6_udp(f, slaac));
    CU_ASSERT(dropped(MSB_DROP_UDP_DENIED, before));
    CU_ASSERT_EQUAL(drops(MSB_DROP_IP_SPOOFED_SRC), spoofed);
    /* its "administratively prohibited", read so the next test's reply is next */
    uint8_t r[256];
    CU_ASSERT(read_reply(r, sizeof r) > MSB_ETH_HLEN + MSB_IPV6_HLEN);
    CU_ASSERT_EQUAL(msb_get16(r + 12), MSB_ETHERTYPE_IPV6);
    CU_ASSERT_EQUAL(r[MSB_ETH_HLEN + 6], MSB_IPPROTO_ICMPV6);
}

static void test_bad_frames_counted(void)
{
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    uint8_t f[64];
    size_t n = ip4_packet(f, GUEST_MAC, GUEST4, GW4, MSB_IPPROTO_TCP);
    uint64_t before = drops(MSB_DROP_IP_BAD_CHECKSUM);
    f[MSB_ETH_HLEN + 10] ^= 0xff;
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_IP_BAD_CHECKSUM, before));

    before = drops(MSB_DROP_ETH_SHORT);
    n = ip4_packet(f, GUEST_MAC, GUEST4, GW4, MSB_IPPROTO_TCP);
    api->write_frame(net, f, n - 10); /* IP says 40 bytes, 30 arrive */
    CU_ASSERT(dropped(MSB_DROP_ETH_SHORT, before));

    before = drops(MSB_DROP_IP_BAD_DST);
    n = ip4_packet(f, GUEST_MAC, GUEST4, bcast, MSB_IPPROTO_TCP);
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_IP_BAD_DST, before));

    before = drops(MSB_DROP_L4_BAD_CHECKSUM);
    n = ip4_packet(f, GUEST_MAC, GUEST4, GW4, MSB_IPPROTO_TCP);
    f[n - 1] ^= 0x01;
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_L4_BAD_CHECKSUM, before));

    /* UDP and ICMP are relayed now: a guest echo *reply* is not. */
    before = drops(MSB_DROP_ICMP_UNSUPPORTED);
    n = ip4_packet(f, GUEST_MAC, GUEST4, GW4, MSB_IPPROTO_ICMP);
    uint8_t *icmp = f + MSB_ETH_HLEN + 20;
    memset(icmp, 0, 8);
    msb_put16(icmp + 2, msb_csum_finish(msb_csum_add(0, icmp, 8)));
    api->write_frame(net, f, n);
    CU_ASSERT(dropped(MSB_DROP_ICMP_UNSUPPORTED, before));
}

/* A valid SYN while egress is denied: the guest gets a RST at once. */
static void test_denied_syn_gets_rst(void)
{
    uint8_t f[64], r[128];
    size_t n = ip4_packet(f, GUEST_MAC, GUEST4, (const uint8_t[4]){198, 18, 0, 1}, MSB_IPPROTO_TCP);
    CU_ASSERT_EQUAL(api->write_frame(net, f, n), MSBNET_WRITTEN);
    long got = read_reply(r, sizeof r);
    CU_ASSERT_EQUAL_FATAL(got, 54);
    CU_ASSERT_EQUAL(r[MSB_ETH_HLEN + 20 + 13], MSB_TCP_RST | MSB_TCP_ACK);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.tcp.denied), 1);
}

/* destroy() of a running instance stops its stack thread and closes
 * every descriptor it opened, and frees the process's one started
 * instance: a new one starts, and destroying it leaves nothing either. */
static void test_destroy(void)
{
    char err[256];
    api->destroy(net);
    net = NULL;
    CU_ASSERT_EQUAL(count_entries("/proc/self/task"), threads_at_start);
    CU_ASSERT_EQUAL(count_entries("/proc/self/fd"), fds_at_start);
    msbnet_t *again = api->create("{\"egress\": \"deny\"}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_EQUAL(api->start(again, err, sizeof err), MSBNET_OK);
    CU_ASSERT(count_entries("/proc/self/task") > threads_at_start);
    api->destroy(again);
    CU_ASSERT_EQUAL(count_entries("/proc/self/task"), threads_at_start);
    CU_ASSERT_EQUAL(count_entries("/proc/self/fd"), fds_at_start);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"start rules: once per instance, one instance per process, restart", test_start_rules},
        {"ARP for the gateway answered", test_arp_for_gateway},
        {"spoofed source MAC dropped", test_spoofed_mac_dropped},
        {"spoofed source IP dropped", test_spoofed_ip_dropped},
        {"the gateway's IPv6 as source dropped", test_gateway_ipv6_source_dropped},
        {"malformed frames dropped by reason", test_bad_frames_counted},
        {"denied SYN answered with RST", test_denied_syn_gets_rst},
        {"destroy: thread joined, descriptors closed, a new instance starts", test_destroy},
        {NULL, NULL},
    };
    return cunit_run("stack", tests);
}
