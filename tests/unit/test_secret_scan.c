/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The placeholder scanner (tls/secret_scan.c): every form of secret_scan.h
 * found whole, byte by byte and at every 2-way split; near misses and
 * unwatched secrets not reported; the secret set's validation.  Inputs are
 * exact-size heap copies so ASan/valgrind see any read past the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "tls/secret_mem.h"
#include "tls/secret_scan.h"

#define PA "Kmsb_OPENAI_ph01"
#define PB "Xmsb_BODY_ph0002"
#define PC "Zmsb~OTHER~ph003"

static struct msb_secret_set set;

static void setup(void)
{
    msb_secret_set_init(&set);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "A", PA, 16, "sk-a", 4, MSB_INJECT_HEADERS),
                          MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "B", PB, 16, "sk-b", 4, MSB_INJECT_BODY),
                          MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL_FATAL(msb_secret_add(&set, "C", PC, 16, "sk-c", 4, 0), MSB_SECRET_ADDED);
}

/* The scan of S fed as CUTS pieces (cut positions ascending). */
static int scan_cuts(uint64_t watch, const char *s, size_t n, const size_t *cuts, size_t ncuts)
{
    struct msb_scan sc;
    msb_scan_init(&sc, watch);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        uint8_t *piece = malloc(end - at + 1);
        memcpy(piece, s + at, end - at);
        int hit = msb_scan_feed(&sc, &set, piece, end - at);
        free(piece);
        if (hit >= 0)
            return hit;
        at = end;
    }
    return -1;
}

/* Whole, byte by byte and every 2-way split all give EXPECT. */
static void expect_all_splits(const char *s, uint64_t watch, int expect)
{
    size_t n = strlen(s), *cuts = calloc(n + 1, sizeof *cuts);
    CU_ASSERT_EQUAL(scan_cuts(watch, s, n, NULL, 0), expect);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    CU_ASSERT_EQUAL(scan_cuts(watch, s, n, cuts, n ? n - 1 : 0), expect);
    int bad = 0;
    for (size_t i = 1; i < n; i++)
        bad += scan_cuts(watch, s, n, &i, 1) != expect;
    CU_ASSERT_EQUAL(bad, 0);
    free(cuts);
}

