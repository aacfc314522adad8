/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two handshakes of an intercepted connection: the guest's ClientHello
 * read in OpenSSL's client-hello callback (SNI checked, leaf chosen, ALPN
 * list filtered), the guest paused there (SSL_CLIENT_HELLO_RETRY) while the
 * upstream handshake runs, then resumed with the upstream's ALPN choice or
 * failed with an alert when the upstream refused.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/errmsg.h"
#include "model/tls_config.h"
#include "tls/tls_relay_int.h"

static const char REASON_BAD_SNI[] = "bad SNI";

/* The first host_name of a server_name extension into OUT (NUL-terminated,
 * no NUL inside, at most 254 bytes): 1, 0 when there is none, -1 when the
 * extension is malformed. */
static int sni_raw(const unsigned char *p, size_t len, char out[MSB_TLS_NAME_MAX + 2])
{
    if (len < 2 || (size_t)((p[0] << 8) | p[1]) != len - 2)
        return -1;
    size_t at = 2;
    while (at + 3 <= len) {
        size_t n = (size_t)((p[at + 1] << 8) | p[at + 2]);
        if (at + 3 + n > len)
            return -1;
        if (p[at] == 0) {
            if (n == 0 || n > MSB_TLS_NAME_MAX + 1 || memchr(p + at + 3, 0, n))
                return -1;
            memcpy(out, p + at + 3, n);
            out[n] = 0;
            return 1;
        }
        at += 3 + n;
    }
    return at == len ? 0 : -1;
}

/* The guest's SNI checked: t->sni and t->host set, *IP_SNI true for an IP
 * literal.  -1 when refused (counted as bad_sni). */
static int hello_sni(struct msb_tls_conn *t, SSL *s, bool *ip_sni)
{
    const unsigned char *p;
    size_t len;
    char raw[MSB_TLS_NAME_MAX + 2], e[128];
    struct msb_ip ip;
    *ip_sni = false;
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len)) {
        msb_ip_format(&t->dst, t->host, sizeof t->host);
        return 0;
    }
    int r = sni_raw(p, len, raw);
    if (r == 0) {
        msb_ip_format(&t->dst, t->host, sizeof t->host);
        return 0;
    }
    if (r > 0 && msb_ip_parse(raw, &ip) == 0) {
        /* An address as SNI (not allowed by RFC 6066, sent anyway by some
         * clients): the leaf and the eligibility are the dialled address's,
         * what the guest actually reached. */
        *ip_sni = true;
        msb_ip_format(&ip, t->sni, sizeof t->sni);
        msb_ip_format(&t->dst, t->host, sizeof t->host);
        return 0;
    }
    if (r < 0 || msb_tls_name_check(raw, t->sni, e, sizeof e) < 0) {
        t->sni[0] = 0;
        t->ctx->st.bad_sni++;
        t->reason = REASON_BAD_SNI;
        return -1;
    }
    memcpy(t->host, t->sni, sizeof t->host);
    return 0;
}

/* The guest's ALPN list filtered into t->alpn_up: "h2" dropped when
 * secrets may flow (http/1.1 offered instead when nothing else is left).
 * -1 when the extension is malformed. */
static int hello_alpn(struct msb_tls_conn *t, SSL *s)
{
    const unsigned char *p;
    size_t len, at = 2;
    bool h2 = false;
    t->alpn_up_len = 0;
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &len))
        return 0;
    if (len < 2 || (size_t)((p[0] << 8) | p[1]) != len - 2)
        return -1;
    while (at < len) {
        size_t n = p[at];
        if (n == 0 || at + 1 + n > len)
            return -1;
        if (msb_tls_conn_set(t) && n == 2 && memcmp(p + at + 1, "h2", 2) == 0)
            h2 = true;
        else if (t->alpn_up_len + 1 + n <= sizeof t->alpn_up) {
            memcpy(t->alpn_up + t->alpn_up_len, p + at, 1 + n);
            t->alpn_up_len += 1 + n;
        }
        at += 1 + n;
    }
    if (h2)
        t->ctx->st.h2_withheld++;
    if (h2 && t->alpn_up_len == 0) {
        memcpy(t->alpn_up, "\x08http/1.1", 9);
        t->alpn_up_len = 9;
    }
    return 0;
}

/* Bit i: secret i may be sent to this connection's host. */
static uint64_t eligible_for(const struct msb_secret_gen *g, const char *host)
{
    uint64_t m = 0;
    if (!g)
        return 0;
    for (size_t i = 0; i < g->set.n && i < g->cfg->n && i < 64; i++)
        if (msb_host_patterns_match(&g->cfg->s[i].hosts, host))
            m |= 1ull << i;
    return m;
}

