/* SPDX-License-Identifier: Apache-2.0 */
/* DNS messages on the wire (dns_msg.h).  Guests and upstreams are both
 * hostile, so every name walk and record skip is bounded by the message. */
#include "lib/dns_msg.h"

#include <stdio.h>
#include <string.h>

#include "lib/pkt.h"

#define WIRE_NAME_MAX 255
#define ALIAS "host.microsandbox.internal"
#define ALIAS_TTL 60
#define RR_FIXED 10 /* type, class, TTL, RDLENGTH after the owner name */

static void read_hdr(const uint8_t *m, struct msb_dns_hdr *h)
{
    h->id = msb_get16(m);
    h->flags = msb_get16(m + 2);
    h->qd = msb_get16(m + 4);
    h->an = msb_get16(m + 6);
    h->ns = msb_get16(m + 8);
    h->ar = msb_get16(m + 10);
}

/* Appends one label byte in presentation form: "\DDD" for anything that
 * is not a visible, unambiguous character, so a name is one C string. */
static void put_text(char *out, size_t *n, uint8_t c)
{
    if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
        out[(*n)++] = (char)c;
        return;
    }
    *n += (size_t)snprintf(out + *n, 5, "\\%03u", c);
}

/*
 * Walks the name at m[off..): *next = where the record continues.  out
 * (MSB_DNS_NAME_TEXT_MAX bytes) gets the text form when non-NULL.  A
 * compression pointer must point before the label it replaces, so every
 * jump goes strictly backwards and the walk ends; the wire length is capped
 * at 255 like RFC 1035 says.  allow_ptr false refuses pointers (the first
 * question, which nothing precedes but the header).
 */
static int read_name(const uint8_t *m, size_t len, size_t off, bool allow_ptr, char *out,
                     size_t *out_len, size_t *next)
{
    size_t wire = 0, n = 0, at = off, lowest = off;
    bool jumped = false;
    for (;;) {
        if (at >= len)
            return -1;
        uint8_t l = m[at];
        if ((l & 0xc0) == 0xc0) {
            if (!allow_ptr || at + 1 >= len)
                return -1;
            size_t to = (size_t)(l & 0x3f) << 8 | m[at + 1];
            if (to >= lowest)
                return -1; /* forward or self: a loop or a trick */
            if (!jumped)
                *next = at + 2;
            jumped = true;
            lowest = at = to;
            continue;
        }
        if (l & 0xc0)
            return -1; /* 0x40/0x80: extended label types are obsolete */
        wire += (size_t)l + 1;
        if (wire > WIRE_NAME_MAX || at + 1 + l > len)
            return -1;
        if (l == 0)
            break;
        if (out) {
            if (n)
                out[n++] = '.';
            for (size_t i = 0; i < l; i++)
                put_text(out, &n, m[at + 1 + i]);
        }
        at += 1 + (size_t)l;
    }
    if (!jumped)
        *next = at + 1;
    if (out) {
        out[n] = '\0';
        *out_len = n;
    }
    return 0;
}

/* Skips one resource record; type, rdata and rdlen describe it. */
static int skip_rr(const uint8_t *m, size_t len, size_t *off, uint16_t *type, uint16_t *klass,
                   uint32_t *ttl, size_t *rdata, size_t *rdlen)
{
    size_t at;
    if (read_name(m, len, *off, true, NULL, NULL, &at) != 0 || len - at < RR_FIXED)
        return -1;
    *type = msb_get16(m + at);
    *klass = msb_get16(m + at + 2);
    *ttl = msb_get32(m + at + 4);
    if (*ttl > 0x7fffffffu) /* RFC 2181 §8: a TTL with the top bit set means 0 */
        *ttl = 0;
    *rdlen = msb_get16(m + at + 8);
    *rdata = at + RR_FIXED;
    if (len - *rdata < *rdlen)
        return -1;
    *off = *rdata + *rdlen;
    return 0;
}

