/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the DNS reader (dns_msg.c): every input is read as a
 * guest query and as an upstream answer to a fixed query.  Invariants are
 * checked with abort(): the question ends inside the message, a name is
 * one NUL-terminated string of the length reported, every reply built from
 * a parsed query reads back as an answer to it.
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_dns), and everywhere as
 * fuzz_dns_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over mutations
 * of valid messages, registered with ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dns_msg.h"
#include "lib/pkt.h"

#define FUZZ_TARGET "fuzz_dns"
#define FUZZ_SEED 0x13198a2e03707344ull
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long queries_ok, answers_ok;

/* A query for "a.b" A, ID 0x1234: what the answers are matched against. */
static const uint8_t fixed_query[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                      1, 'a', 1, 'b', 0, 0, 1, 0, 1};

static void check_built(const uint8_t *m, const struct msb_dns_query *q)
{
    uint8_t out[1024];
    struct msb_dns_answer a;
    struct msb_ip gw;
    msb_ip_parse("100.96.0.1", &gw);
    size_t n = msb_dns_build_alias(m, q, &gw, out, sizeof out);
    check(n > 0 && msb_dns_parse_answer(out, n, m, q, MSB_FAMILY_V4, &a) == 0 && a.naddrs == 1,
          "alias reads back");
    n = msb_dns_build_status(m, q, MSB_DNS_REFUSED, 0, out, sizeof out);
    check(n == q->q_end && msb_dns_parse_answer(out, n, m, q, MSB_FAMILY_V4, &a) == 0 &&
              a.rcode == MSB_DNS_REFUSED, "status reads back");
    uint8_t cut[1024];
    n = msb_dns_build_truncated(out, q, cut, sizeof cut);
    check(n == q->q_end && (msb_get16(cut + 2) & MSB_DNS_F_TC), "truncated sets TC");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan/valgrind see any read past the end. */
    uint8_t *m = malloc(size ? size : 1);
    check(m != NULL, "malloc");
    memcpy(m, data, size);
    struct msb_dns_query q;
    enum msb_dns_parse r = msb_dns_parse_query(m, size, &q);
    check(r == MSB_DNS_OK || r == MSB_DNS_BAD || (r == MSB_DNS_NO_HEADER && size < 12),
          "parse result");
    if (r == MSB_DNS_OK) {
        queries_ok++;
        check(q.q_end <= size && q.q_end > 12, "question inside the message");
        check(strlen(q.name) == q.name_len && q.name_len < MSB_DNS_NAME_TEXT_MAX, "name");
        check(q.udp_size >= 512, "udp size");
        check_built(m, &q);
    }
    struct msb_dns_query fq;
    check(msb_dns_parse_query(fixed_query, sizeof fixed_query, &fq) == MSB_DNS_OK, "fixed");
    struct msb_dns_answer a;
    if (msb_dns_parse_answer(m, size, fixed_query, &fq, MSB_FAMILY_V4, &a) == 0) {
        answers_ok++;
        check(a.naddrs <= MSB_DNS_MAX_ADDRS, "address count");
        check(a.naddrs == 0 || a.min_ttl != UINT32_MAX, "ttl of addresses");
    }
    free(m);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
/* Seeds: a query with OPT, an answer with a CNAME chain and A records. */
static const uint8_t seed_query[] = {0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 7, 'e', 'x',
                                     'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1,
                                     0, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
static const uint8_t seed_answer[] = {
    0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0, 1, 'a', 1, 'b', 0, 0, 1, 0, 1,
    0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 10, 0, 4, 1, 'c', 0xc0, 12,
    0xc0, 33, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 198, 18, 0, 5,
    0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 5};

/* Edge values: pointer-ish, length-ish and edge bytes; counts and lengths. */
static const uint8_t edge8[] = {0x00, 0xff, 0xc0, 0x3f, 0x40, 0x0c, 0x01};
static const uint16_t edge16[] = {0, 0xffff, 0xc00c, 1, 0xc000, 512};
static const struct fuzz_edges edges = {edge8, sizeof edge8, edge16,
                                        sizeof edge16 / sizeof edge16[0], 32};

static int write_corpus(const char *dir)
{
    return fuzz_write_seed(dir, 0, "", 0, seed_query, sizeof seed_query) ||
           fuzz_write_seed(dir, 1, "", 0, seed_answer, sizeof seed_answer);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 200000;
    uint8_t in[512];
    for (long i = 0; i < runs; i++) {
        bool answer = rnd() & 1;
        size_t len = answer ? sizeof seed_answer : sizeof seed_query;
        memcpy(in, answer ? seed_answer : seed_query, len);
        for (int m = (int)(rnd() % 4); m >= 0; m--)
            fuzz_mutate(in, &len, sizeof in, &edges);
        LLVMFuzzerTestOneInput(in, len);
    }
    printf("fuzz_dns_replay: %ld inputs, %lu queries and %lu answers read\n", runs, queries_ok,
           answers_ok);
    return 0;
}
#endif
