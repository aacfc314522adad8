/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the HTTP/1.1 secret substitution (tls/http_subst.c,
 * http_subst_resp.c, http_frame.c, secret_scan.c): bytes a guest sends to
 * an intercepted host, or an upstream sends back.  Input: byte 0 picks the
 * split point (its share of the rest), byte 1 the direction (bit 0) and
 * which of the four secrets are eligible (bits 1..4); the rest is the
 * stream.  Invariants (abort() on failure):
 *   - every status is one of the enum's values;
 *   - the output is bounded: a response never grows (redaction keeps
 *     lengths), a request grows at most by the values' size ratio;
 *   - fed whole or split at the chosen point, a stream that is accepted
 *     whole is accepted split, with the same output;
 *   - with no secret eligible, a request's output is a prefix of its input
 *     (nothing to replace); a response's output differs from its input only
 *     in place and never at a CR or LF (redaction leaves framing alone).
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_http_subst), and everywhere
 * as fuzz_http_subst_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over
 * mutations of valid requests and responses, registered with ctest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/http_subst.h"

#define FUZZ_TARGET "fuzz_http_subst"
#define FUZZ_SEED 0x13198a2e03707344ull
#include "fuzz_common.h"

#define PA "Kmsb_OPENAI_ph01"
#define VA "sk-proj-REAL-openai-0123456789abcdef"
#define PB "Xmsb_BODY_ph0002"
#define VB "real-body-value-0123456789"
#define PC "Zmsb~OTHER~ph003"
#define VC "other-secret-value"
#define PD "Ymsb_SAME_len_16"
#define VD "same-length-val!"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct msb_secret_set set;
static unsigned long accepted, violations, rejected;

static void secrets(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    msb_secret_set_init(&set);
    unsigned all = MSB_INJECT_HEADERS | MSB_INJECT_BASIC | MSB_INJECT_QUERY | MSB_INJECT_BODY;
    check(msb_secret_add(&set, "A", PA, 16, VA, strlen(VA), all) == MSB_SECRET_ADDED &&
              msb_secret_add(&set, "B", PB, 16, VB, strlen(VB), MSB_INJECT_BODY) ==
                  MSB_SECRET_ADDED &&
              msb_secret_add(&set, "C", PC, 16, VC, strlen(VC), all) == MSB_SECRET_ADDED &&
              msb_secret_add(&set, "D", PD, 16, VD, 16, MSB_INJECT_HEADERS) == MSB_SECRET_ADDED,
          "secrets");
}

/* B fed in pieces [0, cut) and [cut, n) (one piece when cut is n). */
static enum msb_subst_status feed(bool resp, uint64_t elig, const uint8_t *b, size_t n,
                                  size_t cut, struct msb_obuf *out)
{
    struct msb_subst f;
    enum msb_subst_status s = MSB_SUBST_OK;
    msb_subst_init(&f, &set, elig);
    size_t at = 0, ends[2] = {cut, n};
    for (int i = 0; i < 2; i++) {
        if (ends[i] <= at && !(i == 1 && n == 0))
            continue;
        s = resp ? msb_subst_response(&f, b + at, ends[i] - at, out)
                 : msb_subst_request(&f, b + at, ends[i] - at, out);
        check(s <= MSB_SUBST_UNSUPPORTED, "status range");
        check((s == MSB_SUBST_VIOLATION) == (msb_subst_violation(&f) >= 0), "violation index");
        at = ends[i];
    }
    if (resp && s <= MSB_SUBST_NEED_MORE) {
        s = msb_subst_response_eof(&f, out);
        check(s <= MSB_SUBST_UNSUPPORTED, "eof status range");
    }
    msb_subst_free(&f);
    return s;
}

