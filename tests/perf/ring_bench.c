/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frame ring throughput against a mutex + condition-variable queue of the
 * same capacity, in the same run: N producers push owned frames, one
 * consumer pops and frees them (the VMM -> stack path).  Prints frames/s
 * for both and the ratio.
 *
 *   ring_bench [frames_per_producer] [runs]
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/frame.h"
#include "lib/ring.h"

#define CAPACITY 1024

/* The baseline: what a straightforward locked bounded queue costs. */
struct locked_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void *items[CAPACITY];
    size_t head, count;
};

static void lq_push(struct locked_queue *q, void *it)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == CAPACITY)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->items[(q->head + q->count++) % CAPACITY] = it;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void *lq_pop(struct locked_queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    void *it = q->items[q->head];
    q->head = (q->head + 1) % CAPACITY;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return it;
}

struct bench {
    int use_ring;
    struct msb_ring ring;
    struct locked_queue lq;
    unsigned long per_producer;
};

static void *produce(void *arg)
{
    struct bench *b = arg;
    static const uint8_t payload[64];
    for (unsigned long i = 0; i < b->per_producer; i++) {
        struct msb_frame *f = msb_frame_new(payload, sizeof payload);
        if (b->use_ring) {
            while (!msb_ring_push(&b->ring, f))
                sched_yield();
        } else {
            lq_push(&b->lq, f);
        }
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(int use_ring, unsigned producers, unsigned long per_producer)
{
    struct bench b = {.use_ring = use_ring, .per_producer = per_producer};
    msb_ring_init(&b.ring, CAPACITY);
    pthread_mutex_init(&b.lq.mu, NULL);
    pthread_cond_init(&b.lq.not_empty, NULL);
    pthread_cond_init(&b.lq.not_full, NULL);
    pthread_t t[16];
    double t0 = now_s();
    for (unsigned i = 0; i < producers; i++)
        pthread_create(&t[i], NULL, produce, &b);
    unsigned long total = per_producer * producers;
    for (unsigned long got = 0; got < total;) {
        struct msb_frame *f = use_ring ? msb_ring_pop(&b.ring) : lq_pop(&b.lq);
        if (!f) {
            sched_yield();
            continue;
        }
        msb_frame_free(f);
        got++;
    }
    for (unsigned i = 0; i < producers; i++)
        pthread_join(t[i], NULL);
    double secs = now_s() - t0;
    msb_ring_destroy(&b.ring);
    return (double)total / secs;
}

static double best_of(int use_ring, unsigned producers, unsigned long n, int runs)
{
    double best = 0;
    for (int i = 0; i < runs; i++) {
        double r = run(use_ring, producers, n);
        if (r > best)
            best = r;
    }
    return best;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    printf("%-10s %16s %16s %8s\n", "producers", "ring frames/s", "mutex frames/s", "ratio");
    static const unsigned producer_counts[] = {1, 4};
    for (size_t i = 0; i < 2; i++) {
        unsigned p = producer_counts[i];
        double ring = best_of(1, p, n / p, runs);
        double locked = best_of(0, p, n / p, runs);
        printf("%-10u %16.0f %16.0f %7.2fx\n", p, ring, locked, ring / locked);
    }
    return 0;
}
