/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The response direction of http_subst.h: every real value echoed by the
 * upstream, literally or base64-encoded, is overwritten in place by a
 * same-length redaction, with the bytes that may start a value held back
 * until ruled out or the message ends.  In-place and same-length is what
 * keeps Content-Length and chunk sizes true while streaming.
 */
#include "tls/http_subst.h"

#include "lib/base64.h"

#include <stdlib.h>
#include <string.h>

#define HOLD_MAX MSB_SUBST_HEAD_MAX

/* Byte K of secret S's redaction: its placeholder, cut or '*'-padded. */
static uint8_t redaction(const struct msb_secret *s, size_t k)
{
    return k < s->plen ? s->placeholder[k] : '*';
}

/* Emits the N held bytes at the front (r->start). */
static int emit(struct msb_redact *r, size_t n, struct msb_obuf *out)
{
    if (n == 0)
        return 0;
    if (msb_obuf_put(out, r->buf + r->start, n))
        return -1;
    for (size_t i = r->start; i < r->start + n; i++)
        r->ndata -= r->isdata[i];
    r->start += n;
    if (r->start == r->len) {
        r->start = r->len = 0;
    } else if (r->start > r->cap / 2) {
        /* Compacting only past half the buffer keeps this amortised O(1). */
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        memmove(r->isdata, r->isdata + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    return 0;
}

static int red_flush(struct msb_redact *r, struct msb_obuf *out)
{
    memset(r->st, 0, sizeof r->st);
    r->tail_n = r->last_b64 = 0; /* a value never spans two messages */
    r->need = 0;
    return emit(r, r->len - r->start, out);
}

/* Secret S matched: overwrite its data bytes, the last vlen held. */
static void overwrite(struct msb_redact *r, const struct msb_secret *s)
{
    size_t k = s->vlen, i = r->len;
    while (k) {
        i--;
        if (r->isdata[i])
            r->buf[i] = redaction(s, --k);
    }
    memset(r->st, 0, sizeof r->st);
}

/* Called on every response byte: letters folded to one range test. */
static inline int b64char(uint8_t c)
{
    return (unsigned)((c | 0x20) - 'a') < 26 || (unsigned)(c - '0') < 10 || c == '+' ||
           c == '/' || c == '-' || c == '_';
}

/* The cores are in the standard alphabet; URL-safe text is matched on it. */
static uint8_t b64_norm(uint8_t c)
{
    return c == '-' ? '+' : c == '_' ? '/' : c;
}

static unsigned b64val(uint8_t c)
{
    const char *p = strchr(msb_base64_alphabet, b64_norm(c));
    return p ? (unsigned)(p - msb_base64_alphabet) : 0;
}

static uint8_t b64_out(unsigned v, int url)
{
    uint8_t c = (uint8_t)msb_base64_alphabet[v & 63];
    if (url && (c == '+' || c == '/'))
        c = c == '+' ? '-' : '_';
    return c;
}

/* N bits of secret S's redaction from bit BIT (counted from the value's
 * first): the placeholder's bits, zeros past its end, so the guest decodes
 * the placeholder, cut to the value's length or padded with NULs (base64
 * 'A's).  Never the value's bits: none of the value survives. */
static unsigned rbits(const struct msb_secret *s, size_t bit, size_t n)
{
    unsigned v = 0;
    for (size_t i = bit; i < bit + n; i++) {
        size_t byte = i / 8;
        v = v << 1 | (byte < s->plen ? (s->placeholder[byte] >> (7 - i % 8)) & 1u : 0);
    }
    return v;
}

/* Whether the N data bytes held last are URL-safe base64 (the redaction
 * keeps the alphabet the guest decodes with). */
static int held_url(const struct msb_redact *r, size_t n)
{
    for (size_t i = r->len; n; ) {
        i--;
        if (r->isdata[i]) {
            n--;
            if (r->buf[i] == '-' || r->buf[i] == '_')
                return 1;
        }
    }
    return 0;
}

/* The character before a core at alignment A mixes the neighbour's high
 * bits with the value's first LEAD bits: rewrite those when it is held
 * (the matchers hold it; I is the core's first byte). */
static void overwrite_lead(struct msb_redact *r, const struct msb_secret *s, size_t i,
                           size_t lead, int url)
{
    while (i > r->start && !r->isdata[i - 1])
        i--;
    if (lead == 0 || i == r->start || !b64char(r->buf[i - 1]))
        return;
    unsigned keep = b64val(r->buf[i - 1]) & (63u & ~((1u << lead) - 1));
    r->buf[i - 1] = b64_out(keep | rbits(s, 0, lead), url);
}

/* Secret S's base64 core at alignment A matched: its characters (the last
 * vb64len[A] data bytes held) and the boundary ones become the base64 of
 * the redaction at the same alignment, in the same alphabet. */
static void overwrite_b64(struct msb_redact *r, size_t sec, const struct msb_secret *s,
                          size_t a)
{
    size_t n = s->vb64len[a], i = r->len, first = (8 * a + 5) / 6, end = 8 * (a + s->vlen);
    int url = held_url(r, n);
    for (size_t k = n; k;) {
        i--;
        if (r->isdata[i]) {
            k--;
            r->buf[i] = b64_out(rbits(s, 6 * (first + k) - 8 * a, 6), url);
        }
    }
    overwrite_lead(r, s, i, 6 * first - 8 * a, url);
    r->tail_n = (uint8_t)(end % 6);
    r->tail_bit = end / 6 * 6 - 8 * a;
    r->tail_sec = (uint16_t)sec;
    r->tail_url = (uint8_t)url;
    memset(r->st, 0, sizeof r->st);
}

/* The data byte after a base64 match, just held: its high tail_n bits are
 * the value's last, the others the neighbour's. */
static void overwrite_tail(struct msb_redact *r, const struct msb_secret_set *set)
{
    uint8_t *c = &r->buf[r->len - 1], n = r->tail_n;
    r->tail_n = 0;
    if (!b64char(*c))
        return; /* '=' or not base64 after all: no value bits in it */
    unsigned keep = b64val(*c) & ((1u << (6 - n)) - 1);
    *c = b64_out(keep | rbits(&set->s[r->tail_sec], r->tail_bit, n) << (6 - n), r->tail_url);
}

/* One KMP step of pattern PAT (failure table FAIL) from state ST. */
static size_t kmp_step(size_t st, const uint8_t *pat, const uint16_t *fail, uint8_t c)
{
    while (st && pat[st] != c)
        st = fail[st - 1];
    return pat[st] == c ? st + 1 : st;
}

/* Data bytes matcher K of a secret needs held in state ST: at alignments
 * 1 and 2 the character before the core too (overwrite_lead). */
static size_t hold_of(size_t k, size_t st)
{
    return st + (k >= 2 && st);
}

/* Secret I's base64 matchers (K = 1..3) on data byte C: 1 on a match.
 * A byte outside both alphabets is in no core: every state drops to 0. */
static int match_b64(struct msb_redact *r, size_t i, const struct msb_secret *s, uint8_t c,
                     size_t *need)
{
    uint8_t x = b64_norm(c);
    for (size_t k = 1; k < MSB_REDACT_PATS; k++) {
        size_t at = (k - 1) * s->vb64cap, len = s->vb64len[k - 1];
        size_t st = len ? kmp_step(r->st[i][k], s->vb64 + at, s->vb64fail + at, x) : 0;
        if (st == len && len) {
            overwrite_b64(r, i, s, k - 1);
            return 1;
        }
        r->st[i][k] = (uint16_t)st;
        *need = hold_of(k, st) > *need ? hold_of(k, st) : *need;
    }
    return 0;
}

/* One data byte into every matcher of every value: the data bytes to keep
 * held for the longest live match. */
static size_t match_byte(struct msb_redact *r, const struct msb_secret_set *set, uint8_t c)
{
    size_t need = 0;
    int b64 = b64char(c);
    for (size_t i = 0; i < set->n; i++) {
        const struct msb_secret *s = &set->s[i];
        size_t st = kmp_step(r->st[i][0], s->value, s->vfail, c);
        if (st == s->vlen) {
            overwrite(r, s);
            return 0;
        }
        r->st[i][0] = (uint16_t)st;
        need = st > need ? st : need;
        if (b64 && match_b64(r, i, s, c, &need))
            return 0;
        if (!b64)
            r->st[i][1] = r->st[i][2] = r->st[i][3] = 0;
    }
    return need;
}

/* Emits the held bytes before the first data byte of the longest live
 * match: they can no longer be part of a value. */
static int release(struct msb_redact *r, size_t need, struct msb_obuf *out)
{
    size_t drop = 0, at = r->start, nd = r->ndata;
    if (need == 0)
        return emit(r, r->len - r->start, out);
    while (at < r->len && (nd > need || !r->isdata[at])) {
        nd -= r->isdata[at++];
        drop++;
    }
    return drop ? emit(r, drop, out) : 0;
}

/* The hold-back grown (doubling from 1 KiB up to HOLD_MAX) when full:
 * most responses hold at most one value's bytes, so a connection keeps a
 * large buffer only while a value is spread over much framing.  The old
 * block is wiped: it held upstream bytes that may be part of a value. */
static enum msb_subst_status red_grow(struct msb_redact *r)
{
    if (r->buf && r->len < r->cap)
        return MSB_SUBST_OK;
    if (r->cap >= HOLD_MAX)
        return MSB_SUBST_TOO_LARGE; /* a value spread over 64 KiB of framing */
    size_t cap = r->cap ? (r->cap * 2 < HOLD_MAX ? r->cap * 2 : HOLD_MAX) : 1024;
    uint8_t *b = malloc(cap), *d = malloc(cap);
    if (!b || !d) {
        free(b);
        free(d);
        return MSB_SUBST_TOO_LARGE;
    }
    if (r->buf) {
        memcpy(b, r->buf, r->len);
        memcpy(d, r->isdata, r->len);
        msb_secret_wipe(r->buf, r->cap);
    }
    free(r->buf);
    free(r->isdata);
    r->buf = b;
    r->isdata = d;
    r->cap = cap;
    return MSB_SUBST_OK;
}

/* One data byte just held: the data bytes to keep held.  The last one
 * stays held while it is a base64 character, as the leading character a
 * core starting next would need rewritten, except in a body read until
 * EOF: there it would delay a stream's last byte until more arrives. */
static size_t red_data(struct msb_subst *f, uint8_t c)
{
    struct msb_redact *r = &f->red;
    if (r->tail_n)
        overwrite_tail(r, f->set);
    uint8_t x = r->buf[r->len - 1];
    /* While no match is live, only a byte that starts a pattern matters:
     * most bytes of a body skip every matcher. */
    size_t need = r->need || (f->set->starts && f->set->starts[x]) ? match_byte(r, f->set, x) : 0;
    r->need = need;
    r->last_b64 = (uint8_t)(f->resp.state != H_TO_EOF && b64char(c));
    return need ? need : r->last_b64;
}

/* N bytes that are all value data (ISDATA) or all framing. */
static enum msb_subst_status red_feed(struct msb_subst *f, const uint8_t *in, size_t n,
                                      int isdata, struct msb_obuf *out)
{
    struct msb_redact *r = &f->red;
    for (size_t i = 0; i < n; i++) {
        if (red_grow(r) != MSB_SUBST_OK)
            return MSB_SUBST_TOO_LARGE;
        r->buf[r->len] = in[i];
        r->isdata[r->len++] = (uint8_t)isdata;
        r->ndata += (size_t)isdata;
        size_t need = r->need; /* framing moves no matcher */
        if (isdata)
            need = red_data(f, in[i]);
        else if (need == 0)
            need = r->last_b64;
        if (release(r, need, out))
            return MSB_SUBST_TOO_LARGE;
    }
    return MSB_SUBST_OK;
}

/* HTTP/1.x SP 3DIGIT [SP reason]: the status code, or -1. */
static int status_code(const uint8_t *h, size_t n)
{
    if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ')
        return -1;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (h[i] < '0' || h[i] > '9')
            return -1;
        code = code * 10 + (h[i] - '0');
    }
    return (n == 12 || h[12] == ' ') && code >= 100 ? code : -1;
}

/* Whether the oldest request in flight was HEAD (its response has no body
 * whatever its headers say); 1xx answers do not complete a request. */
static int pop_head(struct msb_subst *f, int code)
{
    if (code < 200 || f->pending == 0)
        return 0;
    int head = (int)(f->heads & 1);
    f->heads >>= 1;
    f->pending--;
    return head;
}

static enum msb_subst_status framing(struct msb_subst *f, int code)
{
    struct msb_http_meta m;
    struct msb_http_dir *d = &f->resp;
    enum msb_subst_status s = msb_http_meta(d->head, d->head_len, &m);
    if (s != MSB_SUBST_OK)
        return s;
    if (m.chunked && m.has_clen)
        return MSB_SUBST_MALFORMED;
    int head = pop_head(f, code);
    memset(&d->ch, 0, sizeof d->ch);
    d->left = m.clen;
    if (head || code < 200 || code == 204 || code == 304)
        d->state = H_HEAD;
    else if (m.chunked == 1)
        d->state = H_CHUNKED;
    else if (m.chunked == 2 || !m.has_clen)
        d->state = H_TO_EOF;
    else
        d->state = m.clen ? H_BODY : H_HEAD;
    return MSB_SUBST_OK;
}

static enum msb_subst_status resp_head(struct msb_subst *f, const uint8_t *in, size_t n,
                                       struct msb_obuf *out, size_t *used)
{
    struct msb_http_dir *d = &f->resp;
    enum msb_subst_status s = msb_http_head_add(d, in, n, used);
    if (s != MSB_SUBST_OK)
        return s;
    int code = status_code(d->head, d->eol - 1);
    if (code < 0)
        return MSB_SUBST_MALFORMED;
    if (code == 101)
        return MSB_SUBST_UNSUPPORTED;
    if ((s = framing(f, code)) != MSB_SUBST_OK)
        return s;
    /* A head is all text: any byte of it may carry a value. */
    s = red_feed(f, d->head, d->head_len, 1, out);
    msb_http_head_done(d);
    d->eol = 0;
    if (s == MSB_SUBST_OK && d->state == H_HEAD && red_flush(&f->red, out))
        s = MSB_SUBST_TOO_LARGE;
    return s;
}

static enum msb_subst_status resp_chunked(struct msb_subst *f, const uint8_t *in, size_t n,
                                          struct msb_obuf *out, size_t *used)
{
    struct msb_chunked *ch = &f->resp.ch;
    size_t r = msb_chunked_data_run(ch, n);
    if (r) {
        msb_chunked_skip(ch, r);
        *used = r;
        return red_feed(f, in, r, 1, out);
    }
    *used = 1;
    int c = msb_chunked_byte(ch, in[0]);
    if (c < 0)
        return c == CH_TOO_LARGE ? MSB_SUBST_TOO_LARGE : MSB_SUBST_MALFORMED;
    enum msb_subst_status s = red_feed(f, in, 1, c == CH_DATA, out);
    if (s == MSB_SUBST_OK && c == CH_END) {
        f->resp.state = H_HEAD;
        if (red_flush(&f->red, out))
            s = MSB_SUBST_TOO_LARGE;
    }
    return s;
}

static enum msb_subst_status resp_step(struct msb_subst *f, const uint8_t *in, size_t n,
                                       struct msb_obuf *out, size_t *used)
{
    struct msb_http_dir *d = &f->resp;
    size_t k = d->left < n ? (size_t)d->left : n;
    switch (d->state) {
    case H_HEAD:
        return resp_head(f, in, n, out, used);
    case H_CHUNKED:
        return resp_chunked(f, in, n, out, used);
    case H_TO_EOF:
        *used = n;
        return red_feed(f, in, n, 1, out);
    default: {
        *used = k;
        enum msb_subst_status s = red_feed(f, in, k, 1, out);
        if (s == MSB_SUBST_OK && (d->left -= k) == 0) {
            d->state = H_HEAD;
            if (red_flush(&f->red, out))
                s = MSB_SUBST_TOO_LARGE;
        }
        return s;
    }
    }
}

static enum msb_subst_status resp_stop(struct msb_subst *f, enum msb_subst_status s)
{
    f->resp.state = H_STOPPED;
    f->resp.stop = s;
    return s;
}

enum msb_subst_status msb_subst_response(struct msb_subst *f, const void *in, size_t n,
                                         struct msb_obuf *out)
{
    const uint8_t *b = in;
    if (f->resp.state == H_STOPPED)
        return f->resp.stop;
    enum msb_subst_status s = MSB_SUBST_OK;
    for (size_t i = 0, used = 0; s <= MSB_SUBST_NEED_MORE && i < n; i += used)
        s = resp_step(f, b + i, n - i, out, &used);
    if (s > MSB_SUBST_NEED_MORE)
        return resp_stop(f, s);
    int idle = f->resp.state == H_HEAD && f->resp.head_len == 0 && f->red.len == f->red.start;
    return idle ? MSB_SUBST_OK : MSB_SUBST_NEED_MORE;
}

enum msb_subst_status msb_subst_response_eof(struct msb_subst *f, struct msb_obuf *out)
{
    struct msb_http_dir *d = &f->resp;
    if (d->state == H_STOPPED)
        return d->stop;
    if (d->state != H_TO_EOF && !(d->state == H_HEAD && d->head_len == 0))
        return resp_stop(f, MSB_SUBST_MALFORMED);
    if (red_flush(&f->red, out))
        return resp_stop(f, MSB_SUBST_TOO_LARGE);
    d->state = H_HEAD;
    return MSB_SUBST_OK;
}