/* The EDNS OPT record's CLASS is the requester's UDP payload size. */
static int find_udp_size(const uint8_t *m, size_t len, const struct msb_dns_query *q,
                         uint16_t *size)
{
    size_t off = q->q_end, rdata, rdlen;
    uint32_t ttl, records = (uint32_t)q->h.an + q->h.ns + q->h.ar;
    uint16_t type, klass;
    *size = 512;
    for (uint32_t i = 0; i < records; i++) {
        if (skip_rr(m, len, &off, &type, &klass, &ttl, &rdata, &rdlen) != 0)
            return -1;
        if (type == MSB_DNS_TYPE_OPT && klass > 512)
            *size = klass;
    }
    return 0;
}

enum msb_dns_parse msb_dns_parse_query(const uint8_t *m, size_t len, struct msb_dns_query *q)
{
    if (len < MSB_DNS_HDR_LEN)
        return MSB_DNS_NO_HEADER;
    memset(q, 0, sizeof *q);
    read_hdr(m, &q->h);
    if ((q->h.flags & MSB_DNS_F_QR) || q->h.qd != 1)
        return MSB_DNS_BAD;
    size_t at;
    if (read_name(m, len, MSB_DNS_HDR_LEN, false, q->name, &q->name_len, &at) != 0 ||
        len - at < 4)
        return MSB_DNS_BAD;
    q->qtype = msb_get16(m + at);
    q->qclass = msb_get16(m + at + 2);
    q->q_end = at + 4;
    return find_udp_size(m, len, q, &q->udp_size) == 0 ? MSB_DNS_OK : MSB_DNS_BAD;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool same_question(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static void take_addr(struct msb_dns_answer *a, enum msb_family fam, uint16_t type,
                      const uint8_t *rd, uint32_t ttl)
{
    struct msb_ip ip;
    if (type == MSB_DNS_TYPE_A)
        msb_ip_from_v4(&ip, rd);
    else
        msb_ip_from_v6(&ip, rd);
    if (msb_dns_is_rebind_addr(&ip))
        a->private_addr = true;
    if (ip.family != fam || a->naddrs == MSB_DNS_MAX_ADDRS)
        return;
    a->addrs[a->naddrs++] = ip;
    if (ttl < a->min_ttl)
        a->min_ttl = ttl;
}

static int read_answers(const uint8_t *m, size_t len, size_t off, enum msb_family fam,
                        struct msb_dns_answer *a)
{
    for (uint16_t i = 0; i < a->h.an; i++) {
        uint16_t type, klass;
        uint32_t ttl;
        size_t rdata, rdlen;
        if (skip_rr(m, len, &off, &type, &klass, &ttl, &rdata, &rdlen) != 0)
            return -1;
        if (klass != MSB_DNS_CLASS_IN || (type != MSB_DNS_TYPE_A && type != MSB_DNS_TYPE_AAAA))
            continue;
        if (rdlen != (type == MSB_DNS_TYPE_A ? 4u : 16u))
            return -1;
        take_addr(a, fam, type, m + rdata, ttl);
    }
    return 0;
}

int msb_dns_parse_answer(const uint8_t *m, size_t len, const uint8_t *query,
                         const struct msb_dns_query *q, enum msb_family fam,
                         struct msb_dns_answer *a)
{
    memset(a, 0, sizeof *a);
    a->min_ttl = UINT32_MAX;
    if (len < q->q_end)
        return -1;
    read_hdr(m, &a->h);
    if (a->h.id != q->h.id || !(a->h.flags & MSB_DNS_F_QR) || a->h.qd != 1 ||
        !same_question(m, query, MSB_DNS_HDR_LEN, q->q_end - 4) ||
        memcmp(m + q->q_end - 4, query + q->q_end - 4, 4) != 0)
        return -1;
    a->rcode = (uint8_t)(a->h.flags & 0x0f);
    return read_answers(m, len, q->q_end, fam, a);
}

static bool v4_private(const uint8_t *b)
{
    return b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 169 && b[1] == 254) ||
           (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 100 && (b[1] & 0xc0) == 64);
}

bool msb_dns_is_rebind_addr(const struct msb_ip *ip)
{
    static const uint8_t zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *b = ip->b;
    if (ip->family == MSB_FAMILY_V4)
        return v4_private(b);
    if (memcmp(b, zero, 15) == 0)
        return b[15] <= 1; /* :: and ::1 */
    if (memcmp(b, mapped, 12) == 0)
        return v4_private(b + 12);
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

static size_t put_header(const uint8_t *query, const struct msb_dns_query *q, uint8_t rcode,
                         uint16_t extra, uint16_t ancount, uint8_t *out, size_t cap)
{
    size_t qlen = q ? q->q_end - MSB_DNS_HDR_LEN : 0;
    if (cap < MSB_DNS_HDR_LEN + qlen)
        return 0;
    uint16_t in = msb_get16(query + 2);
    uint16_t flags = (uint16_t)(MSB_DNS_F_QR | (in & 0x7800) | (in & MSB_DNS_F_RD) |
                                MSB_DNS_F_RA | extra | (rcode & 0x0f));
    memcpy(out, query, 2);
    msb_put16(out + 2, flags);
    msb_put16(out + 4, q ? 1 : 0);
    msb_put16(out + 6, ancount);
    msb_put16(out + 8, 0);
    msb_put16(out + 10, 0);
    memcpy(out + MSB_DNS_HDR_LEN, query + MSB_DNS_HDR_LEN, qlen);
    return MSB_DNS_HDR_LEN + qlen;
}

size_t msb_dns_build_status(const uint8_t *query, const struct msb_dns_query *q, uint8_t rcode,
                            uint16_t extra_flags, uint8_t *out, size_t cap)
{
    return put_header(query, q, rcode, extra_flags, 0, out, cap);
}

size_t msb_dns_build_alias(const uint8_t *query, const struct msb_dns_query *q,
                           const struct msb_ip *ip, uint8_t *out, size_t cap)
{
    size_t rdlen = ip->family == MSB_FAMILY_V4 ? 4 : 16;
    size_t n = put_header(query, q, MSB_DNS_NOERROR, MSB_DNS_F_AA, 1, out, cap);
    if (n == 0 || cap - n < 2 + RR_FIXED + rdlen)
        return 0;
    uint8_t *rr = out + n;
    msb_put16(rr, 0xc000 | MSB_DNS_HDR_LEN); /* owner = the question's name */
    msb_put16(rr + 2, ip->family == MSB_FAMILY_V4 ? MSB_DNS_TYPE_A : MSB_DNS_TYPE_AAAA);
    msb_put16(rr + 4, MSB_DNS_CLASS_IN);
    msb_put32(rr + 6, ALIAS_TTL);
    msb_put16(rr + 10, (uint16_t)rdlen);
    memcpy(rr + 12, ip->b, rdlen);
    return n + 12 + rdlen;
}

size_t msb_dns_build_truncated(const uint8_t *answer, const struct msb_dns_query *q,
                               uint8_t *out, size_t cap)
{
    if (cap < q->q_end)
        return 0;
    memcpy(out, answer, q->q_end);
    msb_put16(out + 2, msb_get16(answer + 2) | MSB_DNS_F_TC);
    msb_put16(out + 4, 1);
    memset(out + 6, 0, 6);
    return q->q_end;
}

bool msb_dns_is_host_alias(const struct msb_dns_query *q)
{
    if (q->name_len != sizeof ALIAS - 1)
        return false;
    for (size_t i = 0; i < q->name_len; i++)
        if (lower((uint8_t)q->name[i]) != (uint8_t)ALIAS[i])
            return false;
    return true;
}
