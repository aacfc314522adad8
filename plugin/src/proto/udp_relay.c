/* SPDX-License-Identifier: Apache-2.0 */
/* The guest UDP relay (udp_relay.h): sessions in the flow table by guest
 * tuple, kept in activity order for idle timeouts and recycling. */
#include "proto/udp_relay.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/flowtab.h"
#include "model/tls_config.h"
#include "proto/enforce.h"
#include "proto/env.h"
#include "proto/flow_emit.h"
#include "proto/icmp_err.h"
#include "proto/udp_reply.h"

/* What an ICMP error needs to quote: the IP header (v6: 40, v4 without
 * options: 20) and the UDP header, with room for some payload. */
#define QUOTE_CAP 128
/* Datagrams read per readiness event, so one busy peer cannot starve the
 * other sessions or the guest's frames. */
#define READ_BUDGET 64

struct udp_sess {
    struct msb_udp *u;
    struct msb_ip g, d; /* guest and destination, as the guest sees them */
    uint16_t gp, dp;
    int fd;
    struct event *rd, *tmr;
    uint64_t last_ms;
    uint8_t quote[QUOTE_CAP]; /* the start of the last datagram sent */
    uint16_t quote_len;
    /* Its flow record (flow_emit.h), begun at open with the verdict and
     * hostname of that moment; datagrams and payload bytes each way. */
    struct msb_flowrec *rec; /* on the heap while the session lives (flow_emit.h) */
};

/* sess_close's end for a session that never opened: no record. */
#define NO_RECORD MSB_FR__ENDS

struct msb_udp {
    struct msb_env *env;
    struct msb_udp_metrics *m;
    uint32_t max;
    uint64_t idle_ms;
    struct udp_sess *sess;
    /* guest tuple -> slot, in order of activity (oldest recycled first) */
    struct msb_flowtab *ft;
    uint8_t buf[65536]; /* host reads (one thread): any datagram fits whole */
};

/* ---- the table ------------------------------------------------------------ */


static uint32_t idx(const struct msb_udp *u, const struct udp_sess *x)
{
    return (uint32_t)(x - u->sess);
}

static struct udp_sess *lookup(struct msb_udp *u, const struct msb_pkt *p)
{
    uint8_t k[MSB_FLOWTAB_TUPLE_LEN];
    msb_flowtab_tuple_key(k, &p->src, p->sport, &p->dst, p->dport);
    uint32_t slot = msb_flowtab_find(u->ft, 0, k);
    return slot == MSB_FLOWTAB_NONE ? NULL : &u->sess[slot];
}

/* Traffic either way keeps a session alive and makes it the last one to
 * be recycled. */
static void touch(struct msb_udp *u, struct udp_sess *x)
{
    x->last_ms = msb_now_ms();
    msb_flowtab_touch(u->ft, idx(u, x));
}

/* end: how it ended (enum msb_flowrec_end), or NO_RECORD. */
static void sess_close(struct msb_udp *u, struct udp_sess *x, uint8_t end)
{
    if (end != NO_RECORD)
        msb_flow_close(u->env, &x->rec, end);
    if (x->rd)
        event_free(x->rd);
    if (x->tmr)
        event_free(x->tmr);
    if (x->fd >= 0)
        close(x->fd);
    msb_flowtab_release(u->ft, idx(u, x));
    memset(x, 0, sizeof *x);
    x->fd = -1;
    msb_count(&u->m->sessions, (uint64_t)-1);
}

/* ---- host side -------------------------------------------------------------- */

static void arm_idle(struct udp_sess *x, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(x->tmr, &tv);
}

/* The timer runs once per idle period, not per datagram: traffic only
 * moves last_ms, and the timer re-arms for what is left. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct udp_sess *x = arg;
    struct msb_udp *u = x->u;
    uint64_t now = msb_now_ms(), due = x->last_ms + u->idle_ms;
    if (now < due) {
        arm_idle(x, due - now);
        return;
    }
    msb_count(&u->m->idle_timeouts, 1);
    sess_close(u, x, MSB_FR_END_IDLE);
}

static void port_unreachable(struct msb_udp *u, struct udp_sess *x, const uint8_t *orig,
                             size_t len)
{
    if (len == 0)
        return;
    msb_count(&u->m->port_unreachable, 1);
    msb_icmp_err_send(u->env, MSB_ICMP_PORT_UNREACH, &x->d, orig, len);
}

static void deliver(struct msb_udp *u, struct udp_sess *x, size_t n)
{
    if (!msb_limit_datagram(u->env, MSB_LIMIT_INGRESS, n))
        return;
    touch(u, x);
    struct msb_udp_reply r = {.src = &x->d, .dst = &x->g, .sport = x->dp, .dport = x->gp,
                              .payload = u->buf, .len = n};
    if (msb_udp_reply_send(u->env, &r)) {
        msb_count(&u->m->datagrams_to_guest, 1);
        msb_count(&u->m->bytes_to_guest, n);
        if (x->rec) {
            x->rec->pkts_in++;
            x->rec->bytes_in += n;
        }
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct udp_sess *x = arg;
    struct msb_udp *u = x->u;
    for (int i = 0; i < READ_BUDGET; i++) {
        ssize_t n = recv(fd, u->buf, sizeof u->buf, 0);
        if (n >= 0) {
            deliver(u, x, (size_t)n);
            continue;
        }
        /* The peer's port unreachable, reported on the connected socket:
         * tell the guest at once so its client fails fast. */
        if (errno == ECONNREFUSED)
            port_unreachable(u, x, x->quote, x->quote_len);
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            msb_drop(u->env->metrics, MSB_DROP_UDP_SEND_ERROR);
        return;
    }
}

