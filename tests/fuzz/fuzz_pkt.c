/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for everything that reads a guest frame: msb_pkt_parse, the
 * L4 checksum check, the RST builder, the link layer (ARP/NDP), the DHCPv4
 * server, router solicitations and fragment reassembly (whose whole
 * datagrams must parse inside their frame).
 *
 * Input: one control byte, then the frame.  Control bit 0 recomputes the
 * IPv4 header checksum and bit 1 the L4 checksum before use, so mutations
 * get past the checksums instead of dying there.  Invariants are checked
 * with abort(): every pointer stays inside the frame, a fixed checksum
 * verifies, a built RST parses back with a good checksum, every frame the
 * link layer emits parses with a good checksum.
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_pkt), and everywhere as
 * fuzz_pkt_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over mutations
 * of valid frames, registered with ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "proto/dhcp4.h"
#include "lib/ip_reasm.h"
#include "proto/l2.h"
#include "proto/ndp_ra.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#define FUZZ_TARGET "fuzz_pkt"
#define FUZZ_SEED 0x243f6a8885a308d3ull
#include "fuzz_common.h"

#define MAX_FRAME 65538

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- an env of just the parts the link-layer modules touch ---------------- */

static struct {
    struct msb_metrics metrics;
    struct msb_gateways gw;
    struct msb_config cfg;
} net;
static struct msb_env env;
static unsigned long emitted, parsed, reassembled;
static struct msb_reasm *reasm;
static uint64_t fake_ms;

static void env_init_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    msb_metrics_init(&net.metrics);
    msb_gateways_init(&net.gw);
    struct msb_ip v4, v6;
    msb_ip_parse("100.96.0.1", &v4);
    msb_ip_parse("fd42:6d73:62::1", &v6);
    msb_gateways_set(&net.gw, &v4, &v6);
    env.metrics = &net.metrics;
    env.gw = &net.gw;
    env.cfg = &net.cfg;
    static const uint8_t gw[6] = {0x02, 0x6d, 0x73, 0, 0, 1}, guest[6] = {0x02, 0x6d, 0x73, 0, 0, 2};
    memcpy(env.addrs.gateway_mac, gw, 6);
    memcpy(env.addrs.guest_mac, guest, 6);
    env.guest_mac_learned = true;
    env.addrs.gateway4 = v4;
    env.addrs.gateway6 = v6;
    msb_ip_parse("100.96.0.2", &env.addrs.guest4);
    msb_ip_parse("fd42:6d73:62::2", &env.addrs.guest6);
    env.addrs.prefix4 = 30;
    env.addrs.prefix6 = 64;
    env.addrs.mtu = 1500;
    net.cfg.dhcp4 = true;
    net.cfg.dhcp_lease_s = 86400;
    net.cfg.ra = true;
    const struct msb_reasm_limits lim = {8, 65535, 30000};
    reasm = msb_reasm_create(&lim, &net.metrics);
    check(reasm != NULL, "reassembler");
}

