/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS message reader and builders, including hostile messages. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/dns_msg.h"
#include "lib/pkt.h"

/* A query for name (dotted) and qtype, optionally with an EDNS OPT. */
static size_t make_query(uint8_t *b, const char *name, uint16_t qtype, uint16_t edns)
{
    memset(b, 0, 12);
    msb_put16(b, 0xbeef);
    msb_put16(b + 2, MSB_DNS_F_RD);
    msb_put16(b + 4, 1);
    msb_put16(b + 10, edns ? 1 : 0);
    size_t n = 12;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        b[n++] = (uint8_t)l;
        memcpy(b + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    b[n++] = 0;
    msb_put16(b + n, qtype);
    msb_put16(b + n + 2, MSB_DNS_CLASS_IN);
    n += 4;
    if (edns) {
        b[n++] = 0;
        msb_put16(b + n, MSB_DNS_TYPE_OPT);
        msb_put16(b + n + 2, edns);
        memset(b + n + 4, 0, 6);
        n += 10;
    }
    return n;
}

/* Appends an answer record with a pointer to the question name. */
static size_t add_rr(uint8_t *b, size_t n, uint16_t type, uint32_t ttl, const uint8_t *rd,
                     uint16_t rdlen)
{
    msb_put16(b + n, 0xc00c);
    msb_put16(b + n + 2, type);
    msb_put16(b + n + 4, MSB_DNS_CLASS_IN);
    msb_put32(b + n + 6, ttl);
    msb_put16(b + n + 10, rdlen);
    memcpy(b + n + 12, rd, rdlen);
    msb_put16(b + 6, (uint16_t)(msb_get16(b + 6) + 1));
    return n + 12 + rdlen;
}

static void test_query_basic(void)
{
    uint8_t b[512];
    size_t n = make_query(b, "Example.Test", MSB_DNS_TYPE_A, 0);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_OK);
    CU_ASSERT_STRING_EQUAL(q.name, "Example.Test");
    CU_ASSERT_EQUAL(q.qtype, MSB_DNS_TYPE_A);
    CU_ASSERT_EQUAL(q.q_end, n);
    CU_ASSERT_EQUAL(q.udp_size, 512);
    n = make_query(b, "x.y", MSB_DNS_TYPE_AAAA, 1232);
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_OK);
    CU_ASSERT_EQUAL(q.udp_size, 1232);
    n = make_query(b, "x.y", MSB_DNS_TYPE_AAAA, 100); /* below 512 counts as 512 */
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_OK);
    CU_ASSERT_EQUAL(q.udp_size, 512);
}

static void test_query_escapes_odd_bytes(void)
{
    uint8_t b[64] = {0};
    msb_put16(b + 4, 1);
    const uint8_t name[] = {3, 'a', '.', 0x01, 0};
    memcpy(b + 12, name, sizeof name);
    size_t n = 12 + sizeof name + 4;
    struct msb_dns_query q;
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_OK);
    CU_ASSERT_STRING_EQUAL(q.name, "a\\046\\001");
}

static void test_query_hostile(void)
{
    uint8_t b[512];
    size_t n = make_query(b, "example.test", MSB_DNS_TYPE_A, 1232);
    struct msb_dns_query q;
    /* Every truncation: no header, or FORMERR material, never a crash. */
    for (size_t cut = 0; cut < n; cut++) {
        enum msb_dns_parse r = msb_dns_parse_query(b, cut, &q);
        CU_ASSERT_EQUAL(r, cut < 12 ? MSB_DNS_NO_HEADER : MSB_DNS_BAD);
    }
    /* A pointer in the first question (nothing before it to point at). */
    uint8_t p[32] = {0};
    msb_put16(p + 4, 1);
    msb_put16(p + 12, 0xc00c);
    CU_ASSERT_EQUAL(msb_dns_parse_query(p, 18, &q), MSB_DNS_BAD);
    /* Huge counts with nothing behind them. */
    n = make_query(b, "a.b", 1, 0);
    msb_put16(b + 6, 0xffff);
    msb_put16(b + 10, 0xffff);
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_BAD);
    /* QR set, QDCOUNT 0 or 2. */
    n = make_query(b, "a.b", 1, 0);
    msb_put16(b + 2, MSB_DNS_F_QR);
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_BAD);
    n = make_query(b, "a.b", 1, 0);
    msb_put16(b + 4, 2);
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_BAD);
    /* A label running past the end, a 0x40 label type, a 256-byte name. */
    n = make_query(b, "a.b", 1, 0);
    b[12] = 60;
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_BAD);
    b[12] = 0x41;
    CU_ASSERT_EQUAL(msb_dns_parse_query(b, n, &q), MSB_DNS_BAD);
    uint8_t big[400] = {0};
    msb_put16(big + 4, 1);
    for (int i = 0; i < 5; i++) {
        big[12 + i * 64] = 63;
        memset(big + 13 + i * 64, 'a', 63);
    }
    CU_ASSERT_EQUAL(msb_dns_parse_query(big, sizeof big, &q), MSB_DNS_BAD);
}

