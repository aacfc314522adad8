/* SPDX-License-Identifier: Apache-2.0 */
/* DNS interception (dns_forward.h): per query the name policy, then the
 * host alias or the upstream tries; answers are checked, feed the hostname
 * index and go back to the guest. */
#include "proto/dns_forward.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/dns_msg.h"
#include "proto/dns_pool.h"
#include "proto/dns_tcp.h"
#include "model/dns_upstreams.h"
#include "proto/enforce.h"
#include "proto/flow_emit.h"
#include "model/policy_engine.h"
#include "proto/env.h"
#include "proto/udp_reply.h"

#define MAX_IN_FLIGHT MSB_DNS_MAX_IN_FLIGHT
/* Queries are a name and a few records; the original read at most 4096. */
#define MAX_QUERY 4096
#define DNS_PORT 53
#define READ_BUDGET 8
#define MIN_TRY_MS 50
/* An answer over TCP: its length prefix and up to 65535 bytes. */
#define TCP_ANSWER_CAP (2 + 65535)

/* Where a query came from and where its answer goes: a UDP datagram from
 * guest:gport to dialled:53, or a message on TCP connection conn. */
struct dns_src {
    struct msb_ip guest, dialled;
    uint16_t gport;
    struct msb_dns_conn *conn; /* NULL: UDP */
};

struct dns_q {
    struct msb_dns *d;
    bool used;
    bool configured; /* addressed to the host (a gateway, or an address the host delivers to
                      * itself): configured upstreams, feeds the index */
    bool via_tcp;    /* the current try asks over TCP (after a TC=1 answer) */
    struct dns_src src;
    uint16_t guest_id;
    int32_t rule;     /* the name policy's deciding rule, for the record */
    int16_t rcode;    /* of the reply sent to the guest; -1 while none went */
    uint16_t answers; /* that reply's answer records */
    uint8_t naddrs;   /* and its A/AAAA addresses, for the record */
    struct msb_ip addrs[MSB_FLOW_DNS_ADDRS];
    unsigned try;    /* index of the upstream being asked */
    int fd;
    struct event *rd, *tmr, *wr;
    uint64_t deadline_ms, sent_ms;
    struct msb_dns_query q; /* q.h.id = the upstream ID in use */
    uint8_t msg[MAX_QUERY]; /* the query as sent upstream */
    size_t len;
    /* TCP to the upstream: bytes of prefix + msg written, answer read. */
    size_t tsent, tgot;
    uint8_t *tbuf; /* TCP_ANSWER_CAP, allocated on the first TCP try */
};

struct msb_dns {
    struct msb_env *env;
    struct msb_dns_metrics *m;
    struct msb_ip up[MSB_DNS_MAX_UPSTREAMS];
    size_t nup;
    uint64_t timeout_ms;
    bool rebind;
    struct dns_q *qs;
    struct msb_dns_tcp *tcp;
    struct msb_dns_pool *pool; /* UDP sockets to the upstreams */
    uint8_t buf[65536], out[MAX_QUERY + 64];
};

static struct msb_dns_transport_metrics *tm(struct msb_dns *d, const struct dns_src *src)
{
    return src->conn ? &d->m->tcp : &d->m->udp;
}

/* One outcome, in the total and in the transport's own counters. */
#define OUTCOME(d, src, name)                                                                      \
    do {                                                                                           \
        msb_count(&(d)->m->name, 1);                                                               \
        msb_count(&tm((d), (src))->name, 1);                                                       \
    } while (0)

/* ---- replies to the guest --------------------------------------------------- */

static void send_guest(struct msb_dns *d, const struct msb_ip *from, const struct msb_ip *to,
                       uint16_t port, const uint8_t *b, size_t n)
{
    struct msb_udp_reply r = {.src = from, .dst = to, .sport = DNS_PORT, .dport = port,
                              .payload = b, .len = n};
    msb_udp_reply_send(d->env, &r);
}

/* The answer to a query from src (n == 0: none, which a TCP connection
 * still has to hear about). */
static void reply_to(struct msb_dns *d, const struct dns_src *src, const uint8_t *b, size_t n)
{
    if (src->conn)
        msb_dns_conn_reply(src->conn, b, n);
    else if (n)
        send_guest(d, &src->dialled, &src->guest, src->gport, b, n);
}

