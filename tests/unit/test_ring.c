/* SPDX-License-Identifier: Apache-2.0 */
/* Frame ring: FIFO, full/empty, and no loss or duplication under several
 * producers and consumers. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/frame.h"
#include "lib/ring.h"

#ifdef MSBNET_TSAN
#define PER_PRODUCER 100000u /* TSan is ~10x slower; the interleavings still vary */
#else
#define PER_PRODUCER 1000000u
#endif
#define PRODUCERS 4u

static struct msb_frame *frame_of(const char *bytes, size_t n)
{
    return msb_frame_new((const uint8_t *)bytes, n);
}

/* The seed's first test: frames come out in the order they went in. */
static void test_push_pop_fifo(void)
{
    struct msb_ring r;
    CU_ASSERT_FATAL(msb_ring_init(&r, 4) == 0);
    struct msb_frame *a = frame_of("\1\2\3", 3), *b = frame_of("\4\5\6", 3);
    CU_ASSERT(msb_ring_push(&r, a));
    CU_ASSERT(msb_ring_push(&r, b));
    CU_ASSERT_EQUAL(msb_ring_count(&r), 2);
    struct msb_frame *x = msb_ring_pop(&r), *y = msb_ring_pop(&r);
    CU_ASSERT_PTR_EQUAL(x, a);
    CU_ASSERT_PTR_EQUAL(y, b);
    CU_ASSERT(x && memcmp(x->data, "\1\2\3", 3) == 0);
    CU_ASSERT_PTR_NULL(msb_ring_pop(&r));
    msb_frame_free(a);
    msb_frame_free(b);
    msb_ring_destroy(&r);
}

/* The seed's second test: a full ring refuses and hands the frame back. */
static void test_full_refuses(void)
{
    struct msb_ring r;
    CU_ASSERT_FATAL(msb_ring_init(&r, 2) == 0);
    int v[3];
    CU_ASSERT(msb_ring_push(&r, &v[0]));
    CU_ASSERT(msb_ring_push(&r, &v[1]));
    CU_ASSERT_FALSE(msb_ring_push(&r, &v[2]));
    CU_ASSERT_EQUAL(msb_ring_count(&r), 2);
    CU_ASSERT_PTR_EQUAL(msb_ring_pop(&r), &v[0]);
    CU_ASSERT(msb_ring_push(&r, &v[2])); /* room again after a pop */
    CU_ASSERT_PTR_EQUAL(msb_ring_pop(&r), &v[1]);
    CU_ASSERT_PTR_EQUAL(msb_ring_pop(&r), &v[2]);
    CU_ASSERT_PTR_NULL(msb_ring_pop(&r));
    msb_ring_destroy(&r);
}

static void test_capacity_rules(void)
{
    struct msb_ring r;
    CU_ASSERT_EQUAL(msb_ring_init(&r, 0), -1);
    CU_ASSERT_EQUAL(msb_ring_init(&r, 1), -1);
    CU_ASSERT_EQUAL(msb_ring_init(&r, 1000), -1);
    CU_ASSERT_EQUAL(msb_ring_init(&r, MSB_RING_MAX_CAPACITY * 2), -1);
    CU_ASSERT_FATAL(msb_ring_init(&r, 1024) == 0);
    CU_ASSERT_EQUAL(msb_ring_capacity(&r), 1024);
    msb_ring_destroy(&r);
}

/* Many laps around a small ring: sequence numbers must keep working after
 * the positions wrap the cell array thousands of times. */
static void test_wraps_many_laps(void)
{
    struct msb_ring r;
    CU_ASSERT_FATAL(msb_ring_init(&r, 8) == 0);
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 10000; round++) {
        int burst = 1 + round % 8;
        for (int i = 0; i < burst; i++)
            CU_ASSERT(msb_ring_push(&r, (void *)next_in++));
        for (int i = 0; i < burst; i++)
            CU_ASSERT_EQUAL((uintptr_t)msb_ring_pop(&r), next_out++);
    }
    CU_ASSERT_PTR_NULL(msb_ring_pop(&r));
    msb_ring_destroy(&r);
}

static void test_peek(void)
{
    struct msb_ring r;
    CU_ASSERT_FATAL(msb_ring_init(&r, 4) == 0);
    int v[2];
    CU_ASSERT_PTR_NULL(msb_ring_peek(&r));
    msb_ring_push(&r, &v[0]);
    msb_ring_push(&r, &v[1]);
    CU_ASSERT_PTR_EQUAL(msb_ring_peek(&r), &v[0]);
    CU_ASSERT_PTR_EQUAL(msb_ring_peek(&r), &v[0]); /* peeking does not consume */
    CU_ASSERT_PTR_EQUAL(msb_ring_pop(&r), &v[0]);
    CU_ASSERT_PTR_EQUAL(msb_ring_peek(&r), &v[1]);
    msb_ring_pop(&r);
    msb_ring_destroy(&r);
}

