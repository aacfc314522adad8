#include "dns_forward.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "dns_msg.h"
#include "dns_upstreams.h"
#include "instance.h"
#include "policy.h"
#include "siphash.h"
#include "stack.h"
#include "udp_reply.h"

#define MAX_IN_FLIGHT 256
/* Queries are a name and a few records; the original read at most 4096. */
#define MAX_QUERY 4096
#define DNS_PORT 53
#define READ_BUDGET 8
#define MIN_TRY_MS 50

struct dns_q {
    struct msb_dns *d;
    bool used;
    bool configured; /* addressed to a gateway: configured upstreams, feeds the index */
    struct msb_ip guest, dialled;
    uint16_t gport, guest_id;
    unsigned try;    /* index of the upstream being asked */
    int fd;
    struct event *rd, *tmr;
    uint64_t deadline_ms;
    struct msb_dns_query q; /* q.h.id = the upstream ID in use */
    uint8_t msg[MAX_QUERY]; /* the query as sent upstream */
    size_t len;
};

struct msb_dns {
    struct msb_stack *s;
    struct msbnet *net;
    struct msb_dns_metrics *m;
    struct msb_ip up[MSB_DNS_MAX_UPSTREAMS];
    size_t nup;
    uint64_t timeout_ms;
    bool rebind;
    struct msb_sipkey key;
    uint64_t id_ctr;
    struct dns_q *qs;
    uint8_t buf[65536], out[MAX_QUERY + 64];
};

/* ---- replies to the guest --------------------------------------------------- */

static void send_guest(struct msb_dns *d, const struct msb_ip *from, const struct msb_ip *to,
                       uint16_t port, const uint8_t *b, size_t n)
{
    struct msb_udp_reply r = {.src = from, .dst = to, .sport = DNS_PORT, .dport = port,
                              .payload = b, .len = n};
    msb_udp_reply_send(d->s, &r);
}

/* A synthesized reply to the query in p (q NULL: header only). */
static void reply_status(struct msb_dns *d, const struct msb_pkt *p, const struct msb_dns_query *q,
                         uint8_t rcode, uint16_t flags)
{
    const uint8_t *m = p->l4 + p->l4_hdr_len;
    size_t n = msb_dns_build_status(m, q, rcode, flags, d->out, sizeof d->out);
    if (n)
        send_guest(d, &p->dst, &p->src, p->sport, d->out, n);
}

/* ---- queries in flight -------------------------------------------------------- */

static void q_close_socket(struct dns_q *x)
{
    if (x->rd)
        event_free(x->rd);
    if (x->tmr)
        event_free(x->tmr);
    if (x->fd >= 0)
        close(x->fd);
    x->rd = x->tmr = NULL;
    x->fd = -1;
}

static void q_finish(struct dns_q *x)
{
    q_close_socket(x);
    x->used = false;
    msb_count(&x->d->m->in_flight, (uint64_t)-1);
}

/* A status reply for a query in flight (the guest's ID restored). */
static void q_fail(struct dns_q *x, uint8_t rcode)
{
    struct msb_dns *d = x->d;
    msb_put16(x->msg, x->guest_id);
    size_t n = msb_dns_build_status(x->msg, &x->q, rcode, 0, d->out, sizeof d->out);
    if (n)
        send_guest(d, &x->dialled, &x->guest, x->gport, d->out, n);
    msb_count(rcode == MSB_DNS_REFUSED ? &d->m->refused : &d->m->servfail, 1);
    q_finish(x);
}

static const struct msb_ip *upstream_of(const struct dns_q *x)
{
    return x->configured ? &x->d->up[x->try] : &x->dialled;
}

static size_t upstream_count(const struct dns_q *x)
{
    return x->configured ? x->d->nup : 1;
}

static void q_try(struct dns_q *x);

static void q_next(struct dns_q *x)
{
    q_close_socket(x);
    x->try++;
    q_try(x);
}

static enum msb_family family_of(uint16_t qtype)
{
    return qtype == MSB_DNS_TYPE_A ? MSB_FAMILY_V4
           : qtype == MSB_DNS_TYPE_AAAA ? MSB_FAMILY_V6 : MSB_FAMILY_NONE;
}

/* Only answers from the configured upstreams say what a name is: the
 * guest's own resolver could claim anything. */
static void feed_index(struct msb_dns *d, const struct dns_q *x, const struct msb_dns_answer *a)
{
    enum msb_family fam = family_of(x->q.qtype);
    if (!x->configured || fam == MSB_FAMILY_NONE)
        return;
    uint64_t now = msb_now_ms();
    if (a->naddrs) {
        uint64_t ttl_s = a->min_ttl ? a->min_ttl : 1; /* 0 would be dead on arrival */
        msb_hidx_insert(&d->net->hidx, x->q.name, fam, a->addrs, a->naddrs, ttl_s * 1000u, now);
    } else if (a->rcode == MSB_DNS_NXDOMAIN || a->rcode == MSB_DNS_NOERROR) {
        msb_hidx_remove(&d->net->hidx, x->q.name, fam, now);
    }
}

