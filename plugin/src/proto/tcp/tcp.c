/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest TCP segments in: admission of new flows at SYN time, dispatch to
 * lwIP, the end-of-batch work, and the flow life cycle (start, release;
 * its states are tcp_state.c's).
 *
 * A SYN for a new tuple: policy first (deny -> RST at once), then the
 * connections rate limit and the flow cap (-> RST), then the host connect starts and the SYN is held; lwIP
 * sees nothing until the host accepted (tcp_proxy.c).  A non-SYN segment
 * for no flow is answered RST, like a closed port.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "lib/clock.h"
#include "lib/pkt_build.h"
#include "proto/enforce.h"
#include "proto/tcp/tcp_int.h"

/* ---- start and release ---------------------------------------------------- */

void msb_tcp_flow_reset(struct tcp_flow *f)
{
    f->pcb = NULL;
    f->fd = -1;
    f->rd = f->wr = f->tmr = NULL;
    /* The one place the sets are written past their changers: what they
     * held was the slot's last flow's (its list places excepted). */
    f->events = 0;
    f->pending = 0;
    msb_tcp_flow_arm(f, ARM_RD | ARM_WR, false);
    f->syn_len = 0;
    f->isn = 0;
    f->answered = false;
    f->last_active_ms = msb_now_ms();
}

/* Called once per flow, when its pcb and its fd are both gone. */
void msb_tcp_flow_release(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->state == FLOW_FREE)
        return;
    if (f->tmr)
        event_free(f->tmr);
    f->tmr = NULL;
    msb_tcp_upproxy_free(f);
    msb_tcp_tls_free(f);
    msb_tcp_pscan_free(f);
    if (f->to_host)
        pbuf_free(f->to_host);
    f->to_host = f->to_host_tail = NULL;
    atomic_fetch_sub_explicit(&t->m->buffered_bytes, f->to_host_len, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->m->unacked_bytes, f->unacked, memory_order_relaxed);
    msb_tcp_held_forget(t, f);
    f->to_host_len = 0;
    f->unacked = 0;
    f->tail_room = 0;
    /* Work for the flow dies with it; a walk meeting the slot skips it. */
    msb_tcp_flow_pend(f, PEND_ACK | PEND_REAP | PEND_ROOM | PEND_SNI | PEND_EGRESS | PEND_INGRESS |
                             PEND_TLS, false);
    if (f->inbound)
        atomic_fetch_sub_explicit(&t->env->metrics->inbound.tcp_open, 1, memory_order_relaxed);
    f->inbound = false;
    if (msb_tcp_flow_saw(f, EVT_GUEST_FIN | EVT_HOST_EOF))
        msb_tcp_flow_ended(f, MSB_FR_END_FIN);
    msb_tcp_flow_ended(f, MSB_FR_END_CLOSED);
    if (f->rec)
        msb_flow_close(t->env, &f->rec, f->rec->end);
    msb_tcp_flow_set_state(t, f, FLOW_FREE);
    msb_tcp_nat_release(t, f);
}

void msb_tcp_flow_record(struct msb_tcp *t, struct tcp_flow *f, const struct msb_flow_ref *ref)
{
    f->rec = msb_flow_open(t->env, ref, MSB_FR_TCP);
    if (f->rec)
        f->rec->end = MSB_FR__ENDS;
}

/* ---- work lists (intrusive, by slot) ------------------------------------ */

void msb_tcp_flow_mark_batch(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_tcp_flow_armed(f, ARM_BATCH_LIST))
        return;
    msb_tcp_flow_arm(f, ARM_BATCH_LIST, true);
    f->batch_next = t->batch_head;
    t->batch_head = msb_tcp_nat_slot(t, f);
}

void msb_tcp_flow_mark_room(struct msb_tcp *t, struct tcp_flow *f)
{
    msb_tcp_flow_pend(f, PEND_ROOM, true);
    if (msb_tcp_flow_armed(f, ARM_ROOM_LIST))
        return;
    msb_tcp_flow_arm(f, ARM_ROOM_LIST, true);
    f->room_next = t->room_head;
    t->room_head = msb_tcp_nat_slot(t, f);
}

/* ---- RST of our own ----------------------------------------------------- */

void msb_tcp_send_rst(struct msb_tcp *t, const struct msb_pkt *p)
{
    uint8_t buf[128];
    size_t n = msb_build_tcp_rst(p, buf, sizeof buf);
    if (!n)
        return; /* p was a RST: never answer one */
    struct msb_frame *fr = msb_env_ip_frame(t->env, p->ip_version, n);
    if (!fr)
        return;
    memcpy(fr->data + MSB_ETH_HLEN, buf, n);
    msb_count(&t->m->resets_to_guest, 1);
    msb_env_emit(t->env, fr);
}

/* ---- admission ------------------------------------------------------------ */

static bool is_syn(const struct msb_pkt *p)
{
    return (p->tcp_flags & (MSB_TCP_SYN | MSB_TCP_ACK | MSB_TCP_RST)) == MSB_TCP_SYN;
}

