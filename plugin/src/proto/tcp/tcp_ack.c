/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACKs toward the guest held briefly, so the host's reply can carry them.
 *
 * lwIP acknowledges every second segment at once and leaves the odd one
 * for its delayed-ACK timer (up to 250 ms: it would stall a guest's small
 * writes).  Sending that ACK at the end of the batch instead cost a frame
 * per request: a guest asking and the host answering within microseconds
 * got a bare ACK and then the answer, two frames to write and two for the
 * guest's kernel to take where a Linux peer sends one.  So the pending
 * ACK of a flow that answers requests (host bytes went to the guest since
 * its last data) waits ACK_HOLD_US on one stack-wide timer: a reply sent
 * meanwhile carries it (lwIP then clears TF_ACK_DELAY), otherwise the
 * timer sends it.  A guest that waits for the ACK (Nagle with a small
 * write outstanding) waits about a millisecond, not 250 (nor Linux's 40).
 * A flow that only takes guest data (an upload) is ACKed at batch end as
 * before: the end of each of its bursts waits for that ACK, and a held
 * one, late on a loaded machine, would set off the guest's tail-loss
 * probe (2 x RTT + 2 jiffies): a retransmission for nothing.
 */
#include <event2/event.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "proto/tcp/tcp_int.h"

#define ACK_HOLD_US 1000

static void ack_now(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_env_rx_room(t->env, 1)) {
        tcp_ack_now(f->pcb);
        tcp_output(f->pcb);
    } else {
        msb_tcp_flow_mark_room(t, f);
    }
}

static void send_held(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->state == FLOW_FREE || !msb_tcp_flow_live_pcb(f))
        return;
    if (!(f->pcb->flags & TF_ACK_DELAY))
        return; /* a reply carried it */
    msb_count(&t->m->acks_bare, 1);
    ack_now(t, f);
}

static void on_ack_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_tcp *t = arg;
    while (t->ack_head != FLOW_NONE) {
        struct tcp_flow *f = &t->flows[t->ack_head];
        t->ack_head = f->ack_next;
        msb_tcp_flow_arm(f, ARM_ACK_LIST, false);
        send_held(t, f);
    }
    msb_tcp_gro_flush(t);
}

void msb_tcp_ack_send(struct msb_tcp *t, struct tcp_flow *f)
{
    if (!f->answered) {
        ack_now(t, f);
        return;
    }
    f->answered = false;
    if (msb_tcp_flow_armed(f, ARM_ACK_LIST))
        return;
    msb_tcp_flow_arm(f, ARM_ACK_LIST, true);
    msb_count(&t->m->acks_held, 1);
    f->ack_next = t->ack_head;
    t->ack_head = msb_tcp_nat_slot(t, f);
    if (!evtimer_pending(t->ack_ev, NULL)) {
        struct timeval tv = {0, ACK_HOLD_US};
        evtimer_add(t->ack_ev, &tv);
    }
}

int msb_tcp_ack_init(struct msb_tcp *t)
{
    t->ack_head = FLOW_NONE;
    t->ack_ev = evtimer_new(t->env->base, on_ack_timer, t);
    return t->ack_ev ? 0 : -1;
}

void msb_tcp_ack_free(struct msb_tcp *t)
{
    if (t->ack_ev)
        event_free(t->ack_ev);
    t->ack_ev = NULL;
}