static void deliver(struct dns_q *x, size_t n)
{
    struct msb_dns *d = x->d;
    msb_put16(d->buf, x->guest_id);
    msb_put16(x->msg, x->guest_id);
    const uint8_t *b = d->buf;
    if (n > x->q.udp_size) {
        n = msb_dns_build_truncated(d->buf, &x->q, d->out, sizeof d->out);
        b = d->out;
        msb_count(&d->m->truncated, 1);
    }
    send_guest(d, &x->dialled, &x->guest, x->gport, b, n);
    msb_count(&d->m->answered, 1);
    q_finish(x);
}

/* One datagram from the upstream: an answer to this query, or junk that is
 * dropped while the query keeps waiting. */
static void on_answer(struct dns_q *x, size_t n)
{
    struct msb_dns *d = x->d;
    struct msb_dns_answer a;
    if (msb_dns_parse_answer(d->buf, n, x->msg, &x->q, family_of(x->q.qtype), &a) != 0) {
        msb_drop(&d->net->metrics, MSB_DROP_DNS_BAD_ANSWER);
        return;
    }
    if (x->configured && d->rebind && a.private_addr) {
        msb_count(&d->m->rebind_blocked, 1);
        q_fail(x, MSB_DNS_REFUSED);
        return;
    }
    feed_index(d, x, &a);
    deliver(x, n);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct dns_q *x = arg;
    for (int i = 0; i < READ_BUDGET && x->used && x->fd == fd; i++) {
        ssize_t n = recv(fd, x->d->buf, sizeof x->d->buf, 0);
        if (n >= 0) {
            on_answer(x, (size_t)n);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        /* Port unreachable and friends: this upstream is no use now. */
        msb_count(&x->d->m->upstream_errors, 1);
        q_next(x);
        return;
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_q *x = arg;
    msb_count(&x->d->m->upstream_timeouts, 1);
    q_next(x);
}

static uint16_t random_id(struct msb_dns *d)
{
    d->id_ctr++;
    return (uint16_t)msb_siphash(&d->key, &d->id_ctr, sizeof d->id_ctr);
}

static int open_upstream(struct dns_q *x, uint64_t budget_ms)
{
    struct msb_dns *d = x->d;
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)msb_gateway_target(&d->net->gw, upstream_of(x), DNS_PORT, &ss);
    x->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->fd < 0 || connect(x->fd, (struct sockaddr *)&ss, sl) != 0)
        return -1;
    x->rd = event_new(d->s->base, x->fd, EV_READ | EV_PERSIST, on_readable, x);
    x->tmr = evtimer_new(d->s->base, on_timeout, x);
    struct timeval tv = {(time_t)(budget_ms / 1000), (suseconds_t)(budget_ms % 1000) * 1000};
    if (!x->rd || !x->tmr || event_add(x->rd, NULL) != 0 || event_add(x->tmr, &tv) != 0)
        return -1;
    return 0;
}

/* Asks upstream number x->try with a fair share of the time left, so the
 * last one still gets its turn and the guest hears back within the
 * query timeout. */
static void q_try(struct dns_q *x)
{
    struct msb_dns *d = x->d;
    uint64_t now = msb_now_ms();
    size_t left = x->try < upstream_count(x) ? upstream_count(x) - x->try : 0;
    if (left == 0 || now + MIN_TRY_MS > x->deadline_ms) {
        q_fail(x, MSB_DNS_SERVFAIL);
        return;
    }
    uint64_t budget = (x->deadline_ms - now) / left;
    x->q.h.id = random_id(d);
    msb_put16(x->msg, x->q.h.id);
    if (open_upstream(x, budget < MIN_TRY_MS ? MIN_TRY_MS : budget) != 0) {
        msb_drop(&d->net->metrics, MSB_DROP_DNS_NO_SOCKET);
        q_next(x);
        return;
    }
    if (send(x->fd, x->msg, x->len, 0) < 0) {
        msb_count(&d->m->upstream_errors, 1);
        q_next(x);
        return;
    }
    msb_count(&d->m->forwarded, 1);
}

static struct dns_q *q_alloc(struct msb_dns *d)
{
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (!d->qs[i].used)
            return &d->qs[i];
    return NULL;
}

