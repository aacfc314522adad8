#include "proto/udp_inbound.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "model/publish_spec.h"
#include "proto/enforce.h"
#include "proto/env.h"
#include "proto/udp_reply.h"

/* Datagrams read per readiness event: one busy peer cannot starve the rest. */
#define READ_BUDGET 64
/* Gateway-sourced sessions use source port BASE + session index. */
#define GW_PORT_BASE 49152u

struct in_sess {
    bool used;
    const struct msb_publish_spec *l; /* the listener's: identifies it */
    int fd;                           /* the listener's socket */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct msb_ip peer_ip;
    uint16_t peer_port;
    struct msb_ip g, src; /* the guest, and the source it sees */
    uint16_t gp, sport;
    uint64_t last_ms;
};

struct msb_udp_in {
    struct msb_env *env;
    struct msb_inbound_metrics *m;
    uint32_t cap, n;
    uint64_t idle_ms;
    struct in_sess *sess;
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
        u->sess = calloc(u->cap, sizeof *u->sess);
        u->sweep = event_new(env->base, -1, EV_PERSIST, on_sweep, u);
    }
    if (!u || !u->sess || !u->sweep) {
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
    for (uint32_t i = 0; i < u->cap && u->sess; i++)
        if (u->sess[i].used)
            atomic_fetch_sub(&u->m->udp_sessions, 1);
    free(u->sess);
    free(u);
}

/* ---- sessions ----------------------------------------------------------- */

static void end(struct msb_udp_in *u, struct in_sess *x)
{
    x->used = false;
    u->n--;
    atomic_fetch_sub(&u->m->udp_sessions, 1);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_udp_in *u = arg;
    uint64_t now = msb_now_ms();
    for (uint32_t i = 0; i < u->cap && u->n; i++) {
        struct in_sess *x = &u->sess[i];
        if (x->used && now - x->last_ms >= u->idle_ms) {
            end(u, x);
            msb_count(&u->m->udp_idle_timeouts, 1);
        }
    }
    if (!u->n && u->sweep_on) {
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
    for (uint32_t i = 0; i < u->cap; i++) {
        struct in_sess *x = &u->sess[i];
        if (x->used && x->l == l && x->peer_port == port && msb_ip_equal(&x->peer_ip, ip))
            return x;
    }
    return NULL;
}

static struct in_sess *open_sess(struct msb_udp_in *u, int fd, const struct msb_publish_spec *l,
                                 const struct sockaddr_storage *ss, socklen_t sl,
                                 const struct msb_ip *ip, uint16_t port)
{
    if (u->n >= u->cap)
        return NULL;
    uint32_t i = 0;
    while (u->sess[i].used)
        i++;
    struct in_sess *x = &u->sess[i];
    const struct msb_addrs *a = &u->env->addrs;
    bool v4 = ip->family == MSB_FAMILY_V4;
    memset(x, 0, sizeof *x);
    x->used = true;
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
    u->n++;
    msb_count(&u->m->udp_sessions, 1);
    msb_count(&u->m->udp_sessions_opened, 1);
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
    x->last_ms = msb_now_ms();
    struct msb_udp_reply r = {.src = &x->src, .dst = &x->g, .sport = x->sport, .dport = x->gp,
                              .payload = u->buf, .len = n};
    if (msb_udp_reply_send(u->env, &r)) {
        msb_count(&u->m->udp_datagrams_to_guest, 1);
        msb_count(&u->m->udp_bytes_to_guest, n);
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

static bool answers(const struct in_sess *x, const struct msb_pkt *p)
{
    return x->used && x->gp == p->sport && x->sport == p->dport && msb_ip_equal(&x->src, &p->dst) &&
           msb_ip_equal(&x->g, &p->src);
}

static struct in_sess *by_guest(struct msb_udp_in *u, const struct msb_pkt *p)
{
    /* To the gateway: the port names the session.  To a real peer: a scan
     * (at most max_inbound_flows, only while inbound sessions exist). */
    uint32_t i = (uint32_t)p->dport - GW_PORT_BASE;
    if (p->dport >= GW_PORT_BASE && i < u->cap && answers(&u->sess[i], p))
        return &u->sess[i];
    for (i = 0; i < u->cap; i++)
        if (answers(&u->sess[i], p))
            return &u->sess[i];
    return NULL;
}

bool msb_udp_inbound_input(struct msb_udp_in *u, const struct msb_pkt *p)
{
    if (!u || !u->n)
        return false;
    struct in_sess *x = by_guest(u, p);
    if (!x)
        return false;
    const uint8_t *payload = p->l4 + 8;
    size_t len = p->l4_len - 8;
    x->last_ms = msb_now_ms();
    if (sendto(x->fd, payload, len, MSG_DONTWAIT, (const struct sockaddr *)&x->peer,
               x->peer_len) < 0) {
        msb_count(&u->m->udp_errors, 1);
        return true;
    }
    msb_count(&u->m->udp_datagrams_to_peer, 1);
    msb_count(&u->m->udp_bytes_to_peer, len);
    return true;
}

void msb_udp_inbound_forget(struct msb_udp_in *u, const struct msb_publish_spec *l)
{
    for (uint32_t i = 0; u && i < u->cap; i++)
        if (u->sess[i].used && u->sess[i].l == l)
            end(u, &u->sess[i]);
}
