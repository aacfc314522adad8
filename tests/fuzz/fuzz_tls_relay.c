/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the interception engine (tls/tls_relay*.c): the bytes a
 * guest sends on an intercepted connection, which reach OpenSSL's record
 * layer, the client-hello callback (SNI and ALPN read from the raw
 * extensions) and the leaf cache.  Input: byte 0 picks a split point (its
 * share of the rest), byte 1 bit 0 whether the context has secrets and bit
 * 1 whether the guest then closes (FIN); the rest is the guest's stream.
 * The upstream side's output is drained and never answered.  Invariants
 * (abort() on failure):
 *   - every status is one of the enum's values, and never DONE or
 *     VIOLATION (no handshake can complete without an upstream);
 *   - a stopped connection has a reason and takes no more bytes;
 *   - the engine never takes more than its buffer, nor emits more toward
 *     the guest than its buffer holds;
 *   - the counters add up: at most one failure counted per connection.
 * Leaks are ASan's (libFuzzer) and valgrind's (replay) to find.
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_tls_relay), and everywhere
 * as fuzz_tls_relay_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over
 * mutations of real ClientHellos made by an OpenSSL client at start.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "model/tls_config.h"
#include "tls/tls_relay.h"

#define FUZZ_TARGET "fuzz_tls_relay"
#define FUZZ_SEED 0x452821e638d01377ull
#include "fuzz_common.h"

#define BUF (8u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct msb_tls_ca *ca;
static struct msb_tls_ctx *ctx[2]; /* without and with secrets */
static struct msb_secret_gen gen; /* by hand: its hosts are static */
static struct msb_secrets_cfg scfg;
static char *hosts[] = {"api.example.com"};
static unsigned long failed, running;

static void setup(void)
{
    char e[256];
    if (ca)
        return;
    ca = msb_tls_ca_generate(NULL, e, sizeof e);
    check(ca != NULL, "CA");
    atomic_init(&gen.refs, 1);
    gen.cfg = &scfg;
    msb_secret_set_init(&gen.set);
    check(msb_secret_add(&gen.set, "A", "Kmsb_OPENAI_ph01", 16, "value-a", 7, MSB_INJECT_HEADERS) ==
              MSB_SECRET_ADDED,
          "secret");
    scfg.n = 1;
    scfg.s[0].hosts = (struct msb_host_patterns){hosts, 1};
    for (int i = 0; i < 2; i++) {
        struct msb_tls_ctx_opts o = {.ca = ca,
                                     .secrets = i ? &gen : NULL,
                                     .verify_upstream = true,
                                     .no_system_roots = true,
                                     .leaf_cache_size = 8,
                                     .buf_size = BUF};
        ctx[i] = msb_tls_ctx_new(&o, e, sizeof e);
        check(ctx[i] != NULL, "context");
    }
}

static uint64_t failures(const struct msb_tls_stats *s)
{
    return s->guest_hs_failed + s->upstream_hs_failed + s->upstream_verify_failed + s->bad_sni +
           s->handshake_timeouts + s->http_malformed + s->tls_io_failed + s->alloc_failed;
}