static void q_start(struct msb_dns *d, const struct msb_pkt *p, const struct msb_dns_query *q,
                    bool configured)
{
    struct dns_q *x = q_alloc(d);
    if (!x) {
        msb_count(&d->m->in_flight_cap, 1);
        msb_count(&d->m->servfail, 1);
        reply_status(d, p, q, MSB_DNS_SERVFAIL, 0);
        return;
    }
    size_t n = p->l4_len - p->l4_hdr_len;
    *x = (struct dns_q){.d = d, .used = true, .configured = configured, .guest = p->src,
                        .dialled = p->dst, .gport = p->sport, .guest_id = q->h.id, .fd = -1,
                        .deadline_ms = msb_now_ms() + d->timeout_ms, .q = *q, .len = n};
    memcpy(x->msg, p->l4 + p->l4_hdr_len, n);
    msb_count(&d->m->in_flight, 1);
    q_try(x);
}

/* ---- guest side --------------------------------------------------------------- */

/* host.microsandbox.internal: the gateway of the asked family, or NODATA
 * for any other type or an inactive family (never asked upstream). */
static void answer_alias(struct msb_dns *d, const struct msb_pkt *p,
                         const struct msb_dns_query *q)
{
    const uint8_t *m = p->l4 + p->l4_hdr_len;
    enum msb_family fam = family_of(q->qtype);
    struct msb_ip gw;
    size_t n = 0;
    if (fam != MSB_FAMILY_NONE && msb_gateway_get(&d->net->gw, fam, &gw))
        n = msb_dns_build_alias(m, q, &gw, d->out, sizeof d->out);
    else
        n = msb_dns_build_status(m, q, MSB_DNS_NOERROR, MSB_DNS_F_AA, d->out, sizeof d->out);
    msb_count(&d->m->alias, 1);
    if (n)
        send_guest(d, &p->dst, &p->src, p->sport, d->out, n);
}

/* The guest picked its own resolver: allowed only where its policy lets
 * UDP/53 go, and never to the host's loopback behind a raw address. */
static bool direct_allowed(struct msb_dns *d, const struct msb_pkt *p)
{
    return !msb_ip_is_loopback(&p->dst) &&
           msb_policy_allow(d->net, MSB_IPPROTO_UDP, &p->dst, DNS_PORT);
}

static void route(struct msb_dns *d, const struct msb_pkt *p, const struct msb_dns_query *q)
{
    if (msb_dns_is_host_alias(q)) {
        answer_alias(d, p, q);
        return;
    }
    bool configured = msb_gateway_is(&d->net->gw, &p->dst);
    if (configured && d->nup == 0) {
        msb_count(&d->m->servfail, 1);
        reply_status(d, p, q, MSB_DNS_SERVFAIL, 0);
        return;
    }
    if (!configured && !direct_allowed(d, p)) {
        msb_count(&d->m->refused, 1);
        reply_status(d, p, q, MSB_DNS_REFUSED, 0);
        return;
    }
    q_start(d, p, q, configured);
}

void msb_dns_udp_input(struct msb_dns *d, const struct msb_pkt *p)
{
    const uint8_t *m = p->l4 + p->l4_hdr_len;
    size_t n = p->l4_len - p->l4_hdr_len;
    msb_count(&d->m->queries, 1);
    struct msb_dns_query q;
    enum msb_dns_parse r = msb_dns_parse_query(m, n, &q);
    if (r == MSB_DNS_NO_HEADER) {
        msb_drop(&d->net->metrics, MSB_DROP_DNS_NO_HEADER);
        return;
    }
    if (r != MSB_DNS_OK || n > MAX_QUERY) {
        msb_count(&d->m->formerr, 1);
        reply_status(d, p, NULL, MSB_DNS_FORMERR, 0);
        return;
    }
    route(d, p, &q);
}

/* ---- life cycle ----------------------------------------------------------------- */

struct msb_dns *msb_dns_create(struct msb_stack *s, char *err, size_t errlen)
{
    struct msb_dns *d = calloc(1, sizeof *d);
    if (d)
        d->qs = calloc(MAX_IN_FLIGHT, sizeof *d->qs);
    if (!d || !d->qs) {
        free(d);
        snprintf(err, errlen, "out of memory for DNS interception");
        return NULL;
    }
    const struct msb_config *c = &s->net->cfg;
    d->s = s;
    d->net = s->net;
    d->m = &s->net->metrics.dns;
    d->timeout_ms = c->dns_query_timeout_ms;
    d->rebind = c->dns_rebind_protection;
    d->nup = c->n_dns_upstreams;
    memcpy(d->up, c->dns_upstreams, sizeof d->up);
    if (d->nup == 0)
        d->nup = msb_dns_read_resolv_conf("/etc/resolv.conf", d->up, MSB_DNS_MAX_UPSTREAMS);
    msb_sipkey_random(&d->key);
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        d->qs[i].fd = -1;
    return d;
}

void msb_dns_destroy(struct msb_dns *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (d->qs[i].used)
            q_finish(&d->qs[i]);
    free(d->qs);
    free(d);
}
