/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request direction of http_subst.h: violation scan first, then heads
 * rewritten with the values of eligible secrets, bodies passed or (body
 * injection) buffered and rewritten with a new Content-Length.
 */
#include "tls/http_subst.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"

static uint64_t set_mask(const struct msb_secret_set *set)
{
    return set->n >= 64 ? ~0ull : (1ull << set->n) - 1;
}

int msb_subst_init(struct msb_subst *f, const struct msb_secret_set *set, uint64_t eligible)
{
    memset(f, 0, sizeof *f);
    f->set = set;
    f->eligible = eligible & set_mask(set);
    f->violation = -1;
    msb_scan_init(&f->scan, set_mask(set) & ~f->eligible);
    return 0;
}

static void wipe_free(void *p, size_t n)
{
    if (p)
        msb_secret_wipe(p, n);
    free(p);
}

void msb_subst_free(struct msb_subst *f)
{
    msb_http_head_free(&f->req);
    msb_http_head_free(&f->resp);
    wipe_free(f->body, f->body_len);
    wipe_free(f->red.buf, f->red.cap);
    free(f->red.isdata);
    msb_secret_wipe(f, sizeof *f);
}

int msb_subst_violation(const struct msb_subst *f)
{
    return f->violation;
}

static unsigned long long inject_mask(const struct msb_subst *f, unsigned flag)
{
    uint64_t m = 0;
    for (size_t i = 0; i < f->set->n; i++)
        if ((f->eligible >> i & 1) && (f->set->s[i].inject & flag))
            m |= 1ull << i;
    return m;
}

/* P's raw placeholders of the secrets in MASK replaced by their values,
 * appended to OUT; *COUNT replacements.  -1 when OUT is full. */
static int subst_raw(const struct msb_secret_set *set, uint64_t mask, const uint8_t *p,
                     size_t n, struct msb_obuf *out, size_t *count)
{
    size_t run = 0, i = 0;
    *count = 0;
    while (i < n) {
        const struct msb_secret *hit = NULL;
        for (size_t k = 0; mask && k < set->n && !hit; k++) {
            const struct msb_secret *s = &set->s[k];
            if ((mask >> k & 1) && p[i] == s->placeholder[0] && n - i >= s->plen &&
                memcmp(p + i, s->placeholder, s->plen) == 0)
                hit = s;
        }
        if (!hit) {
            i++;
            continue;
        }
        if (msb_obuf_put(out, p + run, i - run) || msb_obuf_put(out, hit->value, hit->vlen))
            return -1;
        (*count)++;
        i += hit->plen;
        run = i;
    }
    return msb_obuf_put(out, p + run, n - run);
}

/* IN base64-encoded into OUT three bytes at a time: the credentials hold a
 * real value, and this way no encoded copy of them is left anywhere but
 * OUT (whose owner wipes it). */
static int b64_encode(const uint8_t *in, size_t n, struct msb_obuf *out)
{
    char q[5];
    int r = 0;
    for (size_t i = 0; i < n && !r; i += 3)
        r = msb_obuf_put(out, q, msb_base64_encode(in + i, n - i < 3 ? n - i : 3, q, sizeof q));
    msb_secret_wipe(q, sizeof q);
    return r ? -1 : 0;
}

/* The credentials of "Basic <token>" from offset V of header line L, with
 * placeholders replaced: 1 when written, 0 when not Basic or nothing to
 * replace (the caller copies the line), -1 when OUT is full. */
static int emit_basic(const struct msb_subst *f, const uint8_t *l, size_t n, size_t v,
                      struct msb_obuf *out)
{
    if (n - v < 7 || strncasecmp((const char *)l + v, "basic ", 6) != 0)
        return 0;
    size_t t = v + 6, end = n;
    while (t < n && l[t] == ' ')
        t++;
    while (end > t && (l[end - 1] == ' ' || l[end - 1] == '\t'))
        end--;
    uint8_t *dec = malloc(end - t + 1);
    long dn = dec ? msb_base64_decode((const char *)l + t, end - t, dec, end - t + 1) : -1;
    struct msb_obuf tmp;
    msb_obuf_init(&tmp, out->max);
    size_t count = 0;
    int r = dn < 0 ? 0 : subst_raw(f->set, inject_mask(f, MSB_INJECT_BASIC), dec, (size_t)dn,
                                   &tmp, &count);
    if (r == 0 && count)
        r = msb_obuf_put(out, l, t) || b64_encode(tmp.data, tmp.len, out) ||
                    msb_obuf_put(out, l + end, n - end)
                ? -1
                : 1;
    wipe_free(dec, dn > 0 ? (size_t)dn : 0);
    wipe_free(tmp.data, tmp.cap);
    return r;
}

