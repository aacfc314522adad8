/* SPDX-License-Identifier: Apache-2.0 */
/* The "proxy" key read strictly (proxy_config.h). */
#include "model/proxy_config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/errmsg.h"

/* Visible ASCII without the URL's own separators. */
static bool cred_ok(const char *s, size_t n, const char *forbidden)
{
    if (n < 1 || n > MSB_PROXY_CRED_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || strchr(forbidden, s[i]))
            return false;
    return true;
}

/* "USER:PASS" (the part before '@'). */
static int parse_auth(const char *s, size_t n, struct msb_proxy_cfg *p, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || !cred_ok(s, (size_t)(colon - s), ":@/") ||
        !cred_ok(colon + 1, n - (size_t)(colon - s) - 1, "@/"))
        return msb_fail(err, errlen, "config: key \"proxy\": url credentials must be USER:PASS, "
                        "each 1..255 visible ASCII bytes (USER without ':')");
    memcpy(p->user, s, (size_t)(colon - s));
    memcpy(p->pass, colon + 1, n - (size_t)(colon - s) - 1);
    p->has_auth = true;
    return 0;
}

/* "ADDR:PORT" or "[V6]:PORT". */
static int parse_endpoint(const char *s, struct msb_proxy_cfg *p, char *err, size_t errlen)
{
    char host[64];
    const char *port;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    char *end;
    long v = strtol(port, &end, 10);
    if (msb_ip_parse(host, &p->addr) || *port < '0' || *port > '9' || *end || v < 1 || v > 65535)
        goto bad;
    p->port = (uint16_t)v;
    return 0;
bad:
    return msb_fail(err, errlen, "config: key \"proxy\": url must end in ADDR:PORT with an IP "
                    "address ([V6]:PORT for IPv6; names are not resolved)");
}

static int parse_url(const char *url, struct msb_proxy_cfg *p, char *err, size_t errlen)
{
    const char *rest;
    if (strncmp(url, "socks5://", 9) == 0) {
        p->kind = MSB_PROXY_SOCKS5;
        rest = url + 9;
    } else if (strncmp(url, "http://", 7) == 0) {
        p->kind = MSB_PROXY_HTTP;
        rest = url + 7;
    } else {
        return msb_fail(err, errlen, "config: key \"proxy\": url must start with socks5:// or "
                        "http://");
    }
    size_t n = strcspn(rest, "/");
    if (rest[n] && strcmp(rest + n, "/") != 0)
        return msb_fail(err, errlen, "config: key \"proxy\": url takes no path");
    char hostport[80];
    const char *at = memchr(rest, '@', n);
    if (at && parse_auth(rest, (size_t)(at - rest), p, err, errlen))
        return -1;
    const char *ep = at ? at + 1 : rest;
    size_t en = n - (size_t)(ep - rest);
    if (en >= sizeof hostport)
        return msb_fail(err, errlen, "config: key \"proxy\": url address too long");
    memcpy(hostport, ep, en);
    hostport[en] = '\0';
    return parse_endpoint(hostport, p, err, errlen);
}

int msb_proxy_from_json(json_t *v, struct msb_proxy_cfg **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *url = json_object_get(v, "url");
    if (!json_is_object(v) || !json_is_string(url))
        return msb_fail(err, errlen, "config: key \"proxy\" must be an object with a \"url\"");
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        if (strcmp(key, "url") && strcmp(key, "bypass"))
            return msb_fail(err, errlen, "config: key \"proxy\": unknown member \"%s\"", key);
    }
    struct msb_proxy_cfg *p = calloc(1, sizeof *p);
    if (!p)
        return msb_fail(err, errlen, "config: out of memory");
    json_t *bypass = json_object_get(v, "bypass");
    if (parse_url(json_string_value(url), p, err, errlen) ||
        (bypass && msb_host_patterns_from_json(bypass, MSB_PROXY_BYPASS_MAX, "proxy.bypass",
                                               &p->bypass, err, errlen))) {
        msb_proxy_cfg_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void msb_proxy_cfg_free(struct msb_proxy_cfg *p)
{
    if (!p)
        return;
    msb_host_patterns_free(&p->bypass);
    /* volatile: the wipe is not optimised away before free */
    volatile char *c = (volatile char *)p;
    for (size_t i = 0; i < sizeof *p; i++)
        c[i] = 0;
    free(p);
}
