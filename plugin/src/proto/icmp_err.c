/* SPDX-License-Identifier: Apache-2.0 */
/* ICMP errors to the guest (icmp_err.h), quoting as much of its packet as
 * the family's minimum MTU allows. */
#include "proto/icmp_err.h"

#include <string.h>

#include "lib/csum.h"
#include "lib/pkt.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

/* RFC 1812 §4.3.2.3 / RFC 4443 §2.4(c): as much of the original as fits
 * the family's minimum MTU. */
#define V4_MAX 576
#define V6_MAX 1280
#define HOP_LIMIT 64

static void ip4_header(uint8_t *ip, size_t len, const struct msb_ip *src, const uint8_t *dst)
{
    msb_ip4_write(ip, len, 0, 0, HOP_LIMIT, MSB_IPPROTO_ICMP, src->b, dst);
}

static void ip6_header(uint8_t *ip, size_t payload, const struct msb_ip *src, const uint8_t *dst)
{
    msb_ip6_write(ip, payload, HOP_LIMIT, MSB_IPPROTO_ICMPV6, src->b, dst);
}

static bool send_v4(struct msb_env *e, enum msb_icmp_err kind, const struct msb_ip *from,
                    const uint8_t *orig, size_t orig_len)
{
    size_t room = V4_MAX - MSB_IPV4_HLEN - MSB_ICMP_HLEN;
    size_t quote = orig_len < room ? orig_len : room;
    size_t len = MSB_IPV4_HLEN + MSB_ICMP_HLEN + quote;
    struct msb_frame *f = msb_env_ip_frame(e, 4, len);
    if (!f)
        return false;
    uint8_t *ip = f->data + MSB_ETH_HLEN, *icmp = ip + MSB_IPV4_HLEN;
    ip4_header(ip, len, from, orig + 12);
    memset(icmp, 0, MSB_ICMP_HLEN);
    icmp[0] = 3;
    icmp[1] = kind == MSB_ICMP_PORT_UNREACH ? 3 : 13;
    memcpy(icmp + MSB_ICMP_HLEN, orig, quote);
    msb_put16(icmp + 2, msb_csum_finish(msb_csum_add(0, icmp, MSB_ICMP_HLEN + quote)));
    return msb_env_emit(e, f);
}

static bool send_v6(struct msb_env *e, enum msb_icmp_err kind, const struct msb_ip *from,
                    const uint8_t *orig, size_t orig_len)
{
    size_t room = V6_MAX - MSB_IPV6_HLEN - MSB_ICMP_HLEN;
    size_t quote = orig_len < room ? orig_len : room;
    size_t payload = MSB_ICMP_HLEN + quote;
    struct msb_frame *f = msb_env_ip_frame(e, 6, MSB_IPV6_HLEN + payload);
    if (!f)
        return false;
    uint8_t *ip = f->data + MSB_ETH_HLEN, *icmp = ip + MSB_IPV6_HLEN;
    ip6_header(ip, payload, from, orig + 8);
    memset(icmp, 0, MSB_ICMP_HLEN);
    icmp[0] = 1;
    icmp[1] = kind == MSB_ICMP_PORT_UNREACH ? 4 : 1;
    memcpy(icmp + MSB_ICMP_HLEN, orig, quote);
    struct msb_ip to;
    msb_ip_from_v6(&to, orig + 8);
    msb_put16(icmp + 2, msb_csum_l4(from, &to, MSB_IPPROTO_ICMPV6, icmp, payload));
    return msb_env_emit(e, f);
}

bool msb_icmp_err_send(struct msb_env *e, enum msb_icmp_err kind, const struct msb_ip *from,
                       const uint8_t *orig, size_t orig_len)
{
    /* The caller passes a parsed guest packet; the length check only
     * guards the address reads below. */
    if (from->family == MSB_FAMILY_V4 && orig_len >= MSB_IPV4_HLEN)
        return send_v4(e, kind, from, orig, orig_len);
    if (from->family == MSB_FAMILY_V6 && orig_len >= MSB_IPV6_HLEN)
        return send_v6(e, kind, from, orig, orig_len);
    return false;
}
