/* SPDX-License-Identifier: Apache-2.0 */
/* Wake pipes, eventfd and pipe flavours: coalescing, never blocking, never
 * losing a wake across threads. */
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cunit_main.h"
#include "lib/ring.h"
#include "lib/wake.h"

#ifdef MSBNET_TSAN
#define HANDOFFS 20000u
#else
#define HANDOFFS 200000u
#endif

static bool readable(const struct msb_wake *w, int timeout_ms)
{
    struct pollfd p = {.fd = msb_wake_fd(w), .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void check_basic(enum msb_wake_kind kind)
{
    struct msb_wake w;
    CU_ASSERT_FATAL(msb_wake_init(&w, kind) == 0);
    CU_ASSERT_EQUAL(msb_wake_is_eventfd(&w), kind == MSB_WAKE_AUTO);
    CU_ASSERT_FALSE(readable(&w, 0));
    msb_wake_signal(&w);
    CU_ASSERT(readable(&w, 0));
    msb_wake_drain(&w);
    CU_ASSERT_FALSE(readable(&w, 0));
    msb_wake_close(&w);
}

static void test_basic_eventfd(void)
{
    check_basic(MSB_WAKE_AUTO);
}

static void test_basic_pipe(void)
{
    check_basic(MSB_WAKE_PIPE);
}

/* A million wakes without a drain: no call blocks (the test would hang),
 * the fd stays readable, and one drain empties it. */
static void check_never_fills(enum msb_wake_kind kind)
{
    struct msb_wake w;
    CU_ASSERT_FATAL(msb_wake_init(&w, kind) == 0);
    for (int i = 0; i < 1000000; i++)
        msb_wake_signal(&w);
    CU_ASSERT(readable(&w, 0));
    msb_wake_drain(&w);
    CU_ASSERT_FALSE(readable(&w, 0));
    /* and it still works afterwards */
    msb_wake_signal(&w);
    CU_ASSERT(readable(&w, 0));
    msb_wake_close(&w);
}

static void test_never_fills_eventfd(void)
{
    check_never_fills(MSB_WAKE_AUTO);
}

/* Defeat coalescing to fill a real pipe: drain between signals does not
 * read the fd, so write until the kernel buffer is full. */
static void test_pipe_full_buffer_does_not_block(void)
{
    struct msb_wake w;
    CU_ASSERT_FATAL(msb_wake_init(&w, MSB_WAKE_PIPE) == 0);
    for (int i = 0; i < 200000; i++) {
        atomic_store(&w.pending, 0); /* force a write every time */
        msb_wake_signal(&w);
    }
    CU_ASSERT(readable(&w, 0));
    msb_wake_drain(&w);
    CU_ASSERT_FALSE(readable(&w, 0));
    msb_wake_close(&w);
}

/* Coalescing: a burst of signals costs one write, so after the first, the
 * fd holds exactly one wake (eventfd counter 1). */
static void test_coalesces(void)
{
    struct msb_wake w;
    CU_ASSERT_FATAL(msb_wake_init(&w, MSB_WAKE_AUTO) == 0);
    for (int i = 0; i < 1000; i++)
        msb_wake_signal(&w);
    uint64_t v = 0;
    CU_ASSERT_EQUAL(read(msb_wake_fd(&w), &v, sizeof v), (ssize_t)sizeof v);
    CU_ASSERT_EQUAL(v, 1);
    msb_wake_close(&w);
}

/* The real protocol across threads: the producer pushes then signals; the
 * consumer sleeps in poll (with a long timeout that must never expire),
 * drains, then pops everything.  Every item must arrive. */
struct handoff {
    struct msb_ring ring;
    struct msb_wake wake;
    atomic_bool done;
};

static void *handoff_producer(void *arg)
{
    struct handoff *h = arg;
    for (uintptr_t i = 1; i <= HANDOFFS; i++) {
        while (!msb_ring_push(&h->ring, (void *)i))
            sched_yield();
        msb_wake_signal(&h->wake);
    }
    atomic_store(&h->done, true);
    return NULL;
}

static void check_no_lost_wake(enum msb_wake_kind kind)
{
    struct handoff h;
    CU_ASSERT_FATAL(msb_ring_init(&h.ring, 64) == 0);
    CU_ASSERT_FATAL(msb_wake_init(&h.wake, kind) == 0);
    atomic_init(&h.done, false);
    pthread_t t;
    pthread_create(&t, NULL, handoff_producer, &h);
    uintptr_t expect = 1;
    unsigned timeouts = 0;
    while (expect <= HANDOFFS) {
        if (!readable(&h.wake, 5000)) {
            timeouts++; /* a lost wake: the producer signalled, poll never saw it */
            break;
        }
        msb_wake_drain(&h.wake);
        void *it;
        while ((it = msb_ring_pop(&h.ring)) != NULL) {
            CU_ASSERT_EQUAL((uintptr_t)it, expect);
            expect++;
        }
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(timeouts, 0);
    CU_ASSERT_EQUAL(expect, HANDOFFS + 1);
    msb_wake_close(&h.wake);
    msb_ring_destroy(&h.ring);
}

static void test_no_lost_wake_eventfd(void)
{
    check_no_lost_wake(MSB_WAKE_AUTO);
}

static void test_no_lost_wake_pipe(void)
{
    check_no_lost_wake(MSB_WAKE_PIPE);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"eventfd_signal_drain", test_basic_eventfd},
        {"pipe_signal_drain", test_basic_pipe},
        {"eventfd_never_fills", test_never_fills_eventfd},
        {"pipe_full_buffer_does_not_block", test_pipe_full_buffer_does_not_block},
        {"burst_coalesces_to_one_wake", test_coalesces},
        {"no_lost_wake_across_threads_eventfd", test_no_lost_wake_eventfd},
        {"no_lost_wake_across_threads_pipe", test_no_lost_wake_pipe},
        {NULL, NULL},
    };
    return cunit_run("wake", tests);
}