static uint32_t seq_of(const struct msb_pkt *p)
{
    return msb_get32(p->l4 + 4);
}

/* Keeps (a fresh copy of) the guest's SYN while the host connect runs. */
static void hold_syn(struct tcp_flow *f, const struct msb_pkt *p)
{
    size_t len = (size_t)(p->l3 - p->frame) + p->l3_len; /* Ethernet padding cut */
    memcpy(f->syn, p->frame, len);
    f->syn_len = (uint8_t)len;
    f->isn = seq_of(p);
}

static void admit(struct msb_tcp *t, const struct msb_pkt *p)
{
    const struct msb_flow_ref ref = {MSB_IPPROTO_TCP, false, &p->src, p->sport, &p->dst, p->dport};
    if (!msb_policy_allow(t->env, &ref)) {
        msb_count(&t->m->denied, 1);
        msb_tcp_send_rst(t, p);
        return;
    }
    if ((size_t)(p->l3 - p->frame) + p->l3_len > FLOW_SYN_CAP) {
        /* A SYN carrying data (TFO): not supported, refuse it cleanly. */
        msb_drop(t->env->metrics, MSB_DROP_L4_UNSUPPORTED);
        msb_tcp_send_rst(t, p);
        return;
    }
    if (msb_tcp_upproxy_is_endpoint(t, &p->dst, p->dport)) { /* only as the proxy */
        msb_count(&t->env->metrics->proxy.endpoint_refused, 1);
        msb_tcp_send_rst(t, p);
        return;
    }
    if (!msb_limit_new_flow(t->env, false)) { /* over the connections rate: RST */
        msb_tcp_send_rst(t, p);
        return;
    }
    struct tcp_flow *f = msb_tcp_nat_alloc(t, p);
    if (!f) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_FLOW_CAP);
        msb_tcp_send_rst(t, p);
        return;
    }
    msb_tcp_flow_reset(f);
    msb_tcp_flow_record(t, f, &ref);
    /* Only a policy with domain rules can change its mind on an SNI. */
    msb_tcp_flow_pend(f, PEND_SNI, msb_policy_wants_sni(t->env));
    msb_tcp_flow_pend(f, PEND_TLS, msb_tcp_tls_port(t, p->dport));
    hold_syn(f, p);
    msb_tcp_flow_set_state(t, f, FLOW_CONNECTING);
    msb_tcp_proxy_start(t, f);
}

static void no_flow(struct msb_tcp *t, const struct msb_pkt *p)
{
    if (is_syn(p)) {
        admit(t, p);
        return;
    }
    msb_drop(t->env->metrics, MSB_DROP_TCP_NO_FLOW);
    msb_tcp_send_rst(t, p);
}

/* ---- dispatch ------------------------------------------------------------- */

static void while_connecting(struct msb_tcp *t, struct tcp_flow *f, const struct msb_pkt *p)
{
    if (p->tcp_flags & MSB_TCP_RST)
        msb_tcp_proxy_cancel_connect(t, f);
    else if (is_syn(p) && (size_t)(p->l3 - p->frame) + p->l3_len <= FLOW_SYN_CAP)
        hold_syn(f, p); /* a retransmission: absorbed, the copy refreshed */
    /* anything else is premature: the guest has no SYN-ACK yet */
}

void msb_tcp_input(struct msb_tcp *t, struct msb_pkt *p)
{
    if (p->l3_len > 0xffff) { /* lwIP's pbufs are u16-sized */
        msb_drop(t->env->metrics, MSB_DROP_L4_UNSUPPORTED);
        return;
    }
    struct tcp_flow *f = msb_tcp_nat_lookup(t, p);
    if (!f) {
        no_flow(t, p);
        return;
    }
    if (f->state == FLOW_CONNECTING) {
        while_connecting(t, f, p);
        return;
    }
    if (is_syn(p) && f->state != FLOW_SYN_FED && seq_of(p) != f->isn) {
        /* The guest reuses the tuple for a new connection: the old one is
         * finished for it. */
        msb_tcp_proxy_abort(t, f, true);
        no_flow(t, p);
        return;
    }
    if (!f->pcb) { /* lwIP is done with it; only the host side drains */
        msb_drop(t->env->metrics, MSB_DROP_TCP_NO_FLOW);
        msb_tcp_send_rst(t, p);
        return;
    }
    if (!msb_tcp_held_admit(t, f, seq_of(p), (uint32_t)(p->l4_len - p->l4_hdr_len)))
        return;
    uint32_t gen = f->gen;
    f->last_active_ms = msb_now_ms();
    msb_tcp_nat_to_lwip(t, f, p->l3);
    msb_tcp_lw_input(t, p->l3, p->l3_len);
    if (f->gen == gen)
        msb_tcp_held_sync(t, f);
    /* Simultaneous close reaches TIME_WAIT without a callback: look at
     * every flow that has seen both FINs once the batch is done. */
    if (f->gen == gen && f->pcb && msb_tcp_flow_saw(f, EVT_GUEST_FIN | EVT_HOST_EOF))
        msb_tcp_flow_mark_batch(t, f);
}

