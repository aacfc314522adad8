/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interception engine (tls/tls_relay*.c) between two real OpenSSL
 * peers on memory BIO pairs: a guest client that trusts the sandbox CA and
 * an upstream server whose certificate comes from a second, throwaway CA
 * written to a temp file (the only upstream root: no_system_roots).
 * Handshakes, substitution and redaction, violations, every refusal and
 * its counter, ALPN and h2 withholding, the deadline, garbage,
 * back-pressure with a 1 MiB transfer each way checked by hash, clean
 * close and half-close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <malloc.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cunit_main.h"
#include "model/tls_config.h"
#include "tls/tls_relay.h"

#define HOST "api.example.com"
#define PA "Kmsb_OPENAI_ph01" /* HOST: headers and Basic */
#define VA "sk-real-openai-0123456789abcdef"
#define PB "Xmsb_OTHER_ph002" /* other.example.com only */
#define VB "other-real-value-xyz"
#define DST "192.0.2.10" /* the address the cases dial unless they test addresses */
#define HTTP11 "\x08http/1.1"

static struct msb_tls_ca *sandbox_ca, *up_ca;
static char up_ca_path[64];
/* The secrets every context with secrets starts from: built by hand (the
 * hosts are static), one reference held by main for the whole run. */
static struct msb_secret_gen gen;
static struct msb_secrets_cfg *scfg;
static char *hosts_a[] = {HOST}, *hosts_b[] = {"other.example.com"};

struct peer {
    SSL *ssl;
    BIO *ext;
    bool eof_sent; /* FIN already given to the engine */
};

struct world {
    struct msb_tls_ctx *ctx;
    struct msb_tls_conn *c;
    struct peer g, u;
    SSL_CTX *gctx, *uctx;
    uint64_t now;
    enum msb_tls_status st;
    size_t short_takes;      /* guest_in calls that took fewer bytes than offered */
    size_t host_short_takes; /* the same for host_in */
};

/* DST parsed: what the cases that make connections by hand dial. */
static struct msb_ip dst_ip(void)
{
    struct msb_ip ip;
    CU_ASSERT_FATAL(msb_ip_parse(DST, &ip) == 0);
    return ip;
}

/* ---- the peers ------------------------------------------------------------ */

static void peer_on_pair(struct peer *p, SSL_CTX *sc)
{
    BIO *in = NULL;
    p->ssl = SSL_new(sc);
    CU_ASSERT_FATAL(p->ssl != NULL);
    CU_ASSERT_FATAL(BIO_new_bio_pair(&in, 16384, &p->ext, 16384) == 1);
    SSL_set_bio(p->ssl, in, in);
}

/* The upstream's ALPN: h2 first when the guest's list (as passed on) has
 * it, else http/1.1 — what a real server preferring h2 does — else
 * "x-proto", a protocol the filters cannot read. */
