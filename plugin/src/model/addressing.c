/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox's addressing (addressing.h): MACs and addresses derived from
 * the slot, each overridable by the config, and their addresses_json form. */
#include "model/addressing.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void derive_mac(uint8_t out[6], uint32_t slot, uint8_t last)
{
    const uint8_t mac[6] = {0x02, 0x6d, 0x73, (uint8_t)(slot >> 8), (uint8_t)slot, last};
    memcpy(out, mac, 6);
}

static void derive_v4(struct msb_ip *out, uint32_t slot, uint32_t host)
{
    uint32_t a = (100u << 24 | 96u << 16) + 4u * slot + host;
    const uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    msb_ip_from_v4(out, b);
}

static void derive_v6(struct msb_ip *out, uint32_t slot, uint8_t host)
{
    uint8_t b[16] = {0xfd, 0x42, 0x6d, 0x73, 0x00, 0x62, (uint8_t)(slot >> 8), (uint8_t)slot};
    b[15] = host;
    msb_ip_from_v6(out, b);
}

/* An override wins; an unset one (family NONE) leaves the derived value. */
static void pick(struct msb_ip *out, const struct msb_ip *override)
{
    if (override->family != MSB_FAMILY_NONE)
        *out = *override;
}

void msb_addrs_derive(const struct msb_config *cfg, struct msb_addrs *a)
{
    memset(a, 0, sizeof *a);
    derive_mac(a->gateway_mac, cfg->slot, 0x01);
    derive_mac(a->guest_mac, cfg->slot, 0x02);
    if (cfg->has_gateway_mac)
        memcpy(a->gateway_mac, cfg->gateway_mac, 6);
    if (cfg->has_guest_mac)
        memcpy(a->guest_mac, cfg->guest_mac, 6);
    derive_v4(&a->gateway4, cfg->slot, 1);
    derive_v4(&a->guest4, cfg->slot, 2);
    derive_v6(&a->gateway6, cfg->slot, 1);
    derive_v6(&a->guest6, cfg->slot, 2);
    pick(&a->gateway4, &cfg->gateway_ipv4);
    pick(&a->guest4, &cfg->guest_ipv4);
    pick(&a->gateway6, &cfg->gateway_ipv6);
    pick(&a->guest6, &cfg->guest_ipv6);
    /* A /30 only fits the derived pair; overrides get a /24 so any
     * guest/gateway pair in one /24 still shares a link. */
    bool v4_override = cfg->gateway_ipv4.family || cfg->guest_ipv4.family;
    a->prefix4 = v4_override ? 24 : 30;
    a->prefix6 = 64;
    a->mtu = cfg->mtu;
}

static json_t *ip_json(const struct msb_ip *ip)
{
    char buf[MSB_IP_STRLEN];
    return json_string(msb_ip_format(ip, buf, sizeof buf));
}

static json_t *mac_json(const uint8_t m[6])
{
    char buf[18];
    snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return json_string(buf);
}

char *msb_addrs_json(const struct msb_addrs *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "gateway_mac", mac_json(a->gateway_mac));
    json_object_set_new(o, "guest_mac", mac_json(a->guest_mac));
    json_object_set_new(o, "gateway_ipv4", ip_json(&a->gateway4));
    json_object_set_new(o, "guest_ipv4", ip_json(&a->guest4));
    json_object_set_new(o, "prefix_ipv4", json_integer(a->prefix4));
    json_object_set_new(o, "gateway_ipv6", ip_json(&a->gateway6));
    json_object_set_new(o, "guest_ipv6", ip_json(&a->guest6));
    json_object_set_new(o, "prefix_ipv6", json_integer(a->prefix6));
    json_object_set_new(o, "mtu", json_integer(a->mtu));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}
