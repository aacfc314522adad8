/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 secret substitution (tls/http_subst.c, http_subst_resp.c,
 * http_frame.c): every output is compared byte for byte with one written
 * here by hand, for the whole input, byte by byte and at every 2-way
 * split.  Heads, query, Basic, pipelining, Content-Length rewrite, bounds,
 * malformed and unsupported requests, binary bodies, violations in each
 * form of a non-eligible secret, and the response redaction (literal and
 * base64 echoes, standard and URL-safe, at each byte alignment).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/base64.h"
#include "tls/http_subst.h"

#define PA "Kmsb_OPENAI_ph01" /* headers, Basic, query */
#define VA "sk-proj-REAL-openai-0123456789abcdef"
#define PB "Xmsb_BODY_ph0002" /* body, headers */
#define VB "real-body-value-0123456789"
#define PC "Zmsb~OTHER~ph003" /* never eligible here */
#define VC "other-secret-value"
#define PD "Ymsb_SAME_len_16" /* headers; as long as its value */
#define VD "same-length-val!"
#define ELIG 0xbull           /* A, B, D */

static struct msb_secret_set set;

static void setup(void)
{
    msb_secret_set_init(&set);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "A", PA, 16, VA, strlen(VA),
                                         MSB_INJECT_HEADERS | MSB_INJECT_BASIC |
                                             MSB_INJECT_QUERY),
                          MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "B", PB, 16, VB, strlen(VB),
                                         MSB_INJECT_BODY | MSB_INJECT_HEADERS),
                          MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "C", PC, 16, VC, strlen(VC), MSB_INJECT_HEADERS),
                          MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "D", PD, 16, VD, 16, MSB_INJECT_HEADERS),
                          MSB_SECRET_ADDED);
}

struct run {
    enum msb_subst_status st;
    struct msb_obuf out;
    int viol;
};

/* IN fed to one direction in pieces ending at CUTS; EOF: then the
 * response's end of stream. */
static void run_cuts(int resp, uint64_t elig, const uint8_t *in, size_t n, const size_t *cuts,
                     size_t ncuts, int eof, struct run *r)
{
    struct msb_subst f;
    msb_subst_init(&f, &set, elig);
    msb_obuf_init(&r->out, 64u << 20);
    r->st = MSB_SUBST_OK;
    for (size_t i = 0, at = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        uint8_t *piece = malloc(end - at + 1);
        memcpy(piece, in + at, end - at);
        r->st = resp ? msb_subst_response(&f, piece, end - at, &r->out)
                     : msb_subst_request(&f, piece, end - at, &r->out);
        free(piece);
        at = end;
    }
    if (resp && eof && r->st <= MSB_SUBST_NEED_MORE)
        r->st = msb_subst_response_eof(&f, &r->out);
    r->viol = msb_subst_violation(&f);
    msb_subst_free(&f);
}

/* One run against the expectation: 1 when it matches. */
static int same(const struct run *r, enum msb_subst_status st, const void *exp, size_t expn)
{
    int ok = r->st == st;
    if (st <= MSB_SUBST_NEED_MORE)
        ok = ok && r->out.len == expn && memcmp(r->out.data, exp, expn) == 0;
    if (!ok)
        fprintf(stderr, "status %d (want %d), %zu bytes out (want %zu): %.*s\n", r->st, st,
                r->out.len, expn, (int)(r->out.len < 400 ? r->out.len : 400),
                (const char *)r->out.data);
    return ok;
}

/* Whole, byte by byte and at every 2-way split: status ST, output EXP. */
static void check(int resp, uint64_t elig, const void *in, size_t n, const void *exp,
                  size_t expn, enum msb_subst_status st, int eof)
{
    struct run r;
    size_t *cuts = calloc(n + 1, sizeof *cuts);
    int bad = 0;
    run_cuts(resp, elig, in, n, NULL, 0, eof, &r);
    CU_ASSERT(same(&r, st, exp, expn));
    if (st == MSB_SUBST_VIOLATION)
        CU_ASSERT_EQUAL(r.out.len, 0); /* nothing of the offending read */
    msb_obuf_free(&r.out);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    run_cuts(resp, elig, in, n, cuts, n ? n - 1 : 0, eof, &r);
    CU_ASSERT(same(&r, st, exp, expn));
    msb_obuf_free(&r.out);
    for (size_t i = 1; i < n && !bad; i++) {
        run_cuts(resp, elig, in, n, &i, 1, eof, &r);
        bad += !same(&r, st, exp, expn);
        msb_obuf_free(&r.out);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(cuts);
}

static void check_str(int resp, uint64_t elig, const char *in, const char *exp,
                      enum msb_subst_status st)
{
    check(resp, elig, in, strlen(in), exp, strlen(exp), st, 0);
}

static void b64(const char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned b0 = (uint8_t)in[i], b1 = i + 1 < n ? (uint8_t)in[i + 1] : 0,
                 b2 = i + 2 < n ? (uint8_t)in[i + 2] : 0;
        out[o++] = a[b0 >> 2];
        out[o++] = a[(b0 & 3) << 4 | b1 >> 4];
        out[o++] = i + 1 < n ? a[(b1 & 15) << 2 | b2 >> 6] : '=';
        out[o++] = i + 2 < n ? a[b2 & 63] : '=';
    }
    out[o] = 0;
}