static int emit_header(const struct msb_subst *f, const uint8_t *l, size_t n, long long clen,
                       struct msb_obuf *out)
{
    size_t v, count;
    if (clen >= 0 && msb_http_name_is(l, n, "content-length", &v)) {
        char line[64];
        int k = snprintf(line, sizeof line, "Content-Length: %lld", clen);
        return msb_obuf_put(out, line, (size_t)k);
    }
    if (msb_http_name_is(l, n, "authorization", &v) && inject_mask(f, MSB_INJECT_BASIC)) {
        int r = emit_basic(f, l, n, v, out);
        if (r)
            return r < 0 ? -1 : 0;
    }
    const uint8_t *colon = memchr(l, ':', n);
    size_t name = (size_t)(colon - l) + 1;
    return msb_obuf_put(out, l, name) ||
           subst_raw(f->set, inject_mask(f, MSB_INJECT_HEADERS), l + name, n - name, out,
                     &count);
}

/* The buffered head, rewritten; CLEN >= 0 replaces Content-Length. */
static enum msb_subst_status emit_head(struct msb_subst *f, long long clen, struct msb_obuf *out)
{
    const uint8_t *h = f->req.head;
    size_t len = f->req.head_len, pos = 0, ls, le, count;
    msb_http_line(h, len, &pos, &ls, &le);
    int bad = subst_raw(f->set, inject_mask(f, MSB_INJECT_QUERY), h, le, out, &count) ||
              msb_obuf_put(out, "\r\n", 2);
    while (!bad && msb_http_line(h, len, &pos, &ls, &le) && le > ls)
        bad = emit_header(f, h + ls, le - ls, clen, out) || msb_obuf_put(out, "\r\n", 2);
    bad = bad || msb_obuf_put(out, "\r\n", 2);
    msb_http_head_done(&f->req);
    f->req.eol = 0;
    return bad ? MSB_SUBST_TOO_LARGE : MSB_SUBST_OK;
}

/* METHOD SP target SP HTTP/1.x, nothing else: *HEAD for HEAD requests. */
static enum msb_subst_status request_line(const uint8_t *h, size_t n, int *head)
{
    size_t m = 0, t;
    while (m < n && h[m] != ' ')
        m++;
    if (m == 0 || m == n)
        return MSB_SUBST_MALFORMED;
    for (t = m + 1; t < n && h[t] != ' ';)
        t++;
    if (t == m + 1 || n - t != 9 || memcmp(h + t, " HTTP/1.", 8) != 0 ||
        (h[n - 1] != '0' && h[n - 1] != '1'))
        return MSB_SUBST_MALFORMED;
    if (m == 7 && memcmp(h, "CONNECT", 7) == 0)
        return MSB_SUBST_UNSUPPORTED;
    *head = m == 4 && memcmp(h, "HEAD", 4) == 0;
    return MSB_SUBST_OK;
}

/* The response filter must know which responses answer HEAD. */
static enum msb_subst_status note_request(struct msb_subst *f, int head)
{
    if (f->pending >= MSB_SUBST_PIPELINE_MAX)
        return MSB_SUBST_TOO_LARGE;
    f->heads |= (uint64_t)(head != 0) << f->pending++;
    return MSB_SUBST_OK;
}

static enum msb_subst_status body_buffer_start(struct msb_subst *f, uint64_t clen)
{
    if (clen > MSB_SUBST_BODY_MAX)
        return MSB_SUBST_TOO_LARGE;
    f->body = malloc((size_t)clen);
    if (!f->body)
        return MSB_SUBST_TOO_LARGE;
    f->body_len = 0;
    f->req.left = clen;
    f->req.state = H_BODY_BUF;
    return MSB_SUBST_OK;
}

static enum msb_subst_status head_done(struct msb_subst *f, struct msb_obuf *out)
{
    struct msb_http_meta m;
    int head = 0;
    enum msb_subst_status s = request_line(f->req.head, f->req.eol - 1, &head);
    if (s == MSB_SUBST_OK)
        s = msb_http_meta(f->req.head, f->req.head_len, &m);
    if (s != MSB_SUBST_OK)
        return s;
    if (m.upgrade)
        return MSB_SUBST_UNSUPPORTED;
    if (m.chunked == 2 || (m.chunked && m.has_clen))
        return MSB_SUBST_MALFORMED;
    if ((s = note_request(f, head)) != MSB_SUBST_OK)
        return s;
    if (!m.chunked && m.clen > 0 && inject_mask(f, MSB_INJECT_BODY))
        return body_buffer_start(f, m.clen);
    f->req.state = m.chunked ? H_CHUNKED : m.clen ? H_BODY : H_HEAD;
    f->req.left = m.clen;
    memset(&f->req.ch, 0, sizeof f->req.ch);
    return emit_head(f, -1, out);
}

