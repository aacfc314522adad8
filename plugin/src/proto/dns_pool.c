/* SPDX-License-Identifier: Apache-2.0 */
/* UDP sockets to the DNS upstreams, shared by the queries (dns_pool.h). */
#include "proto/dns_pool.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/pkt.h"

#define READ_BUDGET 16

struct pool_sock {
    struct msb_dns_pool *p;
    int fd; /* -1: a free slot */
    struct event *ev;
    struct sockaddr_storage ss;
    socklen_t sl;
    uint32_t uses, waiting;
    uint64_t born_ms;
    bool retired; /* takes no new query; closed when none waits */
};

struct msb_dns_pool {
    struct msb_dns_pool_calls calls;
    struct event_base *base;
    uint32_t maxq;
    int16_t *q_sock; /* per query: the socket slot it waits on, -1 none */
    uint16_t *q_id;  /* per query: its ID on that socket */
    struct pool_sock s[MSB_DNS_POOL_SOCKETS];
    uint8_t buf[65536];
};

static int slot_of(const struct pool_sock *k)
{
    return (int)(k - k->p->s);
}

static void sock_close(struct pool_sock *k)
{
    struct msb_dns_pool *p = k->p;
    if (k->ev)
        event_free(k->ev);
    if (k->fd >= 0)
        close(k->fd);
    *k = (struct pool_sock){.p = p, .fd = -1};
}

static void retire(struct pool_sock *k)
{
    k->retired = true;
    if (k->waiting == 0)
        sock_close(k);
}

/* The query waiting on socket slot with this ID, or NONE.  At most a few
 * hundred queries are in flight: a scan costs less than the recv. */
static uint32_t find(const struct msb_dns_pool *p, int slot, uint16_t id)
{
    for (uint32_t q = 0; q < p->maxq; q++)
        if (p->q_sock[q] == slot && p->q_id[q] == id)
            return q;
    return MSB_DNS_POOL_NONE;
}

/* Every query on a socket that failed hears so; the socket goes. */
static void sock_failed(struct pool_sock *k)
{
    struct msb_dns_pool *p = k->p;
    int slot = slot_of(k);
    uint32_t qs[MSB_DNS_POOL_USES], n = 0;
    for (uint32_t q = 0; q < p->maxq && n < MSB_DNS_POOL_USES; q++)
        if (p->q_sock[q] == slot)
            qs[n++] = q;
    for (uint32_t i = 0; i < n; i++)
        msb_dns_pool_cancel(p, qs[i]);
    retire(k);
    for (uint32_t i = 0; i < n; i++)
        p->calls.failed(p->calls.ctx, qs[i]);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct pool_sock *k = arg;
    struct msb_dns_pool *p = k->p;
    int slot = slot_of(k);
    for (int i = 0; i < READ_BUDGET && k->fd == fd; i++) {
        ssize_t n = recv(fd, p->buf, sizeof p->buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0) { /* port unreachable and friends: no use now */
            sock_failed(k);
            return;
        }
        uint32_t q = n >= 2 ? find(p, slot, msb_get16(p->buf)) : MSB_DNS_POOL_NONE;
        p->calls.answer(p->calls.ctx, q, p->buf, (size_t)n);
    }
}

/* ---- sockets ------------------------------------------------------------------ */

static bool usable(struct pool_sock *k, const struct sockaddr_storage *ss, socklen_t sl,
                   uint64_t now)
{
    if (k->fd < 0 || k->retired || k->sl != sl || memcmp(&k->ss, ss, sl) != 0)
        return false;
    if (now - k->born_ms < MSB_DNS_POOL_AGE_MS)
        return true;
    retire(k);
    return false;
}

static struct pool_sock *open_sock(struct msb_dns_pool *p, struct pool_sock *k,
                                   const struct sockaddr_storage *ss, socklen_t sl, uint64_t now)
{
    k->fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0 || connect(k->fd, (const struct sockaddr *)ss, sl) != 0 ||
        !(k->ev = event_new(p->base, k->fd, EV_READ | EV_PERSIST, on_readable, k)) ||
        event_add(k->ev, NULL) != 0) {
        sock_close(k);
        return NULL;
    }
    memcpy(&k->ss, ss, sl);
    k->sl = sl;
    k->born_ms = now;
    return k;
}

/* A socket for one more query to ss: a live one, else a new one. */
static struct pool_sock *pick(struct msb_dns_pool *p, const struct sockaddr_storage *ss,
                              socklen_t sl)
{
    uint64_t now = msb_now_ms();
    struct pool_sock *free_slot = NULL;
    for (int i = 0; i < MSB_DNS_POOL_SOCKETS; i++) {
        struct pool_sock *k = &p->s[i];
        if (usable(k, ss, sl, now))
            return k;
        if (k->fd < 0 && !free_slot)
            free_slot = k;
    }
    return free_slot ? open_sock(p, free_slot, ss, sl, now) : NULL;
}

/* A random ID no query waits for on socket slot. */
static uint16_t fresh_id(const struct msb_dns_pool *p, int slot)
{
    uint16_t id;
    do
        id = (uint16_t)arc4random();
    while (find(p, slot, id) != MSB_DNS_POOL_NONE);
    return id;
}

int msb_dns_pool_send(struct msb_dns_pool *p, const struct sockaddr_storage *ss, socklen_t sl,
                      uint32_t q, uint8_t *msg, size_t len)
{
    struct pool_sock *k = q < p->maxq && p->q_sock[q] < 0 ? pick(p, ss, sl) : NULL;
    if (!k)
        return -1;
    int slot = slot_of(k);
    uint16_t id = fresh_id(p, slot);
    msb_put16(msg, id);
    if (send(k->fd, msg, len, 0) < 0) {
        sock_failed(k); /* it failed others too, if any waited */
        return -1;
    }
    p->q_sock[q] = (int16_t)slot;
    p->q_id[q] = id;
    k->waiting++;
    if (++k->uses >= MSB_DNS_POOL_USES)
        k->retired = true;
    return 0;
}

void msb_dns_pool_cancel(struct msb_dns_pool *p, uint32_t q)
{
    if (!p || q >= p->maxq || p->q_sock[q] < 0)
        return;
    struct pool_sock *k = &p->s[p->q_sock[q]];
    p->q_sock[q] = -1;
    if (--k->waiting == 0 && k->retired)
        sock_close(k);
}

/* ---- life cycle ---------------------------------------------------------------- */

struct msb_dns_pool *msb_dns_pool_new(struct event_base *base, uint32_t max_queries,
                                      const struct msb_dns_pool_calls *calls)
{
    struct msb_dns_pool *p = calloc(1, sizeof *p);
    if (p) {
        for (int i = 0; i < MSB_DNS_POOL_SOCKETS; i++)
            p->s[i] = (struct pool_sock){.p = p, .fd = -1};
        p->q_sock = malloc(max_queries * sizeof *p->q_sock);
        p->q_id = calloc(max_queries, sizeof *p->q_id);
    }
    if (!p || !p->q_sock || !p->q_id) {
        msb_dns_pool_free(p);
        return NULL;
    }
    p->calls = *calls;
    p->base = base;
    p->maxq = max_queries;
    for (uint32_t q = 0; q < max_queries; q++)
        p->q_sock[q] = -1;
    return p;
}

void msb_dns_pool_free(struct msb_dns_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < MSB_DNS_POOL_SOCKETS; i++)
        sock_close(&p->s[i]);
    free(p->q_sock);
    free(p->q_id);
    free(p);
}