static void test_headers(void)
{
    setup();
    check_str(0, ELIG,
              "GET /v1/models HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer " PA
              "\r\nX-B: " PB "," PB "\r\nX-D:" PD "\r\nX-" PA ": 1\r\n\r\n",
              "GET /v1/models HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer " VA
              "\r\nX-B: " VB "," VB "\r\nX-D:" VD "\r\nX-" PA ": 1\r\n\r\n",
              MSB_SUBST_OK);
    /* A alone eligible: B's and D's placeholders are violations now. */
    check_str(0, 1, "GET / HTTP/1.1\r\nX-B: " PB "\r\n\r\n", "", MSB_SUBST_VIOLATION);
    msb_secret_set_free(&set);
}

static void test_query(void)
{
    setup();
    /* A may go in the query, B may not (passes as the placeholder). */
    check_str(0, ELIG, "GET /v1?key=" PA "&b=" PB "&k2=" PA " HTTP/1.1\r\nHost: h\r\n\r\n",
              "GET /v1?key=" VA "&b=" PB "&k2=" VA " HTTP/1.1\r\nHost: h\r\n\r\n",
              MSB_SUBST_OK);
    msb_secret_set_free(&set);
}

static void test_basic(void)
{
    char in[600], exp[600], e1[200], e2[200];
    const char *creds[][2] = {{"user:" PA, "user:" VA}, {PA ":pw", VA ":pw"},
                              {"u:" PA PA, "u:" VA VA}};
    setup();
    for (size_t i = 0; i < 3; i++) {
        b64(creds[i][0], strlen(creds[i][0]), e1);
        b64(creds[i][1], strlen(creds[i][1]), e2);
        snprintf(in, sizeof in, "GET / HTTP/1.1\r\nAuthorization: basic  %s \r\n\r\n", e1);
        snprintf(exp, sizeof exp, "GET / HTTP/1.1\r\nAuthorization: basic  %s \r\n\r\n", e2);
        check_str(0, ELIG, in, exp, MSB_SUBST_OK);
    }
    /* B has no Basic injection, and unpadded base64 with nothing to
     * replace stays byte-exact. */
    b64("user:" PB, 21, e1);
    snprintf(in, sizeof in, "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", e1);
    check_str(0, ELIG, in, in, MSB_SUBST_OK);
    check_str(0, ELIG, "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwdw\r\n\r\n",
              "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwdw\r\n\r\n", MSB_SUBST_OK);
    msb_secret_set_free(&set);
}

static void test_pipelined(void)
{
    setup();
    const char *in = "POST /a HTTP/1.1\r\nContent-Length: 20\r\nX: " PA "\r\n\r\n"
                     "0123" PA
                     "POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "10;e=" PA "\r\n" PA "\r\n0\r\nT: " PA "\r\n\r\n"
                     "\r\nGET /c?" PA " HTTP/1.0\r\nX: " PA "\r\n\r\n"
                     "HEAD /d HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    const char *exp = "POST /a HTTP/1.1\r\nContent-Length: 20\r\nX: " VA "\r\n\r\n"
                      "0123" PA
                      "POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                      "10;e=" PA "\r\n" PA "\r\n0\r\nT: " PA "\r\n\r\n"
                      "\r\nGET /c?" VA " HTTP/1.0\r\nX: " VA "\r\n\r\n"
                      "HEAD /d HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    check_str(0, 1, in, exp, MSB_SUBST_OK);
    /* Stopping inside a body: everything so far out, NEED_MORE. */
    check_str(0, 1, "POST /a HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123",
              "POST /a HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123", MSB_SUBST_NEED_MORE);
    msb_secret_set_free(&set);
}