static int up_alpn(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    (void)s;
    (void)arg;
    static const unsigned char pref[] = "\x02h2\x08http/1.1\x07x-proto";
    unsigned char *o = NULL;
    if (SSL_select_next_proto(&o, outlen, pref, sizeof pref - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* The upstream server with a leaf from up_ca for NAME (or IP). */
static SSL_CTX *upstream_ctx(const char *name, const struct msb_ip *ip)
{
    char e[256];
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    X509 *leaf = msb_tls_leaf_mint(up_ca, name, ip, time(NULL), 3600, e, sizeof e);
    CU_ASSERT_FATAL(sc && leaf);
    CU_ASSERT_FATAL(SSL_CTX_use_certificate(sc, leaf) == 1);
    CU_ASSERT_FATAL(SSL_CTX_use_PrivateKey(sc, up_ca->leaf_key) == 1);
    SSL_CTX_set_alpn_select_cb(sc, up_alpn, NULL);
    X509_free(leaf);
    return sc;
}

/* The guest client: trusts the sandbox CA (unless TRUST is false), checks
 * SNI's name or the address IP, offers ALPN (wire form, may be NULL). */
static SSL_CTX *guest_ctx(bool trust)
{
    SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
    CU_ASSERT_FATAL(sc != NULL);
    if (trust)
        X509_STORE_add_cert(SSL_CTX_get_cert_store(sc), sandbox_ca->cert);
    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    return sc;
}

static void guest_setup(struct world *w, const char *sni, const char *ip, const char *alpn)
{
    peer_on_pair(&w->g, w->gctx);
    SSL_set_connect_state(w->g.ssl);
    if (sni) {
        SSL_set_tlsext_host_name(w->g.ssl, sni);
        SSL_set1_host(w->g.ssl, sni);
    }
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->g.ssl), ip);
    if (alpn)
        SSL_set_alpn_protos(w->g.ssl, (const unsigned char *)alpn, (unsigned)strlen(alpn));
}

/* The engine's heap: glibc's in-use bytes measured around every engine
 * call only (the peers allocate between them), summed; the peak is what
 * one connection held at most.  0 under ASan, whose malloc glibc cannot
 * see: then nothing is asserted. */
static long long eng_live, eng_peak;

static size_t heap_used(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

#define ENGINE(call)                                                                               \
    do {                                                                                           \
        size_t h0_ = heap_used();                                                                  \
        call;                                                                                      \
        eng_live += (long long)heap_used() - (long long)h0_;                                       \
        if (eng_live > eng_peak)                                                                   \
            eng_peak = eng_live;                                                                   \
    } while (0)

/* ---- the world: engine between the peers ----------------------------------- */

static bool verify_off; /* the next context skips upstream verification */

static struct msb_tls_ctx *new_ctx(bool secrets, uint32_t hs_ms)
{
    char e[256];
    const char *files[] = {up_ca_path};
    struct msb_tls_ctx_opts o = {.ca = sandbox_ca,
                                 .secrets = secrets ? &gen : NULL,
                                 .upstream_ca_files = files,
                                 .n_upstream_ca_files = 1,
                                 .verify_upstream = !verify_off,
                                 .no_system_roots = true,
                                 .handshake_ms = hs_ms};
    struct msb_tls_ctx *c = msb_tls_ctx_new(&o, e, sizeof e);
    if (!c)
        fprintf(stderr, "ctx: %s\n", e);
    CU_ASSERT_FATAL(c != NULL);
    return c;
}

static void world_init(struct world *w, bool secrets, const char *dst, const char *upname,
                       bool trust)
{
    struct msb_ip ip;
    memset(w, 0, sizeof *w);
    CU_ASSERT_FATAL(msb_ip_parse(dst, &ip) == 0);
    w->ctx = new_ctx(secrets, 0);
    w->now = 1000;
    eng_live = eng_peak = 0;
    ENGINE(w->c = msb_tls_conn_new(w->ctx, &ip, w->now));
    CU_ASSERT_FATAL(w->c != NULL);
    w->gctx = guest_ctx(trust);
    struct msb_ip uip;
    bool is_ip = msb_ip_parse(upname, &uip) == 0;
    w->uctx = upstream_ctx(is_ip ? NULL : upname, is_ip ? &uip : NULL);
    peer_on_pair(&w->u, w->uctx);
    SSL_set_accept_state(w->u.ssl);
}

static void world_free(struct world *w)
{
    msb_tls_conn_free(w->c);
    msb_tls_ctx_free(w->ctx);
    SSL_free(w->g.ssl);
    SSL_free(w->u.ssl);
    BIO_free(w->g.ext);
    BIO_free(w->u.ext);
    SSL_CTX_free(w->gctx);
    SSL_CTX_free(w->uctx);
}

/* What most cases start from: the engine dialled at DST for HOST, whose
 * upstream holds a leaf for HOST, and a guest that trusts the sandbox CA
 * asking for HOST with ALPN (wire form, may be NULL). */
static void world_open(struct world *w, bool secrets, const char *alpn)
{
    world_init(w, secrets, DST, HOST, true);
    guest_setup(w, HOST, NULL, alpn);
}

/* Bytes from a peer's pair into the engine: how many moved. */
static size_t peer_to_engine(struct world *w, struct peer *p, bool guest)
{
    char *q;
    int n = BIO_nread0(p->ext, &q);
    if (n <= 0)
        return 0;
    size_t k;
    ENGINE(k = guest ? msb_tls_conn_guest_in(w->c, q, (size_t)n)
                     : msb_tls_conn_host_in(w->c, q, (size_t)n));
    if (k < (size_t)n)
        *(guest ? &w->short_takes : &w->host_short_takes) += 1;
    BIO_nread(p->ext, &q, (int)k);
    return k;
}

static size_t engine_to_peer(struct world *w, struct peer *p, bool guest)
{
    const uint8_t *q;
    size_t n = guest ? msb_tls_conn_guest_out(w->c, &q) : msb_tls_conn_host_out(w->c, &q);
    size_t room = BIO_ctrl_get_write_guarantee(p->ext);
    if (n > room)
        n = room;
    if (!n)
        return 0;
    int k = BIO_write(p->ext, q, (int)n);
    if (k <= 0)
        return 0;
    if (guest)
        ENGINE(msb_tls_conn_guest_sent(w->c, (size_t)k));
    else
        ENGINE(msb_tls_conn_host_sent(w->c, (size_t)k));
    return (size_t)k;
}

/* Moves bytes and pumps until nothing moves. */
static void spin(struct world *w)
{
    for (int i = 0; i < 10000; i++) {
        size_t m = peer_to_engine(w, &w->g, true) + peer_to_engine(w, &w->u, false);
        ENGINE(w->st = msb_tls_conn_pump(w->c, w->now));
        m += engine_to_peer(w, &w->g, true) + engine_to_peer(w, &w->u, false);
        if (!m)
            return;
    }
}

static int hs_one(SSL *s, bool *done)
{
    if (*done)
        return 0;
    int r = SSL_do_handshake(s);
    if (r == 1) {
        *done = true;
        return 0;
    }
    int e = SSL_get_error(s, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Both peers' handshakes through the engine: true when both finished and
 * the engine still runs.  A peer that fails stops the attempt. */
static bool handshake(struct world *w)
{
    bool gd = false, ud = false;
    for (int i = 0; i < 200; i++) {
        int bad = hs_one(w->g.ssl, &gd) | hs_one(w->u.ssl, &ud);
        spin(w);
        if (bad || w->st != MSB_TLS_RUNNING) {
            spin(w);
            return false;
        }
        if (gd && ud) {
            spin(w);
            return w->st == MSB_TLS_RUNNING;
        }
    }
    return false;
}

/* world_open with both handshakes done: the cases about what flows after. */
static void world_up(struct world *w, bool secrets, const char *alpn)
{
    world_open(w, secrets, alpn);
    CU_ASSERT_FATAL(handshake(w));
}

/* All of P written by a peer, the engine spun between records. */
static bool peer_write(struct world *w, SSL *s, const void *p, size_t n)
{
    size_t at = 0;
    for (int i = 0; at < n && i < 100000; i++) {
        int k = SSL_write(s, (const char *)p + at, (int)(n - at > 16384 ? 16384 : n - at));
        if (k > 0)
            at += (size_t)k;
        else if (SSL_get_error(s, k) != SSL_ERROR_WANT_WRITE)
            return false;
        spin(w);
        if (w->st != MSB_TLS_RUNNING && k <= 0)
            return false;
    }
    return at == n;
}

/* What a peer can read, up to CAP: stops after WANT bytes or when a few
 * rounds bring nothing.  *CLOSED: the peer saw close_notify (or EOF). */
static size_t peer_read(struct world *w, SSL *s, uint8_t *buf, size_t cap, size_t want,
                        bool *closed)
{
    size_t got = 0;
    int idle = 0;
    *closed = false;
    while (got < cap && got < want && idle < 4 && !*closed) {
        int k = SSL_read(s, buf + got, (int)(cap - got > 16384 ? 16384 : cap - got));
        if (k > 0) {
            got += (size_t)k;
            idle = 0;
            continue;
        }
        int e = SSL_get_error(s, k);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            *closed = true;
        idle++;
        spin(w);
    }
    return got;
}

static bool contains(const uint8_t *h, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(h + i, needle, k) == 0)
            return true;
    return false;
}

/* ---- the cases ----------------------------------------------------------- */

static void b64(const char *in, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
}

static void test_http11_substitution(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_sni(w.c), HOST);
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_alpn(w.c), "http/1.1");
    char cred[128], credv[128], req[512];
    b64("user:" PA, cred);
    b64("user:" VA, credv);
    snprintf(req, sizeof req,
             "GET /v1 HTTP/1.1\r\nHost: " HOST "\r\nX-Key: " PA "\r\nAuthorization: Basic %s\r\n\r\n",
             cred);
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, req, strlen(req)));
    uint8_t buf[4096];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed);
    CU_ASSERT(contains(buf, n, "X-Key: " VA "\r\n"));
    CU_ASSERT(contains(buf, n, credv));
    CU_ASSERT(!contains(buf, n, PA));
    const char *body = "your key is " VA "!";
    char resp[256];
    snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
             body);
    CU_ASSERT_FATAL(peer_write(&w, w.u.ssl, resp, strlen(resp)));
    n = peer_read(&w, w.g.ssl, buf, sizeof buf, strlen(resp), &closed);
    CU_ASSERT_EQUAL(n, strlen(resp));
    CU_ASSERT(!contains(buf, n, VA));
    CU_ASSERT(contains(buf, n, "your key is " PA));
    const struct msb_tls_stats *st = msb_tls_ctx_stats(w.ctx);
    CU_ASSERT_EQUAL(st->handshakes_ok, 1);
    CU_ASSERT_EQUAL(st->alpn_http1, 1);
    CU_ASSERT(st->substitutions[0] >= 1);
    CU_ASSERT_EQUAL(st->bytes_to_guest, strlen(resp));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    world_free(&w);
}

