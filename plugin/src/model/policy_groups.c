/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address classification, with the original classifier's holes fixed: an
 * IPv6 address that carries an IPv4 one (mapped,
 * compatible, NAT64, 6to4, Teredo) is classified as that IPv4, because a
 * socket dialling it ends up there; unspecified addresses are loopback
 * (Linux connects 0.0.0.0 and :: to the host itself); whatever this
 * namespace's kernel delivers locally is the host (lib/localnet.h); 240/4
 * is RESERVED, never public; the metadata group has AWS's IPv6 address and
 * Azure's wire server.  The table is in plugin/src/proto/README.md.
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

/* RFC 6052 well-known (64:ff9b::/96) and local-use (64:ff9b:1::/48, read
 * with the /96 layout, the common one) NAT64 prefixes. */
static bool nat64(const uint8_t *b)
{
    static const uint8_t wkp[12] = {0, 0x64, 0xff, 0x9b}, lup[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    return memcmp(b, wkp, 12) == 0 || memcmp(b, lup, 6) == 0;
}

void msb_pol_unwrap(const struct msb_ip *in_ip, struct msb_ip *out)
{
    *out = *in_ip;
    if (in_ip->family != MSB_FAMILY_V6)
        return;
    static const uint8_t zero[10];
    const uint8_t *b = in_ip->b;
    bool mapped = memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff;
    bool compat = memcmp(b, zero, 10) == 0 && b[10] == 0 && b[11] == 0 &&
                  (b[12] | b[13] | b[14] || b[15] > 1);
    if (mapped || compat || nat64(b)) {
        msb_ip_from_v4(out, b + 12);
    } else if (b[0] == 0x20 && b[1] == 0x02) { /* 6to4: 2002:AABB:CCDD::/48 */
        msb_ip_from_v4(out, b + 2);
    } else if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
        /* Teredo (RFC 4380): the client's IPv4, stored inverted. */
        const uint8_t client[4] = {(uint8_t)~b[12], (uint8_t)~b[13], (uint8_t)~b[14],
                                   (uint8_t)~b[15]};
        msb_ip_from_v4(out, client);
    }
}

static bool is_host(const struct msb_ip *ip, const struct msb_gateways *gw)
{
    struct msb_ip g;
    return gw && msb_gateway_get(gw, (enum msb_family)ip->family, &g) && msb_ip_equal(&g, ip);
}

#define R4(a, b, c, d, p) {{a, b, c, d}, p}
#define N(x) (sizeof(x) / sizeof((x)[0]))

static const struct range v4_reserved[] = {R4(240, 0, 0, 0, 4)};
static const struct range v4_meta[] = {R4(169, 254, 169, 254, 32), R4(168, 63, 129, 16, 32)};
static const struct range v4_loop[] = {R4(127, 0, 0, 0, 8), R4(0, 0, 0, 0, 8)};
static const struct range v4_private[] = {R4(10, 0, 0, 0, 8), R4(172, 16, 0, 0, 12),
                                          R4(192, 168, 0, 0, 16), R4(100, 64, 0, 0, 10)};
static const struct range v4_link[] = {R4(169, 254, 0, 0, 16)};
static const struct range v4_mcast[] = {R4(224, 0, 0, 0, 4)};

static const struct range v6_meta[] = {{{0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128}};
static const struct range v6_loop[] = {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128},
                                       {{0}, 128}};
static const struct range v6_private[] = {{{0xfc}, 7}};
static const struct range v6_link[] = {{{0xfe, 0x80}, 10}};
static const struct range v6_mcast[] = {{{0xff}, 8}};

struct family_table {
    const struct range *r;
    size_t n;
    enum msb_pol_group g;
};

/* Before the kernel's local set: loopback and metadata are what they are
 * wherever they are routed. */
static const struct family_table v4_fixed[] = {
    {v4_loop, N(v4_loop), MSB_GRP_LOOPBACK},
    {v4_meta, N(v4_meta), MSB_GRP_METADATA},
};
static const struct family_table v6_fixed[] = {
    {v6_loop, N(v6_loop), MSB_GRP_LOOPBACK},
    {v6_meta, N(v6_meta), MSB_GRP_METADATA},
};
/* After it: ranges a non-local address falls into. */
static const struct family_table v4_ranges[] = {
    {v4_private, N(v4_private), MSB_GRP_PRIVATE},   {v4_link, N(v4_link), MSB_GRP_LINK_LOCAL},
    {v4_mcast, N(v4_mcast), MSB_GRP_MULTICAST},     {v4_reserved, N(v4_reserved), MSB_GRP_RESERVED},
};
static const struct family_table v6_ranges[] = {
    {v6_private, N(v6_private), MSB_GRP_PRIVATE},
    {v6_link, N(v6_link), MSB_GRP_LINK_LOCAL},
    {v6_mcast, N(v6_mcast), MSB_GRP_MULTICAST},
};

static bool lookup(const struct msb_ip *ip, const struct family_table *t, size_t n,
                   enum msb_pol_group *g)
{
    for (size_t i = 0; i < n; i++) {
        if (in_any(ip, t[i].r, t[i].n)) {
            *g = t[i].g;
            return true;
        }
    }
    return false;
}

/* Delivered to this namespace's own stack: an interface address, a local
 * or subnet broadcast, 255.255.255.255.  The raw address is what a socket
 * dials; the unwrapped one is where a translator would send it. */
static bool is_local(struct msb_localnet *local, const struct msb_ip *raw, const struct msb_ip *ip)
{
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    if (ip->family == MSB_FAMILY_V4 && memcmp(ip->b, bcast, 4) == 0)
        return true;
    return local && (msb_localnet_contains(local, ip) ||
                     (!msb_ip_equal(raw, ip) && msb_localnet_contains(local, raw)));
}

enum msb_pol_group msb_pol_classify(const struct msb_ip *raw, const struct msb_gateways *gw,
                                    struct msb_localnet *local)
{
    struct msb_ip ip;
    msb_pol_unwrap(raw, &ip);
    bool v4 = ip.family == MSB_FAMILY_V4;
    if (!v4 && ip.family != MSB_FAMILY_V6)
        return MSB_GRP_RESERVED;
    enum msb_pol_group g;
    /* Host first: the gateways sit in CGNAT/ULA space and must not fall
     * into "private".  A mapped gateway address is still the gateway. */
    if (is_host(&ip, gw))
        return MSB_GRP_HOST;
    if (lookup(&ip, v4 ? v4_fixed : v6_fixed, v4 ? N(v4_fixed) : N(v6_fixed), &g))
        return g;
    if (is_local(local, raw, &ip))
        return MSB_GRP_HOST;
    if (lookup(&ip, v4 ? v4_ranges : v6_ranges, v4 ? N(v4_ranges) : N(v6_ranges), &g))
        return g;
    return MSB_GRP_PUBLIC;
}
