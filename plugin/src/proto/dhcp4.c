/* SPDX-License-Identifier: Apache-2.0 */
/* The stateless DHCPv4 server (dhcp4.h): the client's message parsed
 * strictly, replies built from the fixed addressing and addressed as
 * RFC 2131 says. */
#include "proto/dhcp4.h"

#include <string.h>

#include "lib/csum.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#define BOOTP_CHADDR 28
#define BOOTP_COOKIE 236
#define BOOTP_OPTIONS 240
#define BOOTP_MIN_LEN 300 /* RFC 1542 §2.1: older clients drop shorter replies */
#define DHCP_COOKIE 0x63825363u
#define BOOTP_BROADCAST 0x8000u
#define REPLY_OPTIONS_MAX 64
#define TTL_DEFAULT 64

enum { OP_REQUEST = 1, OP_REPLY = 2, HTYPE_ETHER = 1 };

enum {
    DHCP_DISCOVER = 1,
    DHCP_OFFER,
    DHCP_REQUEST,
    DHCP_DECLINE,
    DHCP_ACK,
    DHCP_NAK,
    DHCP_RELEASE,
    DHCP_INFORM,
};

enum {
    OPT_PAD = 0,
    OPT_SUBNET_MASK = 1,
    OPT_ROUTER = 3,
    OPT_DNS = 6,
    OPT_MTU = 26,
    OPT_REQUESTED_IP = 50,
    OPT_LEASE_TIME = 51,
    OPT_MSG_TYPE = 53,
    OPT_SERVER_ID = 54,
    OPT_T1 = 58,
    OPT_T2 = 59,
    OPT_END = 255,
};

static const uint8_t any4[4] = {0, 0, 0, 0};
static const uint8_t bcast4[4] = {255, 255, 255, 255};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* What the server reads from a client message: the fixed header in msg,
 * and the three options it acts on. */
struct dhcp_req {
    const uint8_t *msg;
    uint8_t type;
    bool has_requested, has_server;
    uint8_t requested[4], server[4];
};

bool msb_dhcp4_wants(const struct msb_pkt *p)
{
    return p->ip_version == 4 && p->l4_proto == MSB_IPPROTO_UDP && p->l4_hdr_len == MSB_UDP_HLEN &&
           p->sport == MSB_DHCP_CLIENT_PORT && p->dport == MSB_DHCP_SERVER_PORT;
}

/* ---- parsing ------------------------------------------------------------ */

/* A 4-byte address option; the first occurrence counts. */
static bool take_addr(const uint8_t *v, size_t len, bool *has, uint8_t out[4])
{
    if (len != 4)
        return false;
    if (!*has)
        memcpy(out, v, 4);
    *has = true;
    return true;
}

/* Walks the options strictly: every option's length must stay inside the
 * message; END stops the walk (bytes after it are padding).  One message
 * type, 1..8, is required. */
static bool parse_options(const uint8_t *o, size_t n, struct dhcp_req *r)
{
    size_t i = 0;
    while (i < n && o[i] != OPT_END) {
        if (o[i] == OPT_PAD) {
            i++;
            continue;
        }
        if (n - i < 2 || o[i + 1] > n - i - 2)
            return false;
        const uint8_t *v = o + i + 2;
        size_t len = o[i + 1];
        bool ok = true;
        if (o[i] == OPT_MSG_TYPE)
            ok = len == 1 && r->type == 0 && (r->type = v[0]) != 0;
        else if (o[i] == OPT_REQUESTED_IP)
            ok = take_addr(v, len, &r->has_requested, r->requested);
        else if (o[i] == OPT_SERVER_ID)
            ok = take_addr(v, len, &r->has_server, r->server);
        if (!ok)
            return false;
        i += 2 + len;
    }
    return r->type >= DHCP_DISCOVER && r->type <= DHCP_INFORM;
}

/* BOOTREQUEST over Ethernet (htype 1, hlen 6) with the magic cookie, whose
 * chaddr is the frame's own source: a client asking for another MAC is
 * not the guest. */