/* A synthesized reply to query m (q NULL: header only). */
static void reply_status(struct msb_dns *d, const struct dns_src *src, const uint8_t *m,
                         const struct msb_dns_query *q, uint8_t rcode, uint16_t flags)
{
    size_t n = msb_dns_build_status(m, q, rcode, flags, d->out, sizeof d->out);
    reply_to(d, src, d->out, n);
}

/* The flow record of an allowed query (flow_emit.h), made once its reply
 * went to the guest (rcode -1: it never did). */
static void record(struct msb_dns *d, const struct dns_src *src, const struct msb_dns_query *q,
                   int32_t rule, int rcode, uint16_t answers, const struct msb_ip *addrs,
                   size_t naddrs)
{
    const struct msb_flow_ref ref = {src->conn ? MSB_IPPROTO_TCP : MSB_IPPROTO_UDP, false,
                                     &src->guest, src->gport, &src->dialled, DNS_PORT};
    msb_flow_dns(d->env, &ref, MSB_FR_ALLOW, rule, q->name,
                 (struct msb_flow_dns_reply){q->qtype, (int16_t)rcode, answers, addrs, naddrs});
}

/* ---- queries in flight -------------------------------------------------------- */

static uint32_t q_index(const struct dns_q *x)
{
    return (uint32_t)(x - x->d->qs);
}

static void q_close_socket(struct dns_q *x)
{
    msb_dns_pool_cancel(x->d->pool, q_index(x));
    if (x->rd)
        event_free(x->rd);
    if (x->wr)
        event_free(x->wr);
    if (x->tmr)
        event_free(x->tmr);
    if (x->fd >= 0)
        close(x->fd);
    x->rd = x->wr = x->tmr = NULL;
    x->fd = -1;
}

static void q_finish(struct dns_q *x)
{
    record(x->d, &x->src, &x->q, x->rule, x->rcode, x->answers, x->addrs, x->naddrs);
    q_close_socket(x);
    free(x->tbuf);
    x->tbuf = NULL;
    x->used = false;
    msb_count(&x->d->m->in_flight, (uint64_t)-1);
}

/* A status reply for a query in flight (the guest's ID restored). */
static void q_fail(struct dns_q *x, uint8_t rcode)
{
    struct msb_dns *d = x->d;
    msb_put16(x->msg, x->guest_id);
    size_t n = msb_dns_build_status(x->msg, &x->q, rcode, 0, d->out, sizeof d->out);
    reply_to(d, &x->src, d->out, n);
    x->rcode = rcode;
    if (rcode == MSB_DNS_REFUSED)
        OUTCOME(d, &x->src, refused);
    else
        OUTCOME(d, &x->src, servfail);
    q_finish(x);
}

static const struct msb_ip *upstream_of(const struct dns_q *x)
{
    return x->configured ? &x->d->up[x->try] : &x->src.dialled;
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
        msb_hidx_insert(d->env->hidx, x->q.name, fam, a->addrs, a->naddrs, ttl_s * 1000u, now);
    } else if (a->rcode == MSB_DNS_NXDOMAIN || a->rcode == MSB_DNS_NOERROR) {
        msb_hidx_remove(d->env->hidx, x->q.name, fam, now);
    }
}

/* ans (n bytes, writable) goes to the guest with its ID restored; over
 * UDP cut to TC=1 when it exceeds the size the guest said it takes. */
static void deliver(struct dns_q *x, uint8_t *ans, size_t n, const struct msb_dns_answer *a)
{
    struct msb_dns *d = x->d;
    msb_put16(ans, x->guest_id);
    msb_put16(x->msg, x->guest_id);
    const uint8_t *b = ans;
    x->rcode = a->rcode;
    x->answers = a->h.an;
    x->naddrs = (uint8_t)(a->naddrs < MSB_FLOW_DNS_ADDRS ? a->naddrs : MSB_FLOW_DNS_ADDRS);
    memcpy(x->addrs, a->addrs, x->naddrs * sizeof *x->addrs);
    if (!x->src.conn && n > x->q.udp_size) {
        n = msb_dns_build_truncated(ans, &x->q, d->out, sizeof d->out);
        b = d->out;
        x->answers = x->naddrs = 0; /* TC=1 and the question only */
        OUTCOME(d, &x->src, truncated);
    }
    if (a->rcode == MSB_DNS_NXDOMAIN)
        OUTCOME(d, &x->src, nxdomain);
    reply_to(d, &x->src, b, n);
    OUTCOME(d, &x->src, answered);
    q_finish(x);
}

