/* SPDX-License-Identifier: Apache-2.0 */
/* DNS over TCP/53 (dns_tcp.h): the DNS end of the socketpair the TCP proxy
 * relays, with length framing, bounded buffers and an idle timeout. */
#include "proto/dns_tcp.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "proto/dns_forward.h"
#include "lib/metrics.h"
#include "lib/pkt.h"

/* A query is at most 4096 bytes (as over UDP); the input buffer holds one
 * whole framed query and the start of the next. */
#define MAX_QUERY 4096
#define IN_CAP (2 * (2 + MAX_QUERY))
/* Answers waiting for the socketpair: at most MAX_PENDING of up to 64 KiB
 * each, plus what was there when the last query was read. */
#define OUT_CAP ((MSB_DNS_TCP_MAX_PENDING + 1) * (2 + 65535))
/* Stop reading queries while this much output waits. */
#define OUT_HIGH (64 * 1024)

struct msb_dns_conn {
    struct msb_dns_tcp *t;
    struct msb_dns_conn *prev, *next;
    int fd;
    struct event *rd, *wr, *tmr;
    bool rd_on, wr_on;
    bool eof;    /* the guest sent FIN: answer what is in flight, then close */
    bool broken; /* write error or bad framing: close at the next timer run */
    bool busy;   /* inside on_read: replies must not close the connection */
    struct msb_dns_peer peer;
    unsigned pending; /* queries handed to the forwarder, not yet answered */
    uint64_t last_active_ms;
    uint8_t in[IN_CAP];
    size_t in_len;
    uint8_t *out; /* malloc'd, grows up to OUT_CAP */
    size_t out_len, out_cap;
};

struct msb_dns_tcp {
    struct msb_dns *d;
    struct event_base *base;
    struct msb_dns_metrics *m;
    struct msb_dns_conn *head;
    unsigned nconns;
};

static void ev_set(struct event *ev, bool *on, bool want)
{
    if (*on == want)
        return;
    *on = want;
    if (want)
        event_add(ev, NULL);
    else
        event_del(ev);
}

static void conn_close(struct msb_dns_conn *c)
{
    struct msb_dns_tcp *t = c->t;
    msb_dns_abandon(t->d, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->rd);
    event_free(c->wr);
    event_free(c->tmr);
    close(c->fd); /* the proxy reads EOF and sends the guest a FIN */
    free(c->out);
    free(c);
    t->nconns--;
    msb_count(&t->m->tcp_connections, (uint64_t)-1);
}

/* Closing is deferred to the timer so no caller up the stack (a reply
 * sent while the connection is reading) finds it freed. */
static void close_soon(struct msb_dns_conn *c)
{
    c->broken = true;
    event_active(c->tmr, EV_TIMEOUT, 0);
}

static bool done(const struct msb_dns_conn *c)
{
    return c->broken || (c->eof && c->pending == 0 && c->out_len == 0);
}

/* ---- output ------------------------------------------------------------- */

static void flush(struct msb_dns_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0) {
            c->out_len = 0;
            close_soon(c);
            return;
        }
        off += (size_t)w;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    ev_set(c->wr, &c->wr_on, c->out_len > 0);
}

static bool out_room(struct msb_dns_conn *c, size_t need)
{
    if (c->out_len + need <= c->out_cap)
        return true;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + need)
        cap *= 2;
    if (cap > OUT_CAP)
        cap = OUT_CAP;
    if (c->out_len + need > cap)
        return false;
    uint8_t *o = realloc(c->out, cap);
    if (!o)
        return false;
    c->out = o;
    c->out_cap = cap;
    return true;
}

static void process(struct msb_dns_conn *c);

void msb_dns_conn_reply(struct msb_dns_conn *c, const uint8_t *m, size_t len)
{
    if (c->pending)
        c->pending--;
    if (len && !c->broken) {
        if (!out_room(c, 2 + len)) {
            close_soon(c); /* cannot happen within the caps; never drop silently */
            return;
        }
        msb_put16(c->out + c->out_len, (uint16_t)len);
        memcpy(c->out + c->out_len + 2, m, len);
        c->out_len += 2 + len;
        flush(c);
    }
    if (c->busy)
        return;
    if (done(c))
        event_active(c->tmr, EV_TIMEOUT, 0);
    else
        process(c); /* queries that waited for a free slot */
}

/* ---- input -------------------------------------------------------------- */

static bool may_take_query(const struct msb_dns_conn *c)
{
    return !c->broken && c->pending < MSB_DNS_TCP_MAX_PENDING && c->out_len < OUT_HIGH;
}

