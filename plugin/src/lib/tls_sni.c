/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ClientHello layout (RFC 8446 §4.1.2, §4.2; RFC 6066 §3):
 *   record:    type(1)=22 version(2)=3.x length(2) fragment
 *   handshake: type(1)=1 length(3) body
 *   body:      version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *              compression_methods<1..2^8-1> [extensions<0..2^16-1>]
 *   extension: type(2) length(2) data;  server_name = type 0:
 *              list<1..2^16-1> of { name_type(1) name<1..2^16-1> }, host_name = 0
 */
#include "lib/tls_sni.h"

#include <stdbool.h>
#include <string.h>

#define REC_HANDSHAKE 22
#define REC_HDR 5
#define REC_MAX 16384u /* a plaintext record's fragment (RFC 8446 §5.1) */
#define HS_CLIENT_HELLO 1
#define HS_HDR 4
#define EXT_SERVER_NAME 0
#define NAME_HOST 0

/* A bounded reader: every take checks the remaining length first. */
struct rd {
    const uint8_t *p;
    size_t n;
};

static bool take(struct rd *r, size_t k, struct rd *out)
{
    if (r->n < k)
        return false;
    if (out)
        *out = (struct rd){r->p, k};
    r->p += k;
    r->n -= k;
    return true;
}

static bool u8(struct rd *r, size_t *v)
{
    if (r->n < 1)
        return false;
    *v = r->p[0];
    return take(r, 1, NULL);
}

static bool u16(struct rd *r, size_t *v)
{
    if (r->n < 2)
        return false;
    *v = (size_t)r->p[0] << 8 | r->p[1];
    return take(r, 2, NULL);
}

/* A vector with a length prefix of `w` bytes (1 or 2). */
static bool vec(struct rd *r, int w, struct rd *out)
{
    size_t k;
    return (w == 1 ? u8(r, &k) : u16(r, &k)) && take(r, k, out);
}

/* Host name per RFC 6066: ASCII letters, digits, hyphens, dots, and the
 * underscore some internal names carry; no empty label; one trailing dot
 * tolerated (dropped).  Lower-cased into out. */
static bool canonical_name(struct rd name, char *out)
{
    size_t n = name.n;
    if (n && name.p[n - 1] == '.')
        n--;
    if (n == 0 || n > MSB_SNI_NAME_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = name.p[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            label++;
        } else if (c >= 'A' && c <= 'Z') {
            c = (uint8_t)(c - 'A' + 'a');
            label++;
        } else {
            return false;
        }
        if (label > 63)
            return false;
        out[i] = (char)c;
    }
    if (label == 0)
        return false;
    out[n] = '\0';
    return true;
}

static enum msb_sni_result server_name(struct rd ext, char *out)
{
    struct rd list;
    if (!vec(&ext, 2, &list) || ext.n != 0 || list.n == 0)
        return MSB_SNI_MALFORMED;
    while (list.n) {
        size_t type;
        struct rd name;
        if (!u8(&list, &type) || !vec(&list, 2, &name))
            return MSB_SNI_MALFORMED;
        if (type == NAME_HOST)
            return canonical_name(name, out) ? MSB_SNI_FOUND : MSB_SNI_MALFORMED;
    }
    return MSB_SNI_NO_SNI;
}

static enum msb_sni_result client_hello(struct rd body, char *out)
{
    struct rd sid, suites, comp, exts;
    if (!take(&body, 2 + 32, NULL) || !vec(&body, 1, &sid) || sid.n > 32 ||
        !vec(&body, 2, &suites) || suites.n < 2 || (suites.n & 1) || !vec(&body, 1, &comp) ||
        comp.n < 1)
        return MSB_SNI_MALFORMED;
    if (body.n == 0)
        return MSB_SNI_NO_SNI; /* no extensions at all (TLS 1.0 style) */
    if (!vec(&body, 2, &exts) || body.n != 0)
        return MSB_SNI_MALFORMED;
    bool seen = false;
    enum msb_sni_result res = MSB_SNI_NO_SNI;
    while (exts.n) {
        size_t type;
        struct rd data;
        if (!u16(&exts, &type) || !vec(&exts, 2, &data))
            return MSB_SNI_MALFORMED;
        if (type != EXT_SERVER_NAME)
            continue;
        if (seen) /* a second server_name: ambiguous, refuse (RFC 8446 §4.2) */
            return MSB_SNI_MALFORMED;
        seen = true;
        res = server_name(data, out);
        if (res == MSB_SNI_MALFORMED)
            return res;
    }
    return res;
}

/* Concatenates the fragments of the leading handshake records into hs
 * until it holds `want` bytes (or all there is).  Returns the bytes
 * gathered, or -1 when a record is not a handshake record or is bad. */
static long gather(const uint8_t *buf, size_t len, uint8_t *hs, size_t want, bool *partial)
{
    size_t at = 0, got = 0;
    *partial = false;
    while (got < want) {
        if (len - at < REC_HDR) {
            *partial = true;
            break;
        }
        const uint8_t *h = buf + at;
        size_t flen = (size_t)h[3] << 8 | h[4];
        if (h[0] != REC_HANDSHAKE || h[1] != 3 || flen == 0 || flen > REC_MAX)
            return -1;
        size_t have = len - at - REC_HDR < flen ? len - at - REC_HDR : flen;
        size_t use = have < want - got ? have : want - got;
        memcpy(hs + got, h + REC_HDR, use);
        got += use;
        if (have < flen) {
            *partial = got < want;
            break;
        }
        at += REC_HDR + flen;
    }
    return (long)got;
}

enum msb_sni_result msb_tls_sni(const uint8_t *buf, size_t len, char out[MSB_SNI_NAME_MAX + 1])
{
    if (!buf || len == 0)
        return MSB_SNI_NEED_MORE;
    /* Decide "not TLS" from the first bytes alone, so a plain-text protocol
     * is never held back. */
    if (buf[0] != REC_HANDSHAKE || (len > 1 && buf[1] != 3))
        return MSB_SNI_NOT_TLS;
    if (len > MSB_SNI_MAX_BYTES)
        len = MSB_SNI_MAX_BYTES;
    uint8_t hs[MSB_SNI_MAX_BYTES];
    bool partial;
    long got = gather(buf, len, hs, HS_HDR, &partial);
    if (got < 0)
        return MSB_SNI_MALFORMED;
    if ((size_t)got < HS_HDR)
        return partial && len < MSB_SNI_MAX_BYTES ? MSB_SNI_NEED_MORE : MSB_SNI_MALFORMED;
    if (hs[0] != HS_CLIENT_HELLO)
        return MSB_SNI_MALFORMED;
    size_t body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
    if (body > MSB_SNI_MAX_BYTES - HS_HDR)
        return MSB_SNI_MALFORMED;
    got = gather(buf, len, hs, HS_HDR + body, &partial);
    if (got < 0)
        return MSB_SNI_MALFORMED;
    if ((size_t)got < HS_HDR + body)
        return partial && len < MSB_SNI_MAX_BYTES ? MSB_SNI_NEED_MORE : MSB_SNI_MALFORMED;
    return client_hello((struct rd){hs + HS_HDR, body}, out);
}

const char *msb_sni_result_name(enum msb_sni_result r)
{
    switch (r) {
    case MSB_SNI_NEED_MORE:
        return "need_more";
    case MSB_SNI_NOT_TLS:
        return "not_tls";
    case MSB_SNI_NO_SNI:
        return "no_sni";
    case MSB_SNI_FOUND:
        return "found";
    case MSB_SNI_MALFORMED:
        return "malformed";
    }
    return "?";
}