/* A TLS 1.2 guest (the pause in the client-hello callback works the same)
 * against a TLS 1.2-only upstream. */
static void test_tls12(void)
{
    struct world w;
    world_init(&w, true, DST, HOST, true);
    SSL_CTX_set_max_proto_version(w.gctx, TLS1_2_VERSION);
    SSL_set_max_proto_version(w.u.ssl, TLS1_2_VERSION);
    guest_setup(&w, HOST, NULL, HTTP11);
    CU_ASSERT_FATAL(handshake(&w));
    CU_ASSERT_EQUAL(SSL_version(w.g.ssl), TLS1_2_VERSION);
    CU_ASSERT_EQUAL(SSL_version(w.u.ssl), TLS1_2_VERSION);
    const char *req = "GET / HTTP/1.1\r\nX-Key: " PA "\r\n\r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, req, strlen(req)));
    uint8_t buf[256];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed);
    CU_ASSERT(contains(buf, n, "X-Key: " VA "\r\n"));
    world_free(&w);
}

static void test_violation(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    const char *req = "GET / HTTP/1.1\r\nHost: " HOST "\r\nX-Other: " PB "\r\n\r\n";
    peer_write(&w, w.g.ssl, req, strlen(req));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_VIOLATION);
    CU_ASSERT_EQUAL(msb_tls_conn_violation(w.c), 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->violations[1], 1);
    uint8_t buf[1024];
    bool closed;
    CU_ASSERT_EQUAL(peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed), 0);
    CU_ASSERT(msb_tls_conn_guest_done(w.c) && msb_tls_conn_host_done(w.c));
    world_free(&w);
}

static void test_upstream_wrong_name(void)
{
    struct world w;
    world_init(&w, true, DST, "wrong.example.com", true);
    guest_setup(&w, HOST, NULL, NULL);
    CU_ASSERT_FALSE(handshake(&w));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_FAILED);
    const struct msb_tls_stats *st = msb_tls_ctx_stats(w.ctx);
    CU_ASSERT_EQUAL(st->upstream_verify_failed, 1);
    CU_ASSERT_EQUAL(st->handshakes_ok, 0);
    /* The guest got an alert, not a certificate. */
    CU_ASSERT_EQUAL(SSL_do_handshake(w.g.ssl), -1);
    CU_ASSERT_EQUAL(SSL_get_error(w.g.ssl, -1), SSL_ERROR_SSL);
    CU_ASSERT_PTR_NULL(SSL_get0_peer_certificate(w.g.ssl));
    world_free(&w);
}

/* The upstream answers the ClientHello with garbage: upstream_hs_failed,
 * and the guest gets an alert. */
static void test_upstream_garbage(void)
{
    struct world w;
    world_open(&w, true, NULL);
    SSL_do_handshake(w.g.ssl);
    spin(&w);
    /* Our ClientHello reached the upstream's pair (its server never reads). */
    CU_ASSERT(BIO_ctrl_get_write_guarantee(w.u.ext) < 16384);
    CU_ASSERT_EQUAL(msb_tls_conn_host_in(w.c, "HTTP/1.1 400 Bad\r\n\r\n", 20), 20);
    CU_ASSERT_EQUAL(msb_tls_conn_pump(w.c, w.now), MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->upstream_hs_failed, 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->upstream_verify_failed, 0);
    spin(&w);
    CU_ASSERT_EQUAL(SSL_do_handshake(w.g.ssl), -1);
    CU_ASSERT_EQUAL(SSL_get_error(w.g.ssl, -1), SSL_ERROR_SSL);
    world_free(&w);
}

