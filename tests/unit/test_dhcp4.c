/* SPDX-License-Identifier: Apache-2.0 */
/* The DHCPv4 server: every reply parsed back field by field and option by
 * option; addressing (broadcast/unicast), the one-client binding, strict
 * parsing and the off-switches.  The stack's calls (proto/env.h) are doubles
 * that capture frames. */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "cunit_main.h"
#include "proto/dhcp4.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

static const uint8_t gw_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x01};
static const uint8_t guest_mac[6] = {0x02, 0x6d, 0x73, 0x00, 0x00, 0x02};
static const uint8_t other_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t gw4[4] = {100, 96, 0, 1}, guest4[4] = {100, 96, 0, 2};
static const uint8_t any4[4] = {0}, bcast4[4] = {255, 255, 255, 255};
static const uint8_t other4[4] = {100, 96, 0, 3};

/* ---- env doubles ------------------------------------------------------------- */

#include "env_doubles.h"

static void reset_with(bool gateway, bool learned)
{
    static bool inited;
    for (size_t i = 0; i < nout; i++)
        msb_frame_free(out[i]);
    nout = 0;
    if (inited)
        msb_gateways_destroy(&net.gw);
    inited = true;
    msb_metrics_init(&net.metrics);
    memset(&net.cfg, 0, sizeof net.cfg);
    net.cfg.dhcp4 = true;
    net.cfg.dhcp_lease_s = 86400; /* the config default */
    CU_ASSERT_EQUAL_FATAL(msb_gateways_init(&net.gw), 0);
    memset(&env, 0, sizeof env);
    env_bind();
    memcpy(env.addrs.gateway_mac, gw_mac, 6);
    memcpy(env.addrs.guest_mac, guest_mac, 6);
    msb_ip_from_v4(&env.addrs.gateway4, gw4);
    msb_ip_from_v4(&env.addrs.guest4, guest4);
    env.addrs.prefix4 = 30;
    env.addrs.mtu = 1500;
    env.guest_mac_learned = learned;
    if (gateway) {
        struct msb_ip v4;
        msb_ip_from_v4(&v4, gw4);
        CU_ASSERT_EQUAL_FATAL(msb_gateways_set(&net.gw, &v4, NULL), 0);
    }
}

static void reset(void)
{
    reset_with(true, true);
}

static void cleanup(void)
{
    for (size_t i = 0; i < nout; i++)
        msb_frame_free(out[i]);
    nout = 0;
    msb_gateways_destroy(&net.gw);
}

/* ---- client messages --------------------------------------------------------- */

struct msg {
    const uint8_t *mac;    /* Ethernet source and chaddr */
    const uint8_t *src;    /* IP source (default 0.0.0.0) */
    const uint8_t *dst;    /* IP destination (default broadcast) */
    const uint8_t *ciaddr; /* default 0 */
    bool broadcast_flag;
    uint8_t op, hlen;      /* default 1, 6 */
    uint32_t cookie;       /* default the magic cookie */
    uint8_t opts[64];      /* options after the cookie, END added */
    size_t optlen;
    bool no_end;
};

struct frame {
    uint8_t b[600];
    size_t len;
    struct msb_pkt p;
};

static void opt(struct msg *m, uint8_t code, const void *v, uint8_t len)
{
    m->opts[m->optlen] = code;
    m->opts[m->optlen + 1] = len;
    memcpy(m->opts + m->optlen + 2, v, len);
    m->optlen += 2u + len;
}

static struct msg message(uint8_t type)
{
    struct msg m = {.mac = guest_mac, .op = 1, .hlen = 6, .cookie = 0x63825363u};
    opt(&m, 53, &type, 1);
    return m;
}