static void test_answer_pointer_loops(void)
{
    uint8_t b[512];
    size_t n = make_query(b, "a.b", MSB_DNS_TYPE_A, 0);
    uint8_t query[512];
    memcpy(query, b, n);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(query, n, &q), MSB_DNS_OK);
    msb_put16(b + 2, MSB_DNS_F_QR);
    /* An owner name that points at itself, then one that points forward. */
    msb_put16(b + 6, 1);
    msb_put16(b + n, (uint16_t)(0xc000 | n));
    memset(b + n + 2, 0, 10);
    struct msb_dns_answer a;
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n + 12, query, &q, MSB_FAMILY_V4, &a), -1);
    msb_put16(b + n, (uint16_t)(0xc000 | (n + 2)));
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n + 12, query, &q, MSB_FAMILY_V4, &a), -1);
    /* Two pointers that point at each other. */
    msb_put16(b + n, (uint16_t)(0xc000 | (n + 2)));
    msb_put16(b + n + 2, (uint16_t)(0xc000 | n));
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n + 14, query, &q, MSB_FAMILY_V4, &a), -1);
}

static size_t answer_for(uint8_t *b, const uint8_t *query, size_t qn)
{
    memcpy(b, query, qn);
    msb_put16(b + 2, MSB_DNS_F_QR | MSB_DNS_F_RD | MSB_DNS_F_RA);
    return qn;
}

static void test_answer_addresses(void)
{
    uint8_t query[512], b[1024];
    size_t qn = make_query(query, "a.b", MSB_DNS_TYPE_A, 0);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(query, qn, &q), MSB_DNS_OK);
    size_t n = answer_for(b, query, qn);
    const uint8_t cname[] = {1, 'c', 0xc0, 12}, a1[] = {198, 18, 0, 5}, a2[] = {198, 18, 0, 6};
    n = add_rr(b, n, MSB_DNS_TYPE_CNAME, 10, cname, sizeof cname);
    n = add_rr(b, n, MSB_DNS_TYPE_A, 300, a1, 4);
    n = add_rr(b, n, MSB_DNS_TYPE_A, 30, a2, 4);
    struct msb_dns_answer a;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), 0);
    CU_ASSERT_EQUAL(a.naddrs, 2);
    CU_ASSERT_EQUAL(a.min_ttl, 30); /* the CNAME's 10 does not count */
    CU_ASSERT_FALSE(a.private_addr);
    for (size_t cut = 0; cut < n; cut++)
        CU_ASSERT_EQUAL(msb_dns_parse_answer(b, cut, query, &q, MSB_FAMILY_V4, &a), -1);
    /* A wrong ID, a different question, a bad A length. */
    b[0] ^= 1;
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), -1);
    b[0] ^= 1;
    b[13] = 'z';
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), -1);
    b[13] = 'A'; /* case differs: still the same question */
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), 0);
    n = add_rr(b, n, MSB_DNS_TYPE_A, 30, a2, 3);
    CU_ASSERT_EQUAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), -1);
}

/* A TTL with the top bit set counts as 0 (RFC 2181 §8), never as "forever";
 * found by fuzz_dns (min_ttl stayed at its UINT32_MAX start). */
static void test_answer_ttl_top_bit(void)
{
    uint8_t query[512], b[1024];
    size_t qn = make_query(query, "a.b", MSB_DNS_TYPE_A, 0);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(query, qn, &q), MSB_DNS_OK);
    size_t n = answer_for(b, query, qn);
    const uint8_t a1[] = {198, 18, 0, 5};
    n = add_rr(b, n, MSB_DNS_TYPE_A, 0xffffffffu, a1, 4);
    struct msb_dns_answer a;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V4, &a), 0);
    CU_ASSERT_EQUAL(a.naddrs, 1);
    CU_ASSERT_EQUAL(a.min_ttl, 0);
}

