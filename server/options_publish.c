/* SPDX-License-Identifier: Apache-2.0 */
/* --publish: the passt/podman -p syntax, parsed into the plugin's "publish"
 * objects. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "options_int.h"

static int port_of(const char *s, size_t n, json_int_t *out)
{
    char buf[8];
    unsigned long v;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (msbd_parse_uint(buf, 65535, &v) || v == 0)
        return -1;
    *out = (json_int_t)v;
    return 0;
}

static void *publish_fail(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return NULL;
}

void *msbd_publish_arg(const char *arg, char *why, size_t whylen)
{
    char addr[64] = "";
    const char *end = arg + strlen(arg), *p = arg;
    const char *slash = strrchr(arg, '/');
    const char *proto = "tcp";
    if (slash) {
        if (strcmp(slash, "/udp") != 0 && strcmp(slash, "/tcp") != 0)
            return publish_fail(why, whylen, "the protocol suffix must be /tcp or /udp");
        proto = slash + 1;
        end = slash;
    }
    if (*p == '[') { /* [IPv6]:... */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close[1] != ':' || (size_t)(close - p - 1) >= sizeof addr)
            return publish_fail(why, whylen, "expected [IPV6]:HOSTPORT:GUESTPORT");
        memcpy(addr, p + 1, (size_t)(close - p - 1));
        if (!msbd_is_ip(AF_INET6, addr))
            return publish_fail(why, whylen, "not an IPv6 address in brackets");
        p = close + 2;
    }
    const char *c1 = memchr(p, ':', (size_t)(end - p));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
    if (c2 && !addr[0]) { /* ADDR:HOSTPORT:GUESTPORT, ADDR an IPv4 address */
        if ((size_t)(c1 - p) >= sizeof addr || memchr(c2 + 1, ':', (size_t)(end - c2 - 1)))
            return publish_fail(why, whylen, "an IPv6 address goes in brackets: [::1]:8080:80");
        memcpy(addr, p, (size_t)(c1 - p));
        if (!msbd_is_ip(AF_INET, addr))
            return publish_fail(why, whylen, "not an IPv4 address before the ports");
        p = c1 + 1;
        c1 = c2;
    } else if (c2) {
        return publish_fail(why, whylen, "expected [ADDR:]HOSTPORT:GUESTPORT[/udp]");
    }
    if (addr[0] && !c1)
        return publish_fail(why, whylen, "with an address, both ports are needed");
    json_int_t hp, gp;
    if (port_of(p, (size_t)((c1 ? c1 : end) - p), &hp) ||
        (c1 ? port_of(c1 + 1, (size_t)(end - c1 - 1), &gp) : (gp = hp, 0)))
        return publish_fail(why, whylen, "ports must be numbers in 1..65535");
    json_t *spec = json_object();
    json_object_set_new(spec, "protocol", json_string(proto));
    if (addr[0])
        json_object_set_new(spec, "host_address", json_string(addr));
    json_object_set_new(spec, "host_port", json_integer(hp));
    json_object_set_new(spec, "guest_port", json_integer(gp));
    return spec;
}

int msbd_opts_add_publish(struct msbd_opts *o, const char *cmd, const char *val)
{
    char why[160];
    json_t *spec = msbd_publish_arg(val, why, sizeof why);
    if (!spec)
        return msbd_opt_bad(cmd, "--publish: \"%s\": %s", val, why);
    json_t *list = json_object_get(o->overrides, "publish");
    if (!list) {
        list = json_array();
        json_object_set_new(o->overrides, "publish", list);
    }
    json_array_append_new(list, spec);
    return 0;
}
