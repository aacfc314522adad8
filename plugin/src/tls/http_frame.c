/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x framing for the substitution filters (http_frame.h): bounded
 * output, head buffering and checks, the framing headers, chunked bodies.
 */
#include "tls/http_frame.h"
#include "tls/secret_scan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CS_SIZE, CS_EXT, CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF, CS_TRAILER, CS_TLINE,
       CS_TLF, CS_END_LF };

void msb_obuf_init(struct msb_obuf *o, size_t max)
{
    memset(o, 0, sizeof *o);
    o->max = max;
}

void msb_obuf_free(struct msb_obuf *o)
{
    free(o->data);
    memset(o, 0, sizeof *o);
}

int msb_obuf_put(struct msb_obuf *o, const void *p, size_t n)
{
    if (n > o->max - o->len)
        return -1;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n)
            cap = cap > o->max / 2 ? o->max : cap * 2;
        /* Not realloc: the old block may hold real values, wiped here. */
        uint8_t *d = malloc(cap);
        if (!d)
            return -1;
        if (o->data) {
            memcpy(d, o->data, o->len);
            msb_secret_wipe(o->data, o->cap);
            free(o->data);
        }
        o->data = d;
        o->cap = cap;
    }
    if (n)
        memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

/* CRLF only and no control bytes: a bare CR or LF, or a NUL, is where two
 * HTTP parsers start to disagree about which bytes are a header. */
static enum msb_subst_status head_bytes_ok(const uint8_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        if (c == '\r' && (i + 1 >= n || h[i + 1] != '\n'))
            return MSB_SUBST_MALFORMED;
        if (c == '\n' && (i == 0 || h[i - 1] != '\r'))
            return MSB_SUBST_MALFORMED;
        if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
            return MSB_SUBST_MALFORMED;
    }
    return MSB_SUBST_OK;
}

static size_t find(const uint8_t *h, size_t from, size_t len, const char *pat, size_t plen)
{
    for (size_t i = from; i + plen <= len; i++)
        if (memcmp(h + i, pat, plen) == 0)
            return i;
    return len;
}

/* The first line alone has its own bound (a request line of 60 KiB is an
 * attack, not a URL). */
static int first_line_too_long(struct msb_http_dir *d, size_t from, size_t len)
{
    if (!d->eol) {
        size_t at = find(d->head, from, len, "\r\n", 2);
        if (at < len)
            d->eol = at + 1;
    }
    return d->eol ? d->eol - 1 > MSB_SUBST_LINE_MAX : len > MSB_SUBST_LINE_MAX + 1;
}

/* How many of IN's N bytes belong to the head: up to its blank line. */
static size_t head_part(const struct msb_http_dir *d, const uint8_t *in, size_t n)
{
    uint8_t edge[6];
    size_t k = d->head_len < 3 ? d->head_len : 3, m = n < 3 ? n : 3;
    if (k)
        memcpy(edge, d->head + d->head_len - k, k);
    if (m)
        memcpy(edge + k, in, m);
    size_t at = find(edge, 0, k + m, "\r\n\r\n", 4);
    if (at < k + m)
        return at + 4 - k;
    at = find(in, 0, n, "\r\n\r\n", 4);
    return at < n ? at + 4 : n;
}

/* Room for NEED bytes in D's head, doubling from 1 KiB: 0 or -1. */
static int head_grow(struct msb_http_dir *d, size_t need)
{
    if (need <= d->head_cap)
        return 0;
    size_t cap = d->head_cap ? d->head_cap : 1024;
    while (cap < need)
        cap = cap >= MSB_SUBST_HEAD_MAX / 2 ? MSB_SUBST_HEAD_MAX : cap * 2;
    uint8_t *h = malloc(cap);
    if (!h)
        return -1;
    if (d->head) {
        memcpy(h, d->head, d->head_len);
        msb_secret_wipe(d->head, d->head_cap);
        free(d->head);
    }
    d->head = h;
    d->head_cap = cap;
    return 0;
}

