/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "proxy" config key (issue 16): allowed guest TCP flows dialled
 * through an upstream SOCKS5 or HTTP CONNECT proxy, for hosts that reach
 * the world only through one.
 *
 *   "proxy": {"url": "socks5://[USER:PASS@]ADDR:PORT"     (or "http://...")
 *             "bypass": ["*.internal", "example.com"]}   names dialled directly
 *
 * ADDR is an IP address (IPv6 in brackets): msbnetd resolves nothing on
 * the host's behalf.  USER and PASS are 1..255 bytes of visible ASCII
 * without ':' '@' '/' in USER ('@' and '/' not in PASS either), never
 * written to a log or a message.
 */
#ifndef MSB_PROXY_CONFIG_H
#define MSB_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/addr.h"
#include "model/tls_config.h"

enum msb_proxy_kind { MSB_PROXY_SOCKS5 = 0, MSB_PROXY_HTTP = 1 };

#define MSB_PROXY_CRED_MAX 255
#define MSB_PROXY_BYPASS_MAX 64

struct msb_proxy_cfg {
    enum msb_proxy_kind kind;
    struct msb_ip addr;
    uint16_t port;
    bool has_auth;
    char user[MSB_PROXY_CRED_MAX + 1], pass[MSB_PROXY_CRED_MAX + 1];
    struct msb_host_patterns bypass;
};

/* The "proxy" object into *out (allocated), or -1 with a message that
 * never quotes the credentials. */
int msb_proxy_from_json(json_t *v, struct msb_proxy_cfg **out, char *err, size_t errlen);

/* Wipes the credentials and frees; NULL ignored. */
void msb_proxy_cfg_free(struct msb_proxy_cfg *p);

#endif
