/* SPDX-License-Identifier: Apache-2.0 */
/* Guest frame parsing (pkt.h): each header is checked against the bytes
 * present before it is read, and the first failure names the drop reason. */
#include "lib/pkt.h"

#include <string.h>

#include "lib/csum.h"


static bool fail(enum msb_drop_reason *why, enum msb_drop_reason r)
{
    *why = r;
    return false;
}

static bool parse_tcp(struct msb_pkt *p, enum msb_drop_reason *why)
{
    if (p->l4_len < MSB_TCP_HLEN)
        return fail(why, MSB_DROP_L4_MALFORMED);
    size_t doff = (size_t)(p->l4[12] >> 4) * 4;
    if (doff < MSB_TCP_HLEN || doff > p->l4_len)
        return fail(why, MSB_DROP_L4_MALFORMED);
    p->l4_hdr_len = doff;
    p->sport = msb_get16(p->l4);
    p->dport = msb_get16(p->l4 + 2);
    p->tcp_flags = p->l4[13];
    return true;
}

/* The UDP length must match the IP payload exactly: a datagram that
 * claims less than the packet carries hides bytes nobody would check. */
static bool parse_udp(struct msb_pkt *p, enum msb_drop_reason *why)
{
    if (p->l4_len < MSB_UDP_HLEN || msb_get16(p->l4 + 4) != p->l4_len)
        return fail(why, MSB_DROP_L4_MALFORMED);
    p->l4_hdr_len = MSB_UDP_HLEN;
    p->sport = msb_get16(p->l4);
    p->dport = msb_get16(p->l4 + 2);
    return true;
}

static bool parse_icmp(struct msb_pkt *p, enum msb_drop_reason *why)
{
    if (p->l4_len < MSB_ICMP_HLEN)
        return fail(why, MSB_DROP_L4_MALFORMED);
    p->l4_hdr_len = MSB_ICMP_HLEN;
    return true;
}

static bool parse_l4(struct msb_pkt *p, enum msb_drop_reason *why)
{
    p->l4 = p->l3 + p->l3_hdr_len;
    p->l4_len = p->l3_len - p->l3_hdr_len;
    switch (p->l4_proto) {
    case MSB_IPPROTO_TCP:
        return parse_tcp(p, why);
    case MSB_IPPROTO_UDP:
        return parse_udp(p, why);
    case MSB_IPPROTO_ICMP:
        /* ICMP belongs to v4, ICMPv6 to v6; the other pairing is just an
         * unknown protocol for the stack to refuse. */
        return p->ip_version == 4 ? parse_icmp(p, why) : true;
    case MSB_IPPROTO_ICMPV6:
        return p->ip_version == 6 ? parse_icmp(p, why) : true;
    default:
        return true;
    }
}

/* Only Ethernet/IPv4 ARP exists on this link; anything else is noise. */
static bool parse_arp(struct msb_pkt *p, uint8_t *body, size_t avail, enum msb_drop_reason *why)
{
    if (avail < MSB_ARP_LEN)
        return fail(why, MSB_DROP_ARP_MALFORMED);
    if (msb_get16(body) != 1 || msb_get16(body + 2) != MSB_ETHERTYPE_IPV4 || body[4] != 6 ||
        body[5] != 4)
        return fail(why, MSB_DROP_ARP_MALFORMED);
    p->l3 = body;
    p->l3_len = MSB_ARP_LEN;
    p->l3_hdr_len = MSB_ARP_LEN;
    return true;
}

/* A frame cut short of what its headers claim is ETH_SHORT; headers whose
 * fields contradict each other are IP_MALFORMED. */
/* The IP-level fields both families fill once their header checks pass. */
static void set_l3(struct msb_pkt *p, uint8_t *ip, size_t total, size_t hlen, uint8_t version,
                   uint8_t proto)
{
    p->l3 = ip;
    p->l3_len = total;
    p->l3_hdr_len = hlen;
    p->ip_version = version;
    p->l4_proto = proto;
}

