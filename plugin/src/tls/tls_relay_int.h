/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to tls_relay*.c: the context and connection structures and the
 * calls between the lifecycle (tls_relay.c), the handshakes
 * (tls_relay_hs.c) and the plaintext relay (tls_relay_pump.c).
 */
#ifndef MSB_TLS_RELAY_INT_H
#define MSB_TLS_RELAY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls/http_subst.h"
#include "tls/secret_gen.h"
#include "tls/tls_relay.h"

#define MSB_TLS_BUF_DEFAULT (8u << 10)
#define MSB_TLS_BUF_MAX (64u << 10)
#define MSB_TLS_HS_DEFAULT_MS 10000u
/* Plaintext staged for one side is topped up from the other side's SSL
 * only while below this, so a slow reader holds at most this plus one
 * read's expansion (back-pressure instead of growth). */
#define MSB_TLS_STAGE_LOW (8u << 10)
/* Hard cap of a staging buffer: a Content-Length body buffered for
 * injection (1 MiB) plus its head is emitted in one piece. */
#define MSB_TLS_STAGE_MAX (MSB_SUBST_BODY_MAX + MSB_SUBST_HEAD_MAX + (64u << 10))
/* One SSL_read (the rest of a larger record stays in OpenSSL's buffer):
 * with the low mark, a stage stays within 16 KiB in steady flow. */
#define MSB_TLS_READ_CHUNK (8u << 10)

struct msb_tls_ctx {
    SSL_CTX *srv, *cli;
    struct msb_tls_cache *cache;
    struct msb_secret_gen *gen; /* current: new connections take it; NULL: none */
    bool verify_upstream;
    uint32_t handshake_ms;
    size_t buf_size;
    size_t max_conns, live; /* live: made and not yet freed */
    struct msb_tls_stats st;
};

/* Where a connection is. */
enum msb_tls_phase {
    PH_HELLO,    /* waiting for the guest's ClientHello */
    PH_UPSTREAM, /* the guest is paused; the upstream handshake runs */
    PH_GUEST,    /* the upstream is done; the guest handshake resumes */
    PH_RELAY,    /* both done: plaintext flows */
    PH_STOPPED,  /* DONE, VIOLATION or FAILED */
};

/* One direction's plaintext between the SSL it was read from and the SSL
 * it is written to. */
struct msb_tls_dir {
    struct msb_obuf stage; /* filtered bytes not yet written: [off, len) */
    size_t off;
    bool rd_closed; /* the source SSL said close (or EOF) */
    bool wr_closed; /* close_notify queued toward the sink */
};

struct msb_tls_conn {
    struct msb_tls_ctx *ctx;
    struct msb_secret_gen *gen; /* the context's when made, held for life */
    SSL *g, *u;      /* guest side (server), upstream side (client) */
    BIO *g_ext, *u_ext; /* our ends of the two BIO pairs */
    struct msb_ip dst;
    uint64_t deadline;
    enum msb_tls_phase phase;
    enum msb_tls_status status;
    const char *reason;
    int violation;
    bool up_failed;   /* the upstream refused: the guest gets an alert */
    bool filtered;    /* HTTP/1.x through the filters, else raw + scan */
    bool g_eof, u_eof; /* the caller saw FIN from that peer */
    uint64_t eligible;
    char sni[MSB_TLS_NAME_MAX + 1];
    char host[MSB_TLS_NAME_MAX + 1]; /* SNI, or the dialled address */
    char alpn[256];
    uint8_t alpn_up[256]; /* the list offered upstream (wire form) */
    size_t alpn_up_len;
    struct msb_subst f;    /* initialised when filtered */
    struct msb_scan scan;  /* raw mode: the guest's bytes */
    struct msb_tls_dir to_up, to_guest;
};

/* The connection's secrets for the scanner and filters, NULL for none. */
static inline const struct msb_secret_set *msb_tls_conn_set(const struct msb_tls_conn *t)
{
    return t->gen && t->gen->set.n ? &t->gen->set : NULL;
}

/* tls_relay_hs.c */
int msb_tls_hs_ctx_setup(struct msb_tls_ctx *c, const struct msb_tls_ctx_opts *o, char *err,
                         size_t errlen);
/* Runs the handshakes as far as they go: 0 while running or done
 * (phase tells), -1 once the connection failed (reason set). */
int msb_tls_hs_step(struct msb_tls_conn *t);

/* tls_relay_pump.c */
int msb_tls_relay_start(struct msb_tls_conn *t);
void msb_tls_relay_step(struct msb_tls_conn *t);
void msb_tls_relay_free(struct msb_tls_conn *t);

/* tls_relay.c */
void msb_tls_stop(struct msb_tls_conn *t, enum msb_tls_status st, const char *reason);
/* Where secret I of generation G counts: its index in the context's current
 * generation (G's own when G is current; a connection made before a
 * replacement counts under the kept secret's new index), -1 for none. */
int msb_tls_ctx_index(const struct msb_tls_ctx *c, const struct msb_secret_gen *g, int i);

#endif
