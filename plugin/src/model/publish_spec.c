/* SPDX-License-Identifier: Apache-2.0 */
/* Published-port specs (publish_spec.h): one spec or the config's list,
 * every value checked, a duplicate named by both indexes. */
#include "model/publish_spec.h"
#include "lib/errmsg.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pkt.h"

static int get_port(const json_t *v, const char *what, const char *key, uint16_t *out,
                    char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
        return msb_fail(err, errlen, "%s: \"%s\" must be an integer in 1..65535", what, key);
    *out = (uint16_t)json_integer_value(v);
    return 0;
}

static int get_proto(const json_t *v, const char *what, uint8_t *out, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    if (s && strcmp(s, "tcp") == 0)
        *out = MSB_IPPROTO_TCP;
    else if (s && strcmp(s, "udp") == 0)
        *out = MSB_IPPROTO_UDP;
    else
        return msb_fail(err, errlen, "%s: \"protocol\" must be \"tcp\" or \"udp\"", what);
    return 0;
}

static int get_addr(const json_t *v, const char *what, struct msb_ip *out, char *err,
                    size_t errlen)
{
    if (!json_is_string(v) || msb_ip_parse(json_string_value(v), out))
        return msb_fail(err, errlen, "%s: \"host_address\" must be an IPv4 or IPv6 address string",
                    what);
    return 0;
}

static int set_key(const char *key, const json_t *v, const char *what,
                   struct msb_publish_spec *s, bool *has_gp, bool *has_hp, char *err,
                   size_t errlen)
{
    if (strcmp(key, "protocol") == 0)
        return get_proto(v, what, &s->proto, err, errlen);
    if (strcmp(key, "host_address") == 0)
        return get_addr(v, what, &s->host_addr, err, errlen);
    if (strcmp(key, "host_port") == 0) {
        *has_hp = true;
        return get_port(v, what, key, &s->host_port, err, errlen);
    }
    if (strcmp(key, "guest_port") == 0) {
        *has_gp = true;
        return get_port(v, what, key, &s->guest_port, err, errlen);
    }
    if (strcmp(key, "real_peer") == 0) {
        if (!json_is_boolean(v))
            return msb_fail(err, errlen, "%s: \"real_peer\" must be true or false", what);
        s->real_peer = json_is_true(v);
        return 0;
    }
    return msb_fail(err, errlen, "%s: unknown key \"%s\"", what, key);
}

int msb_publish_spec_from_json(const json_t *v, bool need_guest_port, const char *what,
                               struct msb_publish_spec *out, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return msb_fail(err, errlen, "%s: expected an object", what);
    struct msb_publish_spec s;
    memset(&s, 0, sizeof s);
    s.proto = MSB_IPPROTO_TCP;
    msb_ip_parse("127.0.0.1", &s.host_addr);
    bool has_gp = false, has_hp = false;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (set_key(key, val, what, &s, &has_gp, &has_hp, err, errlen))
            return -1;
    }
    if (!has_hp)
        return msb_fail(err, errlen, "%s: \"host_port\" is required", what);
    if (need_guest_port && !has_gp)
        return msb_fail(err, errlen, "%s: \"guest_port\" is required", what);
    *out = s;
    return 0;
}

int msb_publish_spec_parse(const char *json, bool need_guest_port, struct msb_publish_spec *out,
                           char *err, size_t errlen)
{
    if (!json)
        return msb_fail(err, errlen, "publish: no specification");
    json_error_t je;
    json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return msb_fail(err, errlen, "publish: invalid JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
    int rc = msb_publish_spec_from_json(v, need_guest_port, "publish", out, err, errlen);
    json_decref(v);
    return rc;
}

static bool is_any(const struct msb_ip *ip)
{
    static const uint8_t zero[16];
    return memcmp(ip->b, zero, 16) == 0;
}

bool msb_publish_same_listener(const struct msb_publish_spec *a, const struct msb_publish_spec *b)
{
    if (a->proto != b->proto || a->host_port != b->host_port ||
        a->host_addr.family != b->host_addr.family)
        return false;
    return msb_ip_equal(&a->host_addr, &b->host_addr) || is_any(&a->host_addr) ||
           is_any(&b->host_addr);
}

int msb_publish_list_from_json(const json_t *v, struct msb_publish_spec **out, uint32_t *n,
                               char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(v) || json_array_size(v) > MSB_PUBLISH_MAX)
        return msb_fail(err, errlen, "config: key \"publish\" must be an array of at most %d objects",
                    MSB_PUBLISH_MAX);
    size_t count = json_array_size(v);
    if (!count)
        return 0;
    struct msb_publish_spec *list = calloc(count, sizeof *list);
    if (!list)
        return msb_fail(err, errlen, "config: out of memory for \"publish\"");
    for (size_t i = 0; i < count; i++) {
        char what[64];
        snprintf(what, sizeof what, "config: key \"publish\"[%zu]", i);
        if (msb_publish_spec_from_json(json_array_get(v, i), true, what, &list[i], err, errlen))
            goto bad;
        for (size_t j = 0; j < i; j++) {
            if (msb_publish_same_listener(&list[j], &list[i])) {
                msb_fail(err, errlen, "%s: duplicates [%zu] (same protocol, host address and port)",
                     what, j);
                goto bad;
            }
        }
    }
    *out = list;
    *n = (uint32_t)count;
    return 0;
bad:
    free(list);
    return -1;
}

void msb_publish_spec_describe(const struct msb_publish_spec *s, char *buf, size_t len)
{
    char ip[MSB_IP_STRLEN];
    bool v6 = s->host_addr.family == MSB_FAMILY_V6;
    snprintf(buf, len, "%s %s%s%s:%u -> %u", s->proto == MSB_IPPROTO_UDP ? "udp" : "tcp",
             v6 ? "[" : "", msb_ip_format(&s->host_addr, ip, sizeof ip), v6 ? "]" : "",
             s->host_port, s->guest_port);
}

json_t *msb_publish_spec_to_json(const struct msb_publish_spec *s)
{
    char ip[MSB_IP_STRLEN];
    return json_pack("{s:s, s:s, s:i, s:i, s:b}", "protocol",
                     s->proto == MSB_IPPROTO_UDP ? "udp" : "tcp", "host_address",
                     msb_ip_format(&s->host_addr, ip, sizeof ip), "host_port", (int)s->host_port,
                     "guest_port", (int)s->guest_port, "real_peer", (int)s->real_peer);
}
