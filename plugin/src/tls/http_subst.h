/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret substitution on one intercepted HTTP/1.1 connection, as two
 * streaming filters the caller feeds with whatever it read:
 *
 * Request (guest -> upstream), msb_subst_request():
 *   - every input byte first goes through the scanner of secret_scan.h
 *     watching the secrets NOT eligible for this host: a placeholder of one
 *     of them in any form, anywhere (head or body), is VIOLATION, nothing of
 *     that call is emitted, and the filter stays stopped;
 *   - the head (request line <= 8 KiB, whole head <= 64 KiB, CRLF line ends,
 *     no obs-fold) is buffered, then the raw placeholders of eligible secrets
 *     are replaced by their values: in the request line (MSB_INJECT_QUERY),
 *     in header values (MSB_INJECT_HEADERS) and inside the decoded
 *     credentials of `Authorization: Basic` (MSB_INJECT_BASIC; decoded,
 *     replaced, re-encoded with padding);
 *   - Content-Length bodies pass byte-exact, except when an eligible secret
 *     has MSB_INJECT_BODY: then the body (<= 1 MiB, else TOO_LARGE) is
 *     buffered, its raw placeholders replaced and Content-Length rewritten.
 *     Nothing is ever decoded or re-encoded in a body: binary bodies are
 *     untouched unless they hold the exact placeholder bytes;
 *   - chunked bodies always pass through untouched (no substitution: the
 *     chunk framing is only followed to find where the message ends);
 *   - Content-Length together with Transfer-Encoding, differing
 *     Content-Lengths, or a Transfer-Encoding other than chunked last are
 *     MALFORMED (request smuggling); CONNECT and Upgrade are UNSUPPORTED
 *     (the bytes after them would not be HTTP and could not be followed);
 *   - pipelined requests: after a body ends, the next head is parsed.
 *
 * Response (upstream -> guest), msb_subst_response(): a real value echoed
 * by the upstream (in the head or the body, split across reads or across
 * chunks) is replaced by a redaction OF THE SAME LENGTH: the placeholder
 * when it is as long as the value, else the placeholder cut to the value's
 * length or padded with '*'.  A value echoed base64-encoded (standard or
 * URL-safe, at any of the 3 byte alignments: e.g. `Authorization: Basic`
 * "user:value" echoed back) is overwritten likewise by the base64 of the
 * placeholder at the same alignment (cut, or padded with zero bits), the
 * two boundary characters that mix value bits with a neighbour's included:
 * the leading one while still held (always, except in a body read until
 * EOF, where holding the last base64 character would delay streams), the
 * trailing one as it arrives.  Same length keeps Content-Length and chunk
 * sizes true without buffering whole bodies or re-framing, and never lets
 * a value through.  The response framing is followed (status, HEAD requests
 * seen by the request filter, 1xx/204/304, Content-Length, chunked, or
 * until EOF) only to know where a message ends: bytes that may start a
 * value are held back until the value is ruled out or the message ends,
 * never past the message's end, so a response is never stalled.  Call
 * msb_subst_response_eof() when the upstream closes.
 *
 * Output goes to a caller-owned struct msb_obuf that grows up to its own
 * max: more would be TOO_LARGE.  Every status other than OK and NEED_MORE
 * is final for that direction.
 */
#ifndef MSB_TLS_HTTP_SUBST_H
#define MSB_TLS_HTTP_SUBST_H

#include <stddef.h>
#include <stdint.h>

#include "tls/http_frame.h"
#include "tls/secret_scan.h"

#define MSB_SUBST_BODY_MAX (1u << 20)
/* Requests in flight whose responses are not yet seen (HEAD tracking). */
#define MSB_SUBST_PIPELINE_MAX 64

/* Matchers per secret in the response direction: the value, then its
 * base64 cores at alignments 0..2 (msb_secret.vb64). */
#define MSB_REDACT_PATS 4

/* The response direction's hold-back of bytes that may start a value. */
struct msb_redact {
    uint8_t *buf;    /* held bytes: [start, len) */
    uint8_t *isdata; /* per byte: 1 when it can be part of a value */
    size_t start, len, ndata, cap;
    uint16_t st[MSB_SECRETS_MAX][MSB_REDACT_PATS];
    /* After a base64 match: the next data character still carries the
     * value's last TAIL_N bits, from bit TAIL_BIT of secret TAIL_SEC. */
    size_t tail_bit;
    uint16_t tail_sec;
    uint8_t tail_n, tail_url;
    uint8_t last_b64; /* the last data byte is a base64 character */
    size_t need;      /* data bytes the matchers hold; 0: no match live */
};


struct msb_subst {
    const struct msb_secret_set *set;
    uint64_t eligible;
    int violation; /* secret index, or -1 */
    struct msb_scan scan;
    struct msb_http_dir req, resp;
    uint8_t *body; /* a Content-Length body being buffered for injection */
    size_t body_len;
    int inject_body;
    uint64_t heads; /* bit i: the i-th pending request is HEAD */
    unsigned pending;
    struct msb_redact red;
};

/* ELIGIBLE: bit i set when secret i may be sent to this connection's host.
 * SET must outlive the filter.  0, or -1 when out of memory. */
int msb_subst_init(struct msb_subst *f, const struct msb_secret_set *set, uint64_t eligible);
void msb_subst_free(struct msb_subst *f);

enum msb_subst_status msb_subst_request(struct msb_subst *f, const void *in, size_t n,
                                        struct msb_obuf *out);
/* The secret index behind a VIOLATION, else -1. */
int msb_subst_violation(const struct msb_subst *f);

enum msb_subst_status msb_subst_response(struct msb_subst *f, const void *in, size_t n,
                                         struct msb_obuf *out);
/* The upstream closed: emits what was held (a body read until EOF ends
 * here); MALFORMED when a length-delimited message was cut short. */
enum msb_subst_status msb_subst_response_eof(struct msb_subst *f, struct msb_obuf *out);

#endif
