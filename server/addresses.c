/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's addresses_json parsed into what interface setup needs
 * (addresses.h); a missing or malformed field is named. */
#include "addresses.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int get_mac(json_t *o, const char *key, uint8_t mac[6])
{
    const char *s = json_string_value(json_object_get(o, key));
    unsigned b[6];
    char extra;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                     &extra) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

static int get_ip(json_t *o, const char *key, int family, void *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && inet_pton(family, s, out) == 1 ? 0 : -1;
}

static int get_int(json_t *o, const char *key, int lo, int hi, int *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

/* First failing key, or NULL. */
static const char *parse_fields(json_t *o, struct msbd_addrs *a)
{
    int mtu;
    if (get_mac(o, "guest_mac", a->guest_mac))
        return "guest_mac";
    if (get_mac(o, "gateway_mac", a->gateway_mac))
        return "gateway_mac";
    if (get_ip(o, "guest_ipv4", AF_INET, &a->guest4))
        return "guest_ipv4";
    if (get_ip(o, "gateway_ipv4", AF_INET, &a->gateway4))
        return "gateway_ipv4";
    if (get_ip(o, "guest_ipv6", AF_INET6, &a->guest6))
        return "guest_ipv6";
    if (get_ip(o, "gateway_ipv6", AF_INET6, &a->gateway6))
        return "gateway_ipv6";
    if (get_int(o, "prefix_ipv4", 1, 32, &a->prefix4))
        return "prefix_ipv4";
    if (get_int(o, "prefix_ipv6", 1, 128, &a->prefix6))
        return "prefix_ipv6";
    if (get_int(o, "mtu", 68, 65535, &mtu))
        return "mtu";
    a->mtu = (unsigned)mtu;
    return NULL;
}

int msbd_addrs_parse(const char *json, struct msbd_addrs *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    json_error_t je;
    json_t *o = json ? json_loads(json, 0, &je) : NULL;
    const char *badkey = o ? parse_fields(o, a) : "(not JSON)";
    json_decref(o);
    if (badkey) {
        snprintf(err, errlen, "plugin's addresses_json: missing or bad \"%s\"", badkey);
        return -1;
    }
    inet_ntop(AF_INET, &a->gateway4, a->gateway4_str, sizeof a->gateway4_str);
    inet_ntop(AF_INET6, &a->gateway6, a->gateway6_str, sizeof a->gateway6_str);
    return 0;
}