void msb_http_head_free(struct msb_http_dir *d)
{
    if (d->head)
        msb_secret_wipe(d->head, d->head_cap);
    free(d->head);
    d->head = NULL;
    d->head_len = d->head_cap = 0;
}

void msb_http_head_done(struct msb_http_dir *d)
{
    d->head_len = 0;
    if (d->head_cap > 4096)
        msb_http_head_free(d);
}

enum msb_subst_status msb_http_head_add(struct msb_http_dir *d, const uint8_t *in, size_t n,
                                        size_t *used)
{
    size_t room = MSB_SUBST_HEAD_MAX - d->head_len, take = head_part(d, in, n);
    take = take < room ? take : room;
    if (head_grow(d, d->head_len + take) < 0)
        return MSB_SUBST_TOO_LARGE;
    size_t from = d->head_len > 3 ? d->head_len - 3 : 0;
    memcpy(d->head + d->head_len, in, take);
    size_t len = d->head_len + take, end = find(d->head, from, len, "\r\n\r\n", 4);
    if (end < len) {
        len = end + 4;
        if (first_line_too_long(d, from, len))
            return MSB_SUBST_TOO_LARGE;
        *used = len - d->head_len;
        d->head_len = len;
        return head_bytes_ok(d->head, len);
    }
    int long_line = first_line_too_long(d, from, len);
    d->head_len = len;
    *used = take;
    if (long_line || len >= MSB_SUBST_HEAD_MAX)
        return MSB_SUBST_TOO_LARGE;
    return MSB_SUBST_NEED_MORE;
}

int msb_http_line(const uint8_t *head, size_t len, size_t *pos, size_t *ls, size_t *le)
{
    if (*pos >= len)
        return 0;
    *ls = *pos;
    *le = find(head, *pos, len, "\r\n", 2);
    *pos = *le + 2;
    return 1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int msb_http_name_is(const uint8_t *line, size_t len, const char *name, size_t *value)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(line[i]) != name[i])
            return 0;
    size_t v = n + 1;
    while (v < len && (line[v] == ' ' || line[v] == '\t'))
        v++;
    *value = v;
    return 1;
}

static int tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t trim_end(const uint8_t *l, size_t from, size_t to)
{
    while (to > from && (l[to - 1] == ' ' || l[to - 1] == '\t'))
        to--;
    return to;
}

static enum msb_subst_status parse_clen(const uint8_t *v, size_t n, struct msb_http_meta *m)
{
    uint64_t x = 0;
    if (n == 0 || n > 18)
        return MSB_SUBST_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return MSB_SUBST_MALFORMED;
        x = x * 10 + (v[i] - '0');
    }
    if (m->has_clen && m->clen != x)
        return MSB_SUBST_MALFORMED;
    m->has_clen = 1;
    m->clen = x;
    return MSB_SUBST_OK;
}

/* Only the last coding decides the framing (RFC 9112 6.3). */
static void parse_te(const uint8_t *v, size_t n, struct msb_http_meta *m)
{
    size_t s = n;
    while (s > 0 && v[s - 1] != ',')
        s--;
    while (s < n && (v[s] == ' ' || v[s] == '\t'))
        s++;
    m->chunked = (n - s == 7 && strncasecmp((const char *)v + s, "chunked", 7) == 0) ? 1 : 2;
}

static enum msb_subst_status header_meta(const uint8_t *l, size_t n, struct msb_http_meta *m)
{
    size_t colon = 0, v;
    while (colon < n && tchar(l[colon]))
        colon++;
    if (colon == 0 || colon >= n || l[colon] != ':')
        return MSB_SUBST_MALFORMED; /* obs-fold, space before ':', no name */
    size_t end = trim_end(l, colon + 1, n);
    if (msb_http_name_is(l, n, "content-length", &v))
        return parse_clen(l + v, end > v ? end - v : 0, m);
    if (msb_http_name_is(l, n, "transfer-encoding", &v))
        parse_te(l + v, end > v ? end - v : 0, m);
    else if (msb_http_name_is(l, n, "upgrade", &v))
        m->upgrade = 1;
    return MSB_SUBST_OK;
}

