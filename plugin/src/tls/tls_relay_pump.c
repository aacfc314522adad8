/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plaintext relay of an intercepted connection once both handshakes
 * are done: each direction reads its source SSL, passes the bytes through
 * the HTTP/1.x filters (or, for another protocol, the violation scanner
 * alone), stages the result and writes it into the other SSL as far as
 * its BIO pair takes it.  A direction reads only while its stage is low,
 * so a slow reader on one side turns into back-pressure on the other.
 */
#define _GNU_SOURCE /* memmem */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>

#include "tls/tls_relay_int.h"

static bool is_http1(const char *alpn)
{
    return !alpn[0] || strcmp(alpn, "http/1.1") == 0 || strcmp(alpn, "http/1.0") == 0;
}

int msb_tls_relay_start(struct msb_tls_conn *t)
{
    const struct msb_secret_set *set = msb_tls_conn_set(t);
    msb_obuf_init(&t->to_up.stage, MSB_TLS_STAGE_MAX);
    msb_obuf_init(&t->to_guest.stage, MSB_TLS_STAGE_MAX);
    t->filtered = set && is_http1(t->alpn);
    if (t->filtered && msb_subst_init(&t->f, set, t->eligible) < 0) {
        t->filtered = false;
        t->ctx->st.alloc_failed++;
        msb_tls_stop(t, MSB_TLS_FAILED, "out of memory");
        return -1;
    }
    uint64_t all = set ? (set->n >= 64 ? ~0ull : (1ull << set->n) - 1) : 0;
    msb_scan_init(&t->scan, all & ~t->eligible);
    return 0;
}

static void stage_wipe_free(struct msb_obuf *o)
{
    if (o->data)
        msb_secret_wipe(o->data, o->cap);
    msb_obuf_free(o);
}

void msb_tls_relay_free(struct msb_tls_conn *t)
{
    if (t->filtered)
        msb_subst_free(&t->f);
    t->filtered = false;
    stage_wipe_free(&t->to_up.stage);
    stage_wipe_free(&t->to_guest.stage);
}

/* Real values emitted in OUT[from..): one substitution each. */
static void count_subst(struct msb_tls_conn *t, const struct msb_obuf *out, size_t from)
{
    const struct msb_secret_set *set = msb_tls_conn_set(t);
    for (size_t i = 0; i < set->n && i < 64; i++) {
        if (!(t->eligible >> i & 1))
            continue;
        const uint8_t *p = out->data + from, *end = out->data + out->len;
        const struct msb_secret *s = &set->s[i];
        while (p < end) {
            const uint8_t *h = memmem(p, (size_t)(end - p), s->value, s->vlen);
            if (!h)
                break;
            t->ctx->st.substitutions_total++;
            int k = msb_tls_ctx_index(t->ctx, t->gen, (int)i);
            if (k >= 0)
                t->ctx->st.substitutions[k]++;
            p = h + s->vlen;
        }
    }
}

/* A filter's verdict on one read: 0 to go on, -1 when it stopped us. */
static int verdict(struct msb_tls_conn *t, enum msb_subst_status st, int viol)
{
    if (st == MSB_SUBST_OK || st == MSB_SUBST_NEED_MORE)
        return 0;
    if (st == MSB_SUBST_VIOLATION && viol >= 0 && viol < MSB_SECRETS_MAX) {
        t->violation = viol;
        msb_tls_ctx_count_violation(t->ctx, t->gen, viol);
        msb_tls_stop(t, MSB_TLS_VIOLATION, "placeholder for another host");
        return -1;
    }
    t->ctx->st.http_malformed++;
    msb_tls_stop(t, MSB_TLS_FAILED, "HTTP refused by the filter");
    return -1;
}

/* N plaintext bytes read from the guest, staged toward the upstream. */
static int from_guest(struct msb_tls_conn *t, const uint8_t *p, size_t n)
{
    struct msb_obuf *o = &t->to_up.stage;
    size_t from = o->len;
    if (t->filtered) {
        enum msb_subst_status st = msb_subst_request(&t->f, p, n, o);
        if (verdict(t, st, msb_subst_violation(&t->f)) < 0)
            return -1;
        count_subst(t, o, from);
        return 0;
    }
    int hit = t->scan.watch ? msb_scan_feed(&t->scan, msb_tls_conn_set(t), p, n) : -1;
    if (hit >= 0)
        return verdict(t, MSB_SUBST_VIOLATION, hit);
    return msb_obuf_put(o, p, n) < 0 ? verdict(t, MSB_SUBST_TOO_LARGE, -1) : 0;
}

