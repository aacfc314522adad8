/*
 * DNS interception for guest UDP/53 to any address: the stack hands every
 * such datagram here instead of to the UDP relay.
 *
 * Per query: no header -> dropped (dns_no_header); unreadable question ->
 * FORMERR; host.microsandbox.internal -> answered from the gateway IPs
 * (other types -> NOERROR/NODATA, never leaked upstream).  Queries to a
 * gateway go to the configured upstreams (else resolv.conf) one after the
 * other, each try getting its share of dns_query_timeout_ms, with a fresh
 * socket and a random transaction ID; the guest's ID is restored.  No
 * answer in time -> SERVFAIL.  Queries to another address (the guest's own
 * resolver) go to that address only if the policy allows UDP/53 to it
 * (else REFUSED), and never feed the hostname index.  Answers from the
 * configured upstreams: private addresses -> REFUSED when rebind
 * protection is on; A/AAAA feed the index, NXDOMAIN/NODATA clear it.
 * Answers over the guest's UDP size go out as header + question, TC=1.
 * Replies come from the address and port the guest queried.
 */
#ifndef MSB_DNS_FORWARD_H
#define MSB_DNS_FORWARD_H

#include <stddef.h>

#include "pkt.h"

struct msb_stack;
struct msb_dns;

struct msb_dns *msb_dns_create(struct msb_stack *s, char *err, size_t errlen);

/* Abandons queries in flight and frees everything.  NULL ignored. */
void msb_dns_destroy(struct msb_dns *d);

/* One guest UDP datagram to port 53: parsed, checksum verified. */
void msb_dns_udp_input(struct msb_dns *d, const struct msb_pkt *p);

#endif