static bool parse_ipv4(struct msb_pkt *p, uint8_t *ip, size_t avail, enum msb_drop_reason *why)
{
    if (avail < MSB_IPV4_HLEN)
        return fail(why, MSB_DROP_ETH_SHORT);
    if (ip[0] >> 4 != 4 || (ip[0] & 0x0f) < 5)
        return fail(why, MSB_DROP_IP_MALFORMED);
    size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
    if (hlen > avail)
        return fail(why, MSB_DROP_ETH_SHORT);
    size_t total = msb_get16(ip + 2);
    if (total < hlen)
        return fail(why, MSB_DROP_IP_MALFORMED);
    if (total > avail)
        return fail(why, MSB_DROP_ETH_SHORT);
    if (msb_csum_finish(msb_csum_add(0, ip, hlen)) != 0)
        return fail(why, MSB_DROP_IP_BAD_CHECKSUM);
    /* MF set or a non-zero offset: we do not reassemble. */
    if (msb_get16(ip + 6) & 0x3fff)
        return fail(why, MSB_DROP_IP_FRAGMENT);
    set_l3(p, ip, total, hlen, 4, ip[9]);
    msb_ip_from_v4(&p->src, ip + 12);
    msb_ip_from_v4(&p->dst, ip + 16);
    return parse_l4(p, why);
}

static bool ipv6_next_ok(uint8_t nh)
{
    return nh == MSB_IPPROTO_TCP || nh == MSB_IPPROTO_UDP || nh == MSB_IPPROTO_ICMPV6;
}

static bool parse_ipv6(struct msb_pkt *p, uint8_t *ip, size_t avail, enum msb_drop_reason *why)
{
    if (avail < MSB_IPV6_HLEN)
        return fail(why, MSB_DROP_ETH_SHORT);
    if (ip[0] >> 4 != 6)
        return fail(why, MSB_DROP_IP_MALFORMED);
    size_t total = MSB_IPV6_HLEN + (size_t)msb_get16(ip + 4);
    if (total > avail)
        return fail(why, MSB_DROP_ETH_SHORT);
    /* Extension headers (hop-by-hop, routing, fragment, ...) are refused
     * rather than walked: a guest needs none of them to talk to us. */
    if (!ipv6_next_ok(ip[6]))
        return fail(why, MSB_DROP_IPV6_EXT_HEADER);
    set_l3(p, ip, total, MSB_IPV6_HLEN, 6, ip[6]);
    msb_ip_from_v6(&p->src, ip + 8);
    msb_ip_from_v6(&p->dst, ip + 24);
    return parse_l4(p, why);
}

bool msb_pkt_parse(uint8_t *frame, size_t len, struct msb_pkt *p, enum msb_drop_reason *why)
{
    memset(p, 0, sizeof *p);
    p->frame = frame;
    p->frame_len = len;
    if (len < MSB_ETH_HLEN)
        return fail(why, MSB_DROP_ETH_SHORT);
    p->dst_mac = frame;
    p->src_mac = frame + 6;
    p->ethertype = msb_get16(frame + 12);
    uint8_t *l3 = frame + MSB_ETH_HLEN;
    size_t avail = len - MSB_ETH_HLEN;
    switch (p->ethertype) {
    case MSB_ETHERTYPE_ARP:
        return parse_arp(p, l3, avail, why);
    case MSB_ETHERTYPE_IPV4:
        return parse_ipv4(p, l3, avail, why);
    case MSB_ETHERTYPE_IPV6:
        return parse_ipv6(p, l3, avail, why);
    default:
        /* VLAN tags (0x8100, 0x88a8) included: the guest's link is untagged. */
        return fail(why, MSB_DROP_ETH_TYPE);
    }
}

static bool l4_sum_ok(const struct msb_pkt *p, bool pseudo)
{
    uint32_t sum = pseudo ? msb_csum_pseudo(&p->src, &p->dst, p->l4_proto, p->l4_len) : 0;
    return msb_csum_finish(msb_csum_add(sum, p->l4, p->l4_len)) == 0;
}

bool msb_pkt_l4_checksum_ok(const struct msb_pkt *p)
{
    if (!p->l4 || p->l4_hdr_len == 0)
        return false;
    switch (p->l4_proto) {
    case MSB_IPPROTO_TCP:
    case MSB_IPPROTO_ICMPV6:
        return l4_sum_ok(p, true);
    case MSB_IPPROTO_UDP:
        /* 0 = "not computed": allowed over IPv4 only (RFC 8200 §8.1). */
        if (msb_get16(p->l4 + 6) == 0)
            return p->ip_version == 4;
        return l4_sum_ok(p, true);
    case MSB_IPPROTO_ICMP:
        return l4_sum_ok(p, false);
    default:
        return false;
    }
}