static void record_latency(struct msb_dns *d, uint64_t ms)
{
    static const uint64_t bounds[] = {MSB_DNS_LATENCY_BOUNDS_MS};
    size_t i = 0;
    while (i < MSB_DNS_LATENCY_BUCKETS - 1 && ms > bounds[i])
        i++;
    msb_count(&d->m->latency[i], 1);
    msb_count(&d->m->latency_sum_ms, ms);
}

static void q_tcp_start(struct dns_q *x);

/* One message from the upstream: an answer to this query, or junk that is
 * dropped while the query keeps waiting. */
static void on_answer(struct dns_q *x, uint8_t *ans, size_t n)
{
    struct msb_dns *d = x->d;
    struct msb_dns_answer a;
    if (msb_dns_parse_answer(ans, n, x->msg, &x->q, family_of(x->q.qtype), &a) != 0) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_BAD_ANSWER);
        return;
    }
    record_latency(d, msb_now_ms() - x->sent_ms);
    /* A TCP guest takes any size: cut over UDP, ask the same upstream over
     * TCP (a UDP guest gets the TC=1 answer and retries over TCP itself). */
    if ((a.h.flags & MSB_DNS_F_TC) && x->src.conn && !x->via_tcp) {
        msb_count(&d->m->upstream_tcp_retries, 1);
        q_tcp_start(x);
        return;
    }
    if (x->configured && d->rebind && a.private_addr) {
        msb_count(&d->m->rebind_blocked, 1);
        q_fail(x, MSB_DNS_REFUSED);
        return;
    }
    feed_index(d, x, &a);
    deliver(x, ans, n, &a);
}

/* The pool's calls: an answer for query q (NONE: no query waits for it),
 * or the socket of q failing (port unreachable and the like). */
static void pool_answer(void *ctx, uint32_t q, uint8_t *msg, size_t n)
{
    struct msb_dns *d = ctx;
    if (q == MSB_DNS_POOL_NONE || !d->qs[q].used || d->qs[q].via_tcp) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_BAD_ANSWER);
        return;
    }
    on_answer(&d->qs[q], msg, n);
}

static void q_next(struct dns_q *x);

static void pool_failed(void *ctx, uint32_t q)
{
    struct msb_dns *d = ctx;
    if (!d->qs[q].used)
        return;
    msb_count(&d->m->upstream_errors, 1);
    q_next(&d->qs[q]);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_q *x = arg;
    msb_count(&x->d->m->upstream_timeouts, 1);
    q_next(x);
}


static void on_tcp_readable(evutil_socket_t fd, short what, void *arg);

/* The try ends after budget_ms without an answer. */
static int arm_try(struct dns_q *x, uint64_t budget_ms)
{
    x->tmr = evtimer_new(x->d->env->base, on_timeout, x);
    struct timeval tv = {(time_t)(budget_ms / 1000), (suseconds_t)(budget_ms % 1000) * 1000};
    return x->tmr && event_add(x->tmr, &tv) == 0 ? 0 : -1;
}

static socklen_t upstream_addr(const struct dns_q *x, struct sockaddr_storage *ss)
{
    return (socklen_t)msb_gateway_target(x->d->env->gw, upstream_of(x), DNS_PORT, ss);
}

/* A TCP connection (connecting) to the current upstream, with its read
 * event and the try's timer armed. */
static int open_upstream_tcp(struct dns_q *x, uint64_t budget_ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = upstream_addr(x, &ss);
    x->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->fd < 0 ||
        (connect(x->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS))
        return -1;
    x->rd = event_new(x->d->env->base, x->fd, EV_READ | EV_PERSIST, on_tcp_readable, x);
    if (!x->rd || event_add(x->rd, NULL) != 0)
        return -1;
    return arm_try(x, budget_ms);
}

