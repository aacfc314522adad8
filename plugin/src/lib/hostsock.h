/* SPDX-License-Identifier: Apache-2.0 */
/* Socket options of the host side of a relayed TCP flow.  Kept apart from
 * the TCP code: the system's <netinet/tcp.h> and lwIP's options both
 * define TCP_MSS, with different meanings. */
#ifndef MSB_HOSTSOCK_H
#define MSB_HOSTSOCK_H

/* No Nagle (the guest's own stack already coalesces) and keepalive, so a
 * dead host peer is noticed in about two minutes even when the guest holds
 * an idle connection for hours.  Failures are harmless and ignored. */
void msb_host_tcp_options(int fd);

#endif