struct msb_frame *msb_env_ip_frame(struct msb_env *e, uint8_t ip_version, size_t l3_len)
{
    struct msb_frame *f = msb_frame_alloc(MSB_ETH_HLEN + l3_len);
    if (f)
        msb_eth_write(f->data, e->addrs.guest_mac, e->addrs.gateway_mac,
                      ip_version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    return f;
}

bool msb_env_emit(struct msb_env *e, struct msb_frame *f)
{
    (void)e;
    struct msb_pkt r;
    enum msb_drop_reason why;
    check(msb_pkt_parse(f->data, f->len, &r, &why), "emitted frame parses");
    check(r.ip_version == 0 || msb_pkt_l4_checksum_ok(&r), "emitted frame checksum");
    emitted++;
    msb_frame_free(f);
    return true;
}

bool msb_env_rx_room(struct msb_env *e, size_t frames)
{
    (void)e, (void)frames;
    return true;
}

/* ---- the target ------------------------------------------------------------ */

static void fix_ipv4_header(uint8_t *f, size_t len)
{
    if (len < MSB_ETH_HLEN + 20 || msb_get16(f + 12) != MSB_ETHERTYPE_IPV4)
        return;
    size_t hl = (size_t)(f[14] & 0x0f) * 4;
    if (hl < 20 || MSB_ETH_HLEN + hl > len)
        return;
    f[24] = f[25] = 0;
    msb_put16(f + 24, msb_csum_finish(msb_csum_add(0, f + 14, hl)));
}

static size_t l4_csum_offset(const struct msb_pkt *p)
{
    switch (p->l4_proto) {
    case MSB_IPPROTO_TCP:
        return 16;
    case MSB_IPPROTO_UDP:
        return 6;
    default:
        return 2;
    }
}

static void fix_l4(struct msb_pkt *p)
{
    if (p->l4_hdr_len == 0)
        return;
    uint8_t *ck = p->l4 + l4_csum_offset(p);
    ck[0] = ck[1] = 0;
    uint16_t v = p->l4_proto == MSB_IPPROTO_ICMP
                     ? msb_csum_finish(msb_csum_add(0, p->l4, p->l4_len))
                     : msb_csum_l4(&p->src, &p->dst, p->l4_proto, p->l4, p->l4_len);
    msb_put16(ck, v);
}

static void check_bounds(const struct msb_pkt *p, const uint8_t *f, size_t len)
{
    const uint8_t *end = f + len;
    check(p->frame == f && p->frame_len == len, "frame");
    check(p->l3 >= f + MSB_ETH_HLEN && p->l3 + p->l3_len <= end, "l3 inside frame");
    check(p->l3_hdr_len <= p->l3_len, "l3 header inside packet");
    if (p->ip_version == 0)
        return;
    check(p->l4 == p->l3 + p->l3_hdr_len && p->l4 + p->l4_len == p->l3 + p->l3_len, "l4 span");
    check(p->l4_hdr_len <= p->l4_len, "l4 header inside segment");
}

static void check_rst(const struct msb_pkt *p)
{
    uint8_t buf[MSB_ETH_HLEN + 60];
    size_t n = msb_build_tcp_rst(p, buf + MSB_ETH_HLEN, 60);
    if (p->l4_proto != MSB_IPPROTO_TCP || p->l4_hdr_len == 0 || (p->tcp_flags & MSB_TCP_RST)) {
        check(n == 0, "no RST for a RST or a non-TCP packet");
        return;
    }
    check(n == (p->ip_version == 4 ? 40u : 60u), "RST length");
    msb_eth_write(buf, p->src_mac, p->dst_mac, p->ethertype);
    struct msb_pkt r;
    enum msb_drop_reason why;
    check(msb_pkt_parse(buf, MSB_ETH_HLEN + n, &r, &why), "RST parses");
    check(msb_pkt_l4_checksum_ok(&r), "RST checksum");
    check((r.tcp_flags & MSB_TCP_RST) && r.sport == p->dport && r.dport == p->sport, "RST ports");
    check(msb_ip_equal(&r.src, &p->dst) && msb_ip_equal(&r.dst, &p->src), "RST addresses");
}

/* A whole datagram out of the reassembler is one frame whose IP header
 * claims exactly the bytes it carries. */
static void check_reassembly(const uint8_t *f, size_t len)
{
    struct msb_frame *w = msb_reasm_input(reasm, f, len, fake_ms += 700);
    if (!w)
        return;
    reassembled++;
    struct msb_pkt p;
    enum msb_drop_reason why;
    if (msb_pkt_parse(w->data, w->len, &p, &why))
        check_bounds(&p, w->data, w->len);
    else
        check(why != MSB_DROP_IP_FRAGMENT && why != MSB_DROP_ETH_SHORT, "whole datagram");
    msb_frame_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_FRAME)
        return 0;
    env_init_once();
    uint8_t ctl = data[0];
    size_t len = size - 1;
    /* An exact-size heap copy: ASan/valgrind see any read past the end. */
    uint8_t *f = malloc(len ? len : 1);
    check(f != NULL, "malloc");
    memcpy(f, data + 1, len);
    if (ctl & 1)
        fix_ipv4_header(f, len);
    struct msb_pkt p;
    enum msb_drop_reason why = MSB_DROP__COUNT;
    if (msb_pkt_parse(f, len, &p, &why)) {
        parsed++;
        check_bounds(&p, f, len);
        if (ctl & 2) {
            fix_l4(&p);
            check(p.l4_hdr_len == 0 || msb_pkt_l4_checksum_ok(&p), "fixed L4 checksum verifies");
        } else {
            (void)msb_pkt_l4_checksum_ok(&p);
        }
        check_rst(&p);
        (void)msb_l2_handle(&env, &p);
        (void)msb_ra_handle(&env, &p, fake_ms += 700);
        if (msb_dhcp4_wants(&p))
            msb_dhcp4_input(&env, &p);
    } else {
        check(why < MSB_DROP__COUNT, "a failed parse names a reason");
        if (msb_reasm_is_fragment(f, len, why))
            check_reassembly(f, len);
    }
    free(f);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
/* ---- fixed-seed replay: mutations of valid frames -------------------------- */

struct seed {
    uint8_t b[512];
    size_t len;
};

static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0, 0, 2};
static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0, 0, 1};

