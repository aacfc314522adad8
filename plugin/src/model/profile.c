/* SPDX-License-Identifier: Apache-2.0 */
/* The "multi-tenant" profile's rules over a parsed config (profile.h). */
#include "model/profile.h"

#include <stdint.h>
#include <string.h>

#include "lib/errmsg.h"
#include "model/config.h"

/* A cap of the profile: the value when the key is absent, and the most
 * the key may say. */
struct cap {
    const char *key;
    size_t offset;
    uint32_t value;
};

#define CAP(k, v) {#k, offsetof(struct msb_config, k), v}
static const struct cap caps[] = {
    CAP(max_flows, 512),
    CAP(max_udp_sessions, 128),
    CAP(max_icmp_echoes, 16),
    CAP(tcp_buffer_max_bytes, 16u << 20),
    CAP(hostname_index_max_entries, 4096),
    CAP(max_inbound_flows, 64),
};
#undef CAP

/* Connection and query rates where "limits" leaves them out. */
static const struct msb_limit new_flows = {50, 100}, dns_queries = {100, 200};

static int apply_caps(json_t *root, struct msb_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        uint32_t *v = (uint32_t *)((char *)c + caps[i].offset);
        if (!json_object_get(root, caps[i].key))
            *v = caps[i].value;
        else if (*v > caps[i].value)
            return msb_fail(err, errlen, "config: key \"%s\" may be at most %u with profile "
                            "\"multi-tenant\"", caps[i].key, caps[i].value);
    }
    return 0;
}

static int multi_tenant(json_t *root, struct msb_config *c, char *err, size_t errlen)
{
    if (json_is_false(json_object_get(root, "dns_rebind_protection")))
        return msb_fail(err, errlen, "config: profile \"multi-tenant\" keeps "
                        "\"dns_rebind_protection\" on");
    if (c->n_publish)
        return msb_fail(err, errlen, "config: profile \"multi-tenant\" publishes no ports "
                        "(key \"publish\")");
    c->dns_rebind_protection = true;
    c->dns_force_upstreams = true;
    c->no_publish = true;
    if (!c->limits.k[MSB_LIMIT_CONNECTIONS].rate)
        c->limits.k[MSB_LIMIT_CONNECTIONS] = new_flows;
    if (!c->limits.k[MSB_LIMIT_DNS].rate)
        c->limits.k[MSB_LIMIT_DNS] = dns_queries;
    return apply_caps(root, c, err, errlen);
}

int msb_profile_apply(json_t *root, struct msb_config *c, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "profile");
    if (!v)
        return 0;
    const char *name = json_string_value(v);
    if (name && strcmp(name, "standard") == 0)
        return 0;
    if (name && strcmp(name, "multi-tenant") == 0) {
        c->profile = MSB_PROFILE_MULTI_TENANT;
        return multi_tenant(root, c, err, errlen);
    }
    return msb_fail(err, errlen, "config: key \"profile\" must be \"standard\" or "
                    "\"multi-tenant\"");
}