static int open_socket(struct msb_udp *u, struct udp_sess *x)
{
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)msb_gateway_target(u->env->gw, &x->d, x->dp, &ss);
    x->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->fd < 0)
        return -1;
    if (connect(x->fd, (struct sockaddr *)&ss, sl) != 0)
        return -1;
    x->rd = event_new(u->env->base, x->fd, EV_READ | EV_PERSIST, on_readable, x);
    x->tmr = evtimer_new(u->env->base, on_idle, x);
    if (!x->rd || !x->tmr || event_add(x->rd, NULL) != 0)
        return -1;
    arm_idle(x, u->idle_ms);
    return 0;
}

/* The oldest session makes room for a new one: UDP has no close, so the
 * least recently active session is the best guess at one that is over. */
static void recycle_oldest(struct msb_udp *u)
{
    msb_count(&u->m->sessions_recycled, 1);
    sess_close(u, &u->sess[msb_flowtab_oldest(u->ft)], MSB_FR_END_CAP);
}

static struct udp_sess *sess_open(struct msb_udp *u, const struct msb_pkt *p)
{
    uint8_t k[MSB_FLOWTAB_TUPLE_LEN];
    msb_flowtab_tuple_key(k, &p->src, p->sport, &p->dst, p->dport);
    uint32_t slot = msb_flowtab_add(u->ft, k);
    if (slot == MSB_FLOWTAB_NONE) {
        recycle_oldest(u);
        slot = msb_flowtab_add(u->ft, k);
    }
    struct udp_sess *x = &u->sess[slot];
    *x = (struct udp_sess){.u = u, .g = p->src, .d = p->dst, .gp = p->sport, .dp = p->dport,
                           .fd = -1, .last_ms = msb_now_ms()};
    msb_count(&u->m->sessions, 1);
    if (open_socket(u, x) != 0) {
        msb_drop(u->env->metrics, MSB_DROP_UDP_NO_SOCKET);
        sess_close(u, x, NO_RECORD);
        return NULL;
    }
    msb_count(&u->m->sessions_opened, 1);
    /* The verdict msb_udp_input just asked for is this session's.  Begun
     * even when no records are kept: the live table (msb_udp_live) shows it. */
    const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, false, &x->g, x->gp, &x->d, x->dp};
    x->rec = msb_flow_open(u->env, &ref, MSB_FR_UDP);
    return x;
}

/* ---- guest side ------------------------------------------------------------- */

/* DoQ, mDNS, LLMNR, NetBIOS name service: name lookups that would bypass
 * DNS interception (and its policy) once it exists, or local-link
 * discovery that has no business leaving the sandbox. */
static bool blocked_port(uint16_t port)
{
    return port == 853 || port == 5353 || port == 5355 || port == 137;
}

/* A UDP datagram to an intercepted port: QUIC, which interception cannot
 * see into.  Refused at once, so clients fall back to TCP, where it can. */
static bool quic_port(const struct msb_udp *u, uint16_t port)
{
    const struct msb_tls_settings *s = u->env->tls_settings;
    for (uint32_t i = 0; s && i < s->n_ports; i++)
        if (s->ports[i] == port)
            return true;
    return false;
}

static bool allowed(struct msb_udp *u, const struct msb_pkt *p)
{
    const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, false, &p->src, p->sport, &p->dst, p->dport};
    return msb_policy_allow(u->env, &ref);
}

/* Denied: the guest hears "administratively prohibited" from its gateway
 * (the router that refused), so a client fails at once. */