/* verify_upstream off: an upstream certificate for another name passes,
 * and the guest still gets a leaf for the name it asked for. */
static void test_verify_off(void)
{
    struct world w;
    verify_off = true;
    world_init(&w, true, DST, "wrong.example.com", true);
    verify_off = false;
    guest_setup(&w, HOST, NULL, NULL);
    CU_ASSERT_FATAL(handshake(&w));
    CU_ASSERT_EQUAL(SSL_get_verify_result(w.g.ssl), X509_V_OK);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->upstream_verify_failed, 0);
    CU_ASSERT_EQUAL(msb_tls_ctx_cache_stats(w.ctx)->misses, 1);
    world_free(&w);
}

static void test_guest_distrusts_ca(void)
{
    struct world w;
    world_init(&w, true, DST, HOST, false);
    guest_setup(&w, HOST, NULL, NULL);
    CU_ASSERT_FALSE(handshake(&w));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->guest_hs_failed, 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->upstream_verify_failed, 0);
    world_free(&w);
}

/* Without SNI the leaf names the dialled address, and the upstream is
 * verified against that address. */
static void test_no_sni_ip_leaf(void)
{
    static const char *addrs[] = {"192.0.2.7", "2001:db8::7"};
    for (int i = 0; i < 2; i++) {
        struct world w;
        world_init(&w, true, addrs[i], addrs[i], true);
        guest_setup(&w, NULL, addrs[i], NULL);
        CU_ASSERT_FATAL(handshake(&w));
        CU_ASSERT_STRING_EQUAL(msb_tls_conn_sni(w.c), "");
        CU_ASSERT_EQUAL(SSL_get_verify_result(w.g.ssl), X509_V_OK);
        X509 *leaf = SSL_get0_peer_certificate(w.g.ssl);
        CU_ASSERT_FATAL(leaf != NULL);
        CU_ASSERT_EQUAL(X509_check_ip_asc(leaf, addrs[i], 0), 1);
        CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->alpn_none, 1);
        world_free(&w);
    }
}

/* An IP literal as SNI: the leaf is for the address dialled, not the
 * literal, and no SNI goes upstream (verified against that address). */
static void test_ip_literal_sni(void)
{
    struct world w;
    world_init(&w, true, "192.0.2.7", "192.0.2.7", true);
    guest_setup(&w, NULL, "192.0.2.7", NULL);
    SSL_set_tlsext_host_name(w.g.ssl, "192.0.2.99");
    CU_ASSERT_FATAL(handshake(&w));
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_sni(w.c), "192.0.2.99");
    X509 *leaf = SSL_get0_peer_certificate(w.g.ssl);
    CU_ASSERT_FATAL(leaf != NULL);
    CU_ASSERT_EQUAL(X509_check_ip_asc(leaf, "192.0.2.7", 0), 1);
    CU_ASSERT_EQUAL(X509_check_ip_asc(leaf, "192.0.2.99", 0), 0);
    CU_ASSERT_PTR_NULL(SSL_get_servername(w.u.ssl, TLSEXT_NAMETYPE_host_name));
    world_free(&w);
}

/* An upstream certificate for another address than the one dialled. */
static void test_no_sni_wrong_ip(void)
{
    struct world w;
    world_init(&w, true, "192.0.2.7", "192.0.2.8", true);
    guest_setup(&w, NULL, "192.0.2.7", NULL);
    CU_ASSERT_FALSE(handshake(&w));
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->upstream_verify_failed, 1);
    world_free(&w);
}

static void bad_sni_once(const char *sni)
{
    struct world w;
    world_init(&w, true, DST, HOST, true);
    guest_setup(&w, NULL, NULL, NULL);
    SSL_set_tlsext_host_name(w.g.ssl, sni);
    CU_ASSERT_FALSE(handshake(&w));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->bad_sni, 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->guest_hs_failed, 0);
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_reason(w.c), "bad SNI");
    world_free(&w);
}

static void test_bad_sni(void)
{
    bad_sni_once("*.example.com");
    bad_sni_once("a..b");
    bad_sni_once("caf\xc3\xa9.example");
    bad_sni_once("x y.example");
}

static void test_h2_withheld_with_secrets(void)
{
    static const char *lists[] = {"\x02h2", "\x02h2\x08http/1.1"};
    for (int i = 0; i < 2; i++) {
        struct world w;
        world_up(&w, true, lists[i]);
        CU_ASSERT_STRING_EQUAL(msb_tls_conn_alpn(w.c), "http/1.1");
        const unsigned char *a;
        unsigned alen;
        SSL_get0_alpn_selected(w.u.ssl, &a, &alen);
        CU_ASSERT(alen == 8 && memcmp(a, "http/1.1", 8) == 0);
        SSL_get0_alpn_selected(w.g.ssl, &a, &alen);
        CU_ASSERT_EQUAL(alen, i == 0 ? 0 : 8);
        CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->h2_withheld, 1);
        CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->alpn_h2, 0);
        world_free(&w);
    }
}

static void test_h2_passes_without_secrets(void)
{
    struct world w;
    world_up(&w, false, "\x02h2\x08http/1.1");
    const unsigned char *a;
    unsigned alen;
    SSL_get0_alpn_selected(w.g.ssl, &a, &alen);
    CU_ASSERT(alen == 2 && memcmp(a, "h2", 2) == 0);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->alpn_h2, 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->h2_withheld, 0);
    /* Raw bytes pass both ways untouched (an h2 preface here). */
    const char *pre = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, pre, strlen(pre)));
    uint8_t buf[256];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, strlen(pre), &closed);
    CU_ASSERT(n == strlen(pre) && memcmp(buf, pre, n) == 0);
    world_free(&w);
}

