/* SPDX-License-Identifier: Apache-2.0 */
/* Published UDP ports (udp_inbound.h): sessions sit in the flow table under
 * two keys, so a peer's datagram and the guest's reply are one lookup each. */
#include "proto/udp_inbound.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/flowtab.h"
#include "model/publish_spec.h"
#include "proto/enforce.h"
#include "proto/env.h"
#include "proto/flow_emit.h"
#include "proto/udp_reply.h"

/* Datagrams read per readiness event: one busy peer cannot starve the rest. */
#define READ_BUDGET 64
/* Gateway-sourced sessions use source port BASE + session index. */
#define GW_PORT_BASE 49152u

/* The two ways a session is found (flow table indexes and their keys):
 * a peer's datagram by (listener, peer address, peer port), a guest reply
 * by (guest, guest port, the source the guest sees, its port). */
enum { BY_PEER, BY_GUEST };
#define PEER_KEY_LEN (sizeof(uintptr_t) + 1 + 16 + 2)
#define GUEST_KEY_LEN (1 + 16 + 2 + 16 + 2)

struct in_sess {
    const struct msb_publish_spec *l; /* the listener's: identifies it */
    int fd;                           /* the listener's socket */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct msb_ip peer_ip;
    uint16_t peer_port;
    struct msb_ip g, src; /* the guest, and the source it sees */
    uint16_t gp, sport;
    uint64_t last_ms;
    /* Its flow record (flow_emit.h), begun at open with that verdict; out
     * is guest -> peer, in is peer -> guest. */
    struct msb_flowrec *rec; /* on the heap while the session lives (flow_emit.h) */
};

struct msb_udp_in {
    struct msb_env *env;
    struct msb_inbound_metrics *m;
    uint32_t cap;
    uint64_t idle_ms;
    struct in_sess *sess;
    struct msb_flowtab *ft; /* both indexes, in order of activity (idle sweep) */
    struct event *sweep;
    bool sweep_on;
    uint8_t buf[65536]; /* one thread; any datagram fits whole */
};

static void on_sweep(evutil_socket_t fd, short what, void *arg);

struct msb_udp_in *msb_udp_inbound_create(struct msb_env *env, char *err, size_t errlen)
{
    struct msb_udp_in *u = calloc(1, sizeof *u);
    if (u) {
        u->env = env;
        u->m = &env->metrics->inbound;
        /* Session indexes become gateway source ports: stay below 65536. */
        u->cap = env->cfg->max_inbound_flows;
        if (u->cap > 65536u - GW_PORT_BASE)
            u->cap = 65536u - GW_PORT_BASE;
        u->idle_ms = (uint64_t)env->cfg->udp_idle_timeout_s * 1000u;
        const struct msb_flowtab_spec spec = {
            .cap = u->cap, .key_len = {PEER_KEY_LEN, GUEST_KEY_LEN}, .lru = true};
        u->sess = calloc(u->cap, sizeof *u->sess);
        u->ft = msb_flowtab_new(&spec);
        u->sweep = event_new(env->base, -1, EV_PERSIST, on_sweep, u);
    }
    if (!u || !u->sess || !u->ft || !u->sweep) {
        msb_udp_inbound_destroy(u);
        snprintf(err, errlen, "out of memory for inbound UDP sessions");
        return NULL;
    }
    return u;
}

void msb_udp_inbound_destroy(struct msb_udp_in *u)
{
    if (!u)
        return;
    if (u->sweep)
        event_free(u->sweep);
    for (uint32_t i = 0; u->ft && u->sess && i < u->cap; i++)
        if (msb_flowtab_in_use(u->ft, i))
            msb_flow_close(u->env, &u->sess[i].rec, MSB_FR_END_STOP);
    if (u->ft)
        atomic_fetch_sub(&u->m->udp_sessions, msb_flowtab_used(u->ft));
    free(u->sess);
    msb_flowtab_free(u->ft);
    free(u);
}

/* ---- sessions ----------------------------------------------------------- */

static void peer_key(uint8_t k[PEER_KEY_LEN], const struct msb_publish_spec *l,
                     const struct msb_ip *ip, uint16_t port)
{
    uintptr_t id = (uintptr_t)l;
    memcpy(k, &id, sizeof id);
    k[sizeof id] = ip->family;
    memcpy(k + sizeof id + 1, ip->b, 16);
    msb_put16(k + sizeof id + 17, port);
}

