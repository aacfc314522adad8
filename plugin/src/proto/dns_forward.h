/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS interception for guest UDP/53 and TCP/53 to any address: the stack
 * hands every such datagram here instead of to the UDP relay, and
 * dns_tcp.c hands over each framed message of a TCP/53 connection.
 *
 * Per query: no header -> dropped (dns_no_header); unreadable question ->
 * FORMERR; a domain/suffix deny rule on the name -> REFUSED (terminate
 * also fires the hook); host.microsandbox.internal -> answered from the
 * gateway IPs (other types -> NOERROR/NODATA, never leaked upstream).
 * Queries to a gateway go to the configured upstreams (else resolv.conf)
 * one after the other, each try getting its share of
 * dns_query_timeout_ms, with a fresh socket and a random transaction ID;
 * the guest's ID is restored.  No answer in time -> SERVFAIL.  Queries to
 * another address (the guest's own resolver) go to that address only if
 * the policy allows egress to it on port 53 (UDP: checked here, else
 * REFUSED; TCP: checked at the SYN, else RST), and never feed the hostname
 * index.  Answers from the configured upstreams: private addresses ->
 * REFUSED when rebind protection is on; A/AAAA feed the index,
 * NXDOMAIN/NODATA clear it.  Upstreams are asked over UDP; an answer with
 * TC=1 to a guest TCP query is asked again of the same upstream over TCP.
 * Answers over a UDP guest's size go out as header + question, TC=1; over
 * TCP they are never cut.  Replies come from the address the guest queried.
 */
#ifndef MSB_DNS_FORWARD_H
#define MSB_DNS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/pkt.h"

/* Guest queries waiting for an upstream at once (each holds a socket). */
#define MSB_DNS_MAX_IN_FLIGHT 256

struct msb_env;
struct msb_dns;
struct msb_dns_conn;

struct msb_dns *msb_dns_create(struct msb_env *env, char *err, size_t errlen);

/* Abandons queries in flight, closes TCP/53 connections, frees all.
 * NULL ignored. */
void msb_dns_destroy(struct msb_dns *d);

/* One guest UDP datagram to port 53: parsed, checksum verified. */
void msb_dns_udp_input(struct msb_dns *d, const struct msb_pkt *p);

/* Where a TCP/53 connection came from (dns_tcp.c). */
struct msb_dns_peer {
    struct msb_ip guest, dialled;
    uint16_t gport;
};

/* One message of a TCP/53 connection.  Exactly one msb_dns_conn_reply()
 * follows for it (len 0: no reply), now or later, unless the connection
 * is abandoned first. */
void msb_dns_tcp_query(struct msb_dns *d, struct msb_dns_conn *c, const struct msb_dns_peer *p,
                       const uint8_t *m, size_t n);

/* The connection is closing: its queries in flight are dropped. */
void msb_dns_abandon(struct msb_dns *d, const struct msb_dns_conn *c);

/* dns_tcp.c's state, owned by the forwarder (NULL before it exists). */
struct msb_dns_tcp *msb_dns_tcp_of(struct msb_dns *d);

#endif