/* Another protocol with secrets: raw bytes both ways, no substitution,
 * and a placeholder for another host still stops the flow. */
static void test_other_alpn_raw_scan(void)
{
    struct world w;
    world_up(&w, true, "\x07x-proto");
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_alpn(w.c), "x-proto");
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->alpn_other, 1);
    const char *a = "not http " PA " \r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, a, strlen(a)));
    uint8_t buf[256];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, strlen(a), &closed);
    CU_ASSERT(n == strlen(a) && memcmp(buf, a, n) == 0);
    const char *b = "then " PB;
    peer_write(&w, w.g.ssl, b, strlen(b));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_VIOLATION);
    CU_ASSERT_EQUAL(msb_tls_conn_violation(w.c), 1);
    CU_ASSERT_EQUAL(peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed), 0);
    world_free(&w);
}

/* The upstream's FIN without close_notify ends a response read until EOF;
 * the guest gets all of it and a close_notify. */
static void test_upstream_fin(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    const char *req = "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, req, strlen(req)));
    const char *resp = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
    CU_ASSERT_FATAL(peer_write(&w, w.u.ssl, resp, strlen(resp)));
    msb_tls_conn_host_eof(w.c);
    spin(&w);
    uint8_t buf[256];
    bool closed;
    size_t n = peer_read(&w, w.g.ssl, buf, sizeof buf, SIZE_MAX, &closed);
    CU_ASSERT(n == strlen(resp) && memcmp(buf, resp, n) == 0);
    CU_ASSERT(closed);
    CU_ASSERT(msb_tls_conn_guest_done(w.c));
    CU_ASSERT_FALSE(msb_tls_conn_host_done(w.c));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    world_free(&w);
}

static void test_handshake_timeout(void)
{
    struct world w;
    world_open(&w, true, NULL);
    CU_ASSERT_EQUAL(msb_tls_conn_deadline(w.c), 1000 + 10000);
    SSL_do_handshake(w.g.ssl);
    spin(&w); /* the ClientHello is in; the upstream never answers */
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    w.now = 1000 + 9999;
    spin(&w);
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    w.now = 1000 + 10000;
    CU_ASSERT_EQUAL(msb_tls_conn_pump(w.c, w.now), MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->handshake_timeouts, 1);
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_reason(w.c), "handshake timeout");
    world_free(&w);
}

/* tls.max_connections: the engine refuses a connection past the cap
 * (counted), and a freed one makes room again. */
static void test_max_conns(void)
{
    char e[256];
    struct msb_ip ip = dst_ip();
    struct msb_tls_ctx_opts o = {.ca = sandbox_ca, .no_system_roots = true, .max_conns = 2};
    struct msb_tls_ctx *c = msb_tls_ctx_new(&o, e, sizeof e);
    CU_ASSERT_FATAL(c != NULL);
    struct msb_tls_conn *a = msb_tls_conn_new(c, &ip, 0), *b = msb_tls_conn_new(c, &ip, 0);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_EQUAL(msb_tls_ctx_live(c), 2);
    CU_ASSERT_PTR_NULL(msb_tls_conn_new(c, &ip, 0));
    CU_ASSERT_PTR_NULL(msb_tls_conn_new(c, &ip, 0));
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(c)->refused_cap, 2);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(c)->alloc_failed, 0);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(c)->intercepted, 2);
    msb_tls_conn_free(a);
    CU_ASSERT_EQUAL(msb_tls_ctx_live(c), 1);
    a = msb_tls_conn_new(c, &ip, 0);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(c)->refused_cap, 2);
    msb_tls_conn_free(a);
    msb_tls_conn_free(b);
    CU_ASSERT_EQUAL(msb_tls_ctx_live(c), 0);
    msb_tls_ctx_free(c);
}

/* A new generation of one secret for HOST (NULL: none), as a run-time
 * replacement makes it: heap copies that msb_secret_gen_new takes over,
 * completed against FROM (NULL: not) as msb_secrets_replace does. */
static struct msb_secret_gen *next_gen(const char *env, const char *placeholder,
                                       const char *value, const char *host,
                                       const struct msb_secret_gen *from)
{
    char e[256];
    struct msb_secrets_cfg *next = calloc(1, sizeof *next);
    CU_ASSERT_FATAL(next != NULL);
    next->n = 1;
    if (host) {
        next->s[0].hosts.v = calloc(1, sizeof(char *));
        CU_ASSERT_FATAL(next->s[0].hosts.v != NULL);
        next->s[0].hosts.v[0] = strdup(host);
        next->s[0].hosts.n = 1;
    }
    snprintf(next->s[0].env, sizeof next->s[0].env, "%s", env);
    snprintf(next->s[0].placeholder, sizeof next->s[0].placeholder, "%s", placeholder);
    next->s[0].plen = strlen(placeholder);
    next->s[0].value = (uint8_t *)strdup(value);
    next->s[0].vlen = strlen(value);
    next->s[0].inject = MSB_INJECT_HEADERS;
    msb_secret_gen_carry(from, next);
    struct msb_secret_gen *g = msb_secret_gen_new(next, e, sizeof e);
    if (!g)
        fprintf(stderr, "next_gen: %s\n", e);
    CU_ASSERT_FATAL(g != NULL);
    return g;
}

/* Secrets replaced at run time: a connection keeps the generation it was
 * made with (its verdicts name that generation's secrets), new ones take
 * the new one, counters of secrets not kept restart, and the last
 * reference goes with the last connection. */
