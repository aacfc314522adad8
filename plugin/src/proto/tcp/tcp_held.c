/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest bytes lwIP holds for a flow, inside tcp_buffer_max_bytes.
 *
 * Guest data waits in two places: in the flow's to_host queue (ours,
 * tcp.buffered_bytes) and inside lwIP, where the out-of-order queue and a
 * refused delivery stay until the gap fills or we take them.  With 2 MiB
 * windows (scale 6) lwIP would keep up to 2 MiB of out-of-order data per
 * flow, so a guest opening many flows and leaving a one-byte hole in each
 * could make msbnetd hold flows x 2 MiB outside any budget.  So lwIP's
 * share is counted too (tcp.lwip_held_bytes, re-read after each segment it
 * takes for the flow), and the edge decides before lwIP sees a segment:
 *   - out of order: queued only while both shares plus it fit the budget
 *     (and the queue has fewer than OOSEQ_MAX segments);
 *   - in order, past the budget: taken while it is at most the MSS and
 *     lwIP holds no refused delivery for the flow (with one, lwIP drops new
 *     data itself).  It may fill a hole: the queue behind it is counted
 *     already, and must be able to leave, or flows whose queues fill the
 *     budget would wait for each other forever.
 * A dropped segment is sent again by the guest: its window is not moved.
 * Each flow then adds at most a segment beyond the budget on each side.
 * The share is re-read when lwIP takes a segment or hands us a refused
 * delivery; lwIP dropping a queue on its own timeout is seen at the flow's
 * next segment or release, and until then only makes the budget stricter.
 */
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "proto/tcp/tcp_int.h"

static uint32_t lwip_share(const struct tcp_flow *f)
{
    const struct tcp_pcb *pcb = msb_tcp_flow_live_pcb(f);
    if (!pcb)
        return 0;
    uint32_t n = pcb->refused_data ? pcb->refused_data->tot_len : 0;
    for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next)
        n += s->p->tot_len;
    return n;
}

void msb_tcp_held_sync(struct msb_tcp *t, struct tcp_flow *f)
{
    uint32_t now = lwip_share(f);
    if (now == f->lw_held)
        return;
    if (now > f->lw_held)
        msb_count(&t->m->lwip_held_bytes, now - f->lw_held);
    else
        atomic_fetch_sub_explicit(&t->m->lwip_held_bytes, f->lw_held - now, memory_order_relaxed);
    f->lw_held = now;
}

void msb_tcp_held_forget(struct msb_tcp *t, struct tcp_flow *f)
{
    atomic_fetch_sub_explicit(&t->m->lwip_held_bytes, f->lw_held, memory_order_relaxed);
    f->lw_held = 0;
}

uint64_t msb_tcp_held_total(const struct msb_tcp *t)
{
    return msb_read(&t->m->buffered_bytes) + msb_read(&t->m->lwip_held_bytes);
}

static unsigned ooseq_segments(const struct tcp_pcb *pcb)
{
    unsigned n = 0;
    for (const struct tcp_seg *s = pcb->ooseq; s && n < OOSEQ_MAX; s = s->next)
        n++;
    return n;
}

bool msb_tcp_held_admit(struct msb_tcp *t, const struct tcp_flow *f, uint32_t seq, uint32_t len)
{
    const struct tcp_pcb *pcb = f->pcb;
    if (!len)
        return true;
    bool ooseq = TCP_SEQ_GT(seq, pcb->rcv_nxt);
    if (ooseq && ooseq_segments(pcb) >= OOSEQ_MAX) {
        msb_count(&t->m->ooseq_dropped, 1);
        return false;
    }
    if (msb_tcp_held_total(t) + len <= t->env->cfg->tcp_buffer_max_bytes)
        return true;
    if (ooseq) {
        msb_count(&t->m->ooseq_dropped, 1);
        return false;
    }
    /* While lwIP holds a refused delivery it drops new data itself. */
    if (pcb->refused_data || len > pcb->mss) {
        msb_count(&t->m->budget_dropped, 1);
        return false;
    }
    return true;
}
