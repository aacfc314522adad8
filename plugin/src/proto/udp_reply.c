/* SPDX-License-Identifier: Apache-2.0 */
/* UDP datagrams to the guest (udp_reply.h): headers and checksums written
 * here, IPv4 fragmented to the MTU only when the rx ring has room for all. */
#include "proto/udp_reply.h"

#include <string.h>

#include "lib/csum.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#define HOP_LIMIT 64

static void udp_header(uint8_t *h, const struct msb_udp_reply *r)
{
    msb_put16(h, r->sport);
    msb_put16(h + 2, r->dport);
    msb_put16(h + 4, (uint16_t)(MSB_UDP_HLEN + r->len));
    msb_put16(h + 6, 0);
    uint32_t sum = msb_csum_pseudo(r->src, r->dst, MSB_IPPROTO_UDP, MSB_UDP_HLEN + r->len);
    sum = msb_csum_add(msb_csum_add(sum, h, MSB_UDP_HLEN), r->payload, r->len);
    uint16_t ck = msb_csum_finish(sum);
    msb_put16(h + 6, ck ? ck : 0xffff); /* 0 would mean "no checksum" */
}

static void ip4_header(uint8_t *ip, const struct msb_udp_reply *r, size_t len, uint16_t id,
                       uint16_t frag)
{
    msb_ip4_write(ip, len, id, frag, HOP_LIMIT, MSB_IPPROTO_UDP, r->src->b, r->dst->b);
}

/* Bytes [off, off+n) of the datagram as sent: UDP header, then payload. */
static void copy_span(uint8_t *out, const uint8_t *hdr, const uint8_t *payload, size_t off,
                      size_t n)
{
    while (n && off < MSB_UDP_HLEN) {
        *out++ = hdr[off++];
        n--;
    }
    memcpy(out, payload + (off - MSB_UDP_HLEN), n);
}

static bool send_fragment(struct msb_env *e, const struct msb_udp_reply *r, const uint8_t *hdr,
                          size_t off, size_t n, uint16_t flags, uint16_t id)
{
    struct msb_frame *f = msb_env_ip_frame(e, 4, MSB_IPV4_HLEN + n);
    if (!f)
        return false;
    uint8_t *ip = f->data + MSB_ETH_HLEN;
    ip4_header(ip, r, MSB_IPV4_HLEN + n, id, (uint16_t)(flags | (off / 8)));
    copy_span(ip + MSB_IPV4_HLEN, hdr, r->payload, off, n);
    return msb_env_emit(e, f);
}

static bool send_v4(struct msb_env *e, const struct msb_udp_reply *r)
{
    static uint16_t next_id; /* the stack thread is the only writer */
    uint8_t hdr[MSB_UDP_HLEN];
    size_t dlen = MSB_UDP_HLEN + r->len, mtu = e->cfg->mtu;
    if (MSB_IPV4_HLEN + dlen > 65535) {
        msb_drop(e->metrics, MSB_DROP_UDP_REPLY_TOO_BIG);
        return false;
    }
    udp_header(hdr, r);
    if (MSB_IPV4_HLEN + dlen <= mtu)
        return send_fragment(e, r, hdr, 0, dlen, MSB_IPV4_DF, next_id++);
    /* Every fragment but the last carries a multiple of 8 bytes. */
    size_t chunk = (mtu - MSB_IPV4_HLEN) & ~(size_t)7;
    size_t frames = (dlen + chunk - 1) / chunk;
    if (!msb_env_rx_room(e, frames)) {
        msb_drop(e->metrics, MSB_DROP_RX_RING_FULL);
        return false;
    }
    uint16_t id = next_id++;
    for (size_t off = 0; off < dlen; off += chunk) {
        size_t n = dlen - off < chunk ? dlen - off : chunk;
        if (!send_fragment(e, r, hdr, off, n, off + n < dlen ? MSB_IPV4_MF : 0, id))
            return false;
    }
    msb_count(&e->metrics->udp.fragmented_replies, 1);
    return true;
}

static bool send_v6(struct msb_env *e, const struct msb_udp_reply *r)
{
    size_t plen = MSB_UDP_HLEN + r->len;
    if (MSB_IPV6_HLEN + plen > e->cfg->mtu || plen > 65535) {
        msb_drop(e->metrics, MSB_DROP_UDP_REPLY_TOO_BIG);
        return false;
    }
    struct msb_frame *f = msb_env_ip_frame(e, 6, MSB_IPV6_HLEN + plen);
    if (!f)
        return false;
    uint8_t *ip = f->data + MSB_ETH_HLEN;
    msb_ip6_write(ip, plen, HOP_LIMIT, MSB_IPPROTO_UDP, r->src->b, r->dst->b);
    udp_header(ip + MSB_IPV6_HLEN, r);
    memcpy(ip + MSB_IPV6_HLEN + MSB_UDP_HLEN, r->payload, r->len);
    return msb_env_emit(e, f);
}

bool msb_udp_reply_send(struct msb_env *e, const struct msb_udp_reply *r)
{
    return r->src->family == MSB_FAMILY_V4 ? send_v4(e, r) : send_v6(e, r);
}
