/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's one clock: monotonic milliseconds, so timeouts and expiries
 * never jump with the wall clock. */
#ifndef MSB_CLOCK_H
#define MSB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds: expiry times never jump with the wall clock. */
static inline uint64_t msb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The same clock in nanoseconds, for the rate limits' token buckets. */
static inline uint64_t msb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
