/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte rate limits on TCP (proto/limits.h): a flow that finds its bucket
 * empty is paused, never dropped.  Egress: its guest bytes stay queued and
 * lwIP's window stays closed (tcp_recved runs only as bytes are written);
 * ingress: its host socket is not read, so the host's window closes.  The
 * paused flows of a direction wait on one list, and one timer per direction
 * fires when the bucket has refilled enough to be worth a turn, then gives
 * each paused flow its turn again.
 */
#include <event2/event.h>

#include "lib/clock.h"
#include "proto/tcp/tcp_int.h"

/* A paused flow waits for at least this many tokens (or the burst, when
 * smaller): waking for a few bytes would cost more than it moves. */
#define RESUME_CHUNK 16384u

static struct msb_tbucket *bucket(struct msb_tcp *t, enum tcp_dir dir)
{
    return &t->env->limiter.b[dir == DIR_EGRESS ? MSB_LIMIT_EGRESS : MSB_LIMIT_INGRESS];
}

static unsigned pend_bit(enum tcp_dir dir)
{
    return dir == DIR_EGRESS ? PEND_EGRESS : PEND_INGRESS;
}

static unsigned list_bit(enum tcp_dir dir)
{
    return dir == DIR_EGRESS ? ARM_EGRESS_LIST : ARM_INGRESS_LIST;
}

/* Time some flow waited on this bucket, into the bucket and the metric. */
static void note_wait(struct msb_tcp *t, enum tcp_dir dir, uint64_t now_ns)
{
    struct tcp_throttle *th = &t->thr[dir];
    struct msb_tbucket *b = bucket(t, dir);
    uint64_t before = b->throttled_ns / 1000000u;
    msb_tb_note_wait(b, now_ns - th->since_ns);
    th->since_ns = now_ns;
    struct msb_limits_metrics *m = &t->env->metrics->limits;
    msb_count(dir == DIR_EGRESS ? &m->egress_throttled_ms : &m->ingress_throttled_ms,
              b->throttled_ns / 1000000u - before);
}

static void arm(struct msb_tcp *t, enum tcp_dir dir, size_t want, uint64_t now_ns)
{
    uint64_t ns = msb_tb_wait_ns(bucket(t, dir), want < RESUME_CHUNK ? want : RESUME_CHUNK,
                                 now_ns);
    struct timeval tv = {(time_t)(ns / 1000000000u), (suseconds_t)(ns % 1000000000u / 1000u)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1; /* tokens already there: a turn on the next loop pass */
    event_add(t->thr[dir].ev, &tv);
}

static void pause_flow(struct msb_tcp *t, struct tcp_flow *f, enum tcp_dir dir, size_t want)
{
    struct tcp_throttle *th = &t->thr[dir];
    uint64_t now = msb_now_ns();
    struct msb_limits_metrics *m = &t->env->metrics->limits;
    msb_count(dir == DIR_EGRESS ? &m->egress_paused : &m->ingress_paused, 1);
    if (th->head == FLOW_NONE)
        th->since_ns = now;
    msb_tcp_flow_pend(f, pend_bit(dir), true);
    if (!msb_tcp_flow_armed(f, list_bit(dir))) {
        msb_tcp_flow_arm(f, list_bit(dir), true);
        f->thr_next[dir] = th->head;
        th->head = msb_tcp_nat_slot(t, f);
    }
    if (!evtimer_pending(th->ev, NULL))
        arm(t, dir, want, now);
}

size_t msb_tcp_thr_grant(struct msb_tcp *t, struct tcp_flow *f, enum tcp_dir dir, size_t want)
{
    if (!msb_limit_on(&t->env->limiter, dir == DIR_EGRESS ? MSB_LIMIT_EGRESS : MSB_LIMIT_INGRESS))
        return want;
    if (msb_tcp_flow_pending(f, pend_bit(dir)))
        return 0; /* already waiting its turn: no jumping the queue */
    /* Below a chunk's worth the flow waits for one: granting the few bytes
     * that trickle in between two calls would make each write tiny and
     * turn the relay into a busy loop. */
    struct msb_tbucket *b = bucket(t, dir);
    uint64_t now = msb_now_ns();
    if (msb_tb_wait_ns(b, want < RESUME_CHUNK ? want : RESUME_CHUNK, now)) {
        pause_flow(t, f, dir, want);
        return 0;
    }
    return (size_t)msb_tb_grant(b, want, now);
}

void msb_tcp_thr_refund(struct msb_tcp *t, enum tcp_dir dir, size_t n)
{
    if (n)
        msb_tb_refund(bucket(t, dir), n);
}

/* Every paused flow of DIR gets a turn; those that find the bucket empty
 * again go back on the (new) list. */
static void resume_all(struct msb_tcp *t, enum tcp_dir dir)
{
    struct tcp_throttle *th = &t->thr[dir];
    if (th->head == FLOW_NONE)
        return;
    note_wait(t, dir, msb_now_ns());
    uint32_t i = th->head;
    th->head = FLOW_NONE;
    while (i != FLOW_NONE) {
        struct tcp_flow *f = &t->flows[i];
        i = f->thr_next[dir];
        msb_tcp_flow_arm(f, list_bit(dir), false);
        if (f->state == FLOW_FREE || !msb_tcp_flow_pending(f, pend_bit(dir)))
            continue;
        msb_tcp_flow_pend(f, pend_bit(dir), false);
        if (dir == DIR_EGRESS)
            msb_tcp_proxy_egress_resume(t, f);
        else
            msb_tcp_proxy_ingress_resume(t, f);
    }
    msb_tcp_gro_flush(t);
}

static void on_egress(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resume_all(arg, DIR_EGRESS);
}

static void on_ingress(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resume_all(arg, DIR_INGRESS);
}

void msb_tcp_limits_changed(struct msb_tcp *t)
{
    for (int d = 0; d < 2; d++) {
        event_del(t->thr[d].ev);
        resume_all(t, (enum tcp_dir)d);
    }
}

int msb_tcp_thr_init(struct msb_tcp *t)
{
    t->thr[DIR_EGRESS] = (struct tcp_throttle){.head = FLOW_NONE};
    t->thr[DIR_INGRESS] = (struct tcp_throttle){.head = FLOW_NONE};
    t->thr[DIR_EGRESS].ev = evtimer_new(t->env->base, on_egress, t);
    t->thr[DIR_INGRESS].ev = evtimer_new(t->env->base, on_ingress, t);
    return t->thr[DIR_EGRESS].ev && t->thr[DIR_INGRESS].ev ? 0 : -1;
}

void msb_tcp_thr_free(struct msb_tcp *t)
{
    for (int d = 0; d < 2; d++) {
        if (t->thr[d].ev)
            event_free(t->thr[d].ev);
        t->thr[d].ev = NULL;
    }
}