static void test_answer_rebind(void)
{
    uint8_t query[512], b[1024];
    size_t qn = make_query(query, "a.b", MSB_DNS_TYPE_AAAA, 0);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(query, qn, &q), MSB_DNS_OK);
    size_t n = answer_for(b, query, qn);
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5};
    n = add_rr(b, n, MSB_DNS_TYPE_AAAA, 30, mapped, 16);
    struct msb_dns_answer a;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_answer(b, n, query, &q, MSB_FAMILY_V6, &a), 0);
    CU_ASSERT_TRUE(a.private_addr);
    const char *priv[] = {"10.1.2.3", "127.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                          "169.254.169.254", "100.64.0.1", "0.0.0.0", "::", "::1", "fc00::1",
                          "fd42::1", "fe80::1", "::ffff:192.168.0.1", NULL};
    const char *pub[] = {"198.18.0.5", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1",
                         "::ffff:8.8.8.8", "fec0::1", NULL};
    struct msb_ip ip;
    for (int i = 0; priv[i]; i++) {
        msb_ip_parse(priv[i], &ip);
        CU_ASSERT_TRUE(msb_dns_is_rebind_addr(&ip));
    }
    for (int i = 0; pub[i]; i++) {
        msb_ip_parse(pub[i], &ip);
        CU_ASSERT_FALSE(msb_dns_is_rebind_addr(&ip));
    }
}

static void test_builders(void)
{
    uint8_t query[512], out[512];
    size_t qn = make_query(query, "HOST.microsandbox.Internal", MSB_DNS_TYPE_A, 1232);
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(query, qn, &q), MSB_DNS_OK);
    CU_ASSERT_TRUE(msb_dns_is_host_alias(&q));
    struct msb_ip gw;
    msb_ip_parse("100.96.0.1", &gw);
    size_t n = msb_dns_build_alias(query, &q, &gw, out, sizeof out);
    CU_ASSERT_EQUAL_FATAL(n, q.q_end + 16);
    CU_ASSERT_EQUAL(msb_get16(out), 0xbeef);
    CU_ASSERT_EQUAL(msb_get16(out + 2),
                    MSB_DNS_F_QR | MSB_DNS_F_AA | MSB_DNS_F_RD | MSB_DNS_F_RA);
    CU_ASSERT_EQUAL(msb_get16(out + 4), 1);
    CU_ASSERT_EQUAL(msb_get16(out + 6), 1);
    CU_ASSERT_EQUAL(msb_get16(out + 10), 0); /* the OPT is not echoed */
    /* The built answer reads back as an answer to the query. */
    struct msb_dns_answer a;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_answer(out, n, query, &q, MSB_FAMILY_V4, &a), 0);
    CU_ASSERT_EQUAL(a.naddrs, 1);
    CU_ASSERT_EQUAL(a.min_ttl, 60);
    CU_ASSERT_TRUE(msb_ip_equal(&a.addrs[0], &gw));
    CU_ASSERT_EQUAL(msb_dns_build_alias(query, &q, &gw, out, n - 1), 0);

    n = msb_dns_build_status(query, &q, MSB_DNS_REFUSED, 0, out, sizeof out);
    CU_ASSERT_EQUAL(n, q.q_end);
    CU_ASSERT_EQUAL(msb_get16(out + 2) & 0x0f, MSB_DNS_REFUSED);
    n = msb_dns_build_status(query, NULL, MSB_DNS_FORMERR, 0, out, sizeof out);
    CU_ASSERT_EQUAL(n, 12);
    CU_ASSERT_EQUAL(msb_get16(out + 4), 0);
    CU_ASSERT_EQUAL(msb_get16(out + 2) & 0x0f, MSB_DNS_FORMERR);

    memcpy(out, query, qn);
    msb_put16(out + 2, MSB_DNS_F_QR | MSB_DNS_NXDOMAIN);
    uint8_t t[512];
    n = msb_dns_build_truncated(out, &q, t, sizeof t);
    CU_ASSERT_EQUAL(n, q.q_end);
    CU_ASSERT_EQUAL(msb_get16(t + 2), MSB_DNS_F_QR | MSB_DNS_F_TC | MSB_DNS_NXDOMAIN);
    CU_ASSERT_EQUAL(msb_get16(t + 10), 0);
    q.name_len = 4;
    CU_ASSERT_FALSE(msb_dns_is_host_alias(&q));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"query_basic", test_query_basic},
        {"query_escapes_odd_bytes", test_query_escapes_odd_bytes},
        {"query_hostile", test_query_hostile},
        {"answer_pointer_loops", test_answer_pointer_loops},
        {"answer_addresses", test_answer_addresses},
        {"answer_ttl_top_bit", test_answer_ttl_top_bit},
        {"answer_rebind", test_answer_rebind},
        {"builders", test_builders},
        {NULL, NULL},
    };
    return cunit_run("dns_msg", tests);
}