static void check_output(bool resp, uint64_t elig, const uint8_t *b, size_t n,
                         const struct msb_obuf *o)
{
    check(resp ? o->len <= n : o->len <= 3 * n + 64, "output bound");
    if (!resp && elig == 0)
        check(o->len <= n && (o->len == 0 || memcmp(o->data, b, o->len) == 0),
              "unchanged stream is a prefix");
    /* Redaction is in place and never touches line ends (framing). */
    for (size_t i = 0; resp && i < o->len; i++)
        check(o->data[i] == b[i] || (b[i] != '\r' && b[i] != '\n' && o->data[i] != '\r' &&
                                     o->data[i] != '\n'),
              "response redaction moved or hit framing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    secrets();
    size_t n = size - 2;
    bool resp = data[1] & 1;
    uint64_t elig = (data[1] >> 1) & 0xf;
    /* An exact-size heap copy: ASan/valgrind see any read past the end. */
    uint8_t *b = malloc(n ? n : 1);
    check(b != NULL, "malloc");
    memcpy(b, data + 2, n);
    size_t cut = n * data[0] / 255;
    struct msb_obuf whole, split;
    msb_obuf_init(&whole, 16u << 20);
    msb_obuf_init(&split, 16u << 20);
    enum msb_subst_status s1 = feed(resp, elig, b, n, n, &whole);
    enum msb_subst_status s2 = feed(resp, elig, b, n, cut, &split);
    if (s1 <= MSB_SUBST_NEED_MORE) {
        accepted++;
        check(s2 == s1, "accepted whole, refused split");
        check(whole.len == split.len &&
                  (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0),
              "split changes the output");
        check_output(resp, elig, b, n, &whole);
    } else {
        violations += s1 == MSB_SUBST_VIOLATION;
        rejected += s1 != MSB_SUBST_VIOLATION;
        check(s2 > MSB_SUBST_NEED_MORE, "refused whole, accepted split");
    }
    check_output(resp, elig, b, n, &split);
    msb_obuf_free(&whole);
    msb_obuf_free(&split);
    free(b);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
static const char *const seeds[] = {
    "GET /v1?key=" PA " HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " PA "\r\n\r\n",
    "POST /v1 HTTP/1.1\r\nContent-Length: 20\r\nX: " PD "\r\n\r\n{\"k\":\"" PB "\"}"
    "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpLbXNiX09QRU5BSV9waDAx\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: x\r\n\r\n"
    "HEAD / HTTP/1.1\r\n\r\n",
    "GET /?q=Zmsb%7EOTHER%7eph003 HTTP/1.1\r\n\r\n{\"a\":\"\\u005amsb~OTHER~ph003\"}",
    "HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n{\"e\":\"" VA "\"}",
    /* Basic "user:" VA and "abc:" VA echoed: base64 redaction, split by chunks. */
    "HTTP/1.1 200 OK\r\nX-Echo: Basic dXNlcjpzay1wcm9qLVJFQUwtb3BlbmFpLTAxMjM0NTY3ODlhYmNkZWY=\r\n"
    "Transfer-Encoding: chunked\r\n\r\n14\r\nYWJjOnNrLXByb2otUkVB\r\n"
    "24\r\nTC1vcGVuYWktMDEyMzQ1Njc4OWFiY2RlZg==\r\n0\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "a\r\nsk-proj-RE\r\n1a\r\nAL-openai-0123456789abcdef\r\n0\r\n\r\nHTTP/1.0 200 OK\r\n\r\n" VD,
};
#define NSEEDS (sizeof seeds / sizeof seeds[0])
/* Seed i's direction: the last three are responses. */
#define SEED_RESP(i) ((i) >= NSEEDS - 3)

static const uint8_t edge8[] = {'\r', '\n', ' ', ':', '%', '\\', '0', 'f', ';', 0, 0x80, 'u'};
static const uint16_t edge16[] = {0x0d0a, 0x3a20, 0x2530, 0x5c75, 0x3030, 0x6666};
static const struct fuzz_edges edges = {edge8, sizeof edge8, edge16,
                                        sizeof edge16 / sizeof edge16[0], 24};

static int write_corpus(const char *dir)
{
    int bad = 0;
    for (size_t i = 0; i < NSEEDS; i++) {
        uint8_t ctl[2] = {(uint8_t)(i * 37), (uint8_t)(SEED_RESP(i) | 0x16)};
        bad |= fuzz_write_seed(dir, i, ctl, 2, seeds[i], strlen(seeds[i]));
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 100000;
    static uint8_t in[1024];
    for (long i = 0; i < runs; i++) {
        size_t k = (size_t)(rnd() % NSEEDS), len = strlen(seeds[k]) + 2;
        in[0] = (uint8_t)rnd();
        in[1] = (uint8_t)((rnd() & 0x1e) | SEED_RESP(k));
        memcpy(in + 2, seeds[k], len - 2);
        size_t body = len - 2;
        for (int m = (int)(rnd() % 4); i % 8 && m >= 0; m--)
            fuzz_mutate(in + 2, &body, sizeof in - 2, &edges);
        LLVMFuzzerTestOneInput(in, body + 2);
    }
    printf("fuzz_http_subst_replay: %ld inputs, %lu accepted, %lu violations, %lu refused\n",
           runs, accepted, violations, rejected);
    check(accepted > 0 && violations > 0 && rejected > 0, "the mutations reach every outcome");
    msb_secret_set_free(&set);
    return 0;
}
#endif
