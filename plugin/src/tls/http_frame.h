/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x framing shared by both directions of http_subst.c: the bounded
 * output buffer, head buffering (request/status line <= 8 KiB, head <= 64
 * KiB, CRLF only), the headers that decide where a body ends, and chunked
 * framing followed byte by byte.  Strict on purpose: whatever two parsers
 * could read differently (bare LF, obs-fold, duplicate lengths, CL with TE)
 * is refused rather than guessed, so msbnet and the upstream always agree
 * on which bytes are a head.
 */
#ifndef MSB_TLS_HTTP_FRAME_H
#define MSB_TLS_HTTP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MSB_SUBST_LINE_MAX 8192
#define MSB_SUBST_HEAD_MAX 65536

enum msb_subst_status {
    MSB_SUBST_OK,          /* all input consumed, nothing held back */
    MSB_SUBST_NEED_MORE,   /* all input consumed, a message not complete yet */
    MSB_SUBST_VIOLATION,   /* a non-eligible placeholder: reset the flow */
    MSB_SUBST_TOO_LARGE,   /* a bound above, or the output's max */
    MSB_SUBST_MALFORMED,   /* not HTTP/1.x as this parser accepts it */
    MSB_SUBST_UNSUPPORTED, /* CONNECT, Upgrade, 101 */
};

struct msb_obuf {
    uint8_t *data;
    size_t len, cap, max;
};

/* Chunked framing, followed byte by byte. */
struct msb_chunked {
    uint8_t st;
    uint8_t digits;
    uint64_t left;
    size_t line;  /* bytes in the current size/trailer line */
    size_t total; /* bytes of size lines and trailers so far */
};

struct msb_http_dir {
    uint8_t state; /* enum msb_http_state */
    enum msb_subst_status stop;
    uint8_t *head; /* grown on demand up to MSB_SUBST_HEAD_MAX */
    size_t head_len, head_cap;
    uint64_t left; /* Content-Length bytes to go */
    struct msb_chunked ch;
    size_t eol; /* where the first line ends, once seen */
};

/* Where a direction is in its stream of messages. */
enum msb_http_state { H_HEAD, H_BODY, H_BODY_BUF, H_CHUNKED, H_TO_EOF, H_STOPPED };

/* msb_chunked_byte(): what the byte was. */
enum { CH_MALFORMED = -1, CH_TOO_LARGE = -2, CH_FRAMING = 0, CH_DATA = 1, CH_END = 2 };

struct msb_http_meta {
    int chunked;  /* 0 none, 1 chunked last, 2 another coding last */
    int has_clen; /* a Content-Length header (all copies equal) */
    uint64_t clen;
    int upgrade; /* an Upgrade header */
};
enum msb_subst_status msb_http_meta(const uint8_t *head, size_t len, struct msb_http_meta *m);
int msb_http_line(const uint8_t *head, size_t len, size_t *pos, size_t *ls, size_t *le);
int msb_http_name_is(const uint8_t *line, size_t len, const char *name, size_t *value);

void msb_obuf_init(struct msb_obuf *o, size_t max);
void msb_obuf_free(struct msb_obuf *o);
/* 0, or -1 when the buffer would pass its max (or memory ran out). */
int msb_obuf_put(struct msb_obuf *o, const void *p, size_t n);
/* Appends to D's head: OK with *USED when the head is complete (and
 * checked: CRLF only, no control bytes), NEED_MORE, TOO_LARGE, MALFORMED. */
enum msb_subst_status msb_http_head_add(struct msb_http_dir *d, const uint8_t *in, size_t n,
                                        size_t *used);
/* The head was consumed: its buffer emptied, and given back (wiped) when
 * it had grown past a small head's size, so a connection holds a large
 * buffer only while a large head is read. */
void msb_http_head_done(struct msb_http_dir *d);
/* Frees (wiped) D's head buffer. */
void msb_http_head_free(struct msb_http_dir *d);
/* One byte of a chunked body: CH_*. */
int msb_chunked_byte(struct msb_chunked *c, uint8_t b);
/* Chunk data bytes available from here (at most AVAIL), to pass in bulk;
 * msb_chunked_skip() consumes them. */
size_t msb_chunked_data_run(const struct msb_chunked *c, size_t avail);
void msb_chunked_skip(struct msb_chunked *c, size_t n);

#endif
