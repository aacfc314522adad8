/* SPDX-License-Identifier: Apache-2.0 */
/* The ClientHello SNI reader (tls_sni.c) on hand-built hellos: found names,
 * every truncation, records split anywhere, plain-text protocols decided at
 * the first byte, and malicious lengths and names refused.  Every input is
 * an exact-size heap copy, so ASan/valgrind see any read past the end. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/tls_sni.h"

/* ---- a ClientHello writer, independent of the reader ---------------------- */

struct buf {
    uint8_t b[40000];
    size_t n;
};

static void put8(struct buf *w, unsigned v)
{
    w->b[w->n++] = (uint8_t)v;
}

static void put16(struct buf *w, unsigned v)
{
    put8(w, v >> 8);
    put8(w, v);
}

static void put(struct buf *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* One server_name extension (type 0) naming `name` (host_name type 0). */
static void ext_sni(struct buf *w, const char *name, size_t nlen)
{
    put16(w, 0);
    put16(w, (unsigned)(nlen + 5));
    put16(w, (unsigned)(nlen + 3));
    put8(w, 0);
    put16(w, (unsigned)nlen);
    put(w, name, nlen);
}

/* A ClientHello handshake message (header included) with the given
 * extension bytes (NULL: no extensions block at all). */
static void hello(struct buf *hs, const struct buf *exts)
{
    struct buf body = {.n = 0};
    put16(&body, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(&body, (unsigned)i);
    put8(&body, 32); /* session id */
    for (int i = 0; i < 32; i++)
        put8(&body, 0xaa);
    put16(&body, 4);
    put16(&body, 0x1301);
    put16(&body, 0x1302);
    put8(&body, 1);
    put8(&body, 0);
    if (exts) {
        put16(&body, (unsigned)exts->n);
        put(&body, exts->b, exts->n);
    }
    hs->n = 0;
    put8(hs, 1);
    put8(hs, (unsigned)(body.n >> 16));
    put16(hs, (unsigned)(body.n & 0xffff));
    put(hs, body.b, body.n);
}

/* hs wrapped in TLS records of at most `frag` bytes each. */
static void records(struct buf *out, const struct buf *hs, size_t frag)
{
    out->n = 0;
    for (size_t at = 0; at < hs->n; at += frag) {
        size_t k = hs->n - at < frag ? hs->n - at : frag;
        put8(out, 22);
        put16(out, 0x0301);
        put16(out, (unsigned)k);
        put(out, hs->b + at, k);
    }
}

/* The usual hello: a GREASE-ish extension, SNI, supported_versions. */
static void typical(struct buf *rec, const char *name, size_t frag)
{
    static struct buf exts, hs;
    exts.n = 0;
    put16(&exts, 0x0a0a);
    put16(&exts, 0);
    ext_sni(&exts, name, strlen(name));
    put16(&exts, 43);
    put16(&exts, 3);
    put8(&exts, 2);
    put16(&exts, 0x0304);
    hello(&hs, &exts);
    records(rec, &hs, frag);
}

static enum msb_sni_result run(const uint8_t *b, size_t n, char *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, b, n);
    enum msb_sni_result r = msb_tls_sni(copy, n, out);
    free(copy);
    return r;
}

static struct buf rec;
static char name[MSB_SNI_NAME_MAX + 1];

/* ---- tests ------------------------------------------------------------------ */

static void test_found_canonical(void)
{
    typical(&rec, "Example.COM", 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_FOUND);
    CU_ASSERT_STRING_EQUAL(name, "example.com");
    typical(&rec, "api.pypi.org.", 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_FOUND);
    CU_ASSERT_STRING_EQUAL(name, "api.pypi.org");
    typical(&rec, "_svc.x-y.example", 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_FOUND);
    CU_ASSERT_STRING_EQUAL(name, "_svc.x-y.example");
}

/* Every prefix of a valid hello asks for more; bytes after it are ignored. */
static void test_every_truncation_needs_more(void)
{
    typical(&rec, "files.pythonhosted.org", 16384);
    for (size_t n = 1; n < rec.n; n++)
        CU_ASSERT_EQUAL(run(rec.b, n, name), MSB_SNI_NEED_MORE);
    memcpy(rec.b + rec.n, "\x17\x03\x03\x00\x01z", 6); /* early data after it */
    CU_ASSERT_EQUAL(run(rec.b, rec.n + 6, name), MSB_SNI_FOUND);
    CU_ASSERT_STRING_EQUAL(name, "files.pythonhosted.org");
}

/* The handshake split over records of 1, 7 and 100 bytes. */
static void test_split_records(void)
{
    size_t frags[] = {1, 7, 100};
    for (int i = 0; i < 3; i++) {
        typical(&rec, "split.example.com", frags[i]);
        CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_FOUND);
        CU_ASSERT_STRING_EQUAL(name, "split.example.com");
        CU_ASSERT_EQUAL(run(rec.b, rec.n - 1, name), MSB_SNI_NEED_MORE);
    }
}