static void guest_key(uint8_t k[GUEST_KEY_LEN], const struct msb_ip *g, uint16_t gp,
                      const struct msb_ip *src, uint16_t sport)
{
    k[0] = g->family;
    memcpy(k + 1, g->b, 16);
    msb_put16(k + 17, gp);
    memcpy(k + 19, src->b, 16);
    msb_put16(k + 35, sport);
}

static uint32_t slot_of(const struct msb_udp_in *u, const struct in_sess *x)
{
    return (uint32_t)(x - u->sess);
}

/* how: enum msb_flowrec_end, for the session's record. */
static void end(struct msb_udp_in *u, struct in_sess *x, uint8_t how)
{
    msb_flow_close(u->env, &x->rec, how);
    msb_flowtab_release(u->ft, slot_of(u, x));
    atomic_fetch_sub(&u->m->udp_sessions, 1);
}

/* Traffic either way keeps a session alive. */
static void touch(struct msb_udp_in *u, struct in_sess *x)
{
    x->last_ms = msb_now_ms();
    msb_flowtab_touch(u->ft, slot_of(u, x));
}

/* Sessions idle longest come first in the table's activity order, so the
 * sweep stops at the first one still alive. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_udp_in *u = arg;
    uint64_t now = msb_now_ms();
    uint32_t i;
    while ((i = msb_flowtab_oldest(u->ft)) != MSB_FLOWTAB_NONE &&
           now - u->sess[i].last_ms >= u->idle_ms) {
        end(u, &u->sess[i], MSB_FR_END_IDLE);
        msb_count(&u->m->udp_idle_timeouts, 1);
    }
    if (!msb_flowtab_used(u->ft) && u->sweep_on) {
        event_del(u->sweep);
        u->sweep_on = false;
    }
}

static void sweep_on(struct msb_udp_in *u)
{
    if (u->sweep_on)
        return;
    const struct timeval second = {1, 0};
    u->sweep_on = event_add(u->sweep, &second) == 0;
}

static struct in_sess *by_peer(struct msb_udp_in *u, const struct msb_publish_spec *l,
                               const struct msb_ip *ip, uint16_t port)
{
    uint8_t k[PEER_KEY_LEN];
    peer_key(k, l, ip, port);
    uint32_t i = msb_flowtab_find(u->ft, BY_PEER, k);
    return i == MSB_FLOWTAB_NONE ? NULL : &u->sess[i];
}

static struct in_sess *open_sess(struct msb_udp_in *u, int fd, const struct msb_publish_spec *l,
                                 const struct sockaddr_storage *ss, socklen_t sl,
                                 const struct msb_ip *ip, uint16_t port)
{
    uint32_t i = msb_flowtab_alloc(u->ft);
    if (i == MSB_FLOWTAB_NONE)
        return NULL;
    struct in_sess *x = &u->sess[i];
    const struct msb_addrs *a = &u->env->addrs;
    bool v4 = ip->family == MSB_FAMILY_V4;
    memset(x, 0, sizeof *x);
    x->l = l;
    x->fd = fd;
    memcpy(&x->peer, ss, sl);
    x->peer_len = sl;
    x->peer_ip = *ip;
    x->peer_port = port;
    x->g = v4 ? a->guest4 : a->guest6;
    x->gp = l->guest_port;
    x->src = l->real_peer ? *ip : v4 ? a->gateway4 : a->gateway6;
    x->sport = l->real_peer ? port : (uint16_t)(GW_PORT_BASE + i);
    uint8_t pk[PEER_KEY_LEN], gk[GUEST_KEY_LEN];
    peer_key(pk, l, ip, port);
    guest_key(gk, &x->g, x->gp, &x->src, x->sport);
    msb_flowtab_insert(u->ft, BY_PEER, i, pk);
    msb_flowtab_insert(u->ft, BY_GUEST, i, gk);
    msb_count(&u->m->udp_sessions, 1);
    msb_count(&u->m->udp_sessions_opened, 1);
    /* The verdict to_guest just asked for is this session's (begun with
     * no ring too: the live table shows it). */
    const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, true, &x->g, x->gp, ip, port};
    x->rec = msb_flow_open(u->env, &ref, MSB_FR_UDP);
    sweep_on(u);
    return x;
}

/* ---- peer -> guest ------------------------------------------------------ */

