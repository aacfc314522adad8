/* SPDX-License-Identifier: Apache-2.0 */
/* create()'s JSON config (config.h): one table of keys with their types and
 * ranges, and the keys with parsers of their own (policy, dns_upstreams,
 * protected_ports, publish). */
#include "model/config.h"
#include "lib/errmsg.h"

#include "model/policy_engine.h"
#include "model/profile.h"
#include "model/proxy_config.h"
#include "model/publish_spec.h"
#include "model/tls_config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_kind { F_UINT, F_POW2, F_CHOICE, F_IPV4, F_IPV6, F_MAC, F_BOOL };

struct field {
    const char *key;
    enum field_kind kind;
    size_t offset;
    uint32_t min, max;
    const char *const *choices; /* F_CHOICE: NULL-terminated, stored as index */
    size_t flag_offset;         /* F_MAC: the bool that says it was given */
};

static const char *const wake_choices[] = {"auto", "pipe", NULL};
static const char *const egress_choices[] = {"allow", "deny", "public_only", NULL};
static const char *const log_choices[] = {"error", "warn", "info", "debug", NULL};
static const char *const vnet_gso_choices[] = {"whole", "segment", NULL};

#define AT(member) offsetof(struct msb_config, member)
#define NUM(key, kind, member, lo, hi) {key, kind, AT(member), lo, hi, NULL, 0}
#define CHOICE(key, member, list) {key, F_CHOICE, AT(member), 0, 0, list, 0}
#define TEXT(key, kind, member) {key, kind, AT(member), 0, 0, NULL, 0}
static const struct field fields[] = {
    NUM("queue_capacity", F_POW2, queue_capacity, 2, 65536),
    NUM("slot", F_UINT, slot, 0, 65535),
    NUM("mtu", F_UINT, mtu, 576, 65520),
    NUM("hostname_index_max_entries", F_UINT, hostname_index_max_entries, 1, 1u << 22),
    NUM("hostname_index_max_ttl_s", F_UINT, hostname_index_max_ttl_s, 1, 366u * 86400u),
    CHOICE("wake", wake, wake_choices),
    NUM("connect_timeout_ms", F_UINT, connect_timeout_ms, 100, 600000),
    NUM("max_flows", F_UINT, max_flows, 1, 262144),
    NUM("tcp_buffer_max_bytes", F_UINT, tcp_buffer_max_bytes, 1u << 20, 0xffffffffu),
    NUM("tcp_idle_timeout_s", F_UINT, tcp_idle_timeout_s, 1, 7u * 86400u),
    CHOICE("egress", egress, egress_choices),
    NUM("udp_idle_timeout_s", F_UINT, udp_idle_timeout_s, 1, 7u * 86400u),
    NUM("max_udp_sessions", F_UINT, max_udp_sessions, 1, 65536),
    NUM("max_icmp_echoes", F_UINT, max_icmp_echoes, 1, 4096),
    NUM("dns_query_timeout_ms", F_UINT, dns_query_timeout_ms, 100, 60000),
    TEXT("dns_rebind_protection", F_BOOL, dns_rebind_protection),
    TEXT("guest_ipv4", F_IPV4, guest_ipv4),
    TEXT("gateway_ipv4", F_IPV4, gateway_ipv4),
    TEXT("guest_ipv6", F_IPV6, guest_ipv6),
    TEXT("gateway_ipv6", F_IPV6, gateway_ipv6),
    {"guest_mac", F_MAC, AT(guest_mac), 0, 0, NULL, AT(has_guest_mac)},
    {"gateway_mac", F_MAC, AT(gateway_mac), 0, 0, NULL, AT(has_gateway_mac)},
    CHOICE("log_level", log_level, log_choices),
    /* lwIP's ephemeral ports (16384) name the inbound TCP flows. */
    NUM("max_inbound_flows", F_UINT, max_inbound_flows, 1, 16384),
    TEXT("dhcp4", F_BOOL, dhcp4),
    NUM("dhcp_lease_s", F_UINT, dhcp_lease_s, 60, 31536000),
    TEXT("ra", F_BOOL, ra),
    NUM("reasm_max_datagrams", F_UINT, reasm_max_datagrams, 0, 4096),
    NUM("reasm_max_bytes", F_UINT, reasm_max_bytes, 65535, 1u << 26),
    NUM("reasm_timeout_s", F_UINT, reasm_timeout_s, 1, 120),
    TEXT("vnet_hdr", F_BOOL, vnet_hdr),
    CHOICE("vnet_gso", vnet_gso, vnet_gso_choices),
    NUM("busy_poll_us", F_UINT, busy_poll_us, 0, 1000),
    TEXT("vnet_guest_tso", F_BOOL, vnet_guest_tso),
    TEXT("scan_plaintext", F_BOOL, scan_plaintext),
};
#undef TEXT
#undef CHOICE
#undef NUM
#undef AT

