/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded lock-free queue of pointers (frames), safe for any number of
 * producers and consumers.  Each cell carries a sequence number that tells
 * producers and consumers whose turn it is, so neither side ever waits for
 * the other: a full ring fails the push, an empty ring fails the pop.
 */
#ifndef MSB_RING_H
#define MSB_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct msb_ring_cell {
    atomic_size_t seq;
    void *item;
};

struct msb_ring {
    struct msb_ring_cell *cells;
    size_t mask;
    /* Producers and consumers each hammer their own index: keep them on
     * separate cache lines so they do not false-share. */
    alignas(64) atomic_size_t enq;
    alignas(64) atomic_size_t deq;
};

#define MSB_RING_MAX_CAPACITY (1u << 20)

/* capacity must be a power of two in [2, MSB_RING_MAX_CAPACITY].
 * Returns 0, or -1 for a bad capacity or failed allocation. */
int msb_ring_init(struct msb_ring *r, size_t capacity);

/* Frees the cells only; items still queued belong to the caller (pop them
 * first). */
void msb_ring_destroy(struct msb_ring *r);

/* False when full: the item was not taken and still belongs to the caller. */
bool msb_ring_push(struct msb_ring *r, void *item);

/* NULL when empty. */
void *msb_ring_pop(struct msb_ring *r);

/* The next item without removing it, or NULL.  Only meaningful when the
 * caller is the ring's single consumer. */
void *msb_ring_peek(struct msb_ring *r);

/* Approximate number of queued items (exact when nothing runs concurrently). */
size_t msb_ring_count(const struct msb_ring *r);

size_t msb_ring_capacity(const struct msb_ring *r);

#endif
