/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where queries addressed to the gateway go: the configured "dns_upstreams",
 * else the host's own resolvers from resolv.conf (a systemd-resolved stub
 * on 127.0.0.53 included: the forwarder dials it from the host).
 */
#ifndef MSB_DNS_UPSTREAMS_H
#define MSB_DNS_UPSTREAMS_H

#include <stddef.h>

#include "lib/addr.h"

/* Reads "nameserver ADDR" lines from path (a zone suffix "%eth0" is
 * dropped); lines over 255 bytes and unparsable addresses are skipped.
 * Returns how many addresses went into out (at most max). */
size_t msb_dns_read_resolv_conf(const char *path, struct msb_ip *out, size_t max);

#endif