static void to_guest(struct msb_udp_in *u, int fd, const struct msb_publish_spec *l,
                     const struct sockaddr_storage *ss, socklen_t sl, size_t n)
{
    struct msb_ip ip;
    uint16_t port;
    msb_ip_from_sockaddr(ss, &ip, &port);
    const struct msb_ip *guest = ip.family == MSB_FAMILY_V4 ? &u->env->addrs.guest4
                                                            : &u->env->addrs.guest6;
    const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, true, guest, l->guest_port, &ip, port};
    if (!msb_policy_allow(u->env, &ref)) {
        msb_count(&u->m->udp_denied, 1);
        return;
    }
    struct in_sess *x = by_peer(u, l, &ip, port);
    if (!x && !(x = open_sess(u, fd, l, ss, sl, &ip, port))) {
        msb_count(&u->m->udp_cap, 1);
        return;
    }
    touch(u, x);
    struct msb_udp_reply r = {.src = &x->src, .dst = &x->g, .sport = x->sport, .dport = x->gp,
                              .payload = u->buf, .len = n};
    if (msb_udp_reply_send(u->env, &r)) {
        msb_count(&u->m->udp_datagrams_to_guest, 1);
        msb_count(&u->m->udp_bytes_to_guest, n);
        if (x->rec) {
            x->rec->pkts_in++;
            x->rec->bytes_in += n;
        }
    }
}

void msb_udp_inbound_readable(struct msb_udp_in *u, int fd, const struct msb_publish_spec *spec)
{
    for (int i = 0; i < READ_BUDGET; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t n = recvfrom(fd, u->buf, sizeof u->buf, MSG_TRUNC, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                msb_count(&u->m->udp_errors, 1);
            return;
        }
        if ((size_t)n > sizeof u->buf || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
            msb_count(&u->m->udp_errors, 1); /* cannot happen for UDP; be safe */
            continue;
        }
        to_guest(u, fd, spec, &ss, sl, (size_t)n);
    }
}

/* ---- guest -> peer ------------------------------------------------------ */

/* A real peer's sessions are found by the peer's own address and port,
 * a gateway-sourced one by the port that names it: one lookup either way. */
static struct in_sess *by_guest(struct msb_udp_in *u, const struct msb_pkt *p)
{
    uint8_t k[GUEST_KEY_LEN];
    guest_key(k, &p->src, p->sport, &p->dst, p->dport);
    uint32_t i = msb_flowtab_find(u->ft, BY_GUEST, k);
    return i == MSB_FLOWTAB_NONE ? NULL : &u->sess[i];
}

bool msb_udp_inbound_input(struct msb_udp_in *u, const struct msb_pkt *p)
{
    if (!u || !msb_flowtab_used(u->ft))
        return false;
    struct in_sess *x = by_guest(u, p);
    if (!x)
        return false;
    const uint8_t *payload = p->l4 + MSB_UDP_HLEN;
    size_t len = p->l4_len - MSB_UDP_HLEN;
    touch(u, x);
    if (sendto(x->fd, payload, len, MSG_DONTWAIT, (const struct sockaddr *)&x->peer,
               x->peer_len) < 0) {
        msb_count(&u->m->udp_errors, 1);
        return true;
    }
    msb_count(&u->m->udp_datagrams_to_peer, 1);
    msb_count(&u->m->udp_bytes_to_peer, len);
    if (x->rec) {
        x->rec->pkts_out++;
        x->rec->bytes_out += len;
    }
    return true;
}

uint32_t msb_udp_inbound_policy_recheck(struct msb_udp_in *u)
{
    uint32_t n = 0;
    for (uint32_t i = 0; u && i < u->cap; i++) {
        struct in_sess *x = &u->sess[i];
        const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, true, &x->g, x->gp, &x->peer_ip,
                                         x->peer_port};
        if (msb_flowtab_in_use(u->ft, i) && !msb_policy_still_allowed(u->env, &ref)) {
            end(u, x, MSB_FR_END_POLICY_REPLACE);
            n++;
        }
    }
    return n;
}

void msb_udp_inbound_live(struct msb_udp_in *u, struct msb_flow_page *pg)
{
    for (uint32_t i = 0; u && i < u->cap; i++)
        if (msb_flowtab_in_use(u->ft, i))
            if (u->sess[i].rec)
                msb_flow_page_add(pg, u->sess[i].rec);
}

void msb_udp_inbound_forget(struct msb_udp_in *u, const struct msb_publish_spec *l)
{
    for (uint32_t i = 0; u && i < u->cap; i++)
        if (msb_flowtab_in_use(u->ft, i) && u->sess[i].l == l)
            end(u, &u->sess[i], MSB_FR_END_CLOSED); /* unpublished */
}