/* The message as a frame; bad_csum corrupts the UDP checksum. */
static void build(struct frame *f, const struct msg *m, bool bad_csum)
{
    memset(f, 0, sizeof *f);
    msb_eth_write(f->b, bcast_mac, m->mac, MSB_ETHERTYPE_IPV4);
    uint8_t *ip = f->b + MSB_ETH_HLEN, *udp = ip + 20, *d = udp + 8;
    d[0] = m->op;
    d[1] = 1;
    d[2] = m->hlen;
    msb_put32(d + 4, 0xdeadbeef);
    msb_put16(d + 10, m->broadcast_flag ? 0x8000 : 0);
    memcpy(d + 12, m->ciaddr ? m->ciaddr : any4, 4);
    memcpy(d + 28, m->mac, 6);
    msb_put32(d + 236, m->cookie);
    memcpy(d + 240, m->opts, m->optlen);
    size_t dlen = 240 + m->optlen;
    if (!m->no_end)
        d[dlen++] = 255;
    const uint8_t *src = m->src ? m->src : any4, *dst = m->dst ? m->dst : bcast4;
    msb_ip4_write(ip, 20 + 8 + dlen, 1, 0, 64, MSB_IPPROTO_UDP, src, dst);
    msb_put16(udp, 68);
    msb_put16(udp + 2, 67);
    msb_put16(udp + 4, (uint16_t)(8 + dlen));
    struct msb_ip s, t;
    msb_ip_from_v4(&s, src);
    msb_ip_from_v4(&t, dst);
    msb_put16(udp + 6, msb_csum_l4(&s, &t, MSB_IPPROTO_UDP, udp, 8 + dlen));
    if (bad_csum)
        udp[6] ^= 0x55;
    f->len = MSB_ETH_HLEN + 20 + 8 + dlen;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f->b, f->len, &f->p, &why));
    CU_ASSERT_FATAL(msb_dhcp4_wants(&f->p));
}

static void send_msg(const struct msg *m)
{
    struct frame f;
    build(&f, m, false);
    msb_dhcp4_input(&env, &f.p);
}

/* ---- replies ----------------------------------------------------------------- */

struct reply {
    struct msb_pkt p;
    const uint8_t *bootp;
    size_t len;
};

/* Parses out[i] back: a valid IPv4/UDP 67 -> 68 frame from the gateway with
 * a correct checksum and a BOOTREPLY with the cookie. */
static struct reply reply_at(size_t i)
{
    struct reply r;
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(i < nout);
    CU_ASSERT_FATAL(msb_pkt_parse(out[i]->data, out[i]->len, &r.p, &why));
    CU_ASSERT_EQUAL(r.p.ip_version, 4);
    CU_ASSERT_EQUAL_FATAL(r.p.l4_proto, MSB_IPPROTO_UDP);
    CU_ASSERT_EQUAL(r.p.sport, 67);
    CU_ASSERT_EQUAL(r.p.dport, 68);
    CU_ASSERT(msb_pkt_l4_checksum_ok(&r.p));
    CU_ASSERT_NOT_EQUAL(msb_get16(r.p.l4 + 6), 0); /* a computed checksum, not "none" */
    CU_ASSERT_EQUAL(memcmp(r.p.src_mac, gw_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.src.b, gw4, 4), 0);
    r.bootp = r.p.l4 + 8;
    r.len = r.p.l4_len - 8;
    CU_ASSERT_FATAL(r.len >= 300);
    CU_ASSERT_EQUAL(r.bootp[0], 2);
    CU_ASSERT_EQUAL(r.bootp[1], 1);
    CU_ASSERT_EQUAL(r.bootp[2], 6);
    CU_ASSERT_EQUAL(msb_get32(r.bootp + 4), 0xdeadbeef);
    CU_ASSERT_EQUAL(msb_get32(r.bootp + 236), 0x63825363u);
    return r;
}

/* Option code's value in r (length in *len), NULL when absent; the walk
 * must end with END inside the message. */
static const uint8_t *find_opt(const struct reply *r, uint8_t code, size_t *len)
{
    size_t i = 240;
    while (i < r->len && r->bootp[i] != 255) {
        if (r->bootp[i] == 0) {
            i++;
            continue;
        }
        CU_ASSERT_FATAL(i + 2 <= r->len && i + 2 + r->bootp[i + 1] <= r->len);
        if (r->bootp[i] == code) {
            *len = r->bootp[i + 1];
            return r->bootp + i + 2;
        }
        i += 2u + r->bootp[i + 1];
    }
    CU_ASSERT_FATAL(i < r->len);
    return NULL;
}

