/* SPDX-License-Identifier: Apache-2.0 */
/* The locked arena for secret values (secret_mem.h): chunks of locked,
 * undumpable pages, a bitmap of 64-byte granules each. */
#include "tls/secret_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "tls/secret_scan.h"

#define GRANULES (MSB_SECRET_MEM_CHUNK / MSB_SECRET_MEM_GRANULE)

struct chunk {
    uint8_t *base; /* NULL: slot free */
    bool locked;
    uint32_t used; /* granules */
    uint64_t map[GRANULES / 64];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk chunks[MSB_SECRET_MEM_CHUNKS];
static atomic_uint_fast64_t lock_failed;

static bool bit(const struct chunk *c, size_t i)
{
    return c->map[i / 64] >> (i % 64) & 1;
}

static void mark(struct chunk *c, size_t at, size_t n, bool on)
{
    for (size_t i = at; i < at + n; i++) {
        if (on)
            c->map[i / 64] |= 1ull << (i % 64);
        else
            c->map[i / 64] &= ~(1ull << (i % 64));
    }
    c->used = on ? c->used + (uint32_t)n : c->used - (uint32_t)n;
}

/* First run of N free granules in C: its index, or -1. */
static long run_in(const struct chunk *c, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < GRANULES; i++) {
        len = bit(c, i) ? 0 : len + 1;
        if (len == n)
            return (long)(i + 1 - n);
    }
    return -1;
}

/* A new chunk in slot C: mapped, kept out of core dumps, locked if the
 * kernel allows (else counted and said once). */
static bool chunk_map(struct chunk *c)
{
    void *p = mmap(NULL, MSB_SECRET_MEM_CHUNK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    (void)madvise(p, MSB_SECRET_MEM_CHUNK, MADV_DONTDUMP);
    memset(c, 0, sizeof *c);
    c->base = p;
    c->locked = mlock(p, MSB_SECRET_MEM_CHUNK) == 0;
    if (!c->locked && atomic_fetch_add(&lock_failed, 1) == 0)
        fprintf(stderr, "msbnet: secrets: cannot lock their memory (RLIMIT_MEMLOCK?): secret "
                "values may be swapped out; they stay out of core dumps and are zeroed when "
                "freed\n");
    return true;
}

void *msb_secret_mem_alloc(size_t n)
{
    if (n == 0 || n > MSB_SECRET_MEM_CHUNK)
        return NULL;
    size_t g = (n + MSB_SECRET_MEM_GRANULE - 1) / MSB_SECRET_MEM_GRANULE;
    void *out = NULL;
    pthread_mutex_lock(&lock);
    for (size_t k = 0; k < MSB_SECRET_MEM_CHUNKS && !out; k++) {
        struct chunk *c = &chunks[k];
        if (!c->base && !chunk_map(c))
            break;
        long at = run_in(c, g);
        if (at < 0)
            continue;
        mark(c, (size_t)at, g, true);
        out = c->base + (size_t)at * MSB_SECRET_MEM_GRANULE;
    }
    pthread_mutex_unlock(&lock);
    return out;
}

void msb_secret_mem_free(void *p, size_t n)
{
    if (!p)
        return;
    size_t g = (n + MSB_SECRET_MEM_GRANULE - 1) / MSB_SECRET_MEM_GRANULE;
    msb_secret_wipe(p, g * MSB_SECRET_MEM_GRANULE);
    pthread_mutex_lock(&lock);
    for (size_t k = 0; k < MSB_SECRET_MEM_CHUNKS; k++) {
        struct chunk *c = &chunks[k];
        uint8_t *q = p;
        if (!c->base || q < c->base || q >= c->base + MSB_SECRET_MEM_CHUNK)
            continue;
        mark(c, (size_t)(q - c->base) / MSB_SECRET_MEM_GRANULE, g, false);
        if (!c->used) { /* zeroed already, granule by granule */
            if (c->locked)
                munlock(c->base, MSB_SECRET_MEM_CHUNK);
            munmap(c->base, MSB_SECRET_MEM_CHUNK);
            c->base = NULL;
        }
        break;
    }
    pthread_mutex_unlock(&lock);
}

uint64_t msb_secret_mem_lock_failed(void)
{
    return atomic_load(&lock_failed);
}

void msb_secret_mem_stats(struct msb_secret_mem_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lock);
    for (size_t k = 0; k < MSB_SECRET_MEM_CHUNKS; k++) {
        if (!chunks[k].base)
            continue;
        out->chunks++;
        out->locked_bytes += chunks[k].locked ? MSB_SECRET_MEM_CHUNK : 0;
        out->in_use += (uint64_t)chunks[k].used * MSB_SECRET_MEM_GRANULE;
    }
    out->lock_failed = atomic_load(&lock_failed);
    pthread_mutex_unlock(&lock);
}
