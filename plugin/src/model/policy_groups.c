/*
 * Address classification (reference §3.3) with the original's holes fixed
 * (§9.2, §9.18): a mapped or compatible IPv6 address is classified as the
 * IPv4 it carries, because the host's dual-stack socket dials exactly that
 * IPv4; unspecified, broadcast and 240/4 are RESERVED, never public; the
 * metadata group also has AWS's IPv6 address.
 */
#include "model/policy_engine.h"

#include <string.h>

struct range {
    uint8_t b[16];
    uint8_t prefix;
};

static bool in(const struct msb_ip *ip, const struct range *r, enum msb_family fam)
{
    struct msb_ip net = {.family = (uint8_t)fam};
    memcpy(net.b, r->b, 16);
    return msb_pol_cidr_contains(&net, r->prefix, ip);
}

static bool in_any(const struct msb_ip *ip, const struct range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (in(ip, &r[i], (enum msb_family)ip->family))
            return true;
    return false;
}

void msb_pol_unwrap(const struct msb_ip *in_ip, struct msb_ip *out)
{
    *out = *in_ip;
    if (in_ip->family != MSB_FAMILY_V6)
        return;
    static const uint8_t zero[10];
    const uint8_t *b = in_ip->b;
    if (memcmp(b, zero, 10) != 0)
        return;
    bool mapped = b[10] == 0xff && b[11] == 0xff;
    bool compat = b[10] == 0 && b[11] == 0 && (b[12] | b[13] | b[14] || b[15] > 1);
    if (mapped || compat)
        msb_ip_from_v4(out, b + 12);
}

static bool is_host(const struct msb_ip *ip, const struct msb_gateways *gw)
{
    struct msb_ip g;
    return gw && msb_gateway_get(gw, (enum msb_family)ip->family, &g) && msb_ip_equal(&g, ip);
}

#define R4(a, b, c, d, p) {{a, b, c, d}, p}
#define N(x) (sizeof(x) / sizeof((x)[0]))

static const struct range v4_reserved[] = {R4(0, 0, 0, 0, 8), R4(240, 0, 0, 0, 4)};
static const struct range v4_meta[] = {R4(169, 254, 169, 254, 32)};
static const struct range v4_loop[] = {R4(127, 0, 0, 0, 8)};
static const struct range v4_private[] = {R4(10, 0, 0, 0, 8), R4(172, 16, 0, 0, 12),
                                          R4(192, 168, 0, 0, 16), R4(100, 64, 0, 0, 10)};
static const struct range v4_link[] = {R4(169, 254, 0, 0, 16)};
static const struct range v4_mcast[] = {R4(224, 0, 0, 0, 4)};

static const struct range v6_reserved[] = {{{0}, 128}};
static const struct range v6_meta[] = {{{0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128}};
static const struct range v6_loop[] = {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128}};
static const struct range v6_private[] = {{{0xfc}, 7}};
static const struct range v6_link[] = {{{0xfe, 0x80}, 10}};
static const struct range v6_mcast[] = {{{0xff}, 8}};

struct family_table {
    const struct range *r;
    size_t n;
    enum msb_pol_group g;
};

static const struct family_table v4_order[] = {
    {v4_reserved, N(v4_reserved), MSB_GRP_RESERVED}, {v4_meta, N(v4_meta), MSB_GRP_METADATA},
    {v4_loop, N(v4_loop), MSB_GRP_LOOPBACK},         {v4_private, N(v4_private), MSB_GRP_PRIVATE},
    {v4_link, N(v4_link), MSB_GRP_LINK_LOCAL},       {v4_mcast, N(v4_mcast), MSB_GRP_MULTICAST},
};
static const struct family_table v6_order[] = {
    {v6_reserved, N(v6_reserved), MSB_GRP_RESERVED}, {v6_meta, N(v6_meta), MSB_GRP_METADATA},
    {v6_loop, N(v6_loop), MSB_GRP_LOOPBACK},         {v6_private, N(v6_private), MSB_GRP_PRIVATE},
    {v6_link, N(v6_link), MSB_GRP_LINK_LOCAL},       {v6_mcast, N(v6_mcast), MSB_GRP_MULTICAST},
};

enum msb_pol_group msb_pol_classify(const struct msb_ip *raw, const struct msb_gateways *gw)
{
    struct msb_ip ip;
    msb_pol_unwrap(raw, &ip);
    /* Host first: the gateways sit in CGNAT/ULA space and must not fall
     * into "private".  A mapped gateway address is still the gateway. */
    if (is_host(&ip, gw))
        return MSB_GRP_HOST;
    const struct family_table *t = ip.family == MSB_FAMILY_V4 ? v4_order : v6_order;
    for (size_t i = 0; i < N(v4_order); i++)
        if (in_any(&ip, t[i].r, t[i].n))
            return t[i].g;
    return ip.family == MSB_FAMILY_V4 || ip.family == MSB_FAMILY_V6 ? MSB_GRP_PUBLIC
                                                                     : MSB_GRP_RESERVED;
}