static void test_set_secrets(void)
{
    struct msb_ip ip = dst_ip();
    struct msb_tls_ctx *c = new_ctx(true, 0);
    struct msb_tls_conn *old = msb_tls_conn_new(c, &ip, 0);
    CU_ASSERT_FATAL(old != NULL);
    struct msb_secret_gen *g = next_gen("C", "Ymsb_NEW_ph0003", "new-real-value", NULL, NULL);
    CU_ASSERT_PTR_NULL(g->cfg->s[0].value); /* the set's copy is the only one */
    msb_tls_ctx_set_secrets(c, g);
    msb_secret_gen_unref(g); /* the context holds it now */
    struct msb_tls_conn *fresh = msb_tls_conn_new(c, &ip, 0);
    CU_ASSERT_FATAL(fresh != NULL);
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_secret(old, 1)->env, "B");
    CU_ASSERT_STRING_EQUAL(msb_tls_conn_secret(fresh, 0)->env, "C");
    CU_ASSERT_PTR_NULL(msb_tls_conn_secret(fresh, 1));
    CU_ASSERT_EQUAL(msb_tls_ctx_secrets(c)->set.n, 1);
    CU_ASSERT_EQUAL(atomic_load(&gen.refs), 2); /* main's and the old connection's */
    msb_tls_conn_free(old);
    CU_ASSERT_EQUAL(atomic_load(&gen.refs), 1);
    msb_tls_conn_free(fresh);
    msb_tls_ctx_free(c);
}

/* Per-secret counters follow a kept secret to its index in the new
 * generation, also for a connection made before; a removed secret's end
 * (its tombstone counts afresh). */
static void test_set_secrets_keeps_counts(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    const char *qa = "GET / HTTP/1.1\r\nHost: " HOST "\r\nX-Key: " PA "\r\n\r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, qa, strlen(qa)));
    msb_tls_ctx_count_violation(w.ctx, &gen, 1); /* B's, as the plaintext scanner counts */
    const struct msb_tls_stats *st = msb_tls_ctx_stats(w.ctx);
    CU_ASSERT_EQUAL(st->substitutions[0], 1);
    CU_ASSERT_EQUAL(st->violations[1], 1);
    /* B kept (now first), A removed: its tombstone goes after B. */
    struct msb_secret_gen *g = next_gen("B", PB, "other-value-2", "other.example.com", &gen);
    CU_ASSERT_FATAL(g->cfg->n == 2);
    CU_ASSERT_STRING_EQUAL(g->cfg->s[1].env, "A");
    CU_ASSERT(msb_secret_gen_removed(g, 1));
    CU_ASSERT_EQUAL(msb_secret_gen_match(g, &gen, 1), 0);
    CU_ASSERT_EQUAL(msb_secret_gen_match(g, &gen, 0), -1);
    msb_tls_ctx_set_secrets(w.ctx, g);
    msb_secret_gen_unref(g);
    CU_ASSERT_EQUAL(st->violations[0], 1);
    CU_ASSERT_EQUAL(st->substitutions[0], 0);
    CU_ASSERT_EQUAL(st->substitutions[1], 0);
    CU_ASSERT_EQUAL(st->violations[1], 0);
    /* The connection made before still substitutes A (its generation's),
     * counted in the total only; B's placeholder there counts for B. */
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, qa, strlen(qa)));
    CU_ASSERT_EQUAL(st->substitutions_total, 2);
    CU_ASSERT_EQUAL(st->substitutions[1], 0);
    const char *qb = "GET / HTTP/1.1\r\nHost: " HOST "\r\nX-Other: " PB "\r\n\r\n";
    peer_write(&w, w.g.ssl, qb, strlen(qb));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_VIOLATION);
    CU_ASSERT_EQUAL(st->violations[0], 2);
    CU_ASSERT_EQUAL(st->violations[1], 0);
    world_free(&w);
}

static void test_guest_garbage(void)
{
    struct world w;
    world_init(&w, true, DST, HOST, true);
    const char *junk = "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n";
    CU_ASSERT_EQUAL(msb_tls_conn_guest_in(w.c, junk, strlen(junk)), strlen(junk));
    CU_ASSERT_EQUAL(msb_tls_conn_pump(w.c, w.now), MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->guest_hs_failed, 1);
    CU_ASSERT_EQUAL(msb_tls_conn_guest_in(w.c, junk, 1), 0);
    /* A ClientHello cut short, then the guest's FIN. */
    struct msb_ip ip = dst_ip();
    struct msb_tls_conn *c = msb_tls_conn_new(w.ctx, &ip, w.now);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(msb_tls_conn_guest_in(c, "\x16\x03\x01\x02\x00\x01", 6), 6);
    CU_ASSERT_EQUAL(msb_tls_conn_pump(c, w.now), MSB_TLS_RUNNING);
    msb_tls_conn_guest_eof(c);
    CU_ASSERT_EQUAL(msb_tls_conn_pump(c, w.now), MSB_TLS_FAILED);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->guest_hs_failed, 2);
    msb_tls_conn_free(c);
    world_free(&w);
}

/* ---- streams, back-pressure, close ------------------------------------------ */

struct flow {
    SSL *from, *to;
    const uint8_t *p;
    size_t n, sent;
    uint8_t *got;
    size_t ngot;
};

/* One write and one read of a flow (READ false: the reader stalls). */
static bool flow_step(struct flow *f, bool read)
{
    bool moved = false;
    if (f->sent < f->n) {
        size_t k = f->n - f->sent > 16384 ? 16384 : f->n - f->sent;
        int r = SSL_write(f->from, f->p + f->sent, (int)k);
        if (r > 0) {
            f->sent += (size_t)r;
            moved = true;
        }
    }
    if (read && f->ngot < f->n) {
        size_t k = f->n - f->ngot > 16384 ? 16384 : f->n - f->ngot;
        int r = SSL_read(f->to, f->got + f->ngot, (int)k);
        if (r > 0) {
            f->ngot += (size_t)r;
            moved = true;
        }
    }
    return moved;
}