static void b64(const char *in, size_t n, char *out, int urlsafe)
{
    const char *a = urlsafe ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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

static void test_raw(void)
{
    setup();
    expect_all_splits("GET /x?k=" PC " HTTP/1.1\r\n", 7, 2);
    expect_all_splits("Authorization: Bearer " PA "\r\n", 7, 0);
    expect_all_splits(PB, 7, 1);
    expect_all_splits("xx%" PC "yy", 7, 2); /* a literal '%' right before */
    expect_all_splits("xx\\" PC "yy", 7, 2);
    expect_all_splits("xx\\u00" PC, 7, 2);
    msb_secret_set_free(&set);
}

static void test_near_misses(void)
{
    setup();
    expect_all_splits("Zmsb~OTHER~ph00", 7, -1);         /* a prefix */
    expect_all_splits("Zmsb~OTHER~ph0O3", 7, -1);        /* one byte off */
    expect_all_splits("zmsb~other~PH003", 7, -1);        /* case matters */
    expect_all_splits("Zmsb~OTHER~ph%3", 7, -1);         /* a cut escape */
    expect_all_splits("Zmsb~OTHER~ph00%33", 7, 2);       /* ... and a whole one */
    expect_all_splits("x " PC " y", 3, -1);              /* C not watched */
    expect_all_splits("Zmsb~OTHER~ph00\\u0033", 1 << 2, 2);
    msb_secret_set_free(&set);
}

static void pct(const char *p, char *out, int lower, int every)
{
    size_t o = 0;
    for (size_t i = 0; p[i]; i++) {
        if (i % (size_t)every == 0)
            o += (size_t)sprintf(out + o, lower ? "%%%02x" : "%%%02X", (uint8_t)p[i]);
        else
            out[o++] = p[i];
    }
    out[o] = 0;
}

static void test_percent(void)
{
    char enc[512], s[600];
    setup();
    for (int every = 1; every <= 3; every++) {
        for (int lower = 0; lower <= 1; lower++) {
            pct(PC, enc, lower, every);
            snprintf(s, sizeof s, "GET /?q=%s&x=1 HTTP/1.1", enc);
            expect_all_splits(s, 7, 2);
            expect_all_splits(s, 3, -1);
        }
    }
    /* Mixed case inside one escape: "%7e" vs "%7E" both are '~'. */
    expect_all_splits("Zmsb%7eOTHER%7Eph003", 7, 2);
    msb_secret_set_free(&set);
}

static void test_json(void)
{
    char s[600];
    size_t o = 0;
    setup();
    o += (size_t)sprintf(s, "{\"k\":\"");
    for (size_t i = 0; PA[i]; i++)
        o += (size_t)sprintf(s + o, i % 2 ? "\\u%04X" : "\\u%04x", (uint8_t)PA[i]);
    sprintf(s + o, "\"}");
    expect_all_splits(s, 7, 0);
    expect_all_splits(s, 6, -1);
    /* JSON and percent escapes mixed in one occurrence. */
    expect_all_splits("\"Kmsb\\u005fOPENAI%5Fph01\"", 7, 0);
    /* Other escapes decode to bytes that break a match. */
    expect_all_splits("Kmsb_OP\\nENAI_ph01", 7, -1);
    expect_all_splits("Kmsb_OP\\/ENAI_ph01", 7, -1);
    /* \u beyond ASCII is never a placeholder byte. */
    expect_all_splits("Kmsb_OPENAI_ph0\\u0131", 7, -1);
    msb_secret_set_free(&set);
}

static void test_base64(void)
{
    char cred[200], enc[300], s[400];
    const char *pre[] = {"", "u", "us", "user:", "ab:"};
    setup();
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        for (int url = 0; url <= 1; url++) {
            snprintf(cred, sizeof cred, "%s" PC ":pw", pre[i]);
            b64(cred, strlen(cred), enc, url);
            snprintf(s, sizeof s, "Authorization: Basic %s\r\n", enc);
            expect_all_splits(s, 7, 2);
            expect_all_splits(s, 3, -1);
        }
    }
    /* The URL-safe alphabet matters for this placeholder: its standard
     * encoding after one byte has a '+', so the '-' spelling differs. */
    b64("u" PC, 17, enc, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(strchr(enc, '+'));
    /* A '+' of the base64 written as \u002B inside JSON. */
    char *plus = strchr(enc, '+');
    snprintf(s, sizeof s, "{\"t\":\"%.*s\\u002B%s\"}", (int)(plus - enc), enc, plus + 1);
    expect_all_splits(s, 7, 2);
    msb_secret_set_free(&set);
}

static void test_which_secret(void)
{
    setup();
    expect_all_splits("a " PB " b " PC, 7, 1);
    expect_all_splits("a " PB " b " PC, 5, 2);
    expect_all_splits("a " PB " b " PC, 0, -1);
    msb_secret_set_free(&set);
}

static void test_add_rules(void)
{
    struct msb_secret_set s;
    char name[80], ph[200];
    msb_secret_set_init(&s);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "", PA, 16, "v", 1, 0), MSB_SECRET_BAD_NAME);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "A-B", PA, 16, "v", 1, 0), MSB_SECRET_BAD_NAME);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "A", "Kshort7", 7, "v", 1, 0),
                    MSB_SECRET_BAD_PLACEHOLDER);
    memset(ph, 'K', sizeof ph);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "A", ph, 129, "v", 1, 0), MSB_SECRET_BAD_PLACEHOLDER);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "A", ph, 128, "v", 1, 0), MSB_SECRET_ADDED);
    const char *bad[] = {"Amsb_ph_01", "9msb_ph_01", "umsb_ph_01", "bmsb_ph_01", "K%sb_ph_01",
                         "K\\sb_ph_01", "Kmsb ph_01", "Kmsb/ph_01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(msb_secret_add(&s, "B", bad[i], 10, "v", 1, 0),
                        MSB_SECRET_BAD_PLACEHOLDER);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "B", "Gmsb_ph_01", 10, "", 0, 0), MSB_SECRET_BAD_VALUE);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "B", "Gmsb_ph_01", 10, "a\r\nb", 4, 0),
                    MSB_SECRET_BAD_VALUE);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "B", "Gmsb_ph_01", 10, "a b", 3, MSB_INJECT_QUERY),
                    MSB_SECRET_BAD_VALUE);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "B", "Gmsb_ph_01", 10, "a b", 3, MSB_INJECT_HEADERS),
                    MSB_SECRET_ADDED);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "A", "Gmsb_ph_02", 10, "v", 1, 0), MSB_SECRET_CLASH);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "C", "Gmsb_ph_01x", 11, "v", 1, 0), MSB_SECRET_CLASH);
    CU_ASSERT_EQUAL(msb_secret_add(&s, "C", "Xmsb_ph_01", 10, "v", 1, 0), MSB_SECRET_ADDED);
    for (size_t i = s.n; i < MSB_SECRETS_MAX; i++) {
        snprintf(name, sizeof name, "S%zu", i);
        snprintf(ph, sizeof ph, "Hph_%06zu", i);
        CU_ASSERT_EQUAL(msb_secret_add(&s, name, ph, 10, "v", 1, 0), MSB_SECRET_ADDED);
    }
    CU_ASSERT_EQUAL(msb_secret_add(&s, "Z", "Hph_zzzzzz", 10, "v", 1, 0), MSB_SECRET_FULL);
    msb_secret_set_free(&s);
    CU_ASSERT_EQUAL(s.n, 0);
}