static void test_body_inject(void)
{
    char in[800], exp[800];
    const char *body = "{\"k\":\"" PB "\",\"j\":\"" PB "\",\"a\":\"" PA "\"}";
    const char *sub = "{\"k\":\"" VB "\",\"j\":\"" VB "\",\"a\":\"" PA "\"}";
    setup();
    snprintf(in, sizeof in,
             "POST /v1 HTTP/1.1\r\ncontent-length: %zu\r\nX: " PB "\r\n\r\n%sGET / HTTP/1.1\r\n\r\n",
             strlen(body), body);
    snprintf(exp, sizeof exp,
             "POST /v1 HTTP/1.1\r\nContent-Length: %zu\r\nX: " VB "\r\n\r\n%sGET / HTTP/1.1\r\n\r\n",
             strlen(sub), sub);
    check_str(0, ELIG, in, exp, MSB_SUBST_OK);
    /* Nothing to replace: the head is not rewritten at all. */
    snprintf(in, sizeof in, "POST /v1 HTTP/1.1\r\ncontent-length:  5 \r\n\r\nhello");
    check_str(0, ELIG, in, in, MSB_SUBST_OK);
    /* Without B eligible the body streams through untouched. */
    snprintf(in, sizeof in, "POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n" PA);
    check_str(0, 1, in, in, MSB_SUBST_OK);
    msb_secret_set_free(&set);
}

static void test_body_bound(void)
{
    static const char head[] = "POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n";
    size_t n = sizeof head - 1 + (1u << 20);
    uint8_t *in = malloc(n);
    struct run r;
    setup();
    memcpy(in, head, sizeof head - 1);
    for (size_t i = sizeof head - 1; i < n; i++)
        in[i] = (uint8_t)(i * 7 + (i >> 9));
    memcpy(in + n - 16, PB, 16);
    size_t cut = n / 2;
    run_cuts(0, ELIG, in, n, &cut, 1, 0, &r);
    CU_ASSERT_EQUAL(r.st, MSB_SUBST_OK);
    /* B's placeholder at the end became its value: CL grows by 10. */
    CU_ASSERT_EQUAL(r.out.len, n + 10);
    CU_ASSERT(r.out.len == n + 10 &&
              memcmp(r.out.data, "POST / HTTP/1.1\r\nContent-Length: 1048586\r\n\r\n", 44) == 0 &&
              memcmp(r.out.data + n - 16, VB, 26) == 0 &&
              memcmp(r.out.data + 44, in + 44, n - 60) == 0);
    msb_obuf_free(&r.out);
    check_str(0, ELIG, "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", "",
              MSB_SUBST_TOO_LARGE);
    check_str(0, ELIG, "POST / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n", "",
              MSB_SUBST_TOO_LARGE);
    free(in);
    msb_secret_set_free(&set);
}

/* "GET /aaa... HTTP/1.1": a request line of exactly N bytes. */
static char *long_line(size_t n, const char *rest)
{
    char *s = malloc(n + strlen(rest) + 1);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n - 14);
    memcpy(s + n - 9, " HTTP/1.1", 9);
    strcpy(s + n, rest);
    return s;
}