static uint8_t *message(const char *start, size_t body, size_t *n)
{
    char head[256];
    int h = snprintf(head, sizeof head, "%sContent-Length: %zu\r\n\r\n", start, body);
    uint8_t *m = malloc((size_t)h + body);
    CU_ASSERT_FATAL(m != NULL);
    memcpy(m, head, (size_t)h);
    uint64_t x = 0x9e3779b97f4a7c15ull ^ body ^ (uint64_t)h;
    for (size_t i = 0; i < body; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        m[(size_t)h + i] = (uint8_t)x;
    }
    *n = (size_t)h + body;
    return m;
}

static bool same_hash(const uint8_t *a, const uint8_t *b, size_t n)
{
    unsigned char ha[32], hb[32];
    unsigned la = 0, lb = 0;
    EVP_Digest(a, n, ha, &la, EVP_sha256(), NULL);
    EVP_Digest(b, n, hb, &lb, EVP_sha256(), NULL);
    return la == 32 && lb == 32 && memcmp(ha, hb, 32) == 0;
}

static double secs(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Neither peer reads: the engine takes a bounded amount each way, then
 * guest_in and host_in take less than offered; both writers are stuck on
 * WANT_WRITE. */
static void stall(struct world *w, struct flow *up, struct flow *down)
{
    for (int i = 0; i < 64; i++) {
        flow_step(up, false);
        flow_step(down, false);
        spin(w);
    }
    CU_ASSERT(w->short_takes > 0 && w->host_short_takes > 0);
    CU_ASSERT(up->sent < up->n && down->sent < down->n);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w->ctx)->bytes_to_guest < 200u << 10, 1);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w->ctx)->bytes_to_upstream < 200u << 10, 1);
    CU_ASSERT_EQUAL(w->st, MSB_TLS_RUNNING);
}

static void test_backpressure_1mib(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    size_t nq, nr;
    uint8_t *q = message("POST /up HTTP/1.1\r\nHost: " HOST "\r\n", 1u << 20, &nq);
    uint8_t *r = message("HTTP/1.1 200 OK\r\n", 1u << 20, &nr);
    uint8_t *gq = malloc(nq), *gr = malloc(nr);
    struct flow up = {w.g.ssl, w.u.ssl, q, nq, 0, gq, 0};
    struct flow down = {w.u.ssl, w.g.ssl, r, nr, 0, gr, 0};
    long long hs_live = eng_live, hs_peak = eng_peak;
    stall(&w, &up, &down);
    long long stalled = eng_live;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100000 && (up.ngot < nq || down.ngot < nr); i++) {
        bool m = flow_step(&up, true);
        m |= flow_step(&down, true);
        spin(&w);
        if (!m && w.st != MSB_TLS_RUNNING)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_EQUAL(up.ngot, nq);
    CU_ASSERT_EQUAL(down.ngot, nr);
    CU_ASSERT(same_hash(q, gq, nq));
    CU_ASSERT(same_hash(r, gr, nr));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    double s = secs(&t0, &t1);
    printf("\n    1 MiB each way at once in %.3f s (%.1f MiB/s each way)", s, 1 / s);
    printf("\n    engine heap: %lld KiB after the handshake (peak %lld), %lld KiB stalled,"
           " %lld KiB after the transfer, peak %lld KiB ",
           hs_live >> 10, hs_peak >> 10, stalled >> 10, eng_live >> 10, eng_peak >> 10);
    /* The documented bound (README): well under 160 KiB per connection. */
    if (heap_used())
        CU_ASSERT(eng_peak < 160 << 10);
    free(q), free(r), free(gq), free(gr);
    world_free(&w);
}

/* Both peers close in turn: DONE once both directions are closed. */
static void test_clean_close(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    uint8_t buf[64];
    bool closed;
    CU_ASSERT_FALSE(msb_tls_conn_host_done(w.c));
    SSL_shutdown(w.g.ssl);
    spin(&w);
    CU_ASSERT_EQUAL(peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed), 0);
    CU_ASSERT(closed);
    CU_ASSERT(msb_tls_conn_host_done(w.c));
    CU_ASSERT_FALSE(msb_tls_conn_guest_done(w.c));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_RUNNING);
    SSL_shutdown(w.u.ssl);
    spin(&w);
    CU_ASSERT(msb_tls_conn_guest_done(w.c));
    CU_ASSERT_EQUAL(w.st, MSB_TLS_DONE);
    CU_ASSERT_EQUAL(SSL_shutdown(w.g.ssl), 1); /* the guest saw our close_notify */
    world_free(&w);
}

/* The guest sends its request and closes its side (close_notify, FIN);
 * the response still reaches it whole. */
static void test_half_close(void)
{
    struct world w;
    world_up(&w, true, HTTP11);
    const char *req = "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n";
    CU_ASSERT_FATAL(peer_write(&w, w.g.ssl, req, strlen(req)));
    SSL_shutdown(w.g.ssl);
    spin(&w);
    msb_tls_conn_guest_eof(w.c);
    spin(&w);
    uint8_t buf[256];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, SIZE_MAX, &closed);
    CU_ASSERT(n == strlen(req) && closed);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    CU_ASSERT_FATAL(peer_write(&w, w.u.ssl, resp, strlen(resp)));
    SSL_shutdown(w.u.ssl);
    spin(&w);
    n = peer_read(&w, w.g.ssl, buf, sizeof buf, SIZE_MAX, &closed);
    CU_ASSERT(n == strlen(resp) && memcmp(buf, resp, n) == 0);
    CU_ASSERT(closed);
    CU_ASSERT_EQUAL(w.st, MSB_TLS_DONE);
    world_free(&w);
}