void msb_config_defaults(struct msb_config *c)
{
    memset(c, 0, sizeof *c);
    c->queue_capacity = 1024;
    c->slot = 0;
    c->mtu = 1500;
    c->hostname_index_max_entries = 65536;
    c->hostname_index_max_ttl_s = 86400;
    c->wake = MSB_WAKE_AUTO;
    c->connect_timeout_ms = 10000;
    c->max_flows = 16384;
    c->tcp_buffer_max_bytes = 64u << 20;
    c->tcp_idle_timeout_s = 7200; /* passt's default */
    c->egress = MSB_EGRESS_PUBLIC_ONLY; /* the original's default policy */
    c->udp_idle_timeout_s = 180;
    c->max_udp_sessions = 4096;
    c->max_icmp_echoes = 256;
    c->dns_query_timeout_ms = 5000;
    c->dns_rebind_protection = true;
    c->log_level = MSB_LOG_WARN;
    c->max_inbound_flows = 256;
    c->dhcp4 = true;
    c->dhcp_lease_s = 86400;
    c->ra = true;
    c->reasm_max_datagrams = 64;
    c->reasm_max_bytes = 256u * 1024u;
    c->reasm_timeout_s = 30; /* Linux's ipfrag_time, both families */
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

static int set_uint(const struct field *f, json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    if (!json_is_integer(v))
        return msb_fail(err, errlen, "config: key \"%s\" must be an integer", f->key);
    json_int_t n = json_integer_value(v);
    if (n < (json_int_t)f->min || n > (json_int_t)f->max)
        return msb_fail(err, errlen, "config: key \"%s\" = %lld is out of range %u..%u", f->key,
                    (long long)n, f->min, f->max);
    if (f->kind == F_POW2 && (n & (n - 1)) != 0)
        return msb_fail(err, errlen, "config: key \"%s\" = %lld must be a power of two", f->key,
                    (long long)n);
    *(uint32_t *)((char *)c + f->offset) = (uint32_t)n;
    return 0;
}

static int set_choice(const struct field *f, json_t *v, struct msb_config *c, char *err,
                      size_t errlen)
{
    const char *s = json_string_value(v);
    for (int i = 0; s && f->choices[i]; i++) {
        if (strcmp(s, f->choices[i]) == 0) {
            *(uint32_t *)((char *)c + f->offset) = (uint32_t)i;
            return 0;
        }
    }
    char list[128] = "";
    for (int i = 0; f->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
    }
    return msb_fail(err, errlen, "config: key \"%s\" must be one of: %s", f->key, list);
}

static int set_ip(const struct field *f, json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    enum msb_family want = f->kind == F_IPV4 ? MSB_FAMILY_V4 : MSB_FAMILY_V6;
    struct msb_ip ip;
    if (!json_is_string(v) || msb_ip_parse(json_string_value(v), &ip) || ip.family != want)
        return msb_fail(err, errlen, "config: key \"%s\" must be an IPv%d address string", f->key,
                    want == MSB_FAMILY_V4 ? 4 : 6);
    *(struct msb_ip *)((char *)c + f->offset) = ip;
    return 0;
}

static int set_mac(const struct field *f, json_t *v, struct msb_config *c, char *err,
                   size_t errlen)
{
    const char *s = json_string_value(v);
    unsigned b[6];
    char tail;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                     &tail) != 6 || strlen(s) != 17 || (b[0] & 1))
        return msb_fail(err, errlen, "config: key \"%s\" must be a unicast MAC like 02:00:00:00:00:01",
                    f->key);
    uint8_t *mac = (uint8_t *)c + f->offset;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    *(bool *)((char *)c + f->flag_offset) = true;
    return 0;
}