static uint32_t opt32(const struct reply *r, uint8_t code)
{
    size_t len = 0;
    const uint8_t *v = find_opt(r, code, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL_FATAL(len, 4);
    return msb_get32(v);
}

static uint8_t msg_type(const struct reply *r)
{
    size_t len = 0;
    const uint8_t *v = find_opt(r, 53, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(len, 1);
    return v[0];
}

/* The configuration options every OFFER/ACK carries. */
static void check_config_options(const struct reply *r)
{
    CU_ASSERT_EQUAL(opt32(r, 54), msb_get32(gw4));
    CU_ASSERT_EQUAL(opt32(r, 1), 0xfffffffcu); /* /30 */
    CU_ASSERT_EQUAL(opt32(r, 3), msb_get32(gw4));
    CU_ASSERT_EQUAL(opt32(r, 6), msb_get32(gw4));
    size_t len = 0;
    const uint8_t *mtu = find_opt(r, 26, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mtu);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_EQUAL(msb_get16(mtu), 1500);
    CU_ASSERT_PTR_NULL(find_opt(r, 119, &len)); /* no domain search */
}

/* ---- tests ------------------------------------------------------------------- */

static void test_discover_offer(void)
{
    reset();
    struct msg m = message(1);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 2);
    CU_ASSERT_EQUAL(memcmp(r.bootp + 16, guest4, 4), 0); /* yiaddr */
    CU_ASSERT_EQUAL(memcmp(r.bootp + 12, any4, 4), 0);   /* ciaddr */
    CU_ASSERT_EQUAL(memcmp(r.bootp + 28, guest_mac, 6), 0);
    /* no broadcast flag: unicast to the offered address and the client MAC */
    CU_ASSERT_EQUAL(memcmp(r.p.dst_mac, guest_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst.b, guest4, 4), 0);
    CU_ASSERT_EQUAL(opt32(&r, 51), 86400);
    CU_ASSERT_EQUAL(opt32(&r, 58), 43200);
    CU_ASSERT_EQUAL(opt32(&r, 59), 75600);
    check_config_options(&r);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.discovers), 1);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.offers), 1);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

static void test_broadcast_flag(void)
{
    reset();
    struct msg m = message(1);
    m.broadcast_flag = true;
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst_mac, bcast_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst.b, bcast4, 4), 0);
    CU_ASSERT_EQUAL(msb_get16(r.bootp + 10), 0x8000); /* flags echoed */
}

static void test_request_ack(void)
{
    reset();
    struct msg m = message(3);
    opt(&m, 50, guest4, 4);
    opt(&m, 54, gw4, 4);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 5);
    CU_ASSERT_EQUAL(memcmp(r.bootp + 16, guest4, 4), 0);
    CU_ASSERT_EQUAL(opt32(&r, 51), 86400);
    check_config_options(&r);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.acks), 1);
    CU_ASSERT_EQUAL(total_drops(), 0);
}

/* INIT-REBOOT (no server id) with the guest's address is ACKed too. */
static void test_init_reboot_ack(void)
{
    reset();
    struct msg m = message(3);
    opt(&m, 50, guest4, 4);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 5);
}

static void test_request_wrong_address_nak(void)
{
    reset();
    struct msg m = message(3);
    m.broadcast_flag = false;
    opt(&m, 50, other4, 4);
    opt(&m, 54, gw4, 4);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 6);
    CU_ASSERT_EQUAL(memcmp(r.bootp + 16, any4, 4), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst_mac, bcast_mac, 6), 0); /* NAKs are broadcast */
    CU_ASSERT_EQUAL(memcmp(r.p.dst.b, bcast4, 4), 0);
    size_t len;
    CU_ASSERT_PTR_NULL(find_opt(&r, 51, &len));
    CU_ASSERT_PTR_NULL(find_opt(&r, 3, &len));
    CU_ASSERT_EQUAL(opt32(&r, 54), msb_get32(gw4));
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.naks), 1);

    /* neither option 50 nor ciaddr: nothing it may have */
    reset();
    m = message(3);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 6);
}

/* RFC 2131 §4.3.2: a REQUEST naming another server declines our offer. */
static void test_request_other_server_ignored(void)
{
    reset();
    struct msg m = message(3);
    opt(&m, 50, guest4, 4);
    opt(&m, 54, other4, 4);
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_IGNORED), 1);
    CU_ASSERT_EQUAL(total_drops(), 1);
}

