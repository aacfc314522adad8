/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal rtnetlink client: just enough to configure one interface in the
 * current network namespace (the socket belongs to the namespace it was
 * opened in).  Every call waits for the kernel's ACK and returns 0 or
 * -errno, so a failure names the real cause.
 */
#ifndef MSBD_NETLINK_H
#define MSBD_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct msbd_nl {
    int fd;
    uint32_t seq;
};

int msbd_nl_open(struct msbd_nl *nl);
void msbd_nl_close(struct msbd_nl *nl);

/* mac may be NULL, mtu 0 = leave alone. */
int msbd_nl_link_set(struct msbd_nl *nl, int ifindex, const uint8_t *mac, unsigned mtu);
int msbd_nl_link_up(struct msbd_nl *nl, int ifindex);

/* addr: struct in_addr or struct in6_addr per family.  nodad: usable at
 * once instead of after duplicate address detection (IPv6). */
int msbd_nl_addr_add(struct msbd_nl *nl, int ifindex, int family, const void *addr, int prefix,
                     bool nodad);

/* Default route via gw, on-link (the gateway need not be in the prefix). */
int msbd_nl_default_route(struct msbd_nl *nl, int ifindex, int family, const void *gw);

#endif
