/* SPDX-License-Identifier: Apache-2.0 */
/* Termination hook: counting, install / replace / remove, the promise that
 * msb_hook_set returns only once the old callback has stopped running on
 * other threads, and changing the hook from inside a call of it (alone, and
 * while other threads are inside it too) without deadlock.  Built with TSan
 * too, so it uses only hook.c (no other plugin code). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cunit_main.h"
#include "lib/hook.h"

#define TRIGGERS_PER_THREAD 10000u
#define TRIGGER_THREADS 4
#define WATCHDOG_S 10

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What one installed callback saw. */
struct probe {
    atomic_uint calls;
    atomic_bool running;
    atomic_bool reentered; /* set if a call started while another ran */
    char last_reason[64];
    void *last_user;
};

static void probe_fn(void *user, const char *reason)
{
    struct probe *p = user;
    p->last_user = user;
    strncpy(p->last_reason, reason, sizeof p->last_reason - 1);
    atomic_fetch_add(&p->calls, 1);
}

/* Safe to call from several threads at once (touches only an atomic). */
static void count_fn(void *user, const char *reason)
{
    (void)reason;
    atomic_fetch_add(&((struct probe *)user)->calls, 1);
}

static void test_no_hook_is_noop(void)
{
    struct msb_hook h;
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    CU_ASSERT_EQUAL(msb_hook_count(&h), 0);
    msb_hook_trigger(&h, "{\"why\":\"x\"}");
    msb_hook_trigger(&h, NULL);
    CU_ASSERT_EQUAL(msb_hook_count(&h), 2);
    msb_hook_destroy(&h);
}

static void test_hook_gets_user_and_reason(void)
{
    struct msb_hook h;
    struct probe a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, probe_fn, &a);
    msb_hook_trigger(&h, "{\"rule\":7}");
    CU_ASSERT_EQUAL(atomic_load(&a.calls), 1);
    CU_ASSERT_PTR_EQUAL(a.last_user, &a);
    CU_ASSERT_STRING_EQUAL(a.last_reason, "{\"rule\":7}");
    /* A NULL reason reaches the callback as an empty JSON object. */
    msb_hook_trigger(&h, NULL);
    CU_ASSERT_STRING_EQUAL(a.last_reason, "{}");
    CU_ASSERT_EQUAL(msb_hook_count(&h), 2);
    msb_hook_destroy(&h);
}

static void test_replace_calls_only_new(void)
{
    struct msb_hook h;
    struct probe a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, probe_fn, &a);
    msb_hook_trigger(&h, "one");
    msb_hook_set(&h, probe_fn, &b); /* same fn, new user: still a replacement */
    msb_hook_trigger(&h, "two");
    CU_ASSERT_EQUAL(atomic_load(&a.calls), 1);
    CU_ASSERT_EQUAL(atomic_load(&b.calls), 1);
    CU_ASSERT_STRING_EQUAL(b.last_reason, "two");
    CU_ASSERT_PTR_EQUAL(b.last_user, &b);
    msb_hook_destroy(&h);
}

static void test_removed_hook_not_called(void)
{
    struct msb_hook h;
    struct probe a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, probe_fn, &a);
    msb_hook_set(&h, NULL, NULL);
    msb_hook_trigger(&h, "x");
    CU_ASSERT_EQUAL(atomic_load(&a.calls), 0);
    CU_ASSERT_EQUAL(msb_hook_count(&h), 1);
    msb_hook_destroy(&h);
}

/* ---- replacing while another thread is inside the old hook -------------- */

static void slow_fn(void *user, const char *reason)
{
    struct probe *p = user;
    (void)reason;
    if (atomic_exchange(&p->running, true))
        atomic_store(&p->reentered, true);
    atomic_fetch_add(&p->calls, 1);
    sleep_ms(1);
    atomic_store(&p->running, false);
}

struct trigger_loop {
    struct msb_hook *h;
    atomic_bool stop;
};

static void *trigger_loop(void *arg)
{
    struct trigger_loop *t = arg;
    while (!atomic_load(&t->stop))
        msb_hook_trigger(t->h, "loop");
    return NULL;
}

static void wait_calls(struct probe *p, unsigned n)
{
    for (int i = 0; i < 5000 && atomic_load(&p->calls) < n; i++)
        sleep_ms(1);
}

