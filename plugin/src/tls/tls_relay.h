/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One intercepted TLS connection as a pump between two ciphertext streams:
 * the guest's (a server-side SSL presenting a leaf the sandbox CA minted for
 * the guest's SNI) and the upstream's (a client-side SSL verifying the real
 * server), with the HTTP/1.1 secret filters of http_subst.h between the two
 * plaintexts.  No sockets, no events, no lwIP: the caller moves ciphertext
 * in and out and calls msb_tls_conn_pump; everything runs on one thread
 * (the stack thread) and never blocks.
 *
 * Order of a connection:
 *   1. the guest's ClientHello is read; its SNI (or, without one, the
 *      address the guest dialled) names the leaf, and the guest handshake
 *      is paused (OpenSSL's client-hello callback, SSL_CLIENT_HELLO_RETRY);
 *   2. the upstream handshake runs with server name = SNI, offering the
 *      guest's ALPN list (without "h2" when secrets may flow: see below),
 *      verified against the system roots plus the configured CA files
 *      (hostname or IP checked) unless verify_upstream is off;
 *   3. the guest handshake resumes and selects the upstream's ALPN choice,
 *      so both sides speak the same protocol;
 *   4. plaintext relays both ways: through msb_subst_request/response when
 *      the protocol is HTTP/1.x (or none was negotiated), as raw bytes
 *      scanned for violations (msb_scan) otherwise.
 *
 * HTTP/2: when the context has secrets, "h2" is never offered upstream, so
 * every intercepted connection speaks HTTP/1.1 and passes the filters (a
 * Huffman-coded HPACK header would hide a placeholder from the scanner).
 * Without secrets, ALPN passes through unchanged and h2 works.
 *
 * Bounds: each of the four ciphertext buffers and the plaintext buffers
 * between them are fixed at creation; a full buffer makes the *_in calls
 * take fewer bytes, which the caller turns into TCP back-pressure.
 */
#ifndef MSB_TLS_RELAY_H
#define MSB_TLS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "model/tls_config.h"
#include "tls/secret_gen.h"
#include "tls/secret_scan.h"
#include "tls/tls_ca.h"

/* Per instance, on the stack thread: the two SSL_CTXs, the leaf cache, the
 * secrets (borrowed) and the counters. */
struct msb_tls_ctx;

struct msb_tls_ctx_opts {
    const struct msb_tls_ca *ca;           /* borrowed; outlives the context */
    struct msb_secret_gen *secrets;        /* the first generation (referenced); NULL: none */
    const char *const *upstream_ca_files;  /* PEM files added to the system roots */
    size_t n_upstream_ca_files;
    bool verify_upstream;
    bool no_system_roots; /* tests: trust only upstream_ca_files */
    size_t leaf_cache_size;   /* 0: the cache's default */
    uint32_t handshake_ms;    /* both handshakes done within this, else FAILED (0: 10 s) */
    size_t buf_size;          /* each of the four ciphertext buffers (0: 8 KiB; 1..64 KiB) */
    size_t max_conns;         /* connections alive at once; 0: unbounded (tests) */
};

/* Counters the stack copies into metrics (tls.*, secrets.*). */
struct msb_tls_stats {
    uint64_t intercepted;        /* connections created */
    uint64_t handshakes_ok;      /* both sides done */
    uint64_t guest_hs_failed;    /* the guest refused our leaf, or sent garbage */
    uint64_t upstream_hs_failed; /* connect-level TLS failure upstream */
    uint64_t upstream_verify_failed;
    uint64_t bad_sni;            /* non-ASCII, malformed or wildcard SNI refused */
    uint64_t handshake_timeouts;
    uint64_t alpn_h2, alpn_http1, alpn_other, alpn_none;
    uint64_t h2_withheld;        /* guest offered h2, not passed upstream (secrets) */
    /* Per secret of the current generation, indexed as its set: a secret
     * kept by msb_tls_ctx_set_secrets (msb_secret_gen_match) keeps its
     * counts, also those of connections made before; a removed or new one
     * starts at zero.  The totals count every generation's. */
    uint64_t substitutions[MSB_SECRETS_MAX];
    uint64_t violations[MSB_SECRETS_MAX];
    uint64_t substitutions_total, violations_total;
    uint64_t http_malformed;     /* the filters refused the stream */
    uint64_t bytes_to_upstream, bytes_to_guest; /* plaintext */
    uint64_t alloc_failed;       /* a connection (or its filter) could not be allocated */
    uint64_t tls_io_failed;      /* a TLS error on either side after the handshakes */
    uint64_t refused_cap;        /* msb_tls_conn_new refused: max_conns alive already */
};

struct msb_tls_ctx *msb_tls_ctx_new(const struct msb_tls_ctx_opts *o, char *err, size_t errlen);
void msb_tls_ctx_free(struct msb_tls_ctx *c);
const struct msb_tls_stats *msb_tls_ctx_stats(const struct msb_tls_ctx *c);
/* Secrets replaced: connections made from now on use G (a reference is
 * taken; NULL: none), open ones keep the generation they were made with.
 * The per-secret counters move to G's indices: kept secrets keep theirs,
 * removed and new ones start at zero. */
void msb_tls_ctx_set_secrets(struct msb_tls_ctx *c, struct msb_secret_gen *g);
struct msb_secret_gen *msb_tls_ctx_secrets(const struct msb_tls_ctx *c);
/* A violation found outside the engine (scan_plaintext) on secret I of G,
 * counted with the engine's own. */
void msb_tls_ctx_count_violation(struct msb_tls_ctx *c, const struct msb_secret_gen *g, int i);
/* Connections alive now (made and not yet freed). */
size_t msb_tls_ctx_live(const struct msb_tls_ctx *c);
/* The leaf cache's own counters (hits, misses, evictions, ...). */
const struct msb_tls_cache_stats *msb_tls_ctx_cache_stats(const struct msb_tls_ctx *c);

enum msb_tls_status {
    MSB_TLS_RUNNING,   /* keep moving bytes */
    MSB_TLS_DONE,      /* both directions closed cleanly: close the flow */
    MSB_TLS_VIOLATION, /* a placeholder for a host it is not allowed to: reset both */
    MSB_TLS_FAILED,    /* handshake, verification, timeout or filter failure: reset */
};

struct msb_tls_conn;

/* A connection for a guest that dialled DST (used for the leaf when the
 * ClientHello has no SNI, and for upstream IP verification).  NOW_MS is the
 * caller's monotonic clock, for the handshake deadline.  NULL when out of
 * memory (alloc_failed) or when max_conns are alive (refused_cap). */
struct msb_tls_conn *msb_tls_conn_new(struct msb_tls_ctx *c, const struct msb_ip *dst,
                                      uint64_t now_ms);
void msb_tls_conn_free(struct msb_tls_conn *t);

/* Ciphertext in: the number of bytes taken (fewer than n when full). */
size_t msb_tls_conn_guest_in(struct msb_tls_conn *t, const void *p, size_t n);
size_t msb_tls_conn_host_in(struct msb_tls_conn *t, const void *p, size_t n);
/* The peer closed its side of the TCP stream (FIN). */
void msb_tls_conn_guest_eof(struct msb_tls_conn *t);
void msb_tls_conn_host_eof(struct msb_tls_conn *t);

/* Runs handshakes and the relay as far as the buffers allow.  Call it
 * after every *_in, *_sent and *_eof, and when the deadline passes: the
 * engine does nothing between calls. */
enum msb_tls_status msb_tls_conn_pump(struct msb_tls_conn *t, uint64_t now_ms);

/* Ciphertext out: a pointer to the next contiguous bytes and their count
 * (0: nothing), then how many of them the caller sent. */
size_t msb_tls_conn_guest_out(struct msb_tls_conn *t, const uint8_t **p);
void msb_tls_conn_guest_sent(struct msb_tls_conn *t, size_t n);
size_t msb_tls_conn_host_out(struct msb_tls_conn *t, const uint8_t **p);
void msb_tls_conn_host_sent(struct msb_tls_conn *t, size_t n);
/* True once nothing more will be written toward that side: after its
 * out bytes are sent, the caller shuts that side's write half (FIN). */
bool msb_tls_conn_guest_done(const struct msb_tls_conn *t);
bool msb_tls_conn_host_done(const struct msb_tls_conn *t);

/* Why the connection stopped (static string; "" while running), the
 * secret index behind a VIOLATION (else -1), the SNI seen ("" before the
 * ClientHello or without one) and the ALPN chosen ("" for none). */
const char *msb_tls_conn_reason(const struct msb_tls_conn *t);
int msb_tls_conn_violation(const struct msb_tls_conn *t);
/* The settings of secret I of the connection's generation (its env and
 * on_violation), NULL when I is not one. */
const struct msb_secret_cfg *msb_tls_conn_secret(const struct msb_tls_conn *t, int i);
const char *msb_tls_conn_sni(const struct msb_tls_conn *t);
const char *msb_tls_conn_alpn(const struct msb_tls_conn *t);
/* The caller's deadline for its timer: the handshake deadline while a
 * handshake runs, else UINT64_MAX. */
uint64_t msb_tls_conn_deadline(const struct msb_tls_conn *t);

#endif