/* Hands every whole message in the buffer to the forwarder, as far as the
 * caps allow; reading resumes only when they do. */
static void process(struct msb_dns_conn *c)
{
    struct msb_dns_tcp *t = c->t;
    size_t off = 0;
    c->busy = true;
    while (may_take_query(c) && c->in_len - off >= 2) {
        size_t len = msb_get16(c->in + off);
        if (len > MAX_QUERY) {
            /* No sane query is that long, and no buffer here is meant to
             * hold it: counted, and the connection closed. */
            msb_count(&t->m->tcp_oversized, 1);
            close_soon(c);
            break;
        }
        if (c->in_len - off < 2 + len)
            break;
        c->pending++;
        msb_dns_tcp_query(t->d, c, &c->peer, c->in + off + 2, len);
        off += 2 + len;
    }
    c->busy = false;
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    ev_set(c->rd, &c->rd_on, !c->eof && may_take_query(c) && c->in_len < IN_CAP);
    if (done(c))
        event_active(c->tmr, EV_TIMEOUT, 0);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct msb_dns_conn *c = arg;
    ssize_t n = recv(fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) { /* the guest reset: nothing more to answer */
        close_soon(c);
        return;
    }
    c->last_active_ms = msb_now_ms();
    if (n == 0)
        c->eof = true;
    c->in_len += (size_t)n;
    process(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_dns_conn *c = arg;
    flush(c);
    if (done(c))
        event_active(c->tmr, EV_TIMEOUT, 0);
    else
        process(c);
}

/* Deferred closes, and the idle timeout: nothing in flight, nothing to
 * write and nothing read for MSB_DNS_TCP_IDLE_MS. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_dns_conn *c = arg;
    if (done(c)) {
        conn_close(c);
        return;
    }
    uint64_t quiet = msb_now_ms() - c->last_active_ms;
    if (c->pending == 0 && c->out_len == 0 && quiet >= MSB_DNS_TCP_IDLE_MS) {
        msb_count(&c->t->m->tcp_idle_timeouts, 1);
        conn_close(c);
        return;
    }
    uint64_t ms = quiet < MSB_DNS_TCP_IDLE_MS ? MSB_DNS_TCP_IDLE_MS - quiet : MSB_DNS_TCP_IDLE_MS;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(c->tmr, &tv);
}

/* ---- life cycle ---------------------------------------------------------- */

int msb_dns_tcp_open(struct msb_dns *d, const struct msb_ip *guest, uint16_t gport,
                     const struct msb_ip *dialled)
{
    struct msb_dns_tcp *t = msb_dns_tcp_of(d);
    if (t->nconns >= MSB_DNS_TCP_MAX_CONNS) {
        msb_count(&t->m->tcp_connections_cap, 1);
        errno = EMFILE;
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    struct msb_dns_conn *c = calloc(1, sizeof *c);
    if (c) {
        c->rd = event_new(t->base, sv[1], EV_READ | EV_PERSIST, on_read, c);
        c->wr = event_new(t->base, sv[1], EV_WRITE | EV_PERSIST, on_write, c);
        c->tmr = evtimer_new(t->base, on_timer, c);
    }
    if (!c || !c->rd || !c->wr || !c->tmr) {
        if (c) {
            if (c->rd)
                event_free(c->rd);
            if (c->wr)
                event_free(c->wr);
            if (c->tmr)
                event_free(c->tmr);
        }
        free(c);
        close(sv[0]);
        close(sv[1]);
        errno = ENOMEM;
        return -1;
    }
    c->t = t;
    c->fd = sv[1];
    c->peer = (struct msb_dns_peer){.guest = *guest, .dialled = *dialled, .gport = gport};
    c->last_active_ms = msb_now_ms();
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    t->nconns++;
    msb_count(&t->m->tcp_connections, 1);
    ev_set(c->rd, &c->rd_on, true);
    struct timeval tv = {MSB_DNS_TCP_IDLE_MS / 1000, (MSB_DNS_TCP_IDLE_MS % 1000) * 1000};
    event_add(c->tmr, &tv);
    return sv[0];
}

struct msb_dns_tcp *msb_dns_tcp_create(struct msb_dns *d, struct event_base *base,
                                       struct msb_dns_metrics *m)
{
    struct msb_dns_tcp *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->d = d;
    t->base = base;
    t->m = m;
    return t;
}

void msb_dns_tcp_destroy(struct msb_dns_tcp *t)
{
    if (!t)
        return;
    while (t->head)
        conn_close(t->head);
    free(t);
}
