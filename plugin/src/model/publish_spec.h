/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Published ports (ingress): what one host listener forwards to the guest,
 * as given in the config key "publish" or to publish_port()/unpublish_port():
 *   {"protocol": "tcp"|"udp", "host_address": "127.0.0.1", "host_port": 8080,
 *    "guest_port": 80, "real_peer": false}
 * protocol (default tcp), host_address (default 127.0.0.1; "::1", "0.0.0.0"
 * or any local address) and real_peer (default false) are optional.  Every
 * value is checked; unknown keys are refused.
 */
#ifndef MSB_PUBLISH_SPEC_H
#define MSB_PUBLISH_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

/* More listeners than any sandbox needs; a bound on what the config costs. */
#define MSB_PUBLISH_MAX 256

struct json_t;

struct msb_publish_spec {
    uint8_t proto; /* MSB_IPPROTO_TCP or MSB_IPPROTO_UDP */
    bool real_peer; /* the guest sees the peer's address, not the gateway's */
    uint16_t host_port, guest_port;
    struct msb_ip host_addr;
};

/* One object.  need_guest_port false: guest_port may be absent (unpublish
 * names a listener by protocol, address and port).  what prefixes errors. */
int msb_publish_spec_from_json(const struct json_t *v, bool need_guest_port, const char *what,
                               struct msb_publish_spec *out, char *err, size_t errlen);

/* The same from JSON text (the ABI calls). */
int msb_publish_spec_parse(const char *json, bool need_guest_port, struct msb_publish_spec *out,
                           char *err, size_t errlen);

/* The config key: an array of objects.  *out is malloc'd (NULL when empty);
 * duplicates (same protocol, port and overlapping address) are refused
 * naming both indexes. */
int msb_publish_list_from_json(const struct json_t *v, struct msb_publish_spec **out,
                               uint32_t *n, char *err, size_t errlen);

/* True when a and b would compete for the same host socket. */
bool msb_publish_same_listener(const struct msb_publish_spec *a, const struct msb_publish_spec *b);

/* The spec as the object publish_port takes, every key written (a new
 * json_t reference; NULL on allocation failure). */
struct json_t *msb_publish_spec_to_json(const struct msb_publish_spec *s);

/* "tcp 127.0.0.1:8080 -> 80" for messages. */
void msb_publish_spec_describe(const struct msb_publish_spec *s, char *buf, size_t len);

#endif