static void batch_one(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_tcp_flow_pending(f, PEND_ACK) && f->pcb && (f->pcb->flags & TF_ACK_DELAY))
        msb_tcp_ack_send(t, f); /* not lwIP's 250 ms delayed ACK */
    msb_tcp_flow_pend(f, PEND_ACK, false);
    if (msb_tcp_flow_pending(f, PEND_REAP) ||
        (f->pcb && msb_tcp_flow_saw(f, EVT_GUEST_FIN | EVT_HOST_EOF))) {
        msb_tcp_flow_pend(f, PEND_REAP, false);
        msb_tcp_proxy_reap(t, f);
    }
}

void msb_tcp_batch_end(struct msb_tcp *t)
{
    if (t->send_budget_freed) {
        t->send_budget_freed = false;
        msb_tcp_rx_room(t); /* flows that waited for the budget read again */
    }
    while (t->batch_head != FLOW_NONE) {
        struct tcp_flow *f = &t->flows[t->batch_head];
        t->batch_head = f->batch_next;
        msb_tcp_flow_arm(f, ARM_BATCH_LIST, false);
        if (f->state != FLOW_FREE)
            batch_one(t, f);
    }
    msb_tcp_gro_flush(t);
}

void msb_tcp_flush(struct msb_tcp *t)
{
    if (t)
        msb_tcp_gro_flush(t);
}

void msb_tcp_rx_room(struct msb_tcp *t)
{
    while (t->room_head != FLOW_NONE && msb_env_rx_room(t->env, 1)) {
        struct tcp_flow *f = &t->flows[t->room_head];
        t->room_head = f->room_next;
        msb_tcp_flow_arm(f, ARM_ROOM_LIST, false);
        if (f->state != FLOW_FREE && msb_tcp_flow_pending(f, PEND_ROOM)) {
            msb_tcp_flow_pend(f, PEND_ROOM, false);
            msb_tcp_proxy_resume(t, f);
        }
    }
    msb_tcp_gro_flush(t);
}

uint32_t msb_tcp_policy_recheck(struct msb_tcp *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->max_flows; i++) {
        struct tcp_flow *f = &t->flows[i];
        /* Each flow in its own direction: a published port's connection
         * answers to the ingress rules, for the client that opened it. */
        const struct msb_flow_ref ref =
            f->inbound ? (struct msb_flow_ref){MSB_IPPROTO_TCP, true, &f->g, f->gp, &f->peer,
                                               f->peer_port}
                       : (struct msb_flow_ref){MSB_IPPROTO_TCP, false, &f->g, f->gp, &f->d, f->dp};
        if (f->state != FLOW_FREE && !msb_policy_still_allowed(t->env, &ref)) {
            msb_tcp_flow_ended(f, MSB_FR_END_POLICY_REPLACE);
            msb_tcp_proxy_abort(t, f, true);
            n++;
        }
    }
    msb_tcp_gro_flush(t);
    return n;
}

/* ---- life cycle ----------------------------------------------------------- */

static void free_tcp(struct msb_tcp *t)
{
    msb_tcp_ack_free(t);
    msb_tcp_thr_free(t);
    msb_tcp_gro_free(t);
    msb_tcp_nat_free(t);
    free(t);
}

struct msb_tcp *msb_tcp_create(struct msb_env *env, struct msb_dns *dns, char *err,
                               size_t errlen)
{
    struct msb_tcp *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->env = env;
    t->dns = dns;
    t->m = &env->metrics->tcp;
    t->max_flows = env->cfg->max_flows;
    t->batch_head = t->room_head = FLOW_NONE;
    if (msb_tcp_nat_init(t) || msb_tcp_gro_init(t) || msb_tcp_thr_init(t) || msb_tcp_ack_init(t)) {
        snprintf(err, errlen, "out of memory for %u TCP flows", env->cfg->max_flows);
        free_tcp(t);
        return NULL;
    }
    if (msb_tcp_lw_setup(t, err, errlen)) {
        free_tcp(t);
        return NULL;
    }
    return t;
}

void msb_tcp_live(struct msb_tcp *t, struct msb_flow_page *pg)
{
    for (uint32_t i = 0; i < t->max_flows; i++)
        if (t->flows[i].state != FLOW_FREE && t->flows[i].rec)
            msb_flow_page_add(pg, t->flows[i].rec);
}

void msb_tcp_destroy(struct msb_tcp *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->max_flows; i++)
        if (t->flows[i].state != FLOW_FREE) {
            msb_tcp_flow_ended(&t->flows[i], MSB_FR_END_STOP);
            msb_tcp_proxy_abort(t, &t->flows[i], true);
        }
    msb_tcp_gro_flush(t); /* what the aborts staged (none: a RST flushes first) */
    msb_tcp_lw_teardown(t);
    free_tcp(t);
}
