/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receive-side coalescing of lwIP's segments toward the guest (like GRO).
 *
 * lwIP cuts segments at the MSS the guest announced, which may be smaller
 * than the guest's MTU allows (a guest at MTU 65520 often announces less),
 * and each segment costs a crossing of the rx ring, the wake fds and the
 * reader.  Consecutive in-order data segments of one flow are merged here
 * into one segment of up to the guest MTU before they reach the ring
 * (options must be byte-identical: segments with different timestamps
 * never merge).
 * When the guest takes TSO super-frames ("vnet_guest_tso", vnet_hdr.h)
 * the limit is 64 KiB whatever the MTU: the merged frame goes out marked
 * with the largest merged segment as its gso_size (a size lwIP already
 * sent this guest, so within its MSS) and only a pseudo-header checksum.
 *
 * One staged frame at a time (bounded memory: one MTU-sized frame): the
 * bursts worth merging come from one tcp_output call for one flow.  The
 * staged frame already owns an rx slot: it is staged only when the ring
 * has room, and every other emitter flushes it first (msb_env_emit,
 * output() in tcp_lwip.c), so its flush cannot find the ring full.
 * Flushed: on a segment it cannot take, when full, on PSH, at the end of
 * each event-handler pass (explicitly, and by a deferred event as a
 * safety net for the paths that do not call it).
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/vnet_hdr.h"
#include "proto/tcp/tcp_int.h"

#define TH_FLAGS_OFF 13
#define TH_FLAGS_MASK 0x3f /* URG ACK PSH RST SYN FIN: ECN bits must match too */

/* Offsets into one IP packet carrying TCP. */
struct seg {
    uint8_t v;
    size_t hl, thl, len, dlen;
    uint8_t flags;
};

static bool parse(const uint8_t *l3, size_t len, struct seg *s)
{
    s->v = (uint8_t)(l3[0] >> 4);
    s->hl = s->v == 4 ? (size_t)(l3[0] & 15) * 4 : 40;
    if (len < s->hl + 20)
        return false;
    s->thl = (size_t)(l3[s->hl + 12] >> 4) * 4;
    if (s->thl < 20 || len < s->hl + s->thl)
        return false;
    s->len = len;
    s->dlen = len - s->hl - s->thl;
    s->flags = l3[s->hl + TH_FLAGS_OFF];
    return true;
}

static bool guest_tso(const struct msb_tcp *t)
{
    return t->env->cfg->vnet_guest_tso;
}

bool msb_tcp_gro_enabled(const struct msb_tcp *t)
{
    return t->env->addrs.mtu > 1500 || guest_tso(t);
}

static uint8_t *staged_l3(const struct msb_tcp *t)
{
    return t->gro.fr->data + MSB_ETH_HLEN;
}

/* The staged segment's IP length (and IPv4 header checksum). */
static void finalize_ip(struct msb_tcp *t)
{
    struct tcp_gro *g = &t->gro;
    uint8_t *ip = staged_l3(t);
    if (g->v == 4) {
        msb_put16(ip + 2, (uint16_t)g->l3_len);
        msb_put16(ip + 10, 0);
        msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, g->hl)));
    } else {
        msb_put16(ip + 4, (uint16_t)(g->l3_len - 40));
    }
}

/* The staged segment's length fields and checksums, recomputed once for
 * all merged segments (a single segment is still as msb_tcp_nat_to_guest left it). */
static void finalize(struct msb_tcp *t)
{
    struct tcp_gro *g = &t->gro;
    uint8_t *ip = staged_l3(t), *th = ip + g->hl;
    finalize_ip(t);
    if (g->l3_len > t->env->addrs.mtu && guest_tso(t)) {
        /* Above the MTU only as a super-frame: its TCP checksum is the
         * guest kernel's to complete (vnet_hdr.h). */
        g->fr->len = (uint32_t)(MSB_ETH_HLEN + g->l3_len);
        msb_vnet_mark_tso(g->fr, (uint16_t)g->mss);
        msb_count(&t->env->metrics->vnet.rx_tso_frames, 1);
        return;
    }
    struct msb_ip src, dst;
    if (g->v == 4) {
        msb_ip_from_v4(&src, ip + 12);
        msb_ip_from_v4(&dst, ip + 16);
    } else {
        msb_ip_from_v6(&src, ip + 8);
        msb_ip_from_v6(&dst, ip + 24);
    }
    msb_put16(th + 16, 0);
    msb_put16(th + 16, msb_csum_l4(&src, &dst, MSB_IPPROTO_TCP, th, g->l3_len - g->hl));
}