static enum msb_subst_status body_flush(struct msb_subst *f, struct msb_obuf *out)
{
    struct msb_obuf tmp;
    size_t count;
    msb_obuf_init(&tmp, out->max);
    int bad = subst_raw(f->set, inject_mask(f, MSB_INJECT_BODY), f->body, f->body_len, &tmp,
                        &count);
    enum msb_subst_status s = bad ? MSB_SUBST_TOO_LARGE
                                  : emit_head(f, count ? (long long)tmp.len : -1, out);
    if (s == MSB_SUBST_OK && msb_obuf_put(out, tmp.data, tmp.len))
        s = MSB_SUBST_TOO_LARGE;
    wipe_free(tmp.data, tmp.cap);
    wipe_free(f->body, f->body_len);
    f->body = NULL;
    f->body_len = 0;
    f->req.state = H_HEAD;
    return s;
}

static enum msb_subst_status step_head(struct msb_subst *f, const uint8_t *in, size_t n,
                                       struct msb_obuf *out, size_t *used)
{
    if (f->req.head_len == 0 && (in[0] == '\r' || in[0] == '\n')) {
        /* Blank lines between requests are allowed (RFC 9112 2.2). */
        *used = 1;
        return msb_obuf_put(out, in, 1) ? MSB_SUBST_TOO_LARGE : MSB_SUBST_OK;
    }
    enum msb_subst_status s = msb_http_head_add(&f->req, in, n, used);
    return s == MSB_SUBST_OK ? head_done(f, out) : s;
}

static enum msb_subst_status step_chunked(struct msb_subst *f, const uint8_t *in, size_t n,
                                          struct msb_obuf *out, size_t *used)
{
    size_t j = 0;
    while (j < n && f->req.state == H_CHUNKED) {
        size_t r = msb_chunked_data_run(&f->req.ch, n - j);
        if (r) {
            msb_chunked_skip(&f->req.ch, r);
            j += r;
            continue;
        }
        int c = msb_chunked_byte(&f->req.ch, in[j++]);
        if (c < 0)
            return c == CH_TOO_LARGE ? MSB_SUBST_TOO_LARGE : MSB_SUBST_MALFORMED;
        if (c == CH_END)
            f->req.state = H_HEAD;
    }
    *used = j;
    return msb_obuf_put(out, in, j) ? MSB_SUBST_TOO_LARGE : MSB_SUBST_OK;
}

static enum msb_subst_status step(struct msb_subst *f, const uint8_t *in, size_t n,
                                  struct msb_obuf *out, size_t *used)
{
    size_t k = f->req.left < n ? (size_t)f->req.left : n;
    switch (f->req.state) {
    case H_HEAD:
        return step_head(f, in, n, out, used);
    case H_CHUNKED:
        return step_chunked(f, in, n, out, used);
    case H_BODY_BUF:
        memcpy(f->body + f->body_len, in, k);
        f->body_len += k;
        f->req.left -= k;
        *used = k;
        return f->req.left ? MSB_SUBST_OK : body_flush(f, out);
    default:
        *used = k;
        if ((f->req.left -= k) == 0)
            f->req.state = H_HEAD;
        return msb_obuf_put(out, in, k) ? MSB_SUBST_TOO_LARGE : MSB_SUBST_OK;
    }
}

enum msb_subst_status msb_subst_request(struct msb_subst *f, const void *in, size_t n,
                                        struct msb_obuf *out)
{
    const uint8_t *b = in;
    if (f->req.state == H_STOPPED)
        return f->req.stop;
    enum msb_subst_status s = MSB_SUBST_OK;
    int hit = msb_scan_feed(&f->scan, f->set, b, n);
    if (hit >= 0) {
        f->violation = hit;
        s = MSB_SUBST_VIOLATION;
    }
    for (size_t i = 0, used = 0; s <= MSB_SUBST_NEED_MORE && i < n; i += used)
        s = step(f, b + i, n - i, out, &used);
    if (s > MSB_SUBST_NEED_MORE) {
        f->req.state = H_STOPPED;
        f->req.stop = s;
        return s;
    }
    return f->req.state == H_HEAD && f->req.head_len == 0 ? MSB_SUBST_OK
                                                          : MSB_SUBST_NEED_MORE;
}