static void test_too_large(void)
{
    struct run r;
    setup();
    char *ok = long_line(8192, "\r\n\r\n"), *big = long_line(8193, "\r\n\r\n");
    run_cuts(0, ELIG, (uint8_t *)ok, strlen(ok), NULL, 0, 0, &r);
    CU_ASSERT(same(&r, MSB_SUBST_OK, ok, strlen(ok)));
    msb_obuf_free(&r.out);
    run_cuts(0, ELIG, (uint8_t *)big, strlen(big), NULL, 0, 0, &r);
    CU_ASSERT_EQUAL(r.st, MSB_SUBST_TOO_LARGE);
    msb_obuf_free(&r.out);
    /* Never ending: refused once past the bound, not buffered forever. */
    big[8193] = 'x';
    run_cuts(0, ELIG, (uint8_t *)big, 8197, NULL, 0, 0, &r);
    CU_ASSERT_EQUAL(r.st, MSB_SUBST_TOO_LARGE);
    msb_obuf_free(&r.out);
    size_t n = 70000;
    char *hdrs = malloc(n + 1);
    memcpy(hdrs, "GET / HTTP/1.1\r\n", 16);
    for (size_t i = 16; i < n; i++)
        hdrs[i] = (i - 16) % 40 == 38 ? '\r' : (i - 16) % 40 == 39 ? '\n' : 'h';
    for (size_t i = 16; i + 40 < n; i += 40)
        hdrs[i + 1] = ':';
    run_cuts(0, ELIG, (uint8_t *)hdrs, n, NULL, 0, 0, &r);
    CU_ASSERT_EQUAL(r.st, MSB_SUBST_TOO_LARGE);
    msb_obuf_free(&r.out);
    free(hdrs);
    free(ok);
    free(big);
    msb_secret_set_free(&set);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "GET / HTTP/1.1\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n",
    };
    setup();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        run_cuts(0, ELIG, (const uint8_t *)bad[i], strlen(bad[i]), NULL, 0, 0, &r);
        CU_ASSERT_EQUAL(r.st, MSB_SUBST_MALFORMED);
        if (r.st != MSB_SUBST_MALFORMED)
            fprintf(stderr, "not MALFORMED (%d): %s\n", r.st, bad[i]);
        msb_obuf_free(&r.out);
    }
    check_str(0, ELIG, "CONNECT a:443 HTTP/1.1\r\n\r\n", "", MSB_SUBST_UNSUPPORTED);
    check_str(0, ELIG, "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "",
              MSB_SUBST_UNSUPPORTED);
    msb_secret_set_free(&set);
}

/* Random bytes sprinkled with placeholder prefixes and escape bytes. */
static void binary_body(uint8_t *b, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)x;
    }
    for (size_t i = 0; i + 40 < n; i += 97) {
        memcpy(b + i, i % 2 ? PA : PB, 15);
        b[i + 20] = i % 3 ? '%' : '\\';
    }
}

static void test_binary_body(void)
{
    enum { BODY = 1200 };
    char head[128];
    uint8_t *in = malloc(BODY + 200);
    setup();
    int hn = snprintf(head, sizeof head, "POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n", BODY);
    memcpy(in, head, (size_t)hn);
    binary_body(in + hn, BODY);
    /* Buffered for B's body injection, and streamed with A alone. */
    check(0, ELIG, in, (size_t)hn + BODY, in, (size_t)hn + BODY, MSB_SUBST_OK, 0);
    check(0, 1, in, (size_t)hn + BODY, in, (size_t)hn + BODY, MSB_SUBST_OK, 0);
    hn = snprintf(head, sizeof head,
                  "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", BODY);
    memcpy(in, head, (size_t)hn);
    binary_body(in + hn, BODY);
    memcpy(in + hn + BODY, "\r\n0\r\n\r\n", 7);
    check(0, ELIG, in, (size_t)hn + BODY + 7, in, (size_t)hn + BODY + 7, MSB_SUBST_OK, 0);
    free(in);
    msb_secret_set_free(&set);
}

static void test_violations(void)
{
    char in[600], e[200];
    setup();
    const char *forms[] = {
        "GET /x?k=" PC " HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX-Key: " PC "\r\n\r\n",
        "GET /x?k=Zmsb%7EOTHER%7eph%30%30%33 HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: %5Amsb~OTHER~ph003\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 36\r\n\r\n{\"k\":\"Zmsb\\u007EOTHER\\u007eph003\"}",
        "POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n" PC,
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" PC "\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\nGET /" PC " HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct run r;
        check_str(0, ELIG, forms[i], "", MSB_SUBST_VIOLATION);
        run_cuts(0, ELIG, (const uint8_t *)forms[i], strlen(forms[i]), NULL, 0, 0, &r);
        CU_ASSERT_EQUAL(r.viol, 2);
        msb_obuf_free(&r.out);
    }
    b64("me:" PC, 19, e);
    snprintf(in, sizeof in, "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", e);
    check_str(0, ELIG, in, "", MSB_SUBST_VIOLATION);
    /* An eligible placeholder in another form is no violation: it passes. */
    check_str(0, ELIG, "GET /?k=%4Bmsb_OPENAI_ph01 HTTP/1.1\r\n\r\n",
              "GET /?k=%4Bmsb_OPENAI_ph01 HTTP/1.1\r\n\r\n", MSB_SUBST_OK);
    msb_secret_set_free(&set);
}