void msb_tcp_gro_flush(struct msb_tcp *t)
{
    struct tcp_gro *g = &t->gro;
    struct msb_frame *fr = g->fr;
    if (!fr)
        return;
    if (g->segs > 1) {
        finalize(t);
        msb_count(&t->m->segments_coalesced, (uint64_t)g->segs - 1);
    }
    g->fr = NULL;
    /* Give back the unused tail: frames wait in the ring at their size. */
    struct msb_frame *small = msb_frame_shrink(fr, MSB_ETH_HLEN + g->l3_len);
    msb_env_emit(t->env, small);
}

/* Pure in-order data: ACK, optionally PSH, nothing else. */
static bool plain_data(const struct seg *s)
{
    uint8_t fl = s->flags & TH_FLAGS_MASK;
    return s->dlen && (fl == MSB_TCP_ACK || fl == (MSB_TCP_ACK | MSB_TCP_PSH)) &&
           !(s->flags & 0xc0);
}

static bool fits(const struct msb_tcp *t, const struct tcp_flow *f, const uint8_t *l3,
                 const struct seg *s)
{
    const struct tcp_gro *g = &t->gro;
    const uint8_t *st = staged_l3(t), *sth = st + g->hl, *th = l3 + s->hl;
    return g->f == f && g->gen == f->gen && g->v == s->v && g->hl == s->hl &&
           g->thl == s->thl && plain_data(s) && msb_get32(th + 4) == g->next_seq &&
           g->l3_len + s->dlen <= g->cap &&
           memcmp(sth + 20, th + 20, s->thl - 20) == 0; /* options byte-identical */
}

bool msb_tcp_gro_merge(struct msb_tcp *t, struct tcp_flow *f, const uint8_t *l3, size_t len)
{
    struct tcp_gro *g = &t->gro;
    struct seg s;
    if (!g->fr || !parse(l3, len, &s) || !fits(t, f, l3, &s))
        return false;
    uint8_t *st = staged_l3(t), *sth = st + g->hl;
    memcpy(st + g->l3_len, l3 + s.hl + s.thl, s.dlen);
    /* ack, flags and window are the newest segment's: lwIP filled them in
     * at send time, so the last one is the most current. */
    memcpy(sth + 8, l3 + s.hl + 8, 8);
    g->l3_len += s.dlen;
    g->next_seq += (uint32_t)s.dlen;
    g->segs++;
    if (s.dlen > g->mss)
        g->mss = s.dlen;
    /* PSH ends a write: nothing follows soon.  Full: the next would not fit. */
    if ((s.flags & MSB_TCP_PSH) || g->cap - g->l3_len < s.dlen)
        msb_tcp_gro_flush(t);
    return true;
}

bool msb_tcp_gro_stage(struct msb_tcp *t, struct tcp_flow *f, const uint8_t *l3, size_t len)
{
    struct tcp_gro *g = &t->gro;
    struct seg s;
    /* With PSH already, nothing would be merged into it. */
    if (g->fr || !msb_tcp_gro_enabled(t) || !parse(l3, len, &s) || !plain_data(&s) ||
        (s.flags & MSB_TCP_PSH))
        return false;
    size_t cap = guest_tso(t) ? 0xffff : t->env->addrs.mtu;
    if (cap > 0xffff)
        cap = 0xffff; /* IPv4 total length / IPv6 payload length */
    if (len >= cap)
        return false;
    g->fr = msb_env_ip_frame(t->env, s.v, cap);
    if (!g->fr)
        return false;
    uint8_t *st = staged_l3(t);
    memcpy(st, l3, len);
    msb_tcp_nat_to_guest(f, st);
    g->f = f;
    g->gen = f->gen;
    g->v = s.v;
    g->hl = s.hl;
    g->thl = s.thl;
    g->l3_len = len;
    g->cap = cap;
    g->segs = 1;
    g->mss = s.dlen;
    g->next_seq = msb_get32(l3 + s.hl + 4) + (uint32_t)s.dlen;
    event_active(t->gro_ev, EV_TIMEOUT, 0);
    return true;
}

/* The safety net: runs after the handlers of this loop pass. */
static void on_gro(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    msb_tcp_gro_flush(arg);
}

int msb_tcp_gro_init(struct msb_tcp *t)
{
    t->gro_ev = event_new(t->env->base, -1, 0, on_gro, t);
    return t->gro_ev ? 0 : -1;
}

void msb_tcp_gro_free(struct msb_tcp *t)
{
    if (t->gro.fr)
        msb_frame_free(t->gro.fr);
    t->gro.fr = NULL;
    if (t->gro_ev)
        event_free(t->gro_ev);
    t->gro_ev = NULL;
}
