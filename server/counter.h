/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetd's own counters (the pump's and the transports'): bumped on the
 * loop thread that moves frames, read by whoever renders a metrics snapshot
 * (gRPC, HTTP, the exit report), which need not be that thread.  Atomic
 * objects make every increment and every read whole; relaxed order is
 * enough, since no counter guards other data.
 */
#ifndef MSBD_COUNTER_H
#define MSBD_COUNTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef _Atomic uint64_t msbd_counter;
typedef _Atomic bool msbd_flag;

static inline uint64_t msbd_counter_get(const msbd_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline bool msbd_flag_get(const msbd_flag *f)
{
    return atomic_load_explicit(f, memory_order_relaxed);
}

#endif
