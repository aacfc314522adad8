/*
 * TEMPORARY stand-ins for branch `pkt` (pkt.h, csum.h, pkt_build.h, l2.h),
 * so branch `tcp` builds and its tests run before `pkt` lands.  Minimal,
 * written to the headers' contracts.  DELETE THIS FILE when merging `pkt`.
 */
#include <string.h>

#include "csum.h"
#include "l2.h"
#include "pkt.h"
#include "pkt_build.h"

uint32_t msb_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *b = data;
    uint64_t s = sum;
    for (; len > 1; b += 2, len -= 2)
        s += (uint32_t)(b[0] << 8 | b[1]);
    if (len)
        s += (uint32_t)b[0] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

static uint16_t fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

uint16_t msb_csum_finish(uint32_t sum)
{
    return (uint16_t)~fold(sum);
}

uint32_t msb_csum_pseudo(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                         size_t len)
{
    size_t n = src->family == MSB_FAMILY_V4 ? 4 : 16;
    uint32_t s = msb_csum_add(0, src->b, n);
    s = msb_csum_add(s, dst->b, n);
    return s + proto + (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
}

uint16_t msb_csum_l4(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                     const uint8_t *l4, size_t len)
{
    uint16_t c = msb_csum_finish(msb_csum_add(msb_csum_pseudo(src, dst, proto, len), l4, len));
    return (proto == MSB_IPPROTO_UDP && c == 0) ? 0xffff : c;
}

void msb_csum_replace(uint8_t *ck, uint8_t *field, const uint8_t *newval, size_t n)
{
    uint64_t sum = (uint16_t)~(ck[0] << 8 | ck[1]);
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint16_t oldw = field ? (uint16_t)(field[i] << 8 | field[i + 1]) : 0;
        sum += (uint16_t)~oldw;
        sum += (uint16_t)(newval[i] << 8 | newval[i + 1]);
    }
    uint16_t hc = (uint16_t)~fold(sum);
    ck[0] = (uint8_t)(hc >> 8);
    ck[1] = (uint8_t)hc;
    if (field)
        memmove(field, newval, n);
}

static bool parse_l4(struct msb_pkt *p, enum msb_drop_reason *why)
{
    p->l4 = p->l3 + p->l3_hdr_len;
    p->l4_len = p->l3_len - p->l3_hdr_len;
    *why = MSB_DROP_L4_MALFORMED;
    if (p->l4_proto == MSB_IPPROTO_TCP) {
        if (p->l4_len < 20 || (size_t)(p->l4[12] >> 4) * 4 < 20 ||
            (size_t)(p->l4[12] >> 4) * 4 > p->l4_len)
            return false;
        p->l4_hdr_len = (size_t)(p->l4[12] >> 4) * 4;
        p->tcp_flags = p->l4[13];
    } else if (p->l4_proto == MSB_IPPROTO_UDP) {
        if (p->l4_len < 8)
            return false;
        p->l4_hdr_len = 8;
    } else {
        p->l4_hdr_len = p->l4_len >= 8 ? 8 : 0;
        return true;
    }
    p->sport = msb_get16(p->l4);
    p->dport = msb_get16(p->l4 + 2);
    return true;
}