/* N plaintext bytes read from the upstream (N 0: its end), staged toward
 * the guest. */
static int from_upstream(struct msb_tls_conn *t, const uint8_t *p, size_t n)
{
    struct msb_obuf *o = &t->to_guest.stage;
    if (t->filtered) {
        enum msb_subst_status st =
            n ? msb_subst_response(&t->f, p, n, o) : msb_subst_response_eof(&t->f, o);
        return verdict(t, st, -1);
    }
    return n && msb_obuf_put(o, p, n) < 0 ? verdict(t, MSB_SUBST_TOO_LARGE, -1) : 0;
}

static void io_failed(struct msb_tls_conn *t, const char *why)
{
    t->ctx->st.tls_io_failed++;
    msb_tls_stop(t, MSB_TLS_FAILED, why);
}

/* The stage of D written into DST as far as it goes: 1 progressed. */
static int flush(struct msb_tls_conn *t, struct msb_tls_dir *d, SSL *dst, uint64_t *count)
{
    int moved = 0;
    while (d->off < d->stage.len) {
        size_t n = d->stage.len - d->off;
        int w = SSL_write(dst, d->stage.data + d->off, n > INT_MAX ? INT_MAX : (int)n);
        if (w <= 0) {
            if (SSL_get_error(dst, w) != SSL_ERROR_WANT_WRITE)
                io_failed(t, "TLS write failed");
            return moved;
        }
        d->off += (size_t)w;
        *count += (uint64_t)w;
        moved = 1;
    }
    if (d->stage.len) {
        msb_secret_wipe(d->stage.data, d->stage.len);
        d->stage.len = d->off = 0;
    }
    if (d->stage.cap > 2 * MSB_TLS_STAGE_LOW) { /* a burst (an injected body) is over */
        size_t max = d->stage.max;
        stage_wipe_free(&d->stage);
        msb_obuf_init(&d->stage, max);
    }
    return moved;
}

/* One read from SRC into D's stage while it is low: 1 progressed. */
static int fill(struct msb_tls_conn *t, struct msb_tls_dir *d, SSL *src, bool guest)
{
    uint8_t buf[MSB_TLS_READ_CHUNK];
    if (d->rd_closed || d->stage.len - d->off >= MSB_TLS_STAGE_LOW)
        return 0;
    int r = SSL_read(src, buf, sizeof buf);
    int rc = 1;
    if (r > 0) {
        if ((guest ? from_guest(t, buf, (size_t)r) : from_upstream(t, buf, (size_t)r)) < 0)
            rc = 0;
    } else {
        int e = SSL_get_error(src, r);
        if (e == SSL_ERROR_ZERO_RETURN) {
            d->rd_closed = true;
            if (!guest && from_upstream(t, NULL, 0) < 0)
                rc = 0;
        } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = 0;
        } else {
            io_failed(t, guest ? "TLS read from the guest failed" : "TLS read from upstream failed");
            rc = 0;
        }
    }
    msb_secret_wipe(buf, r > 0 ? (size_t)r : 0);
    return rc;
}

/* After the source closed and the stage drained: close_notify to DST. */
static int close_sink(struct msb_tls_dir *d, SSL *dst)
{
    if (!d->rd_closed || d->wr_closed || d->off < d->stage.len)
        return 0;
    int r = SSL_shutdown(dst);
    if (r < 0 && SSL_get_error(dst, r) == SSL_ERROR_WANT_WRITE)
        return 0;
    d->wr_closed = true;
    ERR_clear_error();
    return 1;
}

void msb_tls_relay_step(struct msb_tls_conn *t)
{
    struct msb_tls_stats *st = &t->ctx->st;
    /* Every round that moves consumes buffered input or staged output,
     * both bounded, so this ends; the bound is a guard, set far above a
     * full pair of 1-byte records so nothing is left without an event. */
    for (int i = 0; i < 65536 && t->phase == PH_RELAY; i++) {
        int moved = flush(t, &t->to_up, t->u, &st->bytes_to_upstream);
        moved |= flush(t, &t->to_guest, t->g, &st->bytes_to_guest);
        if (t->phase != PH_RELAY)
            return;
        moved |= fill(t, &t->to_up, t->g, true);
        if (t->phase == PH_RELAY)
            moved |= fill(t, &t->to_guest, t->u, false);
        moved |= close_sink(&t->to_up, t->u);
        moved |= close_sink(&t->to_guest, t->g);
        if (!moved)
            return;
    }
}