static bool parse(const struct msb_pkt *p, struct dhcp_req *r)
{
    const uint8_t *m = p->l4 + MSB_UDP_HLEN;
    size_t n = p->l4_len - MSB_UDP_HLEN;
    memset(r, 0, sizeof *r);
    if (n < BOOTP_OPTIONS || m[0] != OP_REQUEST || m[1] != HTYPE_ETHER || m[2] != 6 ||
        msb_get32(m + BOOTP_COOKIE) != DHCP_COOKIE)
        return false;
    if (memcmp(m + BOOTP_CHADDR, p->src_mac, 6) != 0 || (p->src_mac[0] & 1))
        return false;
    r->msg = m;
    return parse_options(m + BOOTP_OPTIONS, n - BOOTP_OPTIONS, r);
}

/* ---- replies ------------------------------------------------------------ */

struct reply {
    uint8_t type;
    uint8_t yiaddr[4];
    bool with_lease; /* OFFER/ACK of the lease; not INFORM's ACK nor NAK */
};

static size_t put_opt(uint8_t *o, size_t at, uint8_t code, const void *v, uint8_t len)
{
    o[at] = code;
    o[at + 1] = len;
    memcpy(o + at + 2, v, len);
    return at + 2 + len;
}

static size_t put_opt32(uint8_t *o, size_t at, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    msb_put32(b, v);
    return put_opt(o, at, code, b, 4);
}

static uint32_t netmask(uint8_t prefix)
{
    return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~0u << (32 - prefix);
}

/* The options of a reply; returns their length (END included). */
static size_t reply_options(struct msb_env *e, const struct reply *rep, const uint8_t gw[4],
                            uint8_t *o)
{
    size_t at = put_opt(o, 0, OPT_MSG_TYPE, &rep->type, 1);
    at = put_opt(o, at, OPT_SERVER_ID, gw, 4);
    if (rep->type != DHCP_NAK) {
        uint32_t lease = e->cfg->dhcp_lease_s;
        if (rep->with_lease) {
            at = put_opt32(o, at, OPT_LEASE_TIME, lease);
            at = put_opt32(o, at, OPT_T1, lease / 2);
            at = put_opt32(o, at, OPT_T2, (uint32_t)((uint64_t)lease * 7 / 8));
        }
        at = put_opt32(o, at, OPT_SUBNET_MASK, netmask(e->addrs.prefix4));
        at = put_opt(o, at, OPT_ROUTER, gw, 4);
        at = put_opt(o, at, OPT_DNS, gw, 4);
        uint8_t mtu[2];
        msb_put16(mtu, (uint16_t)e->addrs.mtu);
        at = put_opt(o, at, OPT_MTU, mtu, 2);
    }
    o[at++] = OPT_END;
    return at;
}

/* RFC 2131 §4.1: NAKs are broadcast; a client with an address (ciaddr)
 * gets unicast there; one without gets broadcast if it asked for it, else
 * unicast to its MAC and the offered address. */
static void reply_dst(const struct dhcp_req *r, const struct reply *rep, uint8_t ip[4],
                      const uint8_t **mac)
{
    const uint8_t *ciaddr = r->msg + 12;
    bool wants_bcast = msb_get16(r->msg + 10) & BOOTP_BROADCAST;
    if (rep->type != DHCP_NAK && memcmp(ciaddr, any4, 4) != 0)
        memcpy(ip, ciaddr, 4);
    else if (rep->type != DHCP_NAK && !wants_bcast && memcmp(rep->yiaddr, any4, 4) != 0)
        memcpy(ip, rep->yiaddr, 4);
    else
        memcpy(ip, bcast4, 4);
    *mac = memcmp(ip, bcast4, 4) == 0 ? bcast_mac : r->msg + BOOTP_CHADDR;
}

/* The BOOTREPLY body: the request's xid, flags, ciaddr, giaddr and chaddr,
 * our yiaddr, the options, zero padding up to the BOOTP minimum. */