static void deny(struct msb_udp *u, const struct msb_pkt *p)
{
    struct msb_ip from;
    if (!msb_gateway_get(u->env->gw, (enum msb_family)p->dst.family, &from))
        from = p->dst;
    msb_drop(u->env->metrics, MSB_DROP_UDP_DENIED);
    msb_count(&u->m->admin_prohibited, 1);
    msb_icmp_err_send(u->env, MSB_ICMP_ADMIN_PROHIB, &from, p->l3, p->l3_len);
}

static void remember(struct udp_sess *x, const struct msb_pkt *p)
{
    size_t n = p->l3_len < QUOTE_CAP ? p->l3_len : QUOTE_CAP;
    memcpy(x->quote, p->l3, n);
    x->quote_len = (uint16_t)n;
}

static void forward(struct msb_udp *u, struct udp_sess *x, const struct msb_pkt *p)
{
    size_t n = p->l4_len - p->l4_hdr_len;
    remember(x, p);
    touch(u, x);
    if (send(x->fd, p->l4 + p->l4_hdr_len, n, 0) >= 0) {
        msb_count(&u->m->datagrams_to_host, 1);
        msb_count(&u->m->bytes_to_host, n);
        if (x->rec) {
            x->rec->pkts_out++;
            x->rec->bytes_out += n;
        }
        return;
    }
    if (errno == ECONNREFUSED)
        port_unreachable(u, x, p->l3, p->l3_len);
    else
        msb_drop(u->env->metrics, MSB_DROP_UDP_SEND_ERROR);
}

void msb_udp_input(struct msb_udp *u, const struct msb_pkt *p)
{
    if (blocked_port(p->dport)) {
        msb_drop(u->env->metrics, MSB_DROP_UDP_BLOCKED_PORT);
        return;
    }
    /* Asked per datagram: a rule change applies to live sessions too. */
    if (!allowed(u, p)) {
        deny(u, p);
        return;
    }
    if (u->env->tls && quic_port(u, p->dport)) { /* QUIC would carry the TLS unseen */
        msb_count(&u->env->metrics->tls.quic_refused, 1);
        deny(u, p);
        return;
    }
    if (u->env->cfg->proxy) { /* only TCP goes through the proxy; no way out direct */
        msb_count(&u->env->metrics->proxy.udp_refused, 1);
        deny(u, p);
        return;
    }
    struct udp_sess *x = lookup(u, p);
    if (!x && !msb_limit_new_flow(u->env, true))
        return; /* over the connections rate: the datagram is dropped */
    if (!x)
        x = sess_open(u, p);
    if (x && msb_limit_datagram(u->env, MSB_LIMIT_EGRESS, p->l4_len - p->l4_hdr_len))
        forward(u, x, p);
}

uint32_t msb_udp_policy_recheck(struct msb_udp *u)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < u->max; i++) {
        struct udp_sess *x = &u->sess[i];
        const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, false, &x->g, x->gp, &x->d, x->dp};
        if (msb_flowtab_in_use(u->ft, i) && !msb_policy_still_allowed(u->env, &ref)) {
            sess_close(u, x, MSB_FR_END_POLICY_REPLACE);
            n++;
        }
    }
    return n;
}

void msb_udp_live(struct msb_udp *u, struct msb_flow_page *pg)
{
    for (uint32_t i = 0; i < u->max; i++)
        if (msb_flowtab_in_use(u->ft, i))
            if (u->sess[i].rec)
                msb_flow_page_add(pg, u->sess[i].rec);
}

/* ---- life cycle ------------------------------------------------------------- */

struct msb_udp *msb_udp_create(struct msb_env *env, char *err, size_t errlen)
{
    struct msb_udp *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->env = env;
    u->m = &env->metrics->udp;
    u->max = env->cfg->max_udp_sessions;
    u->idle_ms = (uint64_t)env->cfg->udp_idle_timeout_s * 1000u;
    const struct msb_flowtab_spec spec = {.cap = u->max, .key_len = {MSB_FLOWTAB_TUPLE_LEN, 0}, .lru = true};
    u->sess = calloc(u->max, sizeof *u->sess);
    u->ft = msb_flowtab_new(&spec);
    if (!u->sess || !u->ft) {
        msb_udp_destroy(u);
        snprintf(err, errlen, "out of memory for %u UDP sessions", env->cfg->max_udp_sessions);
        return NULL;
    }
    return u; /* slots are zeroed, not walked: unused pages stay untouched */
}

void msb_udp_destroy(struct msb_udp *u)
{
    if (!u)
        return;
    for (uint32_t i = 0; u->sess && u->ft && i < u->max; i++)
        if (msb_flowtab_in_use(u->ft, i))
            sess_close(u, &u->sess[i], MSB_FR_END_STOP);
    free(u->sess);
    msb_flowtab_free(u->ft);
    free(u);
}