/* RENEWING: unicast from the leased address to the server, ciaddr set. */
static void test_renew_unicast(void)
{
    reset();
    struct msg m = message(3);
    m.src = guest4;
    m.dst = gw4;
    m.ciaddr = guest4;
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 5);
    CU_ASSERT_EQUAL(memcmp(r.bootp + 12, guest4, 4), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst.b, guest4, 4), 0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst_mac, guest_mac, 6), 0);

    /* renewing another address: NAK */
    reset();
    m.src = guest4;
    m.ciaddr = other4;
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 6);
}

static void test_inform(void)
{
    reset();
    struct msg m = message(8);
    m.src = guest4;
    m.ciaddr = guest4;
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(msg_type(&r), 5);
    CU_ASSERT_EQUAL(memcmp(r.bootp + 16, any4, 4), 0);
    size_t len;
    CU_ASSERT_PTR_NULL(find_opt(&r, 51, &len)); /* no lease for INFORM */
    check_config_options(&r);
    CU_ASSERT_EQUAL(memcmp(r.p.dst.b, guest4, 4), 0);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.informs), 1);
}

static void test_decline_release_counted(void)
{
    reset();
    struct msg m = message(4);
    opt(&m, 50, guest4, 4);
    opt(&m, 54, gw4, 4);
    send_msg(&m);
    m = message(7);
    m.src = guest4;
    m.dst = gw4;
    m.ciaddr = guest4;
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.declines), 1);
    CU_ASSERT_EQUAL(msb_read(&net.metrics.dhcp.releases), 1);
    CU_ASSERT_EQUAL(total_drops(), 0);
    /* a server message type from a client */
    m = message(2);
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_IGNORED), 1);
}

static void test_lease_config(void)
{
    reset();
    net.cfg.dhcp_lease_s = 3600;
    env.addrs.prefix4 = 24;
    env.addrs.mtu = 9000;
    struct msg m = message(1);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(opt32(&r, 51), 3600);
    CU_ASSERT_EQUAL(opt32(&r, 58), 1800);
    CU_ASSERT_EQUAL(opt32(&r, 59), 3150);
    CU_ASSERT_EQUAL(opt32(&r, 1), 0xffffff00u);
    size_t len = 0;
    const uint8_t *mtu = find_opt(&r, 26, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mtu);
    CU_ASSERT_EQUAL(msb_get16(mtu), 9000);
}

/* One malformed message per case: nothing answered, each counted. */
static void test_malformed_dropped(void)
{
    for (int c = 0; c < 8; c++) {
        reset();
        struct msg m = message(1);
        bool bad_csum = false;
        switch (c) {
        case 0: m.op = 2; break;
        case 1: m.hlen = 8; break;
        case 2: m.cookie = 0x63825364u; break;
        case 3: m.optlen = 0; break; /* no message type */
        case 4: /* an option running past the end */
            m.opts[m.optlen++] = 12;
            m.opts[m.optlen++] = 40;
            m.opts[m.optlen++] = 'x';
            m.no_end = true;
            break;
        case 5: { /* message type of the wrong length */
            uint8_t two[2] = {1, 1};
            m.optlen = 0;
            opt(&m, 53, two, 2);
            break;
        }
        case 6: m.opts[2] = 9; break; /* unknown message type */
        default: bad_csum = true; break;
        }
        struct frame f;
        build(&f, &m, bad_csum);
        msb_dhcp4_input(&env, &f.p);
        CU_ASSERT_EQUAL(nout, 0);
        CU_ASSERT_EQUAL(drops(bad_csum ? MSB_DROP_L4_BAD_CHECKSUM : MSB_DROP_DHCP_MALFORMED), 1);
        CU_ASSERT_EQUAL(total_drops(), 1);
    }
}

/* Cut short of the fixed header and cookie; chaddr that is not the frame's
 * source; a source address the guest does not own. */