enum msb_subst_status msb_http_meta(const uint8_t *head, size_t len, struct msb_http_meta *m)
{
    size_t pos = 0, ls, le;
    memset(m, 0, sizeof *m);
    msb_http_line(head, len, &pos, &ls, &le);
    while (msb_http_line(head, len, &pos, &ls, &le) && le > ls) {
        enum msb_subst_status s = header_meta(head + ls, le - ls, m);
        if (s != MSB_SUBST_OK)
            return s;
    }
    return MSB_SUBST_OK;
}

static int chunk_size_byte(struct msb_chunked *c, uint8_t b)
{
    int h = (b >= '0' && b <= '9') ? b - '0' : (lower(b) >= 'a' && lower(b) <= 'f') ? lower(b) - 'a' + 10 : -1;
    if (h >= 0) {
        if (++c->digits > 15)
            return CH_TOO_LARGE;
        c->left = c->left << 4 | (uint64_t)h;
        return CH_FRAMING;
    }
    if (!c->digits)
        return CH_MALFORMED;
    if (b == '\r') {
        c->st = CS_SIZE_LF;
        return CH_FRAMING;
    }
    if (b != ';' && b != ' ' && b != '\t')
        return CH_MALFORMED;
    c->st = CS_EXT;
    return CH_FRAMING;
}

/* Extensions and trailers are bounded together, like a head. */
static int chunk_line_byte(struct msb_chunked *c, uint8_t b, uint8_t next)
{
    if (b == '\r') {
        c->st = next;
        return CH_FRAMING;
    }
    if (b == '\n' || ++c->total > MSB_SUBST_HEAD_MAX)
        return b == '\n' ? CH_MALFORMED : CH_TOO_LARGE;
    return CH_DATA;
}

static int chunk_lf(struct msb_chunked *c, uint8_t b, uint8_t next)
{
    if (b != '\n')
        return CH_MALFORMED;
    c->st = next;
    return CH_FRAMING;
}

int msb_chunked_byte(struct msb_chunked *c, uint8_t b)
{
    switch (c->st) {
    case CS_SIZE:
        return chunk_size_byte(c, b);
    case CS_EXT:
        return chunk_line_byte(c, b, CS_SIZE_LF);
    case CS_SIZE_LF:
        return chunk_lf(c, b, c->left ? CS_DATA : CS_TRAILER);
    case CS_DATA:
        if (--c->left == 0)
            c->st = CS_DATA_CR;
        return CH_DATA;
    case CS_DATA_CR:
        return b == '\r' ? (c->st = CS_DATA_LF, CH_FRAMING) : CH_MALFORMED;
    case CS_DATA_LF:
        c->digits = 0;
        return chunk_lf(c, b, CS_SIZE);
    case CS_TRAILER:
        if (b == '\r') {
            c->st = CS_END_LF;
            return CH_FRAMING;
        }
        c->st = CS_TLINE;
        return chunk_line_byte(c, b, CS_TLF);
    case CS_TLINE:
        return chunk_line_byte(c, b, CS_TLF);
    case CS_TLF:
        return chunk_lf(c, b, CS_TRAILER);
    default:
        if (b != '\n')
            return CH_MALFORMED;
        memset(c, 0, sizeof *c);
        return CH_END;
    }
}

/* How many bytes from here are plain chunk data (a fast path: no need to
 * look at them one by one). */
size_t msb_chunked_data_run(const struct msb_chunked *c, size_t avail)
{
    if (c->st != CS_DATA)
        return 0;
    return c->left < avail ? (size_t)c->left : avail;
}

void msb_chunked_skip(struct msb_chunked *c, size_t n)
{
    c->left -= n;
    if (c->left == 0)
        c->st = CS_DATA_CR;
}
