/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP flow state machine: the table of legal moves (tcp_int.h lists
 * them with their causes), the one setter every state change goes through,
 * the gauges it keeps, and the debug trace of each change, which names the
 * flow and its event, pending and armed bits.
 *
 * The checker is a tripwire, not a guard: the flows' code decides the
 * moves, the table only says whether a move was foreseen.  An unforeseen
 * one is a bug in msbnet, never something the guest is allowed to cause,
 * so it is counted (tcp.bad_transition), traced, and reported once per
 * instance at log level warn.
 */
#include <stdio.h>

#include "lib/addr.h"
#include "proto/tcp/tcp_int.h"

#define TO(st) (1u << (st))

/* Row: where a flow in that state may go next. */
static const uint8_t legal[FLOW__COUNT] = {
    [FLOW_FREE] = TO(FLOW_CONNECTING) | TO(FLOW_SYN_FED),
    [FLOW_CONNECTING] = TO(FLOW_SYN_FED) | TO(FLOW_FREE),
    [FLOW_SYN_FED] = TO(FLOW_OPEN) | TO(FLOW_FREE),
    [FLOW_OPEN] = TO(FLOW_CLOSING) | TO(FLOW_FREE),
    [FLOW_CLOSING] = TO(FLOW_CLOSING) | TO(FLOW_FREE),
};

#define MSB_TCP_NAME(id, name) name,
static const char *const state_names[FLOW__COUNT] = {MSB_TCP_FLOW_STATES(MSB_TCP_NAME)};
static const char *const event_names[EVT__COUNT] = {MSB_TCP_FLOW_EVENTS(MSB_TCP_NAME)};
static const char *const pending_names[PEND__COUNT] = {MSB_TCP_FLOW_PENDING(MSB_TCP_NAME)};
static const char *const armed_names[ARM__COUNT] = {MSB_TCP_FLOW_ARMED(MSB_TCP_NAME)};
#undef MSB_TCP_NAME

bool msb_tcp_flow_legal(enum flow_state from, enum flow_state to)
{
    return (unsigned)from < FLOW__COUNT && (unsigned)to < FLOW__COUNT && (legal[from] & TO(to));
}

const char *msb_tcp_flow_state_name(enum flow_state st)
{
    return (unsigned)st < FLOW__COUNT ? state_names[st] : "?";
}

/* ---- bit names ------------------------------------------------------------ */

static const char *bit_names(unsigned bits, const char *const *names, unsigned n, char *buf,
                             size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        if (!(bits & (1u << i)))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", names[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            buf[len] = '\0'; /* whole names only: the line is read by people */
            break;
        }
        len += (size_t)w;
    }
    return len ? buf : "-";
}

const char *msb_tcp_flow_event_names(unsigned events, char *buf, size_t cap)
{
    return bit_names(events, event_names, EVT__COUNT, buf, cap);
}

const char *msb_tcp_flow_pending_names(unsigned pending, char *buf, size_t cap)
{
    return bit_names(pending, pending_names, PEND__COUNT, buf, cap);
}

const char *msb_tcp_flow_armed_names(unsigned armed, char *buf, size_t cap)
{
    return bit_names(armed, armed_names, ARM__COUNT, buf, cap);
}

/* ---- trace ---------------------------------------------------------------- */

/* addr:port, or [addr]:port for IPv6. */
static const char *endpoint(const struct msb_ip *ip, uint16_t port, char *buf, size_t cap)
{
    char a[MSB_IP_STRLEN];
    bool v6 = ip->family == MSB_FAMILY_V6;
    snprintf(buf, cap, "%s%s%s:%u", v6 ? "[" : "", msb_ip_format(ip, a, sizeof a), v6 ? "]" : "",
             port);
    return buf;
}

/* One line per change, in the style of the policy's decisions
 * (enforce.c): who, from where to where, and every bit by name. */
static void trace(struct msb_tcp *t, const struct tcp_flow *f, enum flow_state from,
                  enum flow_state to, const char *verdict)
{
    char g[MSB_IP_STRLEN + 8], d[MSB_IP_STRLEN + 8], ev[96], pe[48], ar[48];
    fprintf(stderr, "msbnet[%u]: tcp%s %s -> %s %s -> %s%s events=%s pending=%s armed=%s\n",
            t->env->cfg->slot, f->inbound ? " inbound" : "", endpoint(&f->g, f->gp, g, sizeof g),
            endpoint(&f->d, f->dp, d, sizeof d), msb_tcp_flow_state_name(from),
            msb_tcp_flow_state_name(to), verdict, msb_tcp_flow_event_names(f->events, ev, sizeof ev),
            msb_tcp_flow_pending_names(f->pending, pe, sizeof pe),
            msb_tcp_flow_armed_names(f->armed, ar, sizeof ar));
}

/* ---- the setter ------------------------------------------------------------ */

static atomic_uint_fast64_t *gauge(struct msb_tcp *t, enum flow_state st)
{
    switch (st) {
    case FLOW_CONNECTING:
        return &t->m->connecting;
    case FLOW_SYN_FED:
    case FLOW_OPEN:
        return &t->m->established;
    case FLOW_CLOSING:
        return &t->m->closing;
    default:
        return NULL;
    }
}

/* A move within one gauge (SYN_FED -> OPEN, CLOSING -> CLOSING) touches
 * nothing, so a snapshot never sees the flow missing from it. */
static void move_gauges(struct msb_tcp *t, enum flow_state from, enum flow_state to)
{
    atomic_uint_fast64_t *old = gauge(t, from), *new = gauge(t, to);
    if (old != new && old)
        atomic_fetch_sub_explicit(old, 1, memory_order_relaxed);
    if (old != new && new)
        msb_count(new, 1);
    if (from == FLOW_FREE && to != FLOW_FREE)
        msb_count(&t->m->flows, 1);
    else if (from != FLOW_FREE && to == FLOW_FREE)
        atomic_fetch_sub_explicit(&t->m->flows, 1, memory_order_relaxed);
}

/*
 * Every state change goes through here, so the gauges cannot drift and the
 * table sees every move.  An illegal move is still applied: the caller's
 * next steps, and what it holds (pcb, fd, timers), already assume the new
 * state, and a flow left half in each would be worse than a wrong edge.
 * Except out of FREE: a free slot belongs to the table's free list, and
 * reviving it (a stale callback) would give one slot two owners and count
 * a flow that does not exist, so that move is refused.
 */
bool msb_tcp_flow_set_state(struct msb_tcp *t, struct tcp_flow *f, enum flow_state st)
{
    enum flow_state from = (enum flow_state)f->state;
    bool ok = msb_tcp_flow_legal(from, st);
    bool apply = ok || (from != FLOW_FREE && (unsigned)st < FLOW__COUNT);
    int level = t->env->cfg->log_level;
    if (!ok) {
        uint_fast64_t before =
            atomic_fetch_add_explicit(&t->m->bad_transition, 1, memory_order_relaxed);
        if (before == 0 && level >= MSB_LOG_WARN && level < MSB_LOG_DEBUG)
            level = MSB_LOG_DEBUG; /* the first one of an instance is always shown */
    }
    if (level >= MSB_LOG_DEBUG)
        trace(t, f, from, st, ok ? "" : apply ? " (illegal, applied)" : " (illegal, refused)");
    if (!apply)
        return false;
    move_gauges(t, from, st);
    f->state = (uint8_t)st;
    return true;
}