static void test_violation_sticks(void)
{
    struct msb_subst f;
    struct msb_obuf out;
    setup();
    msb_subst_init(&f, &set, ELIG);
    msb_obuf_init(&out, 1 << 20);
    /* The start of a next head: held, so NEED_MORE. */
    CU_ASSERT_EQUAL(msb_subst_request(&f, "GET / HTTP/1.1\r\n\r\nZmsb~OTH", 26, &out),
                    MSB_SUBST_NEED_MORE);
    CU_ASSERT_EQUAL(out.len, 18);
    CU_ASSERT_EQUAL(msb_subst_request(&f, "ER~ph003", 8, &out), MSB_SUBST_VIOLATION);
    CU_ASSERT_EQUAL(out.len, 18);
    CU_ASSERT_EQUAL(msb_subst_violation(&f), 2);
    CU_ASSERT_EQUAL(msb_subst_request(&f, "GET / HTTP/1.1\r\n\r\n", 18, &out),
                    MSB_SUBST_VIOLATION);
    CU_ASSERT_EQUAL(out.len, 18);
    msb_subst_free(&f);
    msb_obuf_free(&out);
    msb_secret_set_free(&set);
}

static void test_output_max(void)
{
    struct msb_subst f;
    struct msb_obuf out;
    setup();
    msb_subst_init(&f, &set, ELIG);
    msb_obuf_init(&out, 40);
    const char *req = "GET / HTTP/1.1\r\nA: " PA "\r\n\r\n"; /* 39 bytes, 59 out */
    CU_ASSERT_EQUAL(msb_subst_request(&f, req, strlen(req), &out), MSB_SUBST_TOO_LARGE);
    CU_ASSERT(out.len <= 40);
    msb_subst_free(&f);
    msb_obuf_free(&out);
    msb_secret_set_free(&set);
}

static void test_response(void)
{
    char in[800], exp[800];
    const char *red_a = PA "********************"; /* 36 bytes, as VA */
    setup();
    snprintf(in, sizeof in, "HTTP/1.1 401 No\r\nX-Echo: " VA "\r\nContent-Length: %zu\r\n\r\n"
             "{\"bad\":\"" VA "\",\"d\":\"" VD "\"}", strlen(VA) + strlen(VD) + 17);
    snprintf(exp, sizeof exp, "HTTP/1.1 401 No\r\nX-Echo: %s\r\nContent-Length: %zu\r\n\r\n"
             "{\"bad\":\"%s\",\"d\":\"" PD "\"}", red_a, strlen(VA) + strlen(VD) + 17, red_a);
    check_str(1, ELIG, in, exp, MSB_SUBST_OK);
    /* A value split across two chunks, and one in a chunk extension. */
    check_str(1, ELIG, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "a;x=" VD "\r\nsk-proj-RE\r\n1a\r\nAL-openai-0123456789abcdef\r\n0\r\n\r\n",
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "a;x=" PD "\r\nKmsb_OPENA\r\n1a\r\nI_ph01********************\r\n0\r\n\r\n",
              MSB_SUBST_OK);
    /* A body ending in a value's prefix is not held: the message ended. */
    check_str(1, ELIG, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsk-proj",
              "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsk-proj", MSB_SUBST_OK);
    check_str(1, ELIG, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 None\r\n\r\n"
              "HTTP/1.1 304 Same\r\nContent-Length: 9\r\n\r\nHTTP/1.0 200\r\nContent-Length: 2\r\n\r\nok",
              "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 None\r\n\r\n"
              "HTTP/1.1 304 Same\r\nContent-Length: 9\r\n\r\nHTTP/1.0 200\r\nContent-Length: 2\r\n\r\nok",
              MSB_SUBST_OK);
    /* Until EOF: held bytes come out at the end of the stream. */
    const char *eof_in = "HTTP/1.0 200 OK\r\n\r\nx " VD " sk-proj";
    const char *eof_exp = "HTTP/1.0 200 OK\r\n\r\nx " PD " sk-proj";
    check(1, ELIG, eof_in, strlen(eof_in), eof_exp, strlen(eof_exp), MSB_SUBST_OK, 1);
    check(1, ELIG, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 41, "", 0,
          MSB_SUBST_MALFORMED, 1);
    check_str(1, ELIG, "HTTP/1.1 101 Switching\r\n\r\n", "", MSB_SUBST_UNSUPPORTED);
    check_str(1, ELIG, "HTTP/1.1 2000 OK\r\n\r\n", "", MSB_SUBST_MALFORMED);
    msb_secret_set_free(&set);
}