bool msb_pkt_parse(uint8_t *frame, size_t len, struct msb_pkt *p, enum msb_drop_reason *why)
{
    memset(p, 0, sizeof *p);
    p->frame = frame;
    p->frame_len = len;
    *why = MSB_DROP_ETH_SHORT;
    if (len < MSB_ETH_HLEN)
        return false;
    p->dst_mac = frame;
    p->src_mac = frame + 6;
    p->ethertype = msb_get16(frame + 12);
    p->l3 = frame + MSB_ETH_HLEN;
    size_t rest = len - MSB_ETH_HLEN;
    if (p->ethertype == MSB_ETHERTYPE_ARP) {
        *why = MSB_DROP_ARP_MALFORMED;
        p->l3_len = rest;
        return rest >= 28;
    }
    if (p->ethertype == MSB_ETHERTYPE_IPV4) {
        *why = MSB_DROP_IP_MALFORMED;
        if (rest < 20 || (p->l3[0] >> 4) != 4 || (p->l3[0] & 15) < 5)
            return false;
        p->l3_hdr_len = (size_t)(p->l3[0] & 15) * 4;
        p->l3_len = msb_get16(p->l3 + 2);
        if (p->l3_len > rest || p->l3_len < p->l3_hdr_len)
            return false;
        *why = MSB_DROP_IP_BAD_CHECKSUM;
        if (msb_csum_finish(msb_csum_add(0, p->l3, p->l3_hdr_len)) != 0)
            return false;
        *why = MSB_DROP_IP_FRAGMENT;
        if (msb_get16(p->l3 + 6) & 0x3fff)
            return false;
        p->ip_version = 4;
        p->l4_proto = p->l3[9];
        msb_ip_from_v4(&p->src, p->l3 + 12);
        msb_ip_from_v4(&p->dst, p->l3 + 16);
        return parse_l4(p, why);
    }
    if (p->ethertype == MSB_ETHERTYPE_IPV6) {
        *why = MSB_DROP_IP_MALFORMED;
        if (rest < 40 || (p->l3[0] >> 4) != 6)
            return false;
        p->l3_hdr_len = 40;
        p->l3_len = 40 + (size_t)msb_get16(p->l3 + 4);
        if (p->l3_len > rest)
            return false;
        p->l4_proto = p->l3[6];
        *why = MSB_DROP_IPV6_EXT_HEADER;
        if (p->l4_proto != MSB_IPPROTO_TCP && p->l4_proto != MSB_IPPROTO_UDP &&
            p->l4_proto != MSB_IPPROTO_ICMPV6)
            return false;
        p->ip_version = 6;
        msb_ip_from_v6(&p->src, p->l3 + 8);
        msb_ip_from_v6(&p->dst, p->l3 + 24);
        return parse_l4(p, why);
    }
    *why = MSB_DROP_ETH_TYPE;
    return false;
}

bool msb_pkt_l4_checksum_ok(const struct msb_pkt *p)
{
    if (p->l4_proto == MSB_IPPROTO_ICMP)
        return msb_csum_finish(msb_csum_add(0, p->l4, p->l4_len)) == 0;
    if (p->l4_proto == MSB_IPPROTO_UDP && p->ip_version == 4 && msb_get16(p->l4 + 6) == 0)
        return true;
    uint32_t s = msb_csum_pseudo(&p->src, &p->dst, p->l4_proto, p->l4_len);
    return msb_csum_finish(msb_csum_add(s, p->l4, p->l4_len)) == 0;
}

void msb_eth_write(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    msb_put16(frame + 12, type);
}

size_t msb_build_tcp_rst(const struct msb_pkt *p, uint8_t *buf, size_t cap)
{
    if ((p->tcp_flags & MSB_TCP_RST) || cap < 60)
        return 0;
    const uint8_t *th = p->l4;
    size_t payload = p->l4_len - p->l4_hdr_len;
    size_t hl = p->ip_version == 4 ? 20 : 40, len = hl + 20;
    memset(buf, 0, len);
    if (p->ip_version == 4) {
        buf[0] = 0x45;
        msb_put16(buf + 2, (uint16_t)len);
        buf[8] = 64;
        buf[9] = MSB_IPPROTO_TCP;
        memcpy(buf + 12, p->dst.b, 4);
        memcpy(buf + 16, p->src.b, 4);
        msb_put16(buf + 10, msb_csum_finish(msb_csum_add(0, buf, 20)));
    } else {
        buf[0] = 0x60;
        msb_put16(buf + 4, 20);
        buf[6] = MSB_IPPROTO_TCP;
        buf[7] = 64;
        memcpy(buf + 8, p->dst.b, 16);
        memcpy(buf + 24, p->src.b, 16);
    }
    uint8_t *t = buf + hl;
    msb_put16(t, p->dport);
    msb_put16(t + 2, p->sport);
    t[12] = 5 << 4;
    if (p->tcp_flags & MSB_TCP_ACK) {
        memcpy(t + 4, th + 8, 4);
        t[13] = MSB_TCP_RST;
    } else {
        uint32_t ack = msb_get32(th + 4) + (uint32_t)payload +
                       ((p->tcp_flags & MSB_TCP_SYN) ? 1u : 0u) +
                       ((p->tcp_flags & MSB_TCP_FIN) ? 1u : 0u);
        msb_put32(t + 8, ack);
        t[13] = MSB_TCP_RST | MSB_TCP_ACK;
    }
    msb_put16(t + 16, msb_csum_l4(&p->dst, &p->src, MSB_IPPROTO_TCP, t, 20));
    return len;
}

bool msb_l2_handle(struct msb_stack *s, const struct msb_pkt *p)
{
    (void)s;
    return p->ethertype == MSB_ETHERTYPE_ARP;
}
