/* SPDX-License-Identifier: Apache-2.0 */
/* The lock-free frame ring (ring.h): per-cell sequence numbers say whose
 * turn it is, so producers and consumers never wait on each other. */
#include "lib/ring.h"

#include <stdint.h>
#include <stdlib.h>

/*
 * Cell protocol (one cell, lap L = position / capacity):
 *   seq == pos            the cell is free for the producer that claims pos
 *   seq == pos + 1        the cell holds the item pushed at pos
 *   seq == pos + capacity the consumer of pos has emptied it for lap L + 1
 *
 * Orderings: a producer writes the item, then publishes it with a release
 * store of seq; a consumer loads seq with acquire before reading the item,
 * and releases the cell with a release store after reading it.  The acquire
 * load on the producer side pairs with that release, so a producer never
 * overwrites an item a slow consumer is still reading.  The position
 * counters only arbitrate who owns which cell (the CAS), so they can be
 * relaxed: all data hand-off goes through seq.
 */

int msb_ring_init(struct msb_ring *r, size_t capacity)
{
    if (capacity < 2 || capacity > MSB_RING_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return -1;
    r->cells = calloc(capacity, sizeof *r->cells);
    if (!r->cells)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        atomic_init(&r->cells[i].seq, i);
    r->mask = capacity - 1;
    atomic_init(&r->enq, 0);
    atomic_init(&r->deq, 0);
    return 0;
}

void msb_ring_destroy(struct msb_ring *r)
{
    free(r->cells);
    r->cells = NULL;
}

bool msb_ring_push(struct msb_ring *r, void *item)
{
    size_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
    for (;;) {
        struct msb_ring_cell *c = &r->cells[pos & r->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->enq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                c->item = item;
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
            /* CAS failure reloaded pos; retry with it. */
        } else if (diff < 0) {
            return false; /* the consumer has not freed this cell: full */
        } else {
            pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
        }
    }
}

void *msb_ring_pop(struct msb_ring *r)
{
    size_t pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
    for (;;) {
        struct msb_ring_cell *c = &r->cells[pos & r->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->deq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                void *item = c->item;
                atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_release);
                return item;
            }
        } else if (diff < 0) {
            return NULL; /* nothing published at pos yet: empty */
        } else {
            pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
        }
    }
}

void *msb_ring_peek(struct msb_ring *r)
{
    size_t pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
    struct msb_ring_cell *c = &r->cells[pos & r->mask];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    return seq == pos + 1 ? c->item : NULL;
}

size_t msb_ring_count(const struct msb_ring *r)
{
    size_t deq = atomic_load_explicit(&r->deq, memory_order_relaxed);
    size_t enq = atomic_load_explicit(&r->enq, memory_order_relaxed);
    /* deq is read first and both only grow, so enq - deq is never negative,
     * but pushes and pops between the two loads can push it past capacity. */
    size_t n = enq - deq;
    return n > r->mask + 1 ? r->mask + 1 : n;
}

size_t msb_ring_capacity(const struct msb_ring *r)
{
    return r->mask + 1;
}