static void test_plain_text_decided_at_once(void)
{
    CU_ASSERT_EQUAL(run((const uint8_t *)"G", 1, name), MSB_SNI_NOT_TLS);
    CU_ASSERT_EQUAL(run((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name), MSB_SNI_NOT_TLS);
    CU_ASSERT_EQUAL(run((const uint8_t *)"SSH-2.0-x", 9, name), MSB_SNI_NOT_TLS);
    CU_ASSERT_EQUAL(run((const uint8_t *)"\x16\x01", 2, name), MSB_SNI_NOT_TLS);
    CU_ASSERT_EQUAL(run((const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, name),
                    MSB_SNI_NOT_TLS); /* an alert first */
    CU_ASSERT_EQUAL(run((const uint8_t *)"\x16", 1, name), MSB_SNI_NEED_MORE);
    CU_ASSERT_EQUAL(msb_tls_sni(NULL, 0, name), MSB_SNI_NEED_MORE);
}

static void test_no_sni(void)
{
    static struct buf exts, hs;
    hello(&hs, NULL); /* no extensions block */
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_NO_SNI);
    exts.n = 0;
    put16(&exts, 43);
    put16(&exts, 3);
    put8(&exts, 2);
    put16(&exts, 0x0304);
    hello(&hs, &exts);
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_NO_SNI);
    exts.n = 0; /* a server_name list with only a non-host entry */
    put16(&exts, 0);
    put16(&exts, 7);
    put16(&exts, 5);
    put8(&exts, 9);
    put16(&exts, 2);
    put(&exts, "ab", 2);
    hello(&hs, &exts);
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_NO_SNI);
}

/* Hello with one hand-made SNI extension body; expects MALFORMED. */
static void bad_sni_ext(const uint8_t *data, size_t n)
{
    static struct buf exts, hs;
    exts.n = 0;
    put16(&exts, 0);
    put16(&exts, (unsigned)n);
    put(&exts, data, n);
    hello(&hs, &exts);
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_MALFORMED);
}

static void bad_name(const char *s, size_t n)
{
    static struct buf exts, hs;
    exts.n = 0;
    ext_sni(&exts, s, n);
    hello(&hs, &exts);
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_MALFORMED);
}

static void test_bad_names(void)
{
    char label64[70], long_name[300];
    memset(label64, 'a', 64);
    memcpy(label64 + 64, ".com", 5);
    bad_name(label64, strlen(label64));
    for (int i = 0; i < 254; i++)
        long_name[i] = (i % 2) ? '.' : 'a';
    long_name[253] = 'b';
    bad_name(long_name, 254); /* 254 characters: over the DNS limit */
    bad_name("", 0);
    bad_name(".", 1);
    bad_name("a..b", 4);
    bad_name(".a.b", 4);
    bad_name("a b.com", 7);
    bad_name("a\0b.com", 7);
    bad_name("ex\xc3\xa4mple.com", 12);
    bad_name("evil.com/x", 10);
    bad_name("evil.com:443", 12);
}