static size_t ipv4(uint8_t *f, uint8_t proto, const uint8_t *l4, size_t l4len, size_t optlen)
{
    static const uint8_t src[4] = {100, 96, 0, 2}, dst[4] = {93, 184, 216, 34};
    msb_eth_write(f, gw_mac, guest_mac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f + MSB_ETH_HLEN;
    size_t hl = 20 + optlen;
    memset(ip, 0, hl);
    ip[0] = (uint8_t)(0x40 | hl / 4);
    msb_put16(ip + 2, (uint16_t)(hl + l4len));
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    if (optlen)
        ip[20] = 1; /* NOPs */
    memcpy(ip + hl, l4, l4len);
    return MSB_ETH_HLEN + hl + l4len;
}

static size_t ipv6(uint8_t *f, uint8_t nh, const uint8_t *l4, size_t l4len, uint8_t hop)
{
    static const uint8_t src[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    static const uint8_t dst[16] = {0xfd, 0x42, 0x6d, 0x73, 0, 0x62, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    msb_eth_write(f, gw_mac, guest_mac, MSB_ETHERTYPE_IPV6);
    uint8_t *ip = f + MSB_ETH_HLEN;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    msb_put16(ip + 4, (uint16_t)l4len);
    ip[6] = nh;
    ip[7] = hop;
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    memcpy(ip + 40, l4, l4len);
    return MSB_ETH_HLEN + 40 + l4len;
}

/* DHCP DISCOVER and REQUEST, a router solicitation, and the two halves
 * of an IPv4 and an IPv6 fragmented datagram. */
static size_t autoconf_seeds(struct seed *s)
{
    static const uint8_t any[4] = {0}, bcast[4] = {255, 255, 255, 255};
    static const uint8_t rs[16] = {133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0x6d, 0x73, 0, 0, 2};
    uint8_t dhcp[8 + 260] = {0, 68, 0, 67};
    uint8_t *d = dhcp + 8;
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    memcpy(d + 28, guest_mac, 6);
    msb_put32(d + 236, 0x63825363u);
    static const uint8_t opts[] = {53, 1, 1, 50, 4, 100, 96, 0, 2, 54, 4, 100, 96, 0, 1, 255};
    memcpy(d + 240, opts, sizeof opts);
    msb_put16(dhcp + 4, sizeof dhcp);
    size_t n = 0;
    for (uint8_t type = 1; type <= 3; type += 2, n++) {
        d[242] = type;
        s[n].len = ipv4(s[n].b, MSB_IPPROTO_UDP, dhcp, sizeof dhcp, 0);
        memcpy(s[n].b + MSB_ETH_HLEN + 12, any, 4);
        memcpy(s[n].b + MSB_ETH_HLEN + 16, bcast, 4);
    }
    s[n].len = ipv6(s[n].b, MSB_IPPROTO_ICMPV6, rs, sizeof rs, 255);
    n++;
    uint8_t data[64 + 8];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    for (int half = 0; half < 2; half++, n++) { /* IPv4: MF + offset 0, then offset 64 */
        s[n].len = ipv4(s[n].b, MSB_IPPROTO_UDP, data + 8 * half, half ? 8 : 64, 0);
        msb_put16(s[n].b + MSB_ETH_HLEN + 6, half ? 8 : 0x2000);
    }
    for (int half = 0; half < 2; half++, n++) { /* IPv6 fragment header + data */
        uint8_t fr[8 + 64] = {MSB_IPPROTO_UDP, 0, 0, half ? 64 : 1, 0, 0, 0, 9};
        memcpy(fr + 8, data, 64);
        s[n].len = ipv6(s[n].b, 44, fr, half ? 16 : sizeof fr, 64);
    }
    return n;
}

static size_t make_seeds(struct seed *s)
{
    static const uint8_t syn[24] = {0x9c, 0x40, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0x60, 0x02,
                                    0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4};
    static const uint8_t ack_data_fin[24] = {0x9c, 0x40, 0, 80, 1, 2, 3, 4, 5, 6, 7, 8, 0x50,
                                             0x19, 1, 0, 0, 0, 0, 0, 'd', 'a', 't', 'a'};
    static const uint8_t udp[12] = {0x30, 0x39, 0, 53, 0, 12, 0, 0, 'q', 'u', 'e', 'r'};
    static const uint8_t echo[12] = {8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'};
    static const uint8_t ns[32] = {135, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0x42, 0x6d, 0x73, 0, 0x62,
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 0x6d, 0x73, 0, 0, 2};
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1, 2, 0x6d, 0x73, 0, 0, 2,
                                    100, 96, 0, 2, 0, 0, 0, 0, 0, 0, 100, 96, 0, 1};
    size_t n = 0;
    n++;
    s[n - 1].len = ipv4(s[n - 1].b, MSB_IPPROTO_TCP, syn, sizeof syn, 0);
    n++;
    s[n - 1].len = ipv4(s[n - 1].b, MSB_IPPROTO_TCP, ack_data_fin, sizeof ack_data_fin, 8);
    n++;
    s[n - 1].len = ipv4(s[n - 1].b, MSB_IPPROTO_UDP, udp, sizeof udp, 0);
    n++;
    s[n - 1].len = ipv4(s[n - 1].b, MSB_IPPROTO_ICMP, echo, sizeof echo, 0);
    n++;
    s[n - 1].len = ipv6(s[n - 1].b, MSB_IPPROTO_TCP, syn, sizeof syn, 64);
    n++;
    s[n - 1].len = ipv6(s[n - 1].b, MSB_IPPROTO_UDP, udp, sizeof udp, 64);
    n++;
    s[n - 1].len = ipv6(s[n - 1].b, MSB_IPPROTO_ICMPV6, ns, sizeof ns, 255);
    msb_eth_write(s[n].b, gw_mac, guest_mac, MSB_ETHERTYPE_ARP);
    memcpy(s[n].b + MSB_ETH_HLEN, arp, sizeof arp);
    s[n++].len = MSB_ETH_HLEN + sizeof arp;
    return n + autoconf_seeds(s + n);
}

/* Edge values: lengths, ports, types; padding and trailing junk. */
static const uint8_t edge8[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
static const uint16_t edge16[] = {0, 0xffff, 0x8000, 1, 0x8100, 20};
static const struct fuzz_edges edges = {edge8, sizeof edge8, edge16,
                                        sizeof edge16 / sizeof edge16[0], 64};

static int write_corpus(const char *dir, const struct seed *s, size_t n)
{
    static const uint8_t ctl = 3;
    for (size_t i = 0; i < n; i++)
        if (fuzz_write_seed(dir, i, &ctl, 1, s[i].b, s[i].len))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct seed seeds[24];
    size_t nseeds = make_seeds(seeds);
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2], seeds, nseeds);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 200000;
    uint8_t in[1 + 512];
    for (long i = 0; i < runs; i++) {
        const struct seed *s = &seeds[rnd() % nseeds];
        size_t len = s->len;
        memcpy(in + 1, s->b, len);
        for (int m = (int)(rnd() % 4); m >= 0; m--)
            fuzz_mutate(in + 1, &len, sizeof in - 1, &edges);
        /* mostly with checksums fixed, so the deeper code sees the input */
        in[0] = (uint8_t)(rnd() % 8 ? 3 : rnd());
        LLVMFuzzerTestOneInput(in, 1 + len);
    }
    printf("fuzz_pkt_replay: %ld inputs, %lu parsed, %lu link-layer replies, %lu reassembled\n",
           runs, parsed, emitted, reassembled);
    msb_reasm_destroy(reasm);
    msb_gateways_destroy(&net.gw);
    return 0;
}
#endif
