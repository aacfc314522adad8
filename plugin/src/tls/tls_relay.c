/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interception engine's lifecycle: the context (two SSL_CTXs, the leaf
 * cache, the counters), a connection's creation on two bounded BIO pairs,
 * the ciphertext moved in and out by the caller, the pump's top level and
 * the accessors.  Handshakes are tls_relay_hs.c's, plaintext
 * tls_relay_pump.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "lib/errmsg.h"
#include "tls/tls_relay_int.h"

struct msb_tls_ctx *msb_tls_ctx_new(const struct msb_tls_ctx_opts *o, char *err, size_t errlen)
{
    if (!o || !o->ca) {
        msb_fail(err, errlen, "tls relay: no CA");
        return NULL;
    }
    if (o->buf_size > MSB_TLS_BUF_MAX) {
        msb_fail(err, errlen, "tls relay: buf_size over 64 KiB");
        return NULL;
    }
    struct msb_tls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        msb_fail(err, errlen, "tls relay: out of memory");
        return NULL;
    }
    c->gen = msb_secret_gen_ref(o->secrets);
    c->verify_upstream = o->verify_upstream;
    c->handshake_ms = o->handshake_ms ? o->handshake_ms : MSB_TLS_HS_DEFAULT_MS;
    c->buf_size = o->buf_size ? o->buf_size : MSB_TLS_BUF_DEFAULT;
    c->max_conns = o->max_conns;
    struct msb_tls_cache_opts co = {.capacity = o->leaf_cache_size};
    c->cache = msb_tls_cache_new(o->ca, &co, err, errlen);
    if (!c->cache || msb_tls_hs_ctx_setup(c, o, err, errlen) < 0) {
        msb_tls_ctx_free(c);
        return NULL;
    }
    return c;
}

void msb_tls_ctx_free(struct msb_tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->srv);
    SSL_CTX_free(c->cli);
    msb_tls_cache_free(c->cache);
    msb_secret_gen_unref(c->gen);
    free(c);
}

const struct msb_tls_stats *msb_tls_ctx_stats(const struct msb_tls_ctx *c)
{
    return &c->st;
}

void msb_tls_ctx_set_secrets(struct msb_tls_ctx *c, struct msb_secret_gen *g)
{
    uint64_t sub[MSB_SECRETS_MAX] = {0}, vio[MSB_SECRETS_MAX] = {0};
    for (size_t i = 0; g && i < g->cfg->n && i < MSB_SECRETS_MAX; i++) {
        int j = msb_secret_gen_match(c->gen, g, i);
        if (j >= 0 && j < MSB_SECRETS_MAX) {
            sub[i] = c->st.substitutions[j];
            vio[i] = c->st.violations[j];
        }
    }
    msb_secret_gen_ref(g);
    msb_secret_gen_unref(c->gen);
    c->gen = g;
    memcpy(c->st.substitutions, sub, sizeof sub);
    memcpy(c->st.violations, vio, sizeof vio);
}

int msb_tls_ctx_index(const struct msb_tls_ctx *c, const struct msb_secret_gen *g, int i)
{
    if (i < 0)
        return -1;
    int k = g == c->gen ? i : msb_secret_gen_match(c->gen, g, (size_t)i);
    return k < MSB_SECRETS_MAX ? k : -1;
}

struct msb_secret_gen *msb_tls_ctx_secrets(const struct msb_tls_ctx *c)
{
    return c->gen;
}

void msb_tls_ctx_count_violation(struct msb_tls_ctx *c, const struct msb_secret_gen *g, int i)
{
    c->st.violations_total++;
    int k = msb_tls_ctx_index(c, g, i);
    if (k >= 0)
        c->st.violations[k]++;
}

size_t msb_tls_ctx_live(const struct msb_tls_ctx *c)
{
    return c->live;
}

const struct msb_tls_cache_stats *msb_tls_ctx_cache_stats(const struct msb_tls_ctx *c)
{
    return msb_tls_cache_stats(c->cache);
}

/* One SSL on a BIO pair of SIZE bytes each way; our end in *EXT. */
static SSL *ssl_on_pair(SSL_CTX *sc, size_t size, BIO **ext)
{
    BIO *in = NULL;
    SSL *s = SSL_new(sc);
    if (!s || !BIO_new_bio_pair(&in, size, ext, size)) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_bio(s, in, in);
    return s;
}

struct msb_tls_conn *msb_tls_conn_new(struct msb_tls_ctx *c, const struct msb_ip *dst,
                                      uint64_t now_ms)
{
    if (c->max_conns && c->live >= c->max_conns) {
        c->st.refused_cap++;
        return NULL;
    }
    struct msb_tls_conn *t = calloc(1, sizeof *t);
    if (t)
        t->g = ssl_on_pair(c->srv, c->buf_size, &t->g_ext);
    if (!t || !t->g) {
        free(t);
        c->st.alloc_failed++;
        ERR_clear_error();
        return NULL;
    }
    c->st.intercepted++;
    c->live++;
    t->ctx = c;
    t->gen = msb_secret_gen_ref(c->gen);
    t->dst = *dst;
    t->deadline = now_ms + c->handshake_ms;
    t->violation = -1;
    t->reason = "";
    SSL_set_app_data(t->g, t);
    SSL_set_accept_state(t->g);
    return t;
}