/* ---- the upstream over TCP (after TC=1) -------------------------------------- */

/* Writes what is left of the length prefix and the query. */
static void on_tcp_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct dns_q *x = arg;
    uint8_t pre[2];
    msb_put16(pre, (uint16_t)x->len);
    while (x->tsent < 2 + x->len) {
        struct iovec iov[2];
        int k = 0;
        if (x->tsent < 2)
            iov[k++] = (struct iovec){pre + x->tsent, 2 - x->tsent};
        size_t off = x->tsent < 2 ? 0 : x->tsent - 2;
        iov[k++] = (struct iovec){x->msg + off, x->len - off};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return; /* connecting, or full: the event comes back */
        if (w < 0) {
            msb_count(&x->d->m->upstream_errors, 1);
            q_next(x);
            return;
        }
        x->tsent += (size_t)w;
    }
    event_del(x->wr);
}

/* Reads the length-prefixed answer; one message ends the try. */
static void on_tcp_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct dns_q *x = arg;
    size_t want = x->tgot < 2 ? 2 : 2 + (size_t)msb_get16(x->tbuf);
    ssize_t n = recv(fd, x->tbuf + x->tgot, want - x->tgot, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* reset, refused, or closed before a whole answer */
        msb_count(&x->d->m->upstream_errors, 1);
        q_next(x);
        return;
    }
    x->tgot += (size_t)n;
    if (x->tgot < 2 || x->tgot < 2 + (size_t)msb_get16(x->tbuf))
        return;
    size_t len = msb_get16(x->tbuf);
    x->tgot = 0; /* junk (a wrong ID): wait for the next message */
    on_answer(x, x->tbuf + 2, len);
}

/* The same upstream again, over TCP, with the time left of the query. */
static void q_tcp_start(struct dns_q *x)
{
    struct msb_dns *d = x->d;
    q_close_socket(x);
    x->via_tcp = true;
    x->tsent = x->tgot = 0;
    uint64_t now = msb_now_ms();
    if (now + MIN_TRY_MS > x->deadline_ms) {
        q_fail(x, MSB_DNS_SERVFAIL);
        return;
    }
    if (!x->tbuf)
        x->tbuf = malloc(TCP_ANSWER_CAP);
    if (!x->tbuf || open_upstream_tcp(x, x->deadline_ms - now) != 0 ||
        !(x->wr = event_new(d->env->base, x->fd, EV_WRITE | EV_PERSIST, on_tcp_writable, x)) ||
        event_add(x->wr, NULL) != 0) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_NO_SOCKET);
        q_next(x);
        return;
    }
    x->sent_ms = now;
    msb_count(&d->m->forwarded, 1);
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
    x->via_tcp = false;
    struct sockaddr_storage ss;
    socklen_t sl = upstream_addr(x, &ss);
    /* The pool sets the query's ID: random, and unused on its socket. */
    if (msb_dns_pool_send(d->pool, &ss, sl, q_index(x), x->msg, x->len) != 0) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_NO_SOCKET);
        q_next(x);
        return;
    }
    x->q.h.id = msb_get16(x->msg);
    if (arm_try(x, budget < MIN_TRY_MS ? MIN_TRY_MS : budget) != 0) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_NO_SOCKET);
        q_next(x);
        return;
    }
    x->sent_ms = now;
    msb_count(&d->m->forwarded, 1);
}

static struct dns_q *q_alloc(struct msb_dns *d)
{
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (!d->qs[i].used)
            return &d->qs[i];
    return NULL;
}

static void q_start(struct msb_dns *d, const struct dns_src *src, const uint8_t *m, size_t n,
                    const struct msb_dns_query *q, bool configured, int32_t rule)
{
    struct dns_q *x = q_alloc(d);
    if (!x) {
        msb_count(&d->m->in_flight_cap, 1);
        OUTCOME(d, src, servfail);
        reply_status(d, src, m, q, MSB_DNS_SERVFAIL, 0);
        record(d, src, q, rule, MSB_DNS_SERVFAIL, 0, NULL, 0);
        return;
    }
    *x = (struct dns_q){.d = d, .used = true, .configured = configured, .src = *src,
                        .guest_id = q->h.id, .rule = rule, .rcode = -1, .fd = -1,
                        .deadline_ms = msb_now_ms() + d->timeout_ms, .q = *q, .len = n};
    memcpy(x->msg, m, n);
    msb_count(&d->m->in_flight, 1);
    q_try(x);
}