static void test_short_and_spoofed(void)
{
    reset();
    struct msg m = message(1);
    struct frame f;
    build(&f, &m, false);
    /* shrink the datagram to 200 bytes of BOOTP: fix lengths and checksums */
    uint8_t *ip = f.b + MSB_ETH_HLEN, *udp = ip + 20;
    msb_put16(ip + 2, 20 + 8 + 200);
    msb_put16(ip + 10, 0);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, 20)));
    msb_put16(udp + 4, 208);
    msb_put16(udp + 6, 0);
    struct msb_ip s, t;
    msb_ip_from_v4(&s, any4);
    msb_ip_from_v4(&t, bcast4);
    msb_put16(udp + 6, msb_csum_l4(&s, &t, MSB_IPPROTO_UDP, udp, 208));
    enum msb_drop_reason why;
    CU_ASSERT_FATAL(msb_pkt_parse(f.b, MSB_ETH_HLEN + 228, &f.p, &why));
    msb_dhcp4_input(&env, &f.p);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_MALFORMED), 1);

    reset();
    build(&f, &m, false);
    f.b[6 + 5] ^= 1; /* Ethernet source no longer chaddr */
    msb_dhcp4_input(&env, &f.p);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_MALFORMED), 1);

    reset();
    m.src = other4;
    send_msg(&m);
    CU_ASSERT_EQUAL(drops(MSB_DROP_IP_SPOOFED_SRC), 1);
    CU_ASSERT_EQUAL(nout, 0);
}

static void test_one_client(void)
{
    /* the guest's MAC is known: another client is not served */
    reset();
    struct msg m = message(1);
    m.mac = other_mac;
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_OTHER_CLIENT), 1);

    /* not yet known: the first client is bound and becomes the guest MAC */
    reset_with(true, false);
    send_msg(&m);
    CU_ASSERT_EQUAL_FATAL(nout, 1);
    struct reply r = reply_at(0);
    CU_ASSERT_EQUAL(memcmp(r.p.dst_mac, other_mac, 6), 0);
    CU_ASSERT(env.guest_mac_learned);
    CU_ASSERT_EQUAL(memcmp(env.addrs.guest_mac, other_mac, 6), 0);
    m.mac = guest_mac; /* the derived MAC is now someone else */
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 1);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_OTHER_CLIENT), 1);
}

static void test_inactive_and_off(void)
{
    reset_with(false, true);
    struct msg m = message(1);
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_IGNORED), 1);

    reset();
    net.cfg.dhcp4 = false;
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_IGNORED), 1);

    /* unicast to an address that is not the gateway: another server's */
    reset();
    m.dst = other4;
    send_msg(&m);
    CU_ASSERT_EQUAL(nout, 0);
    CU_ASSERT_EQUAL(drops(MSB_DROP_DHCP_IGNORED), 1);
    cleanup();
}

static void test_wants(void)
{
    reset();
    struct msg m = message(1);
    struct frame f;
    build(&f, &m, false);
    CU_ASSERT(msb_dhcp4_wants(&f.p));
    f.p.dport = 68;
    CU_ASSERT_FALSE(msb_dhcp4_wants(&f.p));
    f.p.dport = 67;
    f.p.sport = 1234;
    CU_ASSERT_FALSE(msb_dhcp4_wants(&f.p));
    f.p.sport = 68;
    f.p.l4_proto = MSB_IPPROTO_TCP;
    CU_ASSERT_FALSE(msb_dhcp4_wants(&f.p));
    cleanup();
}

int main(void)
{
    static const struct test_case tests[] = {
        {"DISCOVER -> OFFER with every option", test_discover_offer},
        {"broadcast flag -> broadcast reply", test_broadcast_flag},
        {"REQUEST (selecting) -> ACK", test_request_ack},
        {"REQUEST (init-reboot) -> ACK", test_init_reboot_ack},
        {"REQUEST for another address -> NAK", test_request_wrong_address_nak},
        {"REQUEST naming another server ignored", test_request_other_server_ignored},
        {"RENEW unicast -> unicast ACK / NAK", test_renew_unicast},
        {"INFORM -> ACK without lease", test_inform},
        {"DECLINE, RELEASE counted, server types ignored", test_decline_release_counted},
        {"lease, mask and MTU from config", test_lease_config},
        {"malformed messages dropped and counted", test_malformed_dropped},
        {"short, chaddr spoofed, source spoofed", test_short_and_spoofed},
        {"one client: bound MAC, others ignored", test_one_client},
        {"inactive gateway, dhcp4 off, other server", test_inactive_and_off},
        {"which packets are DHCP's", test_wants},
        {NULL, NULL},
    };
    return cunit_run("dhcp4", tests);
}
