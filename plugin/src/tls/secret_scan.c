/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secret set (validation, zeroing on free) and the placeholder scanner
 * of secret_scan.h: two lanes over the stream, one raw and one through a
 * percent/JSON decoder, each running a KMP matcher per watched pattern.
 */
#include "tls/secret_scan.h"
#include "tls/secret_mem.h"

#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"

enum { D_PLAIN, D_PCT, D_BSL, D_U };

/* explicit_bzero: a memset the compiler may not drop, at memset's speed.
 * Every plaintext byte of an intercepted connection is wiped once or
 * twice, so a byte-at-a-time volatile loop cost 4 % of msbnetd's CPU in a
 * bulk download (tests/perf/tls_bench.sh). */
void msb_secret_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int placeholder_ok(const uint8_t *p, size_t n)
{
    if (n < MSB_PLACEHOLDER_MIN || n > MSB_PLACEHOLDER_MAX)
        return 0;
    if (hexval(p[0]) >= 0 || strchr("bfnrtu", p[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!unreserved(p[i]))
            return 0;
    return 1;
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MSB_SECRET_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Control bytes would split a header or the request line when injected. */
static int value_ok(const uint8_t *v, size_t n, unsigned inject)
{
    if (n == 0 || n > MSB_SECRET_VALUE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] == 0x7f)
            return 0;
        if (v[i] == ' ' && (inject & MSB_INJECT_QUERY))
            return 0;
    }
    return 1;
}

static int contains(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t nn)
{
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(hay + i, needle, nn) == 0)
            return 1;
    return 0;
}

static int clashes(const struct msb_secret_set *set, const char *name, const uint8_t *p,
                   size_t plen)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct msb_secret *s = &set->s[i];
        if (strcmp(s->name, name) == 0 || contains(s->placeholder, s->plen, p, plen) ||
            contains(p, plen, s->placeholder, s->plen))
            return 1;
    }
    return 0;
}

/* KMP failure function of PAT[0..N) into FAIL: uint8_t entries for the
 * placeholders' patterns (WIDE 0), uint16_t for values up to 4096 bytes. */
static void kmp(const uint8_t *pat, size_t n, void *fail, int wide)
{
    uint8_t *f8 = fail;
    uint16_t *f16 = fail;
    size_t k = 0;
#define KMP_AT(i) (wide ? (size_t)f16[i] : (size_t)f8[i])
    for (size_t i = 0; i < n; i++) {
        while (i && k && pat[i] != pat[k])
            k = KMP_AT(k - 1);
        if (i && pat[i] == pat[k])
            k++;
        if (wide)
            f16[i] = (uint16_t)k;
        else
            f8[i] = (uint8_t)k;
    }
#undef KMP_AT
}

/* Shared with the response filter (http_subst_resp.c), which redacts the
 * values' base64 echoes with the same cores the placeholders are found by. */
size_t msb_b64_core(const uint8_t *p, size_t plen, size_t align, uint8_t *out)
{
    size_t first = (8 * align + 5) / 6, end = 8 * (align + plen), n = 0;
    for (size_t g = first; 6 * g + 6 <= end; g++) {
        unsigned v = 0;
        for (size_t bit = 6 * g; bit < 6 * g + 6; bit++) {
            size_t byte = bit / 8 - align;
            v = (v << 1) | ((p[byte] >> (7 - bit % 8)) & 1u);
        }
        out[n++] = (uint8_t)msb_base64_alphabet[v];
    }
    return n;
}

static void build_patterns(struct msb_secret *s)
{
    memcpy(s->pat[0], s->placeholder, s->plen);
    s->patlen[0] = (uint8_t)s->plen;
    for (size_t a = 0; a < 3; a++)
        s->patlen[a + 1] = (uint8_t)msb_b64_core(s->placeholder, s->plen, a, s->pat[a + 1]);
    for (size_t k = 0; k < MSB_SCAN_PATS; k++)
        kmp(s->pat[k], s->patlen[k], s->fail[k], 0);
}