static void test_last_of_64(void)
{
    struct msb_secret_set *keep = malloc(sizeof *keep);
    char name[16], ph[16];
    memcpy(keep, &set, sizeof set);
    msb_secret_set_init(&set);
    for (size_t i = 0; i < MSB_SECRETS_MAX; i++) {
        snprintf(name, sizeof name, "S%zu", i);
        snprintf(ph, sizeof ph, "Hph_%06zu", i);
        CU_ASSERT_EQUAL(msb_secret_add(&set, name, ph, 10, "v", 1, 0), MSB_SECRET_ADDED);
    }
    expect_all_splits("x Hph_000063 y", ~0ull, 63);
    expect_all_splits("x Hph_000063 y", ~0ull >> 1, -1);
    msb_secret_set_free(&set);
    memcpy(&set, keep, sizeof set);
    free(keep);
}

/* The kernel's count of this process's locked memory, in KiB. */
static long vm_locked_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Values live in the locked arena: a chunk mapped on first use, locked
 * (VmLck grows by it) unless the kernel refuses (then counted), freed
 * granules zeroed, an empty chunk unmapped, and the arena bounded. */
static void test_secret_mem(void)
{
    struct msb_secret_mem_stats st;
    long lck0 = vm_locked_kib();
    (void)lck0; /* unread under ASan */
    CU_ASSERT_PTR_NULL(msb_secret_mem_alloc(0));
    CU_ASSERT_PTR_NULL(msb_secret_mem_alloc(MSB_SECRET_MEM_CHUNK + 1));
    uint8_t *a = msb_secret_mem_alloc(100), *b = msb_secret_mem_alloc(4096);
    CU_ASSERT_FATAL(a && b);
    memset(a, 'A', 100);
    memset(b, 'B', 4096);
    msb_secret_mem_stats(&st);
    CU_ASSERT_EQUAL(st.chunks, 1);
    CU_ASSERT_EQUAL(st.in_use, 128 + 4096); /* 64-byte granules */
    CU_ASSERT(st.locked_bytes == MSB_SECRET_MEM_CHUNK || st.lock_failed == 1);
#ifndef __SANITIZE_ADDRESS__ /* ASan turns mlock into a no-op that succeeds */
    if (st.locked_bytes)
        CU_ASSERT(vm_locked_kib() >= lck0 + (long)(MSB_SECRET_MEM_CHUNK >> 10));
#endif
    msb_secret_mem_free(a, 100);
    for (int i = 0; i < 128; i++) /* still mapped (b lives): zeroed on free */
        CU_ASSERT_EQUAL_FATAL(a[i], 0);
    uint8_t *c = msb_secret_mem_alloc(64);
    CU_ASSERT_PTR_EQUAL(c, a); /* first fit reuses the granules */
    msb_secret_mem_free(c, 64);
    msb_secret_mem_free(b, 4096);
    msb_secret_mem_stats(&st);
    CU_ASSERT_EQUAL(st.chunks, 0);
    CU_ASSERT_EQUAL(st.in_use, 0);
#ifndef __SANITIZE_ADDRESS__
    if (lck0 >= 0)
        CU_ASSERT_EQUAL(vm_locked_kib(), lck0);
#endif
    void *all[MSB_SECRET_MEM_CHUNKS];
    for (size_t i = 0; i < MSB_SECRET_MEM_CHUNKS; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(all[i] = msb_secret_mem_alloc(MSB_SECRET_MEM_CHUNK));
    CU_ASSERT_PTR_NULL(msb_secret_mem_alloc(1)); /* bounded */
    for (size_t i = 0; i < MSB_SECRET_MEM_CHUNKS; i++)
        msb_secret_mem_free(all[i], MSB_SECRET_MEM_CHUNK);
    msb_secret_mem_stats(&st);
    CU_ASSERT_EQUAL(st.chunks, 0);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"raw", test_raw},
        {"near_misses", test_near_misses},
        {"percent", test_percent},
        {"json", test_json},
        {"base64", test_base64},
        {"which_secret", test_which_secret},
        {"add_rules", test_add_rules},
        {"last_of_64", test_last_of_64},
        {"values in the locked arena", test_secret_mem},
        {NULL, NULL},
    };
    return cunit_run("secret_scan", tests);
}