void msb_tls_conn_free(struct msb_tls_conn *t)
{
    if (!t)
        return;
    msb_tls_relay_free(t);
    t->ctx->live--;
    msb_secret_gen_unref(t->gen);
    SSL_free(t->g);
    SSL_free(t->u);
    BIO_free(t->g_ext);
    BIO_free(t->u_ext);
    free(t);
    ERR_clear_error();
}

void msb_tls_stop(struct msb_tls_conn *t, enum msb_tls_status st, const char *reason)
{
    if (t->phase == PH_STOPPED)
        return;
    t->phase = PH_STOPPED;
    t->status = st;
    t->reason = reason;
    ERR_clear_error();
}

/* Ciphertext into our end of a pair: what it took (a full pair takes 0). */
static size_t pair_in(BIO *ext, const void *p, size_t n)
{
    if (!ext || !n)
        return 0;
    size_t room = BIO_ctrl_get_write_guarantee(ext);
    if (n > room)
        n = room;
    if (!n)
        return 0;
    int w = BIO_write(ext, p, (int)n);
    return w > 0 ? (size_t)w : 0;
}

size_t msb_tls_conn_guest_in(struct msb_tls_conn *t, const void *p, size_t n)
{
    if (t->phase == PH_STOPPED || t->g_eof)
        return 0;
    return pair_in(t->g_ext, p, n);
}

size_t msb_tls_conn_host_in(struct msb_tls_conn *t, const void *p, size_t n)
{
    if (t->phase == PH_STOPPED || t->u_eof)
        return 0;
    return pair_in(t->u_ext, p, n);
}

void msb_tls_conn_guest_eof(struct msb_tls_conn *t)
{
    if (!t->g_eof)
        BIO_shutdown_wr(t->g_ext);
    t->g_eof = true;
}

void msb_tls_conn_host_eof(struct msb_tls_conn *t)
{
    if (!t->u_eof && t->u_ext)
        BIO_shutdown_wr(t->u_ext);
    t->u_eof = true;
}

static size_t pair_out(BIO *ext, const uint8_t **p)
{
    char *q = NULL;
    if (!ext)
        return 0;
    int n = BIO_nread0(ext, &q);
    if (n <= 0)
        return 0;
    *p = (const uint8_t *)q;
    return (size_t)n;
}

static void pair_sent(BIO *ext, size_t n)
{
    char *q = NULL;
    while (ext && n) {
        int r = BIO_nread(ext, &q, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r <= 0)
            return;
        n -= (size_t)r;
    }
}

size_t msb_tls_conn_guest_out(struct msb_tls_conn *t, const uint8_t **p)
{
    return pair_out(t->g_ext, p);
}

void msb_tls_conn_guest_sent(struct msb_tls_conn *t, size_t n)
{
    pair_sent(t->g_ext, n);
}

size_t msb_tls_conn_host_out(struct msb_tls_conn *t, const uint8_t **p)
{
    return pair_out(t->u_ext, p);
}

void msb_tls_conn_host_sent(struct msb_tls_conn *t, size_t n)
{
    pair_sent(t->u_ext, n);
}

static bool drained(BIO *ext)
{
    return !ext || BIO_ctrl_pending(ext) == 0;
}

enum msb_tls_status msb_tls_conn_pump(struct msb_tls_conn *t, uint64_t now_ms)
{
    if (t->phase == PH_STOPPED)
        return t->status;
    if (t->phase != PH_RELAY && now_ms >= t->deadline) {
        t->ctx->st.handshake_timeouts++;
        msb_tls_stop(t, MSB_TLS_FAILED, "handshake timeout");
        return t->status;
    }
    if (t->phase != PH_RELAY) {
        if (msb_tls_hs_step(t) < 0 || t->phase != PH_RELAY)
            return t->status;
        if (msb_tls_relay_start(t) < 0)
            return t->status;
    }
    msb_tls_relay_step(t);
    if (t->phase == PH_RELAY && t->to_up.wr_closed && t->to_guest.wr_closed &&
        drained(t->g_ext) && drained(t->u_ext))
        msb_tls_stop(t, MSB_TLS_DONE, "closed");
    return t->status;
}

bool msb_tls_conn_guest_done(const struct msb_tls_conn *t)
{
    return t->to_guest.wr_closed || t->phase == PH_STOPPED;
}

bool msb_tls_conn_host_done(const struct msb_tls_conn *t)
{
    return t->to_up.wr_closed || t->phase == PH_STOPPED;
}

const char *msb_tls_conn_reason(const struct msb_tls_conn *t)
{
    return t->reason;
}

int msb_tls_conn_violation(const struct msb_tls_conn *t)
{
    return t->violation;
}

const struct msb_secret_cfg *msb_tls_conn_secret(const struct msb_tls_conn *t, int i)
{
    if (!t->gen || i < 0 || (uint32_t)i >= t->gen->cfg->n)
        return NULL;
    return &t->gen->cfg->s[i];
}

const char *msb_tls_conn_sni(const struct msb_tls_conn *t)
{
    return t->sni;
}

const char *msb_tls_conn_alpn(const struct msb_tls_conn *t)
{
    return t->alpn;
}

uint64_t msb_tls_conn_deadline(const struct msb_tls_conn *t)
{
    return t->phase < PH_RELAY ? t->deadline : UINT64_MAX;
}
