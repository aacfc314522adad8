/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory for secret values: a small arena of locked pages.  Each chunk is
 * mmap'd, mlock'ed (never written to swap) and marked MADV_DONTDUMP (left
 * out of core dumps); values are carved from it in 64-byte granules and
 * zeroed when freed.  When the kernel refuses the lock (RLIMIT_MEMLOCK),
 * the chunk is used unlocked: counted, said once on stderr, and the values
 * still stay out of core dumps and are still zeroed.
 *
 * Bounded: at most MSB_SECRET_MEM_CHUNKS chunks of MSB_SECRET_MEM_CHUNK
 * bytes (64 secrets of the largest value, each with its three base64
 * forms, ~20 chunks, fit three times over); past that an allocation fails (the caller reports
 * out of memory).  One arena per process, behind a mutex: values are
 * allocated by a control thread and freed by whichever thread lets go of
 * the last reference.
 */
#ifndef MSB_TLS_SECRET_MEM_H
#define MSB_TLS_SECRET_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MSB_SECRET_MEM_CHUNK (64u << 10)
#define MSB_SECRET_MEM_CHUNKS 64u
#define MSB_SECRET_MEM_GRANULE 64u

/* N bytes (1..MSB_SECRET_MEM_CHUNK), zeroed; NULL when the arena is full
 * or no chunk can be mapped. */
void *msb_secret_mem_alloc(size_t n);
/* P (from msb_secret_mem_alloc with the same N) zeroed and given back; a
 * chunk left empty is unmapped.  NULL: nothing. */
void msb_secret_mem_free(void *p, size_t n);

struct msb_secret_mem_stats {
    uint64_t chunks;       /* mapped now */
    uint64_t locked_bytes; /* of those, locked */
    uint64_t lock_failed;  /* chunks the kernel would not lock, ever */
    uint64_t in_use;       /* bytes handed out now (granules) */
};
void msb_secret_mem_stats(struct msb_secret_mem_stats *out);
/* lock_failed alone, without the arena's lock (for metrics on a hot path). */
uint64_t msb_secret_mem_lock_failed(void);

#endif