/* One round: A is being called in a loop; set(B) must return only once A is
 * no longer running, and A must never be called afterwards. */
static void replace_round(struct msb_hook *h, struct probe *a, struct probe *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    msb_hook_set(h, slow_fn, a);
    struct trigger_loop t = {.h = h};
    pthread_t th;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, trigger_loop, &t) == 0);
    wait_calls(a, 3);
    msb_hook_set(h, slow_fn, b);
    bool a_running = atomic_load(&a->running);
    unsigned a_calls = atomic_load(&a->calls);
    wait_calls(b, 3); /* give the loop time to call A again if it could */
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    CU_ASSERT_FALSE(a_running);
    CU_ASSERT(a_calls >= 3);
    CU_ASSERT_EQUAL(atomic_load(&a->calls), a_calls);
    CU_ASSERT(atomic_load(&b->calls) >= 3);
    CU_ASSERT_FALSE(atomic_load(&a->reentered));
}

static void test_replace_while_triggering(void)
{
    struct msb_hook h;
    struct probe a, b;
    alarm(WATCHDOG_S);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    for (int round = 0; round < 10; round++)
        replace_round(&h, &a, &b);
    msb_hook_destroy(&h);
    alarm(0);
}

/* Removal gives the same promise as replacement. */
static void test_remove_while_triggering(void)
{
    struct msb_hook h;
    struct probe a;
    memset(&a, 0, sizeof a);
    alarm(WATCHDOG_S);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, slow_fn, &a);
    struct trigger_loop t = {.h = &h};
    pthread_t th;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, trigger_loop, &t) == 0);
    wait_calls(&a, 3);
    msb_hook_set(&h, NULL, NULL);
    CU_ASSERT_FALSE(atomic_load(&a.running));
    unsigned calls = atomic_load(&a.calls);
    uint64_t count = msb_hook_count(&h);
    for (int i = 0; i < 200 && msb_hook_count(&h) < count + 100; i++)
        sleep_ms(1);
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    CU_ASSERT(msb_hook_count(&h) >= count + 100); /* the loop kept triggering */
    CU_ASSERT_EQUAL(atomic_load(&a.calls), calls);
    msb_hook_destroy(&h);
    alarm(0);
}

/* ---- a hook that changes the hook from inside its own call ------------- */

struct self_ctx {
    struct msb_hook *h;
    struct probe next;
    atomic_uint calls;
    bool remove; /* remove instead of replacing */
};

static void self_fn(void *user, const char *reason)
{
    struct self_ctx *c = user;
    (void)reason;
    atomic_fetch_add(&c->calls, 1);
    if (c->remove)
        msb_hook_set(c->h, NULL, NULL);
    else
        msb_hook_set(c->h, probe_fn, &c->next);
}

static void check_self_change(bool remove)
{
    struct msb_hook h;
    static struct self_ctx c;
    memset(&c, 0, sizeof c);
    c.h = &h;
    c.remove = remove;
    alarm(WATCHDOG_S); /* a deadlock kills the run instead of hanging it */
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, self_fn, &c);
    msb_hook_trigger(&h, "first");
    msb_hook_trigger(&h, "second");
    CU_ASSERT_EQUAL(atomic_load(&c.calls), 1);
    CU_ASSERT_EQUAL(atomic_load(&c.next.calls), remove ? 0 : 1);
    CU_ASSERT_EQUAL(msb_hook_count(&h), 2);
    msb_hook_destroy(&h);
    alarm(0);
}

static void test_hook_replaces_itself(void)
{
    check_self_change(false);
}

static void test_hook_removes_itself(void)
{
    check_self_change(true);
}

/* A hook that triggers again from inside itself and then replaces itself:
 * the nesting depth must be counted, not just "inside or not". */
struct nested_ctx {
    struct msb_hook *h;
    struct probe next;
    atomic_uint depth, calls;
};

static void nested_fn(void *user, const char *reason)
{
    struct nested_ctx *c = user;
    (void)reason;
    atomic_fetch_add(&c->calls, 1);
    if (atomic_fetch_add(&c->depth, 1) == 0)
        msb_hook_trigger(c->h, "inner");
    else
        msb_hook_set(c->h, probe_fn, &c->next);
}