static size_t write_bootp(struct msb_env *e, const struct dhcp_req *r, const struct reply *rep,
                          const uint8_t gw[4], uint8_t *b)
{
    uint8_t opts[REPLY_OPTIONS_MAX];
    size_t olen = reply_options(e, rep, gw, opts);
    size_t len = BOOTP_OPTIONS + olen < BOOTP_MIN_LEN ? BOOTP_MIN_LEN : BOOTP_OPTIONS + olen;
    memset(b, 0, len);
    b[0] = OP_REPLY;
    b[1] = HTYPE_ETHER;
    b[2] = 6;
    memcpy(b + 4, r->msg + 4, 4);   /* xid */
    memcpy(b + 10, r->msg + 10, 2); /* flags */
    if (rep->type != DHCP_NAK)
        memcpy(b + 12, r->msg + 12, 4); /* ciaddr */
    memcpy(b + 16, rep->yiaddr, 4);
    memcpy(b + 24, r->msg + 24, 4);               /* giaddr */
    memcpy(b + BOOTP_CHADDR, r->msg + BOOTP_CHADDR, 16);
    msb_put32(b + BOOTP_COOKIE, DHCP_COOKIE);
    memcpy(b + BOOTP_OPTIONS, opts, olen);
    return len;
}

static void send_reply(struct msb_env *e, const struct dhcp_req *r, const struct reply *rep,
                       const uint8_t gw[4])
{
    uint8_t body[BOOTP_OPTIONS + REPLY_OPTIONS_MAX + BOOTP_MIN_LEN];
    size_t blen = write_bootp(e, r, rep, gw, body);
    struct msb_frame *f = msb_env_ip_frame(e, 4, MSB_IPV4_HLEN + MSB_UDP_HLEN + blen);
    if (!f)
        return;
    uint8_t dst[4];
    const uint8_t *dst_mac;
    reply_dst(r, rep, dst, &dst_mac);
    memcpy(f->data, dst_mac, 6);
    uint8_t *ip = f->data + MSB_ETH_HLEN, *udp = ip + MSB_IPV4_HLEN;
    msb_ip4_write(ip, MSB_IPV4_HLEN + MSB_UDP_HLEN + blen, 0, 0, TTL_DEFAULT, MSB_IPPROTO_UDP, gw,
                  dst);
    msb_put16(udp, MSB_DHCP_SERVER_PORT);
    msb_put16(udp + 2, MSB_DHCP_CLIENT_PORT);
    msb_put16(udp + 4, (uint16_t)(MSB_UDP_HLEN + blen));
    msb_put16(udp + 6, 0);
    memcpy(udp + MSB_UDP_HLEN, body, blen);
    struct msb_ip src_ip, dst_ip;
    msb_ip_from_v4(&src_ip, gw);
    msb_ip_from_v4(&dst_ip, dst);
    msb_put16(udp + 6, msb_csum_l4(&src_ip, &dst_ip, MSB_IPPROTO_UDP, udp, MSB_UDP_HLEN + blen));
    struct msb_dhcp_metrics *m = &e->metrics->dhcp;
    msb_count(rep->type == DHCP_OFFER ? &m->offers : rep->type == DHCP_ACK ? &m->acks : &m->naks,
              1);
    msb_env_emit(e, f);
}

/* ---- the server --------------------------------------------------------- */

/* The one client: the guest's MAC, or the first client's while the stack
 * has not seen the guest yet (a VMM may give the guest any MAC). */
static bool client_ok(struct msb_env *e, const uint8_t *mac)
{
    if (memcmp(mac, e->addrs.guest_mac, 6) == 0) {
        e->guest_mac_learned = true;
        return true;
    }
    if (e->guest_mac_learned)
        return false;
    memcpy(e->addrs.guest_mac, mac, 6);
    e->guest_mac_learned = true;
    return true;
}

/* A REQUEST names the lease it wants by option 50 (SELECTING, INIT-REBOOT)
 * or by ciaddr (RENEWING, REBINDING); anything but the guest address is
 * NAKed so the client starts over with a DISCOVER. */
