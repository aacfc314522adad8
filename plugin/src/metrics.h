/*
 * Counters at the guest boundary and drops by reason.  Relaxed atomics:
 * each counter is independent and only ever read as a snapshot.
 */
#ifndef MSB_METRICS_H
#define MSB_METRICS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

/* Every place that discards something names one of these.  The second
 * column is the stable name used in JSON and Prometheus output. */
#define MSB_DROP_REASONS(X)                                                                        \
    X(TX_BAD_LENGTH, "tx_bad_length")   /* write_frame outside [14, MAX_FRAME] */                 \
    X(TX_NO_MEMORY, "tx_no_memory")     /* could not copy a guest frame */                        \
    X(RX_RING_FULL, "rx_ring_full")     /* a frame for the guest found no room */

enum msb_drop_reason {
#define MSB_DROP_ENUM(id, name) MSB_DROP_##id,
    MSB_DROP_REASONS(MSB_DROP_ENUM)
#undef MSB_DROP_ENUM
    MSB_DROP__COUNT
};

struct msb_metrics {
    /* Written by the VMM side (tx) and the reader side (rx): apart, so the
     * two threads do not share a cache line. */
    alignas(64) atomic_uint_fast64_t tx_bytes;
    atomic_uint_fast64_t tx_frames;
    atomic_uint_fast64_t tx_ring_full; /* backpressure events, not drops */
    alignas(64) atomic_uint_fast64_t rx_bytes;
    atomic_uint_fast64_t rx_frames;
    alignas(64) atomic_uint_fast64_t drops[MSB_DROP__COUNT];
};

void msb_metrics_init(struct msb_metrics *m);

static inline void msb_count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t msb_read(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void msb_drop(struct msb_metrics *m, enum msb_drop_reason r)
{
    msb_count(&m->drops[r], 1);
}

const char *msb_drop_name(enum msb_drop_reason r);

#endif
