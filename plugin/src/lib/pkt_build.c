/* SPDX-License-Identifier: Apache-2.0 */
/* Packets msbnet writes itself (pkt_build.h): Ethernet and IP headers, and
 * the RST that answers a guest segment (RFC 9293). */
#include "lib/pkt_build.h"

#include <string.h>

#include "lib/csum.h"

#define TTL_DEFAULT 64

void msb_eth_write(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    msb_put16(frame + 12, type);
}

void msb_ip4_write(uint8_t *ip, size_t total, uint16_t id, uint16_t frag, uint8_t ttl,
                   uint8_t proto, const uint8_t src[4], const uint8_t dst[4])
{
    memset(ip, 0, MSB_IPV4_HLEN);
    ip[0] = 0x45;
    msb_put16(ip + 2, (uint16_t)total);
    msb_put16(ip + 4, id);
    msb_put16(ip + 6, frag);
    ip[8] = ttl;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, MSB_IPV4_HLEN)));
}

void msb_ip6_write(uint8_t *ip, size_t payload, uint8_t hop_limit, uint8_t next,
                   const uint8_t src[16], const uint8_t dst[16])
{
    memset(ip, 0, MSB_IPV6_HLEN);
    ip[0] = 0x60;
    msb_put16(ip + 4, (uint16_t)payload);
    ip[6] = next;
    ip[7] = hop_limit;
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
}

/* DF: a RST is never worth fragmenting. */
static void write_ipv4(uint8_t *ip, const struct msb_pkt *p, size_t l4_len)
{
    msb_ip4_write(ip, MSB_IPV4_HLEN + l4_len, 0, MSB_IPV4_DF, TTL_DEFAULT, MSB_IPPROTO_TCP,
                  p->dst.b, p->src.b);
}

static void write_ipv6(uint8_t *ip, const struct msb_pkt *p, size_t l4_len)
{
    msb_ip6_write(ip, l4_len, TTL_DEFAULT, MSB_IPPROTO_TCP, p->dst.b, p->src.b);
}

/* RFC 9293 §3.10.7.1: acknowledge exactly what the segment occupied in
 * sequence space, or take our sequence number from its ACK. */
static void rst_numbers(const struct msb_pkt *p, uint32_t *seq, uint32_t *ack, uint8_t *flags)
{
    uint32_t their_seq = msb_get32(p->l4 + 4);
    if (p->tcp_flags & MSB_TCP_ACK) {
        *seq = msb_get32(p->l4 + 8);
        *ack = 0;
        *flags = MSB_TCP_RST;
        return;
    }
    uint32_t occupied = (uint32_t)(p->l4_len - p->l4_hdr_len);
    occupied += (p->tcp_flags & MSB_TCP_SYN) ? 1 : 0;
    occupied += (p->tcp_flags & MSB_TCP_FIN) ? 1 : 0;
    *seq = 0;
    *ack = their_seq + occupied;
    *flags = MSB_TCP_RST | MSB_TCP_ACK;
}

size_t msb_build_tcp_rst(const struct msb_pkt *p, uint8_t *buf, size_t cap)
{
    if (p->l4_proto != MSB_IPPROTO_TCP || p->l4_hdr_len < MSB_TCP_HLEN ||
        (p->tcp_flags & MSB_TCP_RST))
        return 0;
    if (p->ip_version != 4 && p->ip_version != 6)
        return 0;
    size_t iphl = p->ip_version == 4 ? MSB_IPV4_HLEN : MSB_IPV6_HLEN;
    if (cap < iphl + MSB_TCP_HLEN)
        return 0;
    uint32_t seq, ack;
    uint8_t flags;
    rst_numbers(p, &seq, &ack, &flags);
    if (p->ip_version == 4)
        write_ipv4(buf, p, MSB_TCP_HLEN);
    else
        write_ipv6(buf, p, MSB_TCP_HLEN);
    uint8_t *tcp = buf + iphl;
    memset(tcp, 0, MSB_TCP_HLEN);
    msb_put16(tcp, p->dport);
    msb_put16(tcp + 2, p->sport);
    msb_put32(tcp + 4, seq);
    msb_put32(tcp + 8, ack);
    tcp[12] = (MSB_TCP_HLEN / 4) << 4;
    tcp[13] = flags;
    /* window 0 and no urgent pointer: the memset left them zero */
    msb_put16(tcp + 16, msb_csum_l4(&p->dst, &p->src, MSB_IPPROTO_TCP, tcp, MSB_TCP_HLEN));
    return iphl + MSB_TCP_HLEN;
}