static void test_nested_trigger_then_replace(void)
{
    struct msb_hook h;
    static struct nested_ctx c;
    memset(&c, 0, sizeof c);
    c.h = &h;
    alarm(WATCHDOG_S);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, nested_fn, &c);
    msb_hook_trigger(&h, "outer");
    CU_ASSERT_EQUAL(atomic_load(&c.calls), 2);
    msb_hook_trigger(&h, "after");
    CU_ASSERT_EQUAL(atomic_load(&c.calls), 2);
    CU_ASSERT_EQUAL(atomic_load(&c.next.calls), 1);
    CU_ASSERT_EQUAL(msb_hook_count(&h), 3);
    msb_hook_destroy(&h);
    alarm(0);
}

/* ---- self-change while the hook also runs on another thread ---------- */

/* These can deadlock if the hook's bookkeeping is wrong.  Rather than let
 * the watchdog kill the whole suite, the triggering runs on helper threads
 * and the test waits a bounded time for them; a thread still stuck is
 * detached and left behind (its hook and context are static so they stay
 * valid), and the test fails. */
#define STUCK_AFTER_MS 1000 /* the calls involved take at most ~0.4 s */

struct runner {
    struct msb_hook *h;
    const char *reason;
    atomic_bool done;
    pthread_t th;
};

static void *run_trigger(void *arg)
{
    struct runner *r = arg;
    msb_hook_trigger(r->h, r->reason);
    atomic_store(&r->done, true);
    return NULL;
}

static void start_runner(struct runner *r, struct msb_hook *h, const char *reason)
{
    r->h = h;
    r->reason = reason;
    atomic_store(&r->done, false);
    CU_ASSERT_FATAL(pthread_create(&r->th, NULL, run_trigger, r) == 0);
}

/* Joins r if it finishes within ms; otherwise detaches it, returns false. */
static bool finish_runner(struct runner *r, long ms)
{
    for (long waited = 0; !atomic_load(&r->done) && waited < ms; waited++)
        sleep_ms(1);
    if (!atomic_load(&r->done)) {
        pthread_detach(r->th);
        return false;
    }
    pthread_join(r->th, NULL);
    return true;
}

/* Self-replacement still waits for the same hook running on *another*
 * thread: when the inner set returns, the other call has finished. */
struct waiter_ctx {
    struct msb_hook *h;
    struct probe next;
    atomic_bool slow_running, slow_done, other_done_at_return;
    atomic_uint calls;
};

static void waiter_fn(void *user, const char *reason)
{
    struct waiter_ctx *c = user;
    if (strcmp(reason, "slow") == 0) {
        atomic_store(&c->slow_running, true);
        sleep_ms(50);
        atomic_store(&c->slow_done, true);
        return;
    }
    atomic_fetch_add(&c->calls, 1);
    msb_hook_set(c->h, probe_fn, &c->next);
    atomic_store(&c->other_done_at_return, atomic_load(&c->slow_done));
}

static void test_self_replace_waits_for_other_threads(void)
{
    static struct msb_hook h;
    static struct waiter_ctx c;
    static struct runner slow, fast;
    memset(&c, 0, sizeof c);
    c.h = &h;
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, waiter_fn, &c);
    start_runner(&slow, &h, "slow");
    while (!atomic_load(&c.slow_running))
        sleep_ms(1);
    start_runner(&fast, &h, "fast");
    CU_ASSERT_FATAL(finish_runner(&slow, STUCK_AFTER_MS));
    /* The slow call ended 50 ms in; the fast one's set must then return. */
    if (!finish_runner(&fast, STUCK_AFTER_MS)) {
        CU_FAIL("msb_hook_set inside the hook never returned after the other call ended");
        return; /* h is still in use by the stuck thread: leave it */
    }
    CU_ASSERT(atomic_load(&c.other_done_at_return));
    msb_hook_trigger(&h, "fast");
    CU_ASSERT_EQUAL(atomic_load(&c.calls), 1);
    CU_ASSERT_EQUAL(atomic_load(&c.next.calls), 1);
    msb_hook_destroy(&h);
}

/* A one-shot hook (removes itself, then acts) hit by two violations at
 * once: both calls are inside the hook when both remove it.  Each set may
 * not wait for the other, or neither ever returns. */