/* Everything S allocated, zeroed and freed; NULL members are skipped. */
static void free_secret(struct msb_secret *s)
{
    msb_secret_mem_free(s->value, s->vlen); /* zeroes it */
    msb_secret_wipe(s->vfail, s->vlen * sizeof *s->vfail);
    free(s->vfail);
    msb_secret_mem_free(s->vb64, 3 * s->vb64cap);
    msb_secret_wipe(s->vb64fail, 3 * s->vb64cap * sizeof *s->vb64fail);
    free(s->vb64fail);
}

/* The value's base64 cores and their KMP tables (secret_scan.h). */
static int value_b64(struct msb_secret *s)
{
    s->vb64cap = MSB_B64_CORE_MAX(s->vlen);
    s->vb64 = msb_secret_mem_alloc(3 * s->vb64cap);
    s->vb64fail = malloc(3 * s->vb64cap * sizeof *s->vb64fail);
    if (!s->vb64 || !s->vb64fail)
        return -1;
    for (size_t a = 0; a < 3; a++) {
        uint8_t *pat = s->vb64 + a * s->vb64cap;
        s->vb64len[a] = (uint16_t)msb_b64_core(s->value, s->vlen, a, pat);
        kmp(pat, s->vb64len[a], s->vb64fail + a * s->vb64cap, 1);
    }
    return 0;
}

static void mark_starts(uint8_t *starts, const struct msb_secret *s)
{
    starts[s->value[0]] = 1;
    for (size_t a = 0; a < 3; a++) {
        uint8_t c = s->vb64len[a] ? s->vb64[a * s->vb64cap] : 0;
        if (c)
            starts[c] = 1;
        if (c == '+' || c == '/')
            starts[c == '+' ? '-' : '_'] = 1;
    }
}

void msb_secret_set_init(struct msb_secret_set *set)
{
    memset(set, 0, sizeof *set);
}

enum msb_secret_add_result msb_secret_add(struct msb_secret_set *set, const char *name,
                                          const void *placeholder, size_t plen,
                                          const void *value, size_t vlen, unsigned inject)
{
    if (set->n >= MSB_SECRETS_MAX)
        return MSB_SECRET_FULL;
    if (!name_ok(name))
        return MSB_SECRET_BAD_NAME;
    if (!placeholder_ok(placeholder, plen))
        return MSB_SECRET_BAD_PLACEHOLDER;
    if (!value_ok(value, vlen, inject) || (inject & ~0xfu))
        return MSB_SECRET_BAD_VALUE;
    if (clashes(set, name, placeholder, plen))
        return MSB_SECRET_CLASH;
    struct msb_secret *s = &set->s[set->n];
    memset(s, 0, sizeof *s);
    s->value = msb_secret_mem_alloc(vlen); /* locked, undumpable (secret_mem.h) */
    s->vfail = malloc(vlen * sizeof *s->vfail);
    s->vlen = vlen;
    if (!s->value || !s->vfail) {
        free_secret(s);
        return MSB_SECRET_NO_MEMORY;
    }
    strcpy(s->name, name);
    s->inject = inject;
    memcpy(s->placeholder, placeholder, plen);
    s->plen = plen;
    memcpy(s->value, value, vlen);
    kmp(s->value, vlen, s->vfail, 1);
    build_patterns(s);
    if (!set->starts)
        set->starts = msb_secret_mem_alloc(256);
    if (value_b64(s) || !set->starts) {
        free_secret(s);
        return MSB_SECRET_NO_MEMORY;
    }
    mark_starts(set->starts, s);
    set->n++;
    return MSB_SECRET_ADDED;
}

void msb_secret_set_free(struct msb_secret_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free_secret(&set->s[i]);
    msb_secret_mem_free(set->starts, 256);
    msb_secret_wipe(set, sizeof *set);
}

void msb_scan_init(struct msb_scan *sc, uint64_t watch)
{
    memset(sc, 0, sizeof *sc);
    sc->watch = watch;
}

static uint8_t b64_norm(uint8_t c)
{
    return c == '-' ? '+' : c == '_' ? '/' : c;
}

/* One decoded byte into every watched pattern of LANE: a secret index when
 * one completes, else -1. */
