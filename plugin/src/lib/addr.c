/* SPDX-License-Identifier: Apache-2.0 */
/* IP addresses of either family in one comparable form (addr.h), and its
 * conversions from and to text and sockaddrs. */
#include "lib/addr.h"

#include <arpa/inet.h>
#include <string.h>

void msb_ip_from_v4(struct msb_ip *out, const uint8_t b[4])
{
    memset(out, 0, sizeof *out);
    out->family = MSB_FAMILY_V4;
    memcpy(out->b, b, 4);
}

void msb_ip_from_v6(struct msb_ip *out, const uint8_t b[16])
{
    out->family = MSB_FAMILY_V6;
    memcpy(out->b, b, 16);
}

int msb_ip_parse(const char *s, struct msb_ip *out)
{
    uint8_t b[16];
    if (!s)
        return -1;
    if (inet_pton(AF_INET, s, b) == 1) {
        msb_ip_from_v4(out, b);
        return 0;
    }
    if (inet_pton(AF_INET6, s, b) == 1) {
        msb_ip_from_v6(out, b);
        return 0;
    }
    return -1;
}

char *msb_ip_format(const struct msb_ip *ip, char *buf, size_t len)
{
    int af = ip->family == MSB_FAMILY_V4 ? AF_INET : AF_INET6;
    if (ip->family == MSB_FAMILY_NONE || !inet_ntop(af, ip->b, buf, (socklen_t)len)) {
        if (len)
            buf[0] = '\0';
    }
    return buf;
}

bool msb_ip_equal(const struct msb_ip *a, const struct msb_ip *b)
{
    return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

bool msb_ip_is_loopback(const struct msb_ip *ip)
{
    static const uint8_t v6_loop[16] = {[15] = 1};
    static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (ip->family == MSB_FAMILY_V4)
        return ip->b[0] == 127;
    return memcmp(ip->b, v6_loop, 16) == 0 ||
           (memcmp(ip->b, v4_mapped, 12) == 0 && ip->b[12] == 127);
}

void msb_ip_from_sockaddr(const struct sockaddr_storage *ss, struct msb_ip *ip, uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        msb_ip_from_v4(ip, (const uint8_t *)&a->sin_addr);
        *port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        msb_ip_from_v6(ip, a->sin6_addr.s6_addr);
        *port = ntohs(a->sin6_port);
    }
}

unsigned msb_ip_to_sockaddr(const struct msb_ip *ip, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (ip->family == MSB_FAMILY_V4) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        memcpy(&a->sin_addr, ip->b, 4);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    memcpy(&a->sin6_addr, ip->b, 16);
    return sizeof *a;
}