struct oneshot_ctx {
    struct msb_hook *h;
    atomic_uint arrived, calls;
};

static void oneshot_fn(void *user, const char *reason)
{
    struct oneshot_ctx *c = user;
    (void)reason;
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&c->arrived, 1);
    /* Make the overlap certain: both threads are inside before either
     * removes the hook (bounded, so a missing partner cannot hang us). */
    for (int i = 0; i < 2000 && atomic_load(&c->arrived) < 2; i++)
        sleep_ms(1);
    msb_hook_set(c->h, NULL, NULL);
}

static void test_two_threads_remove_hook_from_inside(void)
{
    static struct msb_hook h;
    static struct oneshot_ctx c;
    static struct runner r1, r2;
    memset(&c, 0, sizeof c);
    c.h = &h;
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, oneshot_fn, &c);
    start_runner(&r1, &h, "one");
    start_runner(&r2, &h, "two");
    bool ok1 = finish_runner(&r1, STUCK_AFTER_MS);
    bool ok2 = finish_runner(&r2, ok1 ? STUCK_AFTER_MS : 10); /* already waited */
    CU_ASSERT_EQUAL(atomic_load(&c.arrived), 2);
    if (!ok1 || !ok2) {
        CU_FAIL("two concurrent self-removing hook calls deadlocked in msb_hook_set");
        return; /* h is still in use by the stuck threads: leave it */
    }
    msb_hook_trigger(&h, "after");
    CU_ASSERT_EQUAL(atomic_load(&c.calls), 2);
    msb_hook_destroy(&h);
}

/* An outside set waits for *every* call of the old hook, including one
 * that is itself inside msb_hook_set (parked while it waits for a third,
 * slow call): when the outside set returns, that call has run to its end. */
struct outside_ctx {
    struct msb_hook *h;
    struct probe next, last;
    atomic_bool slow_running, self_started, self_done, self_done_at_return;
};

static void outside_fn(void *user, const char *reason)
{
    struct outside_ctx *c = user;
    if (strcmp(reason, "slow") == 0) {
        atomic_store(&c->slow_running, true);
        sleep_ms(300);
        return;
    }
    atomic_store(&c->self_started, true);
    msb_hook_set(c->h, count_fn, &c->next); /* waits for the slow call */
    sleep_ms(20); /* the old hook's code still running after its set */
    atomic_store(&c->self_done, true);
}

struct set_runner {
    struct outside_ctx *c;
    atomic_bool done;
    pthread_t th;
};

static void *run_outside_set(void *arg)
{
    struct set_runner *r = arg;
    msb_hook_set(r->c->h, count_fn, &r->c->last);
    atomic_store(&r->c->self_done_at_return, atomic_load(&r->c->self_done));
    atomic_store(&r->done, true);
    return NULL;
}

static void test_outside_set_waits_for_self_setting_call(void)
{
    static struct msb_hook h;
    static struct outside_ctx c;
    static struct runner slow, self;
    static struct set_runner setter;
    memset(&c, 0, sizeof c);
    c.h = &h;
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, outside_fn, &c);
    start_runner(&slow, &h, "slow");
    while (!atomic_load(&c.slow_running))
        sleep_ms(1);
    start_runner(&self, &h, "self");
    while (!atomic_load(&c.self_started))
        sleep_ms(1);
    sleep_ms(50); /* let it reach its wait inside msb_hook_set */
    setter.c = &c;
    atomic_store(&setter.done, false);
    CU_ASSERT_FATAL(pthread_create(&setter.th, NULL, run_outside_set, &setter) == 0);
    bool ok = finish_runner(&slow, STUCK_AFTER_MS) && finish_runner(&self, STUCK_AFTER_MS);
    for (int i = 0; ok && i < STUCK_AFTER_MS && !atomic_load(&setter.done); i++)
        sleep_ms(1);
    if (!ok || !atomic_load(&setter.done)) {
        CU_FAIL("msb_hook_set deadlocked");
        return; /* threads still use h: leave it */
    }
    pthread_join(setter.th, NULL);
    CU_ASSERT(atomic_load(&c.self_done_at_return));
    /* Which of the two replacements landed last depends on scheduling;
     * either way exactly one of them is installed now. */
    msb_hook_trigger(&h, "after");
    CU_ASSERT_EQUAL(atomic_load(&c.last.calls) + atomic_load(&c.next.calls), 1);
    msb_hook_destroy(&h);
}