/* ---- guest side --------------------------------------------------------------- */

/* host.microsandbox.internal: the gateway of the asked family, or NODATA
 * for any other type or an inactive family (never asked upstream). */
static void answer_alias(struct msb_dns *d, const struct dns_src *src, const uint8_t *m,
                         const struct msb_dns_query *q, int32_t rule)
{
    enum msb_family fam = family_of(q->qtype);
    struct msb_ip gw;
    size_t n = 0;
    if (fam != MSB_FAMILY_NONE && msb_gateway_get(d->env->gw, fam, &gw))
        n = msb_dns_build_alias(m, q, &gw, d->out, sizeof d->out);
    else
        n = msb_dns_build_status(m, q, MSB_DNS_NOERROR, MSB_DNS_F_AA, d->out, sizeof d->out);
    OUTCOME(d, src, alias);
    reply_to(d, src, d->out, n);
    uint16_t an = n >= 12 ? msb_get16(d->out + 6) : 0;
    record(d, src, q, rule, MSB_DNS_NOERROR, an, &gw, an ? 1 : 0);
}

/* The resolver the guest asked is checked as the flow it is: UDP/53 to
 * that address, per query.  The gateway's resolver is no exception, so one
 * rule governs DNS over both transports (over TCP the SYN to port 53 passed
 * the same check for TCP/53 already): `deny` refuses both, public_only's
 * explicit allow of port 53 to the host group allows both.  A resolver the
 * guest picked itself is never the host's loopback behind a raw address. */
static bool resolver_allowed(struct msb_dns *d, const struct dns_src *src)
{
    if (src->conn)
        return true;
    const struct msb_flow_ref ref = {MSB_IPPROTO_UDP, false, &src->guest, src->gport,
                                     &src->dialled, DNS_PORT};
    return msb_policy_allow(d->env, &ref);
}

/* Domain and suffix rules on the query name; terminate also stops the
 * sandbox, once, naming the rule and the name. */
static bool name_allowed(struct msb_dns *d, const struct dns_src *src,
                         const struct msb_dns_query *q, int32_t *rule)
{
    const struct msb_flow_ref ref = {src->conn ? MSB_IPPROTO_TCP : MSB_IPPROTO_UDP, false,
                                     &src->guest, src->gport, &src->dialled, DNS_PORT};
    if (msb_policy_allow_name(d->env, &ref, q->name, q->qtype, rule))
        return true;
    msb_count(&d->m->name_denied, 1);
    return false;
}

static void route(struct msb_dns *d, const struct dns_src *src, const uint8_t *m, size_t n,
                  const struct msb_dns_query *q)
{
    /* The host's resolver is msbnet's: a query to the gateway, or to any
     * address the host's kernel delivers to itself (its interfaces, their
     * mapped spellings, its subnet broadcast: the host group, allowed DNS
     * by public_only), goes to the configured upstreams.  Dialled, it
     * would reach whatever listens on port 53 of the host itself. */
    bool configured = d->env->cfg->dns_force_upstreams ||
                      msb_pol_classify(&src->dialled, d->env->gw, d->env->local) == MSB_GRP_HOST;
    if (!msb_limit_dns_query(d->env)) { /* over the queries rate */
        OUTCOME(d, src, refused);
        reply_status(d, src, m, q, MSB_DNS_REFUSED, 0);
        return;
    }
    /* A denied resolver answers REFUSED at once: silence would cost the
     * guest's stub resolver its full timeout and retries for every name. */
    if (!resolver_allowed(d, src)) {
        msb_count(&d->m->resolver_denied, 1);
        OUTCOME(d, src, refused);
        reply_status(d, src, m, q, MSB_DNS_REFUSED, 0);
        return;
    }
    int32_t rule;
    if (!name_allowed(d, src, q, &rule)) {
        OUTCOME(d, src, refused);
        reply_status(d, src, m, q, MSB_DNS_REFUSED, 0);
        return;
    }
    if (msb_dns_is_host_alias(q)) {
        answer_alias(d, src, m, q, rule);
        return;
    }
    if (configured && d->nup == 0) {
        OUTCOME(d, src, servfail);
        reply_status(d, src, m, q, MSB_DNS_SERVFAIL, 0);
        record(d, src, q, rule, MSB_DNS_SERVFAIL, 0, NULL, 0);
        return;
    }
    q_start(d, src, m, n, q, configured, rule);
}

