/* SPDX-License-Identifier: Apache-2.0 */
/* Router advertisements (ndp_ra.h): rate-limited answers to solicitations,
 * and the unsolicited ones that follow once the guest has asked. */
#include "proto/ndp_ra.h"

#include <string.h>

#include "lib/csum.h"
#include "proto/l2.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#define ND_RS 133
#define ND_RA 134
#define RS_MIN_LEN 8
#define OPT_SLLA 1
#define OPT_PREFIX 3
#define OPT_MTU 5
#define OPT_RDNSS 25
#define RA_HDR_LEN 16
#define RA_LEN (RA_HDR_LEN + 8 + 8 + 32 + 24) /* SLLA, MTU, prefix, one RDNSS address */

#define IPV6_MIN_MTU 1280
#define CUR_HOP_LIMIT 64
/* RFC 4861 §6.2.1 defaults for a MaxRtrAdvInterval of 600 s: router
 * lifetime 3 x 600; RDNSS lifetime likewise (RFC 8106 §5.1 asks for at
 * least the interval).  The prefix is valid for a day and preferred for
 * four hours: the guest keeps its address across long pauses of the
 * sandbox, and a slot reused with another prefix ages out within a day. */
#define ROUTER_LIFETIME_S 1800
#define RDNSS_LIFETIME_S 1800
#define PREFIX_VALID_S 86400
#define PREFIX_PREFERRED_S 14400
#define PIO_ON_LINK 0x80
#define PIO_AUTONOMOUS 0x40

#define INITIAL_RAS 3
#define INITIAL_INTERVAL_MS 2000
#define MIN_INTERVAL_MS 200000u
#define JITTER_MS 400000u
#define RS_MIN_GAP_MS 1000

static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

static bool is_unspecified(const uint8_t *a)
{
    static const uint8_t zero[16];
    return memcmp(a, zero, 16) == 0;
}

/* RAs go out while the switch is on, the IPv6 gateway is set, and the
 * link carries IPv6 at all. */
static bool active(struct msb_env *e, struct msb_ip *gw)
{
    return e->cfg->ra && e->addrs.mtu >= IPV6_MIN_MTU &&
           msb_gateway_get(e->gw, MSB_FAMILY_V6, gw);
}

/* ---- the advertisement -------------------------------------------------- */