static int set_bool(const struct field *f, json_t *v, struct msb_config *c, char *err,
                    size_t errlen)
{
    if (!json_is_boolean(v))
        return msb_fail(err, errlen, "config: key \"%s\" must be true or false", f->key);
    *(bool *)((char *)c + f->offset) = json_is_true(v);
    return 0;
}

static int set_field(const struct field *f, json_t *v, struct msb_config *c, char *err,
                     size_t errlen)
{
    switch (f->kind) {
    case F_CHOICE:
        return set_choice(f, v, c, err, errlen);
    case F_IPV4:
    case F_IPV6:
        return set_ip(f, v, c, err, errlen);
    case F_MAC:
        return set_mac(f, v, c, err, errlen);
    case F_BOOL:
        return set_bool(f, v, c, err, errlen);
    default:
        return set_uint(f, v, c, err, errlen);
    }
}

void msb_config_release(struct msb_config *c)
{
    msb_policy_free(c->policy);
    c->policy = NULL;
    free(c->publish);
    c->publish = NULL;
    c->n_publish = 0;
    msb_tls_settings_free(c->tls);
    c->tls = NULL;
    msb_secrets_cfg_free(c->secrets);
    c->secrets = NULL;
    msb_proxy_cfg_free(c->proxy);
    c->proxy = NULL;
}

/* "policy" is a whole object (or a string of rule tokens), not a table
 * field: the policy parser names the rule that is wrong.  "egress" is the
 * older switch for the same decision, so giving both is refused rather
 * than silently ranked. */
static int set_policy(json_t *root, json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    if (json_object_get(root, "egress"))
        return msb_fail(err, errlen, "config: keys \"policy\" and \"egress\" exclude each other");
    char why[512];
    if (json_is_string(v) && json_string_value(v)[0] == '{')
        return msb_fail(err, errlen, "config: key \"policy\": give the JSON policy as an object");
    c->policy = json_is_string(v) ? msb_policy_parse_text(json_string_value(v), why, sizeof why)
                                  : msb_policy_from_json(v, why, sizeof why);
    return c->policy ? 0 : msb_fail(err, errlen, "config: key \"policy\": %s", why);
}

/* "dns_upstreams": plain addresses (port 53), at most 8: a list, so not a
 * table field. */
static int set_upstreams(json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > MSB_DNS_MAX_UPSTREAMS)
        return msb_fail(err, errlen, "config: key \"dns_upstreams\" must be an array of at most %d "
                                 "address strings", MSB_DNS_MAX_UPSTREAMS);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || msb_ip_parse(json_string_value(e), &c->dns_upstreams[i]))
            return msb_fail(err, errlen, "config: key \"dns_upstreams\"[%zu] must be an IP address "
                                     "string", i);
    }
    c->n_dns_upstreams = (uint32_t)json_array_size(v);
    return 0;
}

/* "ADDR:PORT" or "[V6]:PORT", port 1..65535. */
static int parse_endpoint(const char *s, struct msb_endpoint *e)
{
    char host[MSB_IP_STRLEN + 2];
    const char *colon = strrchr(s, ':');
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (!colon || hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h[hl - 1] = '\0';
        h++;
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port == 0 || port > 65535 || msb_ip_parse(h, &e->addr))
        return -1;
    if ((host[0] == '[') != (e->addr.family == MSB_FAMILY_V6))
        return -1; /* IPv6 only in brackets, IPv4 never */
    e->port = (uint16_t)port;
    return 0;
}

