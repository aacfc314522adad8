/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's link layer (l2.h): ARP requests and neighbour solicitations
 * answered only for the gateway addresses. */
#include "proto/l2.h"

#include <string.h>

#include "lib/csum.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#define ND_NS 135
#define ND_NA 136
#define ND_NS_MIN_LEN 24 /* type..checksum, reserved, target */
#define ND_OPT_TLLA 2
#define ND_NA_FLAGS 0xe0000000u /* Router | Solicited | Override */
#define NA_LEN (24 + 8)          /* the advertisement + one TLLA option */

/* ---- ARP -------------------------------------------------------------- */

static bool is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void arp_reply(struct msb_env *e, const struct msb_pkt *p, const struct msb_ip *gw)
{
    const uint8_t *req = p->l3;
    struct msb_frame *f = msb_frame_alloc(MSB_ETH_HLEN + MSB_ARP_LEN);
    if (!f) {
        /* The guest's request is what gets lost; it will ask again. */
        msb_drop(e->metrics, MSB_DROP_RX_NO_MEMORY);
        return;
    }
    /* Ethernet dst is the frame's source, which the stack has verified to
     * be the guest; the ARP body answers the sender it names. */
    msb_eth_write(f->data, p->src_mac, e->addrs.gateway_mac, MSB_ETHERTYPE_ARP);
    uint8_t *a = f->data + MSB_ETH_HLEN;
    msb_put16(a, 1);
    msb_put16(a + 2, MSB_ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    msb_put16(a + 6, ARP_OP_REPLY);
    memcpy(a + 8, e->addrs.gateway_mac, 6);
    memcpy(a + 14, gw->b, 4);
    memcpy(a + 18, req + 8, 6);
    memcpy(a + 24, req + 14, 4);
    msb_env_emit(e, f);
}

/* Answers only a real question about the gateway: not replies, not
 * announcements (gratuitous: sender = target) nor probes (sender 0.0.0.0),
 * whose answers would tell the guest its own address is taken. */
static void arp_handle(struct msb_env *e, const struct msb_pkt *p)
{
    const uint8_t *a = p->l3;
    const uint8_t *spa = a + 14, *tpa = a + 24;
    struct msb_ip gw;
    if (msb_get16(a + 6) != ARP_OP_REQUEST || !msb_gateway_get(e->gw, MSB_FAMILY_V4, &gw) ||
        is_zero(spa, 4) || memcmp(spa, tpa, 4) == 0 || memcmp(tpa, gw.b, 4) != 0) {
        msb_drop(e->metrics, MSB_DROP_ARP_IGNORED);
        return;
    }
    arp_reply(e, p, &gw);
}

/* ---- NDP -------------------------------------------------------------- */

void msb_ipv6_link_local(const uint8_t mac[6], struct msb_ip *out)
{
    uint8_t b[16] = {0xfe, 0x80};
    b[8] = mac[0] ^ 0x02; /* the universal/local bit, inverted */
    b[9] = mac[1];
    b[10] = mac[2];
    b[11] = 0xff;
    b[12] = 0xfe;
    b[13] = mac[3];
    b[14] = mac[4];
    b[15] = mac[5];
    msb_ip_from_v6(out, b);
}

/* RFC 4861 §7.1.1 (and §6.1.1 for solicitations to routers): options are
 * walked only to check that none has length 0 or runs past the message; a
 * source link-layer option is also refused from ::, where it has no
 * meaning. */
bool msb_nd_options_ok(const struct msb_pkt *p, size_t off, bool from_unspecified)
{
    while (off < p->l4_len) {
        if (p->l4_len - off < 2)
            return false;
        size_t olen = (size_t)p->l4[off + 1] * 8;
        if (olen == 0 || olen > p->l4_len - off)
            return false;
        if (from_unspecified && p->l4[off] == 1)
            return false;
        off += olen;
    }
    return true;
}

static bool ns_valid(const struct msb_pkt *p, bool from_unspecified)
{
    return p->l3[7] == 255 && p->l4[1] == 0 && p->l4_len >= ND_NS_MIN_LEN &&
           p->l4[8] != 0xff /* target multicast */ && msb_nd_options_ok(p, ND_NS_MIN_LEN, from_unspecified);
}

static bool ns_for_gateway(struct msb_env *e, const uint8_t *target)
{
    struct msb_ip gw, ll;
    if (!msb_gateway_get(e->gw, MSB_FAMILY_V6, &gw))
        return false;
    msb_ipv6_link_local(e->addrs.gateway_mac, &ll);
    return memcmp(target, gw.b, 16) == 0 || memcmp(target, ll.b, 16) == 0;
}

static void na_send(struct msb_env *e, const struct msb_pkt *p, const uint8_t *target)
{
    struct msb_frame *f = msb_env_ip_frame(e, 6, MSB_IPV6_HLEN + NA_LEN);
    if (!f)
        return;
    uint8_t *ip = f->data + MSB_ETH_HLEN;
    /* RFC 4861: receivers drop NDP with any hop limit but 255. */
    msb_ip6_write(ip, NA_LEN, 255, MSB_IPPROTO_ICMPV6, target, p->src.b);
    uint8_t *na = ip + MSB_IPV6_HLEN;
    memset(na, 0, NA_LEN);
    na[0] = ND_NA;
    msb_put32(na + 4, ND_NA_FLAGS);
    memcpy(na + 8, target, 16);
    na[24] = ND_OPT_TLLA;
    na[25] = 1;
    memcpy(na + 26, e->addrs.gateway_mac, 6);
    struct msb_ip src, dst;
    msb_ip_from_v6(&src, target);
    msb_ip_from_v6(&dst, p->src.b);
    msb_put16(na + 2, msb_csum_l4(&src, &dst, MSB_IPPROTO_ICMPV6, na, NA_LEN));
    msb_env_emit(e, f);
}

static void ns_handle(struct msb_env *e, const struct msb_pkt *p)
{
    struct msb_metrics *m = e->metrics;
    bool from_unspecified = is_zero(p->src.b, 16);
    if (!ns_valid(p, from_unspecified)) {
        msb_drop(m, MSB_DROP_NDP_MALFORMED);
        return;
    }
    if (!msb_pkt_l4_checksum_ok(p)) {
        msb_drop(m, MSB_DROP_L4_BAD_CHECKSUM);
        return;
    }
    /* From ::, the guest is checking its own tentative address (DAD): any
     * answer would make it give the address up. */
    if (from_unspecified || !ns_for_gateway(e, p->l4 + 8)) {
        msb_drop(m, MSB_DROP_NDP_IGNORED);
        return;
    }
    na_send(e, p, p->l4 + 8);
}

static bool is_ns(const struct msb_pkt *p)
{
    return p->ip_version == 6 && p->l4_proto == MSB_IPPROTO_ICMPV6 && p->l4_hdr_len >= 8 &&
           p->l4[0] == ND_NS;
}

bool msb_l2_handle(struct msb_env *e, const struct msb_pkt *p)
{
    if (p->ethertype == MSB_ETHERTYPE_ARP && p->l3 && p->l3_len >= MSB_ARP_LEN) {
        arp_handle(e, p);
        return true;
    }
    if (is_ns(p)) {
        ns_handle(e, p);
        return true;
    }
    return false;
}