/* Two instances: X's hook triggers Y, and Y's hook removes X's hook.  The
 * X call in progress is on this very thread (further up the stack), so the
 * removal must not wait for it. */
struct cross_ctx {
    struct msb_hook x, y;
    atomic_uint x_calls, y_calls;
};

static void cross_y_fn(void *user, const char *reason)
{
    struct cross_ctx *c = user;
    (void)reason;
    atomic_fetch_add(&c->y_calls, 1);
    msb_hook_set(&c->x, NULL, NULL);
}

static void cross_x_fn(void *user, const char *reason)
{
    struct cross_ctx *c = user;
    (void)reason;
    atomic_fetch_add(&c->x_calls, 1);
    msb_hook_trigger(&c->y, "from x");
}

static void test_hook_removed_from_another_instances_hook(void)
{
    static struct cross_ctx c;
    static struct runner r;
    memset(&c, 0, sizeof c);
    CU_ASSERT_FATAL(msb_hook_init(&c.x) == 0);
    CU_ASSERT_FATAL(msb_hook_init(&c.y) == 0);
    msb_hook_set(&c.x, cross_x_fn, &c);
    msb_hook_set(&c.y, cross_y_fn, &c);
    start_runner(&r, &c.x, "go");
    if (!finish_runner(&r, STUCK_AFTER_MS)) {
        CU_FAIL("msb_hook_set waited for a call further up its own thread's stack");
        return; /* the hooks are still in use by the stuck thread */
    }
    CU_ASSERT_EQUAL(atomic_load(&c.x_calls), 1);
    CU_ASSERT_EQUAL(atomic_load(&c.y_calls), 1);
    msb_hook_trigger(&c.x, "again"); /* removed: not called */
    CU_ASSERT_EQUAL(atomic_load(&c.x_calls), 1);
    msb_hook_destroy(&c.x);
    msb_hook_destroy(&c.y);
}

/* ---- many triggers at once --------------------------------------------- */

static void *trigger_many(void *arg)
{
    for (unsigned i = 0; i < TRIGGERS_PER_THREAD; i++)
        msb_hook_trigger(arg, "many");
    return NULL;
}

static void test_concurrent_triggers_counted_exactly(void)
{
    struct msb_hook h;
    struct probe a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_FATAL(msb_hook_init(&h) == 0);
    msb_hook_set(&h, count_fn, &a);
    pthread_t th[TRIGGER_THREADS];
    for (int i = 0; i < TRIGGER_THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, trigger_many, &h) == 0);
    for (int i = 0; i < TRIGGER_THREADS; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(msb_hook_count(&h), (uint64_t)TRIGGER_THREADS * TRIGGERS_PER_THREAD);
    CU_ASSERT_EQUAL(atomic_load(&a.calls), TRIGGER_THREADS * TRIGGERS_PER_THREAD);
    msb_hook_destroy(&h);
}

static const struct test_case tests[] = {
    {"no hook: trigger is a counted no-op", test_no_hook_is_noop},
    {"hook receives user and reason", test_hook_gets_user_and_reason},
    {"replaced hook: only the new one is called", test_replace_calls_only_new},
    {"removed hook is not called", test_removed_hook_not_called},
    {"replace while another thread triggers", test_replace_while_triggering},
    {"remove while another thread triggers", test_remove_while_triggering},
    {"hook replaces itself without deadlock", test_hook_replaces_itself},
    {"hook removes itself without deadlock", test_hook_removes_itself},
    {"nested trigger then self-replace", test_nested_trigger_then_replace},
    {"self-replace waits for other threads", test_self_replace_waits_for_other_threads},
    {"two threads remove the hook from inside it", test_two_threads_remove_hook_from_inside},
    {"outside set waits for a self-setting call", test_outside_set_waits_for_self_setting_call},
    {"hook removed from inside another instance's hook",
     test_hook_removed_from_another_instances_hook},
    {"concurrent triggers counted exactly", test_concurrent_triggers_counted_exactly},
    {NULL, NULL},
};

int main(void)
{
    return cunit_run("hook", tests);
}
