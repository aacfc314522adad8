/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages on the wire (RFC 1035), read and written with every length
 * checked: the guest's queries and the upstreams' answers are both hostile.
 * Only what interception needs is decoded: the header, the first question
 * and the answer section's A/AAAA records.  Names may be compressed; a
 * pointer must point strictly backwards, so pointer loops cannot exist.
 */
#ifndef MSB_DNS_MSG_H
#define MSB_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define MSB_DNS_HDR_LEN 12
/* Presentation form: 255 wire bytes, each byte at most 4 chars ("\DDD"). */
#define MSB_DNS_NAME_TEXT_MAX 1024
#define MSB_DNS_MAX_ADDRS 64

#define MSB_DNS_TYPE_A 1
#define MSB_DNS_TYPE_CNAME 5
#define MSB_DNS_TYPE_AAAA 28
#define MSB_DNS_TYPE_OPT 41
#define MSB_DNS_CLASS_IN 1

#define MSB_DNS_NOERROR 0
#define MSB_DNS_FORMERR 1
#define MSB_DNS_SERVFAIL 2
#define MSB_DNS_NXDOMAIN 3
#define MSB_DNS_REFUSED 5

/* Header flag bits (the 16-bit word after the ID). */
#define MSB_DNS_F_QR 0x8000
#define MSB_DNS_F_AA 0x0400
#define MSB_DNS_F_TC 0x0200
#define MSB_DNS_F_RD 0x0100
#define MSB_DNS_F_RA 0x0080

struct msb_dns_hdr {
    uint16_t id, flags, qd, an, ns, ar;
};

/* A guest query: its first (only) question and the UDP size it accepts. */
struct msb_dns_query {
    struct msb_dns_hdr h;
    char name[MSB_DNS_NAME_TEXT_MAX]; /* no trailing dot; "" = the root */
    size_t name_len;
    uint16_t qtype, qclass;
    size_t q_end;      /* offset just past the first question */
    uint16_t udp_size; /* max(512, EDNS OPT size), 512 without OPT */
};

enum msb_dns_parse { MSB_DNS_OK = 0, MSB_DNS_NO_HEADER = -1, MSB_DNS_BAD = -2 };

/* Reads a query.  NO_HEADER: shorter than a header (drop it); BAD: a
 * readable header but no usable question (QR set, QDCOUNT != 1, a broken
 * name or section; answer FORMERR). */
enum msb_dns_parse msb_dns_parse_query(const uint8_t *m, size_t len, struct msb_dns_query *q);

/* An upstream answer, reduced to what the forwarder acts on. */
struct msb_dns_answer {
    struct msb_dns_hdr h;
    uint8_t rcode;
    struct msb_ip addrs[MSB_DNS_MAX_ADDRS]; /* IN A/AAAA of the queried family */
    size_t naddrs;
    uint32_t min_ttl;  /* over those records; UINT32_MAX when none */
    bool private_addr; /* some IN A/AAAA (any family) is private (rebind) */
};

/* Reads an answer to q (whose wire form is query[0..q->q_end)): the ID and
 * the question must match (names compared case-insensitively), QR set.
 * fam selects which addresses are collected (NONE = none).  Returns 0, or
 * -1 when malformed or not an answer to q. */
int msb_dns_parse_answer(const uint8_t *m, size_t len, const uint8_t *query,
                         const struct msb_dns_query *q, enum msb_family fam,
                         struct msb_dns_answer *a);

/* Private, loopback, link-local, CGNAT, unspecified (0.0.0.0/8, ::), ULA,
 * and IPv4-mapped forms of those: what a public name must not resolve to. */
bool msb_dns_is_rebind_addr(const struct msb_ip *ip);

/* A reply to query (parsed into q, or q == NULL when only its header could
 * be read): same ID, opcode and RD, QR and RA set, the given rcode and
 * extra flags (AA, TC), the first question copied verbatim, no records.
 * Returns its length, or 0 when cap is too small. */
size_t msb_dns_build_status(const uint8_t *query, const struct msb_dns_query *q, uint8_t rcode,
                            uint16_t extra_flags, uint8_t *out, size_t cap);

/* The authoritative answer for host.microsandbox.internal: one record of
 * ip's family, TTL 60.  Returns its length, or 0 when cap is too small. */
size_t msb_dns_build_alias(const uint8_t *query, const struct msb_dns_query *q,
                           const struct msb_ip *ip, uint8_t *out, size_t cap);

/* An upstream answer cut to header + question with TC=1, for a guest
 * whose UDP size it exceeds.  Returns its length (0 when cap too small). */
size_t msb_dns_build_truncated(const uint8_t *answer, const struct msb_dns_query *q,
                               uint8_t *out, size_t cap);

/* True for host.microsandbox.internal (ASCII case-insensitive). */
bool msb_dns_is_host_alias(const struct msb_dns_query *q);

#endif