/* The base64 characters of V placed at byte offset A that depend on V
 * alone, from this file's own encoder: the run the redactor must break. */
static void core_of(const char *v, size_t a, char *out)
{
    char buf[160] = {0}, enc[240];
    size_t n = strlen(v), first = (8 * a + 5) / 6, last = 8 * (a + n) / 6;
    memcpy(buf + a, v, n);
    b64(buf, a + n, enc);
    memcpy(out, enc + first, last - first);
    out[last - first] = 0;
}

static int has(const void *hay, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp((const uint8_t *)hay + i, needle, nn) == 0)
            return 1;
    return 0;
}

/* OUT holds neither V nor its base64 run at any alignment (in either
 * alphabet: OUT is read as standard), and the credentials echoed after
 * "X-Echo: Basic " decode to PRE then no V. */
static int clean(const struct msb_obuf *o, const char *pre, const char *v)
{
    char core[240], *t = malloc(o->len + 1);
    uint8_t dec[200];
    int ok = !has(o->data, o->len, v);
    for (size_t i = 0; i < o->len; i++)
        t[i] = o->data[i] == '-' ? '+' : o->data[i] == '_' ? '/' : (char)o->data[i];
    t[o->len] = 0;
    for (size_t a = 0; a < 3; a++) {
        core_of(v, a, core);
        ok = ok && !has(t, o->len, core);
    }
    const char *c = strstr(t, "Echo: Basic "); /* t has "X+Echo" */
    long dn = c ? msb_base64_decode(c + 12, strcspn(c + 12, "\r"), dec, sizeof dec) : -1;
    ok = ok && dn >= (long)strlen(pre) && memcmp(dec, pre, strlen(pre)) == 0 &&
         !has(dec, (size_t)dn, v);
    free(t);
    if (!ok)
        fprintf(stderr, "not clean for \"%s\": %.*s\n", pre, (int)o->len, (const char *)o->data);
    return ok;
}

/* BODY as a chunked body of 5-byte chunks (a run crosses the framing). */
static size_t chunk5(const char *body, char *out)
{
    size_t n = strlen(body), o = 0;
    for (size_t i = 0; i < n; i += 5)
        o += (size_t)sprintf(out + o, "%zx\r\n%.*s\r\n", n - i < 5 ? n - i : 5, (int)5,
                             body + i);
    return o + (size_t)sprintf(out + o, "0\r\n\r\n");
}

/* Response echoing `Basic base64(PRE V)` in a header and in the body, and
 * the same with the credentials' V replaced by PH cut or NUL-padded. */
static void b64_echo(const char *pre, const char *v, const char *ph, int chunked, char *in,
                     char *exp)
{
    char cred[160], red[160], enc[2][240], body[600], fr[1200];
    size_t pn = strlen(pre), vn = strlen(v), pl = strlen(ph);
    memcpy(cred, pre, pn);
    memcpy(cred + pn, v, vn);
    memcpy(red, cred, pn);
    memset(red + pn, 0, vn);
    memcpy(red + pn, ph, vn < pl ? vn : pl);
    b64(cred, pn + vn, enc[0]);
    b64(red, pn + vn, enc[1]);
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body, "{\"headers\": {\"Authorization\": \"Basic %s\"}}", enc[k]);
        if (chunked)
            chunk5(body, fr);
        sprintf(k ? exp : in, "HTTP/1.1 200 OK\r\nX-Echo: Basic %s\r\n%s%zu\r\n\r\n%s", enc[k],
                chunked ? "Transfer-Encoding: chunked\r\nX-Len: " : "Content-Length: ",
                strlen(body), chunked ? fr : body);
    }
}

/* An upstream echoing `Authorization: Basic` (httpbin's /headers) returns
 * the value base64-encoded: each alignment, a value longer than its
 * placeholder (A) and one as long (D, decoding to exactly the
 * placeholder), in a Content-Length and a chunked body, whole, byte by
 * byte and at every split (check), lengths unchanged. */
