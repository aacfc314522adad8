/* SPDX-License-Identifier: Apache-2.0 */
/* The guest-facing addressing the plugin reports (addresses_json), parsed
 * into the forms the interface configuration needs. */
#ifndef MSBD_ADDRESSES_H
#define MSBD_ADDRESSES_H

#include <netinet/in.h>
#include <stdint.h>

/* Below this MTU the kernel disables IPv6 on an interface (RFC 8200), so
 * the guest gets IPv4 only. */
#define MSBD_IPV6_MIN_MTU 1280

struct msbd_addrs {
    uint8_t guest_mac[6], gateway_mac[6];
    struct in_addr guest4, gateway4;
    struct in6_addr guest6, gateway6;
    int prefix4, prefix6;
    unsigned mtu;
    char gateway4_str[INET_ADDRSTRLEN], gateway6_str[INET6_ADDRSTRLEN];
};

/* Returns 0, or -1 with a reason in err. */
int msbd_addrs_parse(const char *json, struct msbd_addrs *a, char *err, size_t errlen);

#endif
