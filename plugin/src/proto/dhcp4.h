/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DHCPv4 server for the sandbox's one guest (RFC 2131/2132): DISCOVER
 * gets an OFFER of the guest address, REQUEST an ACK (or a NAK when it asks
 * for another address), INFORM an ACK with the options only.  Options:
 * subnet mask, router and DNS server (both the gateway), interface MTU,
 * lease time with T1/T2, server identifier.  Stateless: the one lease is
 * fixed by the addressing, so nothing is remembered per client.
 *
 * The server binds to one client MAC: the guest's (configured, or learned
 * by the stack from its traffic), else the first DHCP client's, which the
 * stack then adopts as the guest MAC.  Other MACs are ignored and counted.
 * Active only while config "dhcp4" is true and the IPv4 gateway is set.
 */
#ifndef MSB_DHCP4_H
#define MSB_DHCP4_H

#include <stdbool.h>

#include "lib/pkt.h"

struct msb_env;

#define MSB_DHCP_SERVER_PORT 67
#define MSB_DHCP_CLIENT_PORT 68

/* True when p is addressed to a DHCP server (IPv4 UDP 68 -> 67): the stack
 * hands such packets to msb_dhcp4_input before its address checks, since
 * a client without a lease sends from 0.0.0.0 to 255.255.255.255. */
bool msb_dhcp4_wants(const struct msb_pkt *p);

/* Answers (or drops, counted) one DHCP client message. */
void msb_dhcp4_input(struct msb_env *e, const struct msb_pkt *p);

#endif