/* One query, from either transport. */
static void query_input(struct msb_dns *d, const struct dns_src *src, const uint8_t *m, size_t n)
{
    msb_count(&d->m->queries, 1);
    msb_count(&tm(d, src)->queries, 1);
    struct msb_dns_query q;
    enum msb_dns_parse r = msb_dns_parse_query(m, n, &q);
    if (r == MSB_DNS_NO_HEADER) {
        msb_drop(d->env->metrics, MSB_DROP_DNS_NO_HEADER);
        reply_to(d, src, NULL, 0);
        return;
    }
    if (r != MSB_DNS_OK || n > MAX_QUERY) {
        OUTCOME(d, src, formerr);
        reply_status(d, src, m, NULL, MSB_DNS_FORMERR, 0);
        return;
    }
    if (src->conn)
        q.udp_size = UINT16_MAX; /* never cut over TCP */
    route(d, src, m, n, &q);
}

void msb_dns_udp_input(struct msb_dns *d, const struct msb_pkt *p)
{
    struct dns_src src = {.guest = p->src, .dialled = p->dst, .gport = p->sport};
    query_input(d, &src, p->l4 + p->l4_hdr_len, p->l4_len - p->l4_hdr_len);
}

void msb_dns_tcp_query(struct msb_dns *d, struct msb_dns_conn *c, const struct msb_dns_peer *p,
                       const uint8_t *m, size_t n)
{
    struct dns_src src = {.guest = p->guest, .dialled = p->dialled, .gport = p->gport, .conn = c};
    query_input(d, &src, m, n);
}

void msb_dns_abandon(struct msb_dns *d, const struct msb_dns_conn *c)
{
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (d->qs[i].used && d->qs[i].src.conn == c)
            q_finish(&d->qs[i]);
}

struct msb_dns_tcp *msb_dns_tcp_of(struct msb_dns *d)
{
    return d->tcp;
}

/* ---- life cycle ----------------------------------------------------------------- */

struct msb_dns *msb_dns_create(struct msb_env *env, char *err, size_t errlen)
{
    struct msb_dns *d = calloc(1, sizeof *d);
    if (d)
        d->qs = calloc(MAX_IN_FLIGHT, sizeof *d->qs);
    if (!d || !d->qs) {
        free(d);
        snprintf(err, errlen, "out of memory for DNS interception");
        return NULL;
    }
    const struct msb_config *c = env->cfg;
    d->env = env;
    d->m = &env->metrics->dns;
    d->timeout_ms = c->dns_query_timeout_ms;
    d->rebind = c->dns_rebind_protection;
    d->nup = c->n_dns_upstreams;
    memcpy(d->up, c->dns_upstreams, sizeof d->up);
    if (d->nup == 0)
        d->nup = msb_dns_read_resolv_conf("/etc/resolv.conf", d->up, MSB_DNS_MAX_UPSTREAMS);
    /* qs is zeroed, not walked (each is 4 KiB): q_start sets a query up. */
    d->tcp = msb_dns_tcp_create(d, env->base, d->m);
    const struct msb_dns_pool_calls calls = {pool_answer, pool_failed, d};
    d->pool = d->tcp ? msb_dns_pool_new(env->base, MAX_IN_FLIGHT, &calls) : NULL;
    if (!d->pool) {
        msb_dns_tcp_destroy(d->tcp);
        free(d->qs);
        free(d);
        snprintf(err, errlen, "out of memory for DNS interception");
        return NULL;
    }
    return d;
}

void msb_dns_destroy(struct msb_dns *d)
{
    if (!d)
        return;
    msb_dns_tcp_destroy(d->tcp); /* abandons its queries first */
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (d->qs[i].used)
            q_finish(&d->qs[i]);
    msb_dns_pool_free(d->pool);
    free(d->qs);
    free(d);
}
