/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A token bucket for rate limits (issue 16): bytes per second each way,
 * new connections per second, DNS queries per second.  The caller passes
 * its monotonic clock in nanoseconds, so tests move time by hand and the
 * bucket never reads a clock itself.
 *
 * Tokens are kept in nano-tokens (tokens x 1e9), so a refill of rate x dt
 * is exact for any rate and any dt: no rounding loses or invents tokens,
 * and a limit of 1/s is as accurate as one of 10 Gbit/s.  Bounds keep the
 * arithmetic inside 64 bits: rate <= MSB_TB_RATE_MAX, burst <= MSB_TB_BURST_MAX.
 */
#ifndef MSB_TOKEN_BUCKET_H
#define MSB_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* 2^40 tokens/s (8.8 Tbit/s as bytes) and 2^32 tokens of burst: with
 * nano-tokens the largest sum is 2^32 x 1e9 + 2^40 < 2^63. */
#define MSB_TB_RATE_MAX (1ull << 40)
#define MSB_TB_BURST_MAX (1ull << 32)

struct msb_tbucket {
    uint64_t rate;   /* tokens per second; 0: unlimited */
    uint64_t burst;  /* the most tokens held */
    uint64_t nanotokens;
    uint64_t last_ns;
    uint64_t granted, refused; /* tokens handed out / asked for and refused */
    uint64_t throttled_ns;     /* time spent with a caller waiting (msb_tb_wait_ns) */
};

/* RATE 0 means unlimited (every take succeeds).  A BURST of 0 with a rate
 * means one second's worth.  The bucket starts full.  Values over the
 * bounds are clamped (the config refuses them first). */
void msb_tb_init(struct msb_tbucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);

/* A new rate and burst at run time: tokens already held are kept, up to
 * the new burst; the counters stay. */
void msb_tb_set(struct msb_tbucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);

/* All or nothing: N tokens taken and true, or none and false (counted in
 * refused).  For operations: a connection, a datagram, a query. */
bool msb_tb_take(struct msb_tbucket *b, uint64_t n, uint64_t now_ns);

/* As many of WANT tokens as there are (0..want), taken.  For byte streams
 * that can send part now and the rest later. */
uint64_t msb_tb_grant(struct msb_tbucket *b, uint64_t want, uint64_t now_ns);

/* N tokens of an earlier grant the caller could not use (a socket took
 * fewer bytes than granted) go back, up to the burst. */
void msb_tb_refund(struct msb_tbucket *b, uint64_t n);

/* Nanoseconds until N tokens (at most the burst) are there; 0 when they
 * are now or the bucket is unlimited.  For a paused reader's timer. */
uint64_t msb_tb_wait_ns(struct msb_tbucket *b, uint64_t n, uint64_t now_ns);

/* The caller waited WAITED_NS for tokens: added to throttled_ns. */
void msb_tb_note_wait(struct msb_tbucket *b, uint64_t waited_ns);

#endif