/* The upstream SSL: SNI, verification of the name or address, ALPN. */
static int upstream_new(struct msb_tls_conn *t, bool ip_sni)
{
    struct msb_tls_ctx *c = t->ctx;
    bool name = t->sni[0] && !ip_sni;
    t->u = SSL_new(c->cli);
    BIO *in = NULL;
    if (!t->u || !BIO_new_bio_pair(&in, c->buf_size, &t->u_ext, c->buf_size))
        return -1;
    SSL_set_bio(t->u, in, in);
    SSL_set_connect_state(t->u);
    if (name && !SSL_set_tlsext_host_name(t->u, t->sni))
        return -1;
    if (t->alpn_up_len && SSL_set_alpn_protos(t->u, t->alpn_up, (unsigned)t->alpn_up_len) != 0)
        return -1;
    if (!c->verify_upstream) {
        SSL_set_verify(t->u, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_set_verify(t->u, SSL_VERIFY_PEER, NULL);
    if (name)
        return SSL_set1_host(t->u, t->sni) ? 0 : -1;
    size_t alen = t->dst.family == MSB_FAMILY_V4 ? 4 : 16;
    return X509_VERIFY_PARAM_set1_ip(SSL_get0_param(t->u), t->dst.b, alen) ? 0 : -1;
}

/* The ClientHello seen: leaf installed, upstream created.  -1 with *AL. */
static int hello_read(struct msb_tls_conn *t, SSL *s, int *al)
{
    bool ip_sni;
    char e[256];
    struct msb_tls_leaf leaf;
    if (hello_sni(t, s, &ip_sni) < 0) {
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return -1;
    }
    if (hello_alpn(t, s) < 0) {
        t->reason = "malformed ALPN";
        *al = SSL_AD_DECODE_ERROR;
        return -1;
    }
    t->eligible = eligible_for(t->gen, t->host);
    *al = SSL_AD_INTERNAL_ERROR;
    const char *name = t->sni[0] && !ip_sni ? t->sni : NULL;
    if (msb_tls_leaf_get(t->ctx->cache, name, &t->dst, time(NULL), &leaf, e, sizeof e) < 0) {
        t->reason = "no leaf";
        return -1;
    }
    if (!SSL_use_certificate(s, leaf.cert) || !SSL_use_PrivateKey(s, leaf.key)) {
        t->reason = "leaf not usable";
        return -1;
    }
    if (upstream_new(t, ip_sni) < 0) {
        t->ctx->st.alloc_failed++;
        t->reason = "upstream SSL";
        return -1;
    }
    return 0;
}

static int hello_cb(SSL *s, int *al, void *arg)
{
    (void)arg;
    struct msb_tls_conn *t = SSL_get_app_data(s);
    if (t->phase == PH_HELLO) {
        if (hello_read(t, s, al) < 0)
            return SSL_CLIENT_HELLO_ERROR;
        t->phase = PH_UPSTREAM;
        return SSL_CLIENT_HELLO_RETRY;
    }
    if (t->phase == PH_UPSTREAM)
        return SSL_CLIENT_HELLO_RETRY;
    if (t->up_failed) {
        *al = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The guest's ALPN answer: the upstream's choice if the guest offered it,
 * else none (the filters then see the bytes as HTTP/1.x or refuse them). */
static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    (void)arg;
    struct msb_tls_conn *t = SSL_get_app_data(s);
    size_t want = strlen(t->alpn);
    for (unsigned at = 0; want && at < inlen && at + 1u + in[at] <= inlen; at += 1u + in[at])
        if (in[at] == want && memcmp(in + at + 1, t->alpn, want) == 0) {
            *out = in + at + 1;
            *outlen = in[at];
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

static int ctx_common(SSL_CTX *sc)
{
    SSL_CTX_set_options(sc, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    /* Records we write carry at most 8 KiB: half the write buffer a
     * stalled side holds, for ~0.3% more record overhead. */
    if (!SSL_CTX_set_max_send_fragment(sc, 8192))
        return -1;
    return SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) ? 0 : -1;
}

int msb_tls_hs_ctx_setup(struct msb_tls_ctx *c, const struct msb_tls_ctx_opts *o, char *err,
                         size_t errlen)
{
    c->srv = SSL_CTX_new(TLS_server_method());
    c->cli = SSL_CTX_new(TLS_client_method());
    if (!c->srv || !c->cli || ctx_common(c->srv) < 0 || ctx_common(c->cli) < 0)
        return msb_tls_fail(err, errlen, "tls relay: SSL_CTX");
    SSL_CTX_set_num_tickets(c->srv, 0);
    SSL_CTX_set_client_hello_cb(c->srv, hello_cb, NULL);
    SSL_CTX_set_alpn_select_cb(c->srv, alpn_cb, NULL);
    if (!o->no_system_roots && !SSL_CTX_set_default_verify_paths(c->cli))
        return msb_tls_fail(err, errlen, "tls relay: system roots");
    for (size_t i = 0; i < o->n_upstream_ca_files; i++)
        if (!SSL_CTX_load_verify_locations(c->cli, o->upstream_ca_files[i], NULL)) {
            char what[512];
            snprintf(what, sizeof what, "tls relay: CA file %s", o->upstream_ca_files[i]);
            return msb_tls_fail(err, errlen, what);
        }
    return 0;
}

/* Both handshakes done: the ALPN counted, the connection relays. */
static void hs_done(struct msb_tls_conn *t)
{
    struct msb_tls_stats *st = &t->ctx->st;
    st->handshakes_ok++;
    if (!t->alpn[0])
        st->alpn_none++;
    else if (strcmp(t->alpn, "h2") == 0)
        st->alpn_h2++;
    else if (strcmp(t->alpn, "http/1.1") == 0 || strcmp(t->alpn, "http/1.0") == 0)
        st->alpn_http1++;
    else
        st->alpn_other++;
    t->phase = PH_RELAY;
}

/* The guest's handshake one step: 1 progressed, 0 waits, -1 failed. */
static int guest_step(struct msb_tls_conn *t)
{
    enum msb_tls_phase before = t->phase;
    int r = SSL_do_handshake(t->g);
    if (r == 1) {
        hs_done(t);
        return 1;
    }
    int e = SSL_get_error(t->g, r);
    if (e == SSL_ERROR_WANT_CLIENT_HELLO_CB)
        return t->phase != before ? 1 : 0;
    if (e == SSL_ERROR_WANT_WRITE || (e == SSL_ERROR_WANT_READ && !t->g_eof))
        return 0;
    /* A refused SNI is counted as bad_sni; everything else the guest did
     * (garbage, an alert for our leaf, EOF) as guest_hs_failed. */
    if (strcmp(t->reason, REASON_BAD_SNI) != 0) {
        t->ctx->st.guest_hs_failed++;
        if (!t->reason[0])
            t->reason = e == SSL_ERROR_WANT_READ ? "guest closed in handshake"
                                                 : "guest handshake failed";
    }
    msb_tls_stop(t, MSB_TLS_FAILED, t->reason);
    return -1;
}

/* The upstream refused: counted, and the guest's handshake resumes only
 * to be refused with an alert (hello_cb). */
static void upstream_refused(struct msb_tls_conn *t, bool eof)
{
    long v = SSL_get_verify_result(t->u);
    if (!eof && t->ctx->verify_upstream && v != X509_V_OK) {
        t->ctx->st.upstream_verify_failed++;
        t->reason = "upstream certificate refused";
    } else {
        t->ctx->st.upstream_hs_failed++;
        t->reason = eof ? "upstream closed in handshake" : "upstream handshake failed";
    }
    t->up_failed = true;
    t->phase = PH_GUEST;
    ERR_clear_error();
    (void)SSL_do_handshake(t->g);
    msb_tls_stop(t, MSB_TLS_FAILED, t->reason);
}

/* The upstream's handshake one step: 1 progressed, 0 waits, -1 failed. */
static int upstream_step(struct msb_tls_conn *t)
{
    int r = SSL_do_handshake(t->u);
    if (r == 1) {
        const unsigned char *a = NULL;
        unsigned alen = 0;
        SSL_get0_alpn_selected(t->u, &a, &alen);
        memcpy(t->alpn, a ? a : (const unsigned char *)"", alen);
        t->alpn[alen] = 0;
        t->phase = PH_GUEST;
        return 1;
    }
    int e = SSL_get_error(t->u, r);
    if (e == SSL_ERROR_WANT_WRITE || (e == SSL_ERROR_WANT_READ && !t->u_eof))
        return 0;
    upstream_refused(t, e == SSL_ERROR_WANT_READ);
    return -1;
}

int msb_tls_hs_step(struct msb_tls_conn *t)
{
    for (int i = 0; i < 16 && t->phase < PH_RELAY; i++) {
        int r = t->phase == PH_UPSTREAM ? upstream_step(t) : guest_step(t);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
    }
    return 0;
}