/* Feeds B[0..N) and drains both sides; the status. */
static enum msb_tls_status feed(struct msb_tls_conn *c, const uint8_t *b, size_t n)
{
    enum msb_tls_status st = MSB_TLS_RUNNING;
    const uint8_t *p;
    for (int i = 0; i < 64; i++) {
        size_t k = msb_tls_conn_guest_in(c, b, n);
        check(k <= n && k <= BUF, "guest_in bound");
        if (k)
            b += k, n -= k;
        st = msb_tls_conn_pump(c, 0);
        check(st <= MSB_TLS_FAILED, "status range");
        size_t o = msb_tls_conn_guest_out(c, &p);
        check(o <= BUF, "guest_out bound");
        msb_tls_conn_guest_sent(c, o);
        msb_tls_conn_host_sent(c, msb_tls_conn_host_out(c, &p));
        if (!k || st != MSB_TLS_RUNNING)
            break;
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    setup();
    struct msb_tls_ctx *x = ctx[data[1] & 1];
    struct msb_ip dst = {.family = MSB_FAMILY_V4, .b = {192, 0, 2, 1}};
    uint64_t before = failures(msb_tls_ctx_stats(x));
    struct msb_tls_conn *c = msb_tls_conn_new(x, &dst, 0);
    check(c != NULL, "conn");
    size_t n = size - 2, cut = n * data[0] / 255;
    uint8_t *b = malloc(n ? n : 1); /* exact size: reads past the end are seen */
    check(b != NULL, "malloc");
    memcpy(b, data + 2, n);
    enum msb_tls_status st = feed(c, b, cut);
    if (st == MSB_TLS_RUNNING)
        st = feed(c, b + cut, n - cut);
    if (st == MSB_TLS_RUNNING && (data[1] & 2)) {
        msb_tls_conn_guest_eof(c);
        st = feed(c, NULL, 0);
    }
    check(st == MSB_TLS_RUNNING || st == MSB_TLS_FAILED, "no DONE or VIOLATION without upstream");
    check((st == MSB_TLS_FAILED) == (msb_tls_conn_reason(c)[0] != 0), "reason iff stopped");
    check(msb_tls_conn_violation(c) == -1, "no violation");
    if (st == MSB_TLS_FAILED)
        check(msb_tls_conn_guest_in(c, "x", 1) == 0, "stopped takes nothing");
    check(failures(msb_tls_ctx_stats(x)) - before == (st == MSB_TLS_FAILED), "one failure counted");
    failed += st == MSB_TLS_FAILED;
    running += st == MSB_TLS_RUNNING;
    msb_tls_conn_free(c);
    free(b);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
#define NSEEDS 5
#define SEED_MAX 4096
static uint8_t seeds[NSEEDS][SEED_MAX];
static size_t seed_len[NSEEDS];

/* A real ClientHello: an OpenSSL client's first flight with this SNI
 * (NULL: none), ALPN list (wire form) and highest version. */
static size_t client_hello(const char *sni, const char *alpn, int maxv, uint8_t *out)
{
    SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
    check(sc != NULL, "client ctx");
    SSL_CTX_set_max_proto_version(sc, maxv);
    SSL *s = SSL_new(sc);
    BIO *in = NULL, *ext = NULL;
    check(s && BIO_new_bio_pair(&in, SEED_MAX, &ext, SEED_MAX), "client");
    SSL_set_bio(s, in, in);
    SSL_set_connect_state(s);
    if (sni)
        SSL_set_tlsext_host_name(s, sni);
    if (alpn)
        SSL_set_alpn_protos(s, (const unsigned char *)alpn, (unsigned)strlen(alpn));
    SSL_do_handshake(s);
    int n = BIO_read(ext, out, SEED_MAX);
    check(n > 0, "a ClientHello");
    SSL_free(s);
    BIO_free(ext);
    SSL_CTX_free(sc);
    return (size_t)n;
}

static void make_seeds(void)
{
    seed_len[0] = client_hello("api.example.com", "\x02h2\x08http/1.1", TLS1_3_VERSION, seeds[0]);
    seed_len[1] = client_hello(NULL, NULL, TLS1_3_VERSION, seeds[1]);
    seed_len[2] = client_hello("192.0.2.1", "\x08http/1.1", TLS1_2_VERSION, seeds[2]);
    seed_len[3] = client_hello("*.example.com", NULL, TLS1_3_VERSION, seeds[3]);
    seed_len[4] = client_hello("other.example.com", "\x02h2", TLS1_2_VERSION, seeds[4]);
}

static const uint8_t edge8[] = {0, 1, 2, 0x16, 0x03, 0x10, 0xff, 0x80, '*', '.', 'h'};
static const uint16_t edge16[] = {0, 1, 0xffff, 0x0303, 0x0010, 0x4000, 0x0000};
static const struct fuzz_edges edges = {edge8, sizeof edge8, edge16,
                                        sizeof edge16 / sizeof edge16[0], 32};

static int write_corpus(const char *dir)
{
    int bad = 0;
    make_seeds();
    for (size_t i = 0; i < NSEEDS; i++) {
        uint8_t ctl[2] = {(uint8_t)(i * 53), (uint8_t)i};
        bad |= fuzz_write_seed(dir, i, ctl, 2, seeds[i], seed_len[i]);
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 2000;
    static uint8_t in[SEED_MAX + 64];
    make_seeds();
    for (long i = 0; i < runs; i++) {
        size_t k = (size_t)(rnd() % NSEEDS), body = seed_len[k];
        in[0] = (uint8_t)rnd();
        in[1] = (uint8_t)rnd();
        memcpy(in + 2, seeds[k], body);
        for (int m = (int)(rnd() % 4); i % 8 && m >= 0; m--)
            fuzz_mutate(in + 2, &body, sizeof in - 2, &edges);
        LLVMFuzzerTestOneInput(in, body + 2);
    }
    printf("fuzz_tls_relay_replay: %ld inputs, %lu failed, %lu still running\n", runs, failed,
           running);
    check(failed > 0 && running > 0, "the mutations reach both outcomes");
    for (int i = 0; i < 2; i++)
        msb_tls_ctx_free(ctx[i]);
    msb_tls_ca_free(ca);
    msb_secret_set_free(&gen.set);
    return 0;
}
#endif