static void on_request(struct msb_env *e, const struct dhcp_req *r, const uint8_t gw[4])
{
    msb_count(&e->metrics->dhcp.requests, 1);
    /* RFC 2131 §4.3.2: a REQUEST naming another server tells us our offer
     * was declined; it is not ours to answer. */
    if (r->has_server && memcmp(r->server, gw, 4) != 0) {
        msb_drop(e->metrics, MSB_DROP_DHCP_IGNORED);
        return;
    }
    const uint8_t *want = r->has_requested ? r->requested : r->msg + 12;
    bool ours = memcmp(want, e->addrs.guest4.b, 4) == 0;
    struct reply rep = {.type = ours ? DHCP_ACK : DHCP_NAK, .with_lease = ours};
    if (ours)
        memcpy(rep.yiaddr, e->addrs.guest4.b, 4);
    send_reply(e, r, &rep, gw);
}

static void serve(struct msb_env *e, const struct dhcp_req *r, const uint8_t gw[4])
{
    struct msb_dhcp_metrics *m = &e->metrics->dhcp;
    struct reply rep = {.type = DHCP_OFFER, .with_lease = true};
    switch (r->type) {
    case DHCP_DISCOVER:
        msb_count(&m->discovers, 1);
        memcpy(rep.yiaddr, e->addrs.guest4.b, 4);
        send_reply(e, r, &rep, gw);
        return;
    case DHCP_REQUEST:
        on_request(e, r, gw);
        return;
    case DHCP_INFORM:
        /* RFC 2131 §3.4: the options only, no lease, no yiaddr. */
        msb_count(&m->informs, 1);
        rep.type = DHCP_ACK;
        rep.with_lease = false;
        send_reply(e, r, &rep, gw);
        return;
    case DHCP_DECLINE:
        /* The guest found its address in use: nobody else can hold it on
         * this link, and there is no other address to give. */
        msb_count(&m->declines, 1);
        return;
    case DHCP_RELEASE:
        msb_count(&m->releases, 1);
        return;
    default:
        msb_drop(e->metrics, MSB_DROP_DHCP_IGNORED);
        return;
    }
}

/* Addresses a client may use: from 0.0.0.0 (no lease yet) or the guest
 * address, to the broadcast address or the gateway (renewal). */
static enum msb_drop_reason check_ip(struct msb_env *e, const struct msb_pkt *p,
                                     const uint8_t gw[4])
{
    if (memcmp(p->src.b, any4, 4) != 0 && !msb_ip_equal(&p->src, &e->addrs.guest4))
        return MSB_DROP_IP_SPOOFED_SRC;
    if (memcmp(p->dst.b, bcast4, 4) != 0 && memcmp(p->dst.b, gw, 4) != 0)
        return MSB_DROP_DHCP_IGNORED;
    if (!msb_pkt_l4_checksum_ok(p))
        return MSB_DROP_L4_BAD_CHECKSUM;
    return MSB_DROP__COUNT;
}

void msb_dhcp4_input(struct msb_env *e, const struct msb_pkt *p)
{
    struct msb_metrics *m = e->metrics;
    struct msb_ip gw;
    if (!e->cfg->dhcp4 || !msb_gateway_get(e->gw, MSB_FAMILY_V4, &gw)) {
        msb_drop(m, MSB_DROP_DHCP_IGNORED);
        return;
    }
    enum msb_drop_reason why = check_ip(e, p, gw.b);
    if (why != MSB_DROP__COUNT) {
        msb_drop(m, why);
        return;
    }
    struct dhcp_req r;
    if (!parse(p, &r)) {
        msb_drop(m, MSB_DROP_DHCP_MALFORMED);
        return;
    }
    if (!client_ok(e, p->src_mac)) {
        msb_drop(m, MSB_DROP_DHCP_OTHER_CLIENT);
        return;
    }
    serve(e, &r, gw.b);
}