static void test_bad_lengths(void)
{
    /* list length beyond the extension; name beyond the list; list with
     * trailing garbage; empty list */
    bad_sni_ext((const uint8_t *)"\x00\x09\x00\x00\x02" "ab", 7);
    bad_sni_ext((const uint8_t *)"\x00\x05\x00\x00\x09" "ab", 7);
    bad_sni_ext((const uint8_t *)"\x00\x05\x00\x00\x02" "abX", 8);
    bad_sni_ext((const uint8_t *)"\x00\x00", 2);
    bad_sni_ext((const uint8_t *)"\x00", 1);

    /* two server_name extensions: ambiguous */
    static struct buf exts, hs;
    exts.n = 0;
    ext_sni(&exts, "good.com", 8);
    ext_sni(&exts, "evil.com", 8);
    hello(&hs, &exts);
    records(&rec, &hs, 16384);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_MALFORMED);

    /* session id of 33; cipher suites odd; no compression method */
    typical(&rec, "x.com", 16384);
    struct buf bad = rec;
    bad.b[5 + 4 + 34] = 33;
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);
    bad = rec;
    bad.b[5 + 4 + 34 + 1 + 32 + 1] = 3;
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);
    bad = rec;
    bad.b[5 + 4 + 34 + 1 + 32 + 2 + 4] = 0;
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);

    /* handshake type ServerHello; record length 0; a second record of
     * another type before the hello is complete */
    bad = rec;
    bad.b[5] = 2;
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);
    bad = rec;
    bad.b[3] = bad.b[4] = 0;
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);
    typical(&rec, "x.com", 20);
    bad = rec;
    bad.b[25] = 20; /* the second record claims change_cipher_spec */
    CU_ASSERT_EQUAL(run(bad.b, bad.n, name), MSB_SNI_MALFORMED);

    /* a record longer than TLS allows; a handshake longer than we hold */
    CU_ASSERT_EQUAL(run((const uint8_t *)"\x16\x03\x01\x40\x01\x01", 6, name), MSB_SNI_MALFORMED);
    CU_ASSERT_EQUAL(run((const uint8_t *)"\x16\x03\x01\x00\x04\x01\x00\x40\x00", 9, name),
                    MSB_SNI_MALFORMED);
}

/* A hello that needs more than MSB_SNI_MAX_BYTES of records is refused
 * once that much is held, not waited for forever. */
static void test_bounded(void)
{
    static struct buf exts, hs;
    exts.n = 0;
    put16(&exts, 21); /* padding extension, 16000 bytes */
    put16(&exts, 16000);
    memset(exts.b + exts.n, 0, 16000);
    exts.n += 16000;
    ext_sni(&exts, "big.example", 11);
    hello(&hs, &exts);
    records(&rec, &hs, 100); /* 5 bytes of header per 100: over the limit */
    CU_ASSERT(rec.n > MSB_SNI_MAX_BYTES);
    CU_ASSERT_EQUAL(run(rec.b, MSB_SNI_MAX_BYTES - 1, name), MSB_SNI_NEED_MORE);
    CU_ASSERT_EQUAL(run(rec.b, MSB_SNI_MAX_BYTES, name), MSB_SNI_MALFORMED);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_MALFORMED);
    records(&rec, &hs, 16384); /* fits in 2 records: fine */
    CU_ASSERT(rec.n <= MSB_SNI_MAX_BYTES);
    CU_ASSERT_EQUAL(run(rec.b, rec.n, name), MSB_SNI_FOUND);
    CU_ASSERT_STRING_EQUAL(msb_sni_result_name(MSB_SNI_FOUND), "found");
}

int main(void)
{
    static const struct test_case tests[] = {
        {"SNI found, canonical", test_found_canonical},
        {"every truncation needs more", test_every_truncation_needs_more},
        {"handshake split over records", test_split_records},
        {"plain text decided at the first byte", test_plain_text_decided_at_once},
        {"ClientHello without SNI", test_no_sni},
        {"bad names refused", test_bad_names},
        {"bad lengths refused", test_bad_lengths},
        {"bounded at 16 KiB", test_bounded},
        {NULL, NULL},
    };
    return cunit_run("tls_sni", tests);
}