static int set_protected(json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > MSB_MAX_PROTECTED)
        return msb_fail(err, errlen, "config: key \"protected_ports\" must be an array of at most "
                                 "%d \"ADDR:PORT\" strings", MSB_MAX_PROTECTED);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || parse_endpoint(json_string_value(e), &c->protected_ports[i]))
            return msb_fail(err, errlen, "config: key \"protected_ports\"[%zu] must be "
                                     "\"ADDR:PORT\" or \"[IPV6]:PORT\"", i);
    }
    c->n_protected = (uint32_t)json_array_size(v);
    return 0;
}

static int set_key(json_t *root, const char *key, json_t *v, struct msb_config *c, char *err,
                   size_t errlen)
{
    if (strcmp(key, "policy") == 0)
        return set_policy(root, v, c, err, errlen);
    if (strcmp(key, "dns_upstreams") == 0)
        return set_upstreams(v, c, err, errlen);
    if (strcmp(key, "protected_ports") == 0)
        return set_protected(v, c, err, errlen);
    if (strcmp(key, "publish") == 0)
        return msb_publish_list_from_json(v, &c->publish, &c->n_publish, err, errlen);
    if (strcmp(key, "tls") == 0)
        return msb_tls_settings_from_json(v, &c->tls, err, errlen);
    if (strcmp(key, "secrets") == 0)
        return msb_secrets_from_json(v, &c->secrets, err, errlen);
    if (strcmp(key, "limits") == 0)
        return msb_limits_from_json(v, &c->limits, err, errlen);
    if (strcmp(key, "proxy") == 0)
        return msb_proxy_from_json(v, &c->proxy, err, errlen);
    if (strcmp(key, "profile") == 0)
        return 0; /* applied once every key is in (profile.h) */
    const struct field *f = find_field(key);
    return f ? set_field(f, v, c, err, errlen)
             : msb_fail(err, errlen, "config: unknown key \"%s\"", key);
}

/* jansson's message may quote the text near the error ("... near
 * 'sk-12'"): in a config with secrets that text could be a value, so only
 * the kind of error is kept. */
static int json_error(const char *json, json_error_t *je, char *err, size_t errlen)
{
    char *near = strstr(je->text, " near ");
    if (near && (strstr(json, "secrets") || strstr(json, "proxy")))
        *near = '\0';
    return msb_fail(err, errlen, "config: invalid JSON at line %d column %d: %s", je->line,
                    je->column, je->text);
}

/* The parse tree's copies of the values are wiped before it is freed
 * (the caller's config text stays the caller's). */
static void wipe_values(json_t *root)
{
    size_t i;
    json_t *e, *url = json_object_get(json_object_get(root, "proxy"), "url");
    if (json_is_string(url)) /* it may carry the proxy's credentials */
        memset((char *)json_string_value(url), 0, json_string_length(url));
    json_array_foreach(json_object_get(root, "secrets"), i, e) {
        json_t *v = json_object_get(e, "value");
        if (json_is_string(v))
            memset((char *)json_string_value(v), 0, json_string_length(v));
    }
}

int msb_config_parse(const char *json, struct msb_config *c, char *err, size_t errlen)
{
    msb_config_defaults(c);
    if (!json || !*json)
        return 0;
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return json_error(json, &je, err, errlen);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = msb_fail(err, errlen, "config: expected a JSON object");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            rc = set_key(root, key, v, c, err, errlen);
            if (rc)
                break;
        }
    }
    if (!rc)
        rc = msb_profile_apply(root, c, err, errlen);
    if (json_is_object(root))
        wipe_values(root);
    json_decref(root);
    if (!rc)
        rc = msb_tls_config_check(c->tls, c->secrets, err, errlen);
    /* Super-frames to the guest exist only behind a virtio-net header. */
    if (!rc && c->vnet_guest_tso && !c->vnet_hdr)
        rc = msb_fail(err, errlen, "config: key \"vnet_guest_tso\" needs \"vnet_hdr\": true");
    if (rc)
        msb_config_release(c);
    return rc;
}