static void test_response_b64(void)
{
    static const char *const pre[] = {"", "abc:", "user:"}; /* alignments 0, 1, 2 */
    static const char *const val[][2] = {{VA, PA}, {VD, PD}};
    char in[1600], exp[1600];
    setup();
    for (size_t p = 0; p < 3; p++) {
        for (size_t v = 0; v < 2; v++) {
            for (int chunked = 0; chunked < 2; chunked++) {
                b64_echo(pre[p], val[v][0], val[v][1], chunked, in, exp);
                CU_ASSERT_EQUAL(strlen(in), strlen(exp));
                check_str(1, ELIG, in, exp, MSB_SUBST_OK);
                struct run r;
                run_cuts(1, ELIG, (const uint8_t *)in, strlen(in), NULL, 0, 0, &r);
                CU_ASSERT(r.out.len == strlen(in) && clean(&r.out, pre[p], val[v][0]));
                msb_obuf_free(&r.out);
            }
        }
    }
    msb_secret_set_free(&set);
}

#define PE "Wmsb_URL_ph00005"
#define VE "url~~~value>>>???~~~end" /* base64 with '+' and '/' at each alignment */

/* URL-safe base64 is redacted too, staying URL-safe where it showed. */
static void test_response_b64url(void)
{
    char in[1600], exp[1600];
    setup();
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "E", PE, 16, VE, strlen(VE), MSB_INJECT_BASIC),
                          MSB_SECRET_ADDED);
    for (size_t p = 0; p < 6; p++) {
        const char *v = p < 3 ? VA : VE, *pre = (const char *[]){"", "abc:", "user:"}[p % 3];
        b64_echo(pre, v, p < 3 ? PA : PE, p % 2, in, exp);
        for (char *c = strchr(in, '\n'); *c; c++) /* past "HTTP/1.1" */
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        struct run r;
        size_t cuts[1600];
        for (size_t i = 0; i + 1 < strlen(in); i++)
            cuts[i] = i + 1;
        run_cuts(1, ELIG, (const uint8_t *)in, strlen(in), cuts, strlen(in) - 1, 0, &r);
        CU_ASSERT(r.st == MSB_SUBST_OK && r.out.len == strlen(in));
        CU_ASSERT(clean(&r.out, pre, v));
        CU_ASSERT(memchr(r.out.data, '+', r.out.len) == NULL);
        msb_obuf_free(&r.out);
    }
    msb_secret_set_free(&set);
}

/* Base64 and binary bodies carrying no value pass byte for byte. */
static void test_response_b64_none(void)
{
    enum { BODY = 1200 };
    char head[160];
    const char *cred = "Basic dXNlcjpwYXNzd29yZA== c2stcHJvai1SRUFMLW9wZW5haQ== ";
    uint8_t *in = malloc(BODY + 400);
    setup();
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nX-Echo: %s\r\nContent-Length: %d\r\n\r\n", cred, BODY);
    memcpy(in, head, (size_t)hn);
    binary_body(in + hn, BODY);
    memcpy(in + hn + 100, cred, strlen(cred));
    check(1, ELIG, in, (size_t)hn + BODY, in, (size_t)hn + BODY, MSB_SUBST_OK, 0);
    free(in);
    msb_secret_set_free(&set);
}

static void test_response_after_head(void)
{
    struct msb_subst f;
    struct msb_obuf out;
    const char *req = "HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    setup();
    msb_subst_init(&f, &set, ELIG);
    msb_obuf_init(&out, 1 << 20);
    CU_ASSERT_EQUAL(msb_subst_request(&f, req, strlen(req), &out), MSB_SUBST_OK);
    out.len = 0;
    /* The first response answers HEAD: no body, whatever it announces. */
    CU_ASSERT_EQUAL(msb_subst_response(&f, resp, strlen(resp), &out), MSB_SUBST_OK);
    CU_ASSERT(out.len == strlen(resp) && memcmp(out.data, resp, out.len) == 0);
    msb_subst_free(&f);
    msb_obuf_free(&out);
    msb_secret_set_free(&set);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"headers", test_headers},
        {"query", test_query},
        {"basic", test_basic},
        {"pipelined", test_pipelined},
        {"body_inject", test_body_inject},
        {"body_bound", test_body_bound},
        {"too_large", test_too_large},
        {"malformed", test_malformed},
        {"binary_body", test_binary_body},
        {"violations", test_violations},
        {"violation_sticks", test_violation_sticks},
        {"output_max", test_output_max},
        {"response", test_response},
        {"response_after_head", test_response_after_head},
        {"response_b64", test_response_b64},
        {"response_b64url", test_response_b64url},
        {"response_b64_none", test_response_b64_none},
        {NULL, NULL},
    };
    return cunit_run("http_subst", tests);
}