static int lane_byte(struct msb_scan *sc, struct msb_scan_lane *lane,
                     const struct msb_secret_set *set, uint8_t c)
{
    for (size_t i = 0; i < set->n; i++) {
        if (!(sc->watch >> i & 1))
            continue;
        const struct msb_secret *s = &set->s[i];
        for (size_t k = 0; k < MSB_SCAN_PATS; k++) {
            uint8_t x = k ? b64_norm(c) : c, st = lane->st[i][k];
            while (st && s->pat[k][st] != x)
                st = s->fail[k][st - 1];
            if (s->pat[k][st] == x)
                st++;
            if (st == s->patlen[k])
                return (int)i;
            lane->st[i][k] = st;
        }
    }
    return -1;
}

static int dec_byte(struct msb_scan *sc, const struct msb_secret_set *set, uint8_t c);

/* A pending escape turned out not to be one: its bytes are plain text. */
static int dec_abandon(struct msb_scan *sc, const struct msb_secret_set *set, uint8_t intro,
                       uint8_t c)
{
    struct msb_scan_lane *l = &sc->dec;
    uint8_t held[sizeof l->held], n = l->nheld;
    memcpy(held, l->held, n);
    l->dstate = D_PLAIN;
    l->nheld = 0;
    int hit = lane_byte(sc, l, set, intro);
    for (uint8_t i = 0; hit < 0 && i < n; i++)
        hit = lane_byte(sc, l, set, held[i]);
    return hit >= 0 ? hit : dec_byte(sc, set, c);
}

static int dec_escaped(struct msb_scan *sc, const struct msb_secret_set *set, uint8_t c)
{
    struct msb_scan_lane *l = &sc->dec;
    static const char from[] = "/\\\"bfnrt", to[] = "/\\\"\b\f\n\r\t";
    if (c == 'u') {
        l->dstate = D_U;
        l->held[l->nheld++] = c;
        return -1;
    }
    const char *e = c ? strchr(from, c) : NULL;
    if (!e)
        return dec_abandon(sc, set, '\\', c);
    l->dstate = D_PLAIN;
    return lane_byte(sc, l, set, (uint8_t)to[e - from]);
}

/* A hex digit of %XX or \uXXXX; the escape's byte when it completes. */
static int dec_hex(struct msb_scan *sc, const struct msb_secret_set *set, uint8_t c)
{
    struct msb_scan_lane *l = &sc->dec;
    int pct = l->dstate == D_PCT;
    if (hexval(c) < 0)
        return dec_abandon(sc, set, pct ? '%' : '\\', c);
    l->held[l->nheld++] = c;
    if (l->nheld < (pct ? 2 : 5))
        return -1;
    unsigned v = 0;
    for (uint8_t i = pct ? 0 : 1; i < l->nheld; i++)
        v = v << 4 | (unsigned)hexval(l->held[i]);
    l->dstate = D_PLAIN;
    l->nheld = 0;
    /* Beyond ASCII: no placeholder or base64 byte, so it only breaks. */
    return lane_byte(sc, l, set, v < 0x80 ? (uint8_t)v : 0xff);
}

static int dec_byte(struct msb_scan *sc, const struct msb_secret_set *set, uint8_t c)
{
    struct msb_scan_lane *l = &sc->dec;
    switch (l->dstate) {
    case D_PCT:
    case D_U:
        return dec_hex(sc, set, c);
    case D_BSL:
        return dec_escaped(sc, set, c);
    default:
        if (c == '%' || c == '\\') {
            l->dstate = c == '%' ? D_PCT : D_BSL;
            return -1;
        }
        return lane_byte(sc, l, set, c);
    }
}

int msb_scan_feed(struct msb_scan *sc, const struct msb_secret_set *set, const void *p,
                  size_t n)
{
    const uint8_t *b = p;
    if (!sc->watch)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hit = lane_byte(sc, &sc->raw, set, b[i]);
        if (hit < 0)
            hit = dec_byte(sc, set, b[i]);
        if (hit >= 0)
            return hit;
    }
    return -1;
}
