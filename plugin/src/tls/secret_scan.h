/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secrets of a sandbox (name, placeholder, real value) and a streaming
 * scanner that tells whether a placeholder crosses a byte stream in any of
 * the forms a guest could use to smuggle it past a literal match.
 *
 * Placeholders: 8..128 bytes of [A-Za-z0-9._~-] (URL "unreserved": they
 * need no escaping in a URL, a header or JSON, and never contain the escape
 * introducers '%' and '\'), whose FIRST byte is not a hex digit and not one
 * of the JSON escape letters b f n r t u.  That first-byte rule is what lets
 * one deterministic decoder see every form: an escape introducer written
 * literally just before the placeholder can never swallow its first byte.
 * No placeholder may contain another (substitution would be ambiguous).
 *
 * Forms found (each a match of the placeholder P of a watched secret):
 *   raw      P byte for byte (case-sensitive).
 *   percent  any byte of P written as %XX, hex digits in either case, any
 *            mix of encoded and plain bytes ("%4Bey%2d1" for "Key-1").
 *   JSON     any byte written as \uXXXX (hex either case), '/' as \/, and
 *            the other JSON escapes decoded (\" \\ \b \f \n \r \t); percent
 *            and JSON escapes may be mixed in one occurrence.
 *   base64   P base64-encoded (standard or URL-safe alphabet) at any of the
 *            three byte alignments, anywhere in the stream: this covers
 *            `Authorization: Basic` credentials "user:P" and "P:pass" and any
 *            other base64 carrying P.  Matched on the characters that depend
 *            on P alone (at least 10 of them for an 8-byte P, so a chance
 *            match is ~2^-60 per position); base64 characters themselves
 *            may be percent- or JSON-escaped.
 * Not found: nested encodings (%25XX, base64 of a percent-encoded P, ...),
 * compression, and a base64 form whose first characters follow a literal
 * '%' or '\' and are hex digits while later ones are escaped.
 *
 * Memory per stream is fixed (struct msb_scan, no allocation): a decoder
 * holds at most the 5 bytes of a pending escape, and each pattern keeps a
 * matched-prefix length (KMP), so a placeholder split across any number of
 * reads is found without a carry buffer.
 */
#ifndef MSB_TLS_SECRET_SCAN_H
#define MSB_TLS_SECRET_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define MSB_SECRETS_MAX 64
#define MSB_SECRET_NAME_MAX 63
#define MSB_PLACEHOLDER_MIN 8
#define MSB_PLACEHOLDER_MAX 128
#define MSB_SECRET_VALUE_MAX 4096
/* Longest base64 core: every 6-bit group inside a 128-byte P. */
#define MSB_SCAN_PAT_MAX 171
/* Pattern 0 is P itself; 1..3 are its base64 cores at alignments 0..2. */
#define MSB_SCAN_PATS 4

/* Where a secret's real value may be injected on an eligible connection. */
enum msb_inject {
    MSB_INJECT_HEADERS = 1u << 0, /* header values (not Authorization: Basic) */
    MSB_INJECT_BASIC = 1u << 1,   /* decoded Authorization: Basic credentials */
    MSB_INJECT_QUERY = 1u << 2,   /* the request line (path and query) */
    MSB_INJECT_BODY = 1u << 3,    /* Content-Length bodies up to 1 MiB */
};

enum msb_secret_add_result {
    MSB_SECRET_ADDED = 0,
    MSB_SECRET_FULL,            /* MSB_SECRETS_MAX already */
    MSB_SECRET_BAD_NAME,        /* 1..63 of [A-Za-z0-9_] */
    MSB_SECRET_BAD_PLACEHOLDER, /* length, alphabet or first byte */
    MSB_SECRET_BAD_VALUE,       /* 1..4096 bytes, no control bytes */
    MSB_SECRET_CLASH,           /* same name, or a placeholder inside another */
    MSB_SECRET_NO_MEMORY,
};

struct msb_secret {
    char name[MSB_SECRET_NAME_MAX + 1];
    unsigned inject; /* enum msb_inject bits */
    uint8_t placeholder[MSB_PLACEHOLDER_MAX];
    size_t plen;
    uint8_t *value; /* heap; zeroed before it is freed */
    size_t vlen;
    uint16_t *vfail; /* KMP table of value (the response filter) */
    /* The value's base64 cores (msb_b64_core) at alignments 0..2, for the
     * response filter to redact base64 echoes: as secret as the value, so
     * in secret memory like it (vb64 holds 3 x vb64cap bytes); their KMP
     * tables (vb64fail, 3 x vb64cap) are wiped on free like vfail. */
    uint8_t *vb64;
    uint16_t *vb64fail;
    size_t vb64cap;
    uint16_t vb64len[3];
    uint8_t pat[MSB_SCAN_PATS][MSB_SCAN_PAT_MAX];
    uint8_t fail[MSB_SCAN_PATS][MSB_SCAN_PAT_MAX];
    uint8_t patlen[MSB_SCAN_PATS];
};

struct msb_secret_set {
    struct msb_secret s[MSB_SECRETS_MAX];
    size_t n;
    /* starts[c] != 0: some value or base64 core starts with byte c (either
     * base64 alphabet), so the response filter skips any other byte while
     * no match is live.  Derived from the values: in secret memory (256
     * bytes), allocated with the first secret. */
    uint8_t *starts;
};

/* One decoding of the stream with the match state of every pattern. */
struct msb_scan_lane {
    uint8_t dstate;   /* decoder: plain, after %, %X, after \, \u... */
    uint8_t nheld;    /* bytes of a pending escape after its introducer */
    uint8_t held[5];
    uint8_t st[MSB_SECRETS_MAX][MSB_SCAN_PATS];
};

struct msb_scan {
    uint64_t watch; /* bit i: report secret i */
    struct msb_scan_lane raw, dec;
};

void msb_secret_set_init(struct msb_secret_set *set);
/* Copies name, placeholder and value; on failure the set is unchanged. */
enum msb_secret_add_result msb_secret_add(struct msb_secret_set *set, const char *name,
                                          const void *placeholder, size_t plen,
                                          const void *value, size_t vlen, unsigned inject);
/* Zeroes every value and frees the set's allocations. */
void msb_secret_set_free(struct msb_secret_set *set);

void msb_scan_init(struct msb_scan *sc, uint64_t watch);
/* Scans N more bytes of the stream: the index of the first watched secret
 * whose placeholder completes in them, or -1.  After a hit the scanner's
 * state is unspecified (the caller stops the flow). */
int msb_scan_feed(struct msb_scan *sc, const struct msb_secret_set *set, const void *p,
                  size_t n);

/* The base64 characters (standard alphabet) of the N bytes at P placed at
 * byte offset ALIGN (0..2) of a 3-byte group that depend on P alone: the
 * 6-bit groups wholly inside P's bits, at most MSB_B64_CORE_MAX(N) of
 * them, into OUT; their count. */
#define MSB_B64_CORE_MAX(n) ((8 * ((size_t)(n) + 2)) / 6)
size_t msb_b64_core(const uint8_t *p, size_t n, size_t align, uint8_t *out);

/* Zeroes N bytes in a way the compiler may not drop. */
void msb_secret_wipe(void *p, size_t n);

#endif