static void prefix_of(const struct msb_ip *a, uint8_t len, uint8_t out[16])
{
    memcpy(out, a->b, 16);
    for (unsigned bit = len; bit < 128; bit++)
        out[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

static uint8_t *put_header(uint8_t *o, uint8_t type, uint8_t len8)
{
    o[0] = type;
    o[1] = len8;
    return o + 2;
}

static void write_options(struct msb_env *e, const struct msb_ip *gw, uint8_t *o)
{
    memcpy(put_header(o, OPT_SLLA, 1), e->addrs.gateway_mac, 6);
    o += 8;
    msb_put32(put_header(o, OPT_MTU, 1) + 2, e->addrs.mtu);
    o += 8;
    uint8_t *v = put_header(o, OPT_PREFIX, 4);
    v[0] = e->addrs.prefix6;
    /* SLAAC needs exactly a /64 (RFC 4862 §5.5.3). */
    v[1] = PIO_ON_LINK | (e->addrs.prefix6 == 64 ? PIO_AUTONOMOUS : 0);
    msb_put32(v + 2, PREFIX_VALID_S);
    msb_put32(v + 6, PREFIX_PREFERRED_S);
    prefix_of(&e->addrs.guest6, e->addrs.prefix6, v + 14);
    o += 32;
    v = put_header(o, OPT_RDNSS, 3);
    msb_put32(v + 2, RDNSS_LIFETIME_S);
    memcpy(v + 6, gw->b, 16);
}

static void send_ra(struct msb_env *e, const struct msb_ip *gw, const uint8_t dst[16],
                    const uint8_t dst_mac[6])
{
    struct msb_frame *f = msb_env_ip_frame(e, 6, MSB_IPV6_HLEN + RA_LEN);
    if (!f)
        return;
    memcpy(f->data, dst_mac, 6);
    struct msb_ip src, to;
    msb_ipv6_link_local(e->addrs.gateway_mac, &src);
    msb_ip_from_v6(&to, dst);
    uint8_t *ip = f->data + MSB_ETH_HLEN, *ra = ip + MSB_IPV6_HLEN;
    /* RFC 4861 §6.1.2: hosts take RAs only from a link-local source with
     * hop limit 255 (proof it was not forwarded). */
    msb_ip6_write(ip, RA_LEN, 255, MSB_IPPROTO_ICMPV6, src.b, dst);
    memset(ra, 0, RA_LEN);
    ra[0] = ND_RA;
    ra[4] = CUR_HOP_LIMIT;
    ra[5] = 0; /* M=0 O=0: addresses by SLAAC, DNS by RDNSS */
    msb_put16(ra + 6, ROUTER_LIFETIME_S);
    write_options(e, gw, ra + RA_HDR_LEN);
    msb_put16(ra + 2, msb_csum_l4(&src, &to, MSB_IPPROTO_ICMPV6, ra, RA_LEN));
    msb_env_emit(e, f);
}

/* ---- solicitations ------------------------------------------------------ */

/* RFC 4861 §6.1.1: hop limit 255, code 0, options of non-zero length
 * inside the message, no source link-layer option from ::. */
static bool rs_valid(const struct msb_pkt *p, bool from_unspecified)
{
    if (p->l3[7] != 255 || p->l4[1] != 0 || p->l4_len < RS_MIN_LEN)
        return false;
    return msb_nd_options_ok(p, RS_MIN_LEN, from_unspecified);
}

static bool is_rs(const struct msb_pkt *p)
{
    return p->ip_version == 6 && p->l4_proto == MSB_IPPROTO_ICMPV6 && p->l4_hdr_len >= 8 &&
           p->l4[0] == ND_RS;
}

static void answer(struct msb_env *e, const struct msb_pkt *p, bool from_unspecified,
                   uint64_t now_ms)
{
    struct msb_metrics *m = e->metrics;
    struct msb_ra_state *st = &e->ra;
    struct msb_ip gw;
    if (!active(e, &gw)) {
        msb_drop(m, MSB_DROP_NDP_IGNORED);
        return;
    }
    if (st->answered_once && now_ms - st->last_solicited_ms < RS_MIN_GAP_MS) {
        msb_drop(m, MSB_DROP_RA_RATE_LIMITED);
        return;
    }
    st->answered_once = true;
    st->last_solicited_ms = now_ms;
    /* Unicast to the solicitor; from :: it has no address yet. */
    if (from_unspecified)
        send_ra(e, &gw, all_nodes, all_nodes_mac);
    else
        send_ra(e, &gw, p->src.b, e->addrs.guest_mac);
    msb_count(&m->ra.sent_solicited, 1);
}

bool msb_ra_handle(struct msb_env *e, const struct msb_pkt *p, uint64_t now_ms)
{
    if (!is_rs(p))
        return false;
    struct msb_metrics *m = e->metrics;
    bool from_unspecified = is_unspecified(p->src.b);
    if (!rs_valid(p, from_unspecified)) {
        msb_drop(m, MSB_DROP_NDP_MALFORMED);
    } else if (!msb_pkt_l4_checksum_ok(p)) {
        msb_drop(m, MSB_DROP_L4_BAD_CHECKSUM);
    } else {
        msb_count(&m->ra.solicitations, 1);
        /* A guest that asks wants RAs: from now on it gets them unasked
         * too (and a burst as soon as the gateway becomes active). */
        e->ra.solicited = true;
        answer(e, p, from_unspecified, now_ms);
    }
    return true;
}

/* ---- unsolicited -------------------------------------------------------- */

/* RFC 4861 §6.2.4 wants the interval randomised; a multiplicative hash
 * of the clock is random enough for one guest. */
static uint64_t next_interval(uint64_t now_ms)
{
    return MIN_INTERVAL_MS + (uint64_t)((now_ms * 2654435761u) >> 7) % JITTER_MS;
}

void msb_ra_tick(struct msb_env *e, uint64_t now_ms)
{
    struct msb_ra_state *st = &e->ra;
    struct msb_ip gw;
    if (!st->solicited || !active(e, &gw))
        return;
    /* The burst starts when the gateway becomes active, which may be long
     * after start (a controller's SetGateways). */
    if (!st->started) {
        st->started = true;
        st->initial_left = INITIAL_RAS;
        st->next_ms = now_ms;
    }
    if (now_ms < st->next_ms)
        return;
    send_ra(e, &gw, all_nodes, all_nodes_mac);
    msb_count(&e->metrics->ra.sent_periodic, 1);
    if (st->initial_left > 0)
        st->initial_left--;
    st->next_ms = now_ms + (st->initial_left ? INITIAL_INTERVAL_MS : next_interval(now_ms));
}