/* Items encode (producer, sequence) so a consumer can check per-producer
 * order (FIFO) and the end tally can check no loss and no duplicate. */
#define ITEM(p, seq) ((void *)(((uintptr_t)(p) << 32) | (uintptr_t)(seq) | 1u << 31))
#define ITEM_P(it) ((unsigned)((uintptr_t)(it) >> 32))
#define ITEM_SEQ(it) ((unsigned)((uintptr_t)(it) & 0x7fffffffu))

struct stress {
    struct msb_ring ring;
    pthread_barrier_t start;
    atomic_uint producers_done;
    atomic_ulong consumed;
    unsigned consumers;
    uint8_t *seen; /* PRODUCERS * PER_PRODUCER flags */
    atomic_uint order_errors;
    atomic_uint dup_errors;
};

static void *producer(void *arg)
{
    static atomic_uint next_id;
    struct stress *s = arg;
    unsigned id = atomic_fetch_add(&next_id, 1) % PRODUCERS;
    pthread_barrier_wait(&s->start);
    for (unsigned seq = 0; seq < PER_PRODUCER; seq++) {
        while (!msb_ring_push(&s->ring, ITEM(id, seq)))
            sched_yield(); /* full: the consumer will make room */
    }
    atomic_fetch_add(&s->producers_done, 1);
    return NULL;
}

static void *consumer(void *arg)
{
    struct stress *s = arg;
    unsigned last[PRODUCERS];
    bool any[PRODUCERS] = {false};
    pthread_barrier_wait(&s->start);
    for (;;) {
        void *it = msb_ring_pop(&s->ring);
        if (!it) {
            if (atomic_load(&s->producers_done) == PRODUCERS && !msb_ring_peek(&s->ring) &&
                msb_ring_count(&s->ring) == 0)
                break;
            sched_yield();
            continue;
        }
        unsigned p = ITEM_P(it), seq = ITEM_SEQ(it);
        /* With one consumer every producer's items arrive in order. */
        if (s->consumers == 1 && any[p] && seq != last[p] + 1)
            atomic_fetch_add(&s->order_errors, 1);
        any[p] = true;
        last[p] = seq;
        uint8_t *flag = &s->seen[(size_t)p * PER_PRODUCER + seq];
        if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED))
            atomic_fetch_add(&s->dup_errors, 1);
        atomic_fetch_add(&s->consumed, 1);
    }
    return NULL;
}

static void run_stress(unsigned consumers)
{
    struct stress s = {.consumers = consumers};
    CU_ASSERT_FATAL(msb_ring_init(&s.ring, 1024) == 0);
    s.seen = calloc((size_t)PRODUCERS * PER_PRODUCER, 1);
    CU_ASSERT_FATAL(s.seen != NULL);
    pthread_barrier_init(&s.start, NULL, PRODUCERS + consumers);
    pthread_t t[PRODUCERS + 4];
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, &s);
    for (unsigned i = 0; i < consumers; i++)
        pthread_create(&t[PRODUCERS + i], NULL, consumer, &s);
    for (unsigned i = 0; i < PRODUCERS + consumers; i++)
        pthread_join(t[i], NULL);

    CU_ASSERT_EQUAL(atomic_load(&s.consumed), (unsigned long)PRODUCERS * PER_PRODUCER);
    CU_ASSERT_EQUAL(atomic_load(&s.dup_errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&s.order_errors), 0);
    size_t missing = 0;
    for (size_t i = 0; i < (size_t)PRODUCERS * PER_PRODUCER; i++)
        missing += !s.seen[i];
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_PTR_NULL(msb_ring_pop(&s.ring));
    pthread_barrier_destroy(&s.start);
    free(s.seen);
    msb_ring_destroy(&s.ring);
}

static void test_four_producers_one_consumer(void)
{
    run_stress(1);
}

static void test_four_producers_two_consumers(void)
{
    run_stress(2);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"push_pop_fifo", test_push_pop_fifo},
        {"full_refuses_and_hands_back", test_full_refuses},
        {"capacity_rules", test_capacity_rules},
        {"wraps_many_laps", test_wraps_many_laps},
        {"peek_does_not_consume", test_peek},
        {"4_producers_1_consumer_no_loss_no_dup_fifo", test_four_producers_one_consumer},
        {"4_producers_2_consumers_no_loss_no_dup", test_four_producers_two_consumers},
        {NULL, NULL},
    };
    return cunit_run("ring", tests);
}