/* Hundreds of 1-byte records in one go (a full pair of them): one pump
 * relays them all, nothing is left waiting for an event. */
static void test_tiny_records(void)
{
    struct world w;
    world_up(&w, false, NULL);
    size_t sent = 0;
    while (sent < 4000 && SSL_write(w.g.ssl, "r", 1) == 1)
        sent++;
    CU_ASSERT(sent > 500);
    spin(&w);
    uint8_t buf[4096];
    bool closed;
    size_t n = peer_read(&w, w.u.ssl, buf, sizeof buf, sent, &closed);
    CU_ASSERT_EQUAL(n, sent);
    CU_ASSERT_EQUAL(msb_tls_ctx_stats(w.ctx)->bytes_to_upstream, sent);
    world_free(&w);
}

static void test_handshake_rate(void)
{
    double total = 0;
    int ok = 0, n = 50;
    for (int i = 0; i < n; i++) {
        struct world w;
        world_open(&w, true, HTTP11);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ok += handshake(&w);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        total += secs(&t0, &t1);
        world_free(&w);
    }
    CU_ASSERT_EQUAL(ok, n);
    printf("\n    %.0f handshakes/s (guest + upstream, both peers in this thread) ", n / total);
}

/* The run's fixtures: the sandbox CA, the upstream's CA (also as the file
 * every context trusts upstream) and the two secrets A and B.  0 or -1. */
static int fixtures_make(void)
{
    char e[256];
    sandbox_ca = msb_tls_ca_generate(NULL, e, sizeof e);
    up_ca = msb_tls_ca_generate(NULL, e, sizeof e);
    if (!sandbox_ca || !up_ca)
        return -1;
    snprintf(up_ca_path, sizeof up_ca_path, "/tmp/test_tls_relay.XXXXXX");
    int fd = mkstemp(up_ca_path);
    char pem[8192];
    size_t plen;
    if (fd < 0 || msb_tls_ca_cert_pem(up_ca, pem, sizeof pem, &plen, e, sizeof e) < 0 ||
        write(fd, pem, plen) != (ssize_t)plen || close(fd) < 0)
        return -1;
    atomic_init(&gen.refs, 1);
    msb_secret_set_init(&gen.set);
    scfg = calloc(1, sizeof *scfg);
    if (!scfg ||
        msb_secret_add(&gen.set, "A", PA, strlen(PA), VA, strlen(VA),
                       MSB_INJECT_HEADERS | MSB_INJECT_BASIC) != MSB_SECRET_ADDED ||
        msb_secret_add(&gen.set, "B", PB, strlen(PB), VB, strlen(VB), MSB_INJECT_HEADERS) !=
            MSB_SECRET_ADDED)
        return -1;
    scfg->n = 2;
    scfg->s[0].hosts = (struct msb_host_patterns){hosts_a, 1};
    scfg->s[1].hosts = (struct msb_host_patterns){hosts_b, 1};
    strcpy(scfg->s[0].env, "A");
    strcpy(scfg->s[1].env, "B");
    strcpy(scfg->s[0].placeholder, PA); /* a replacement's tombstones copy them */
    strcpy(scfg->s[1].placeholder, PB);
    scfg->s[0].plen = strlen(PA);
    scfg->s[1].plen = strlen(PB);
    gen.cfg = scfg;
    return 0;
}

/* 0, or 1 when a context or connection still held the secrets. */
static int fixtures_free(void)
{
    int rc = 0;
    unlink(up_ca_path);
    if (atomic_load(&gen.refs) != 1) { /* every context and connection must have let go */
        fprintf(stderr, "tls_relay: %u references to the secrets left\n", atomic_load(&gen.refs));
        rc = 1;
    }
    free(scfg);
    msb_secret_set_free(&gen.set);
    msb_tls_ca_free(sandbox_ca);
    msb_tls_ca_free(up_ca);
    return rc;
}

int main(void)
{
    if (fixtures_make())
        return 1;
    static const struct test_case tests[] = {
        {"HTTP/1.1: header and Basic substituted, echo redacted", test_http11_substitution},
        {"TLS 1.2 on both sides", test_tls12},
        {"violation: the upstream never sees it", test_violation},
        {"upstream certificate for another name", test_upstream_wrong_name},
        {"upstream answers with garbage", test_upstream_garbage},
        {"verify_upstream off", test_verify_off},
        {"max_conns: refused past the cap, room again after a free", test_max_conns},
        {"secrets replaced: open connections keep theirs", test_set_secrets},
        {"secrets replaced: a kept secret keeps its counters", test_set_secrets_keeps_counts},
        {"guest that does not trust the CA", test_guest_distrusts_ca},
        {"no SNI: leaf for the dialled address", test_no_sni_ip_leaf},
        {"no SNI: upstream certificate for another address", test_no_sni_wrong_ip},
        {"IP literal as SNI: leaf for the dialled address", test_ip_literal_sni},
        {"wildcard and garbage SNI refused", test_bad_sni},
        {"h2 withheld when secrets may flow", test_h2_withheld_with_secrets},
        {"h2 passes without secrets", test_h2_passes_without_secrets},
        {"another protocol: raw, still scanned", test_other_alpn_raw_scan},
        {"upstream FIN ends a response read to EOF", test_upstream_fin},
        {"handshake deadline", test_handshake_timeout},
        {"garbage and a cut ClientHello from the guest", test_guest_garbage},
        {"back-pressure; 1 MiB each way intact", test_backpressure_1mib},
        {"clean close: DONE", test_clean_close},
        {"half-close: the response still arrives", test_half_close},
        {"hundreds of 1-byte records", test_tiny_records},
        {"handshake rate (50)", test_handshake_rate},
        {NULL, NULL},
    };
    int rc = cunit_run("tls_relay", tests);
    return fixtures_free() ? 1 : rc;
}
