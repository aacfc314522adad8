/* SPDX-License-Identifier: Apache-2.0 */
/* The published-port registry (publish.h): listeners are bound on the
 * caller's thread, so a bind error is synchronous, and accepted and read
 * on the stack thread. */
#define _GNU_SOURCE /* accept4 */
#include "api/publish.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/instance.h"
#include "msbnet/msbnet.h"
#include "stack/stack.h"
#include "proto/tcp/tcp.h"
#include "proto/udp_inbound.h"

/* Connections taken per readiness event, so a connect storm on one port
 * cannot starve the guest's frames. */
#define ACCEPT_BUDGET 16
#define BACKLOG 128
#define ACCEPT_PAUSE_MS 100

void msb_publish_init(struct msb_publish *p)
{
    pthread_mutex_init(&p->mu, NULL);
    p->head = NULL;
    atomic_init(&p->dirty, false);
}

static void drop_events(struct msb_pub_listener *l)
{
    if (l->ev)
        event_free(l->ev);
    if (l->pause)
        event_free(l->pause);
    l->ev = l->pause = NULL;
}

static void free_listener(struct msb_pub_listener *l)
{
    drop_events(l);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

void msb_publish_destroy(struct msb_publish *p)
{
    while (p->head) {
        struct msb_pub_listener *l = p->head;
        p->head = l->next;
        free_listener(l);
    }
    pthread_mutex_destroy(&p->mu);
}

/* ---- binding (control-plane thread) -------------------------------------- */

static socklen_t sockaddr_of(const struct msb_publish_spec *sp, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (sp->host_addr.family == MSB_FAMILY_V4) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(sp->host_port);
        memcpy(&a->sin_addr, sp->host_addr.b, 4);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(sp->host_port);
    memcpy(&a->sin6_addr, sp->host_addr.b, 16);
    return sizeof *a;
}

static int bind_failed(int fd, const struct msb_publish_spec *sp, const char *call, char *err,
                       size_t errlen)
{
    int e = errno;
    char what[96];
    msb_publish_spec_describe(sp, what, sizeof what);
    snprintf(err, errlen, "publish %s: %s: %s", what, call, strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int bind_listener(const struct msb_publish_spec *sp, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sockaddr_of(sp, &ss);
    bool tcp = sp->proto == MSB_IPPROTO_TCP;
    int fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        return bind_failed(fd, sp, "socket", err, errlen);
    const int one = 1;
    /* A republished TCP port must not wait for old connections' TIME_WAIT. */
    if (tcp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* An IPv6 listener is for IPv6 peers only: an IPv4 peer could not be
     * shown to an IPv6 guest connection, and "0.0.0.0" is its own spec. */
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
        return bind_failed(fd, sp, "bind", err, errlen);
    if (tcp && listen(fd, BACKLOG) < 0)
        return bind_failed(fd, sp, "listen", err, errlen);
    return fd;
}

static struct msb_pub_listener *find(struct msb_publish *p, const struct msb_publish_spec *sp)
{
    for (struct msb_pub_listener *l = p->head; l; l = l->next)
        if (!atomic_load(&l->removed) && msb_publish_same_listener(&l->spec, sp))
            return l;
    return NULL;
}

static void poke_stack(struct msbnet *net)
{
    atomic_store(&net->pub.dirty, true);
    if (net->stack)
        msb_wake_signal(&net->proxy_wake);
}

int msb_publish_open(struct msbnet *net, const struct msb_publish_spec *spec, char *err,
                     size_t errlen)
{
    char what[96];
    pthread_mutex_lock(&net->life);
    pthread_mutex_lock(&net->pub.mu);
    int rc = MSBNET_OK;
    struct msb_pub_listener *l = NULL;
    if (net->cfg.no_publish) {
        snprintf(err, errlen, "publish: profile \"multi-tenant\" publishes no ports");
        rc = MSBNET_EINVAL;
    } else if (find(&net->pub, spec)) {
        msb_publish_spec_describe(spec, what, sizeof what);
        snprintf(err, errlen, "publish %s: that host port is already published", what);
        rc = MSBNET_EEXIST;
    } else if (!(l = calloc(1, sizeof *l))) {
        snprintf(err, errlen, "out of memory");
        rc = MSBNET_ENOMEM;
    } else if ((l->fd = bind_listener(spec, err, errlen)) < 0) {
        free(l);
        rc = MSBNET_ESYS;
    } else {
        l->spec = *spec;
        atomic_init(&l->removed, false);
        l->next = net->pub.head;
        net->pub.head = l;
        msb_count(&net->metrics.inbound.listeners, 1);
        poke_stack(net);
    }
    pthread_mutex_unlock(&net->pub.mu);
    pthread_mutex_unlock(&net->life);
    return rc;
}

static void unlink_listener(struct msb_publish *p, struct msb_pub_listener *l)
{
    struct msb_pub_listener **link = &p->head;
    while (*link && *link != l)
        link = &(*link)->next;
    if (*link)
        *link = l->next;
}

int msb_publish_close(struct msbnet *net, const struct msb_publish_spec *spec, char *err,
                      size_t errlen)
{
    pthread_mutex_lock(&net->life);
    pthread_mutex_lock(&net->pub.mu);
    int rc = MSBNET_OK;
    struct msb_pub_listener *l = NULL;
    for (struct msb_pub_listener *q = net->pub.head; q && !l; q = q->next)
        if (!atomic_load(&q->removed) && q->spec.proto == spec->proto &&
            q->spec.host_port == spec->host_port && msb_ip_equal(&q->spec.host_addr, &spec->host_addr))
            l = q;
    if (!l) {
        char what[96];
        msb_publish_spec_describe(spec, what, sizeof what);
        snprintf(err, errlen, "unpublish %s: no such published port", what);
        rc = MSBNET_EINVAL;
    } else {
        atomic_fetch_sub(&net->metrics.inbound.listeners, 1);
        if (net->stack) {
            /* Closed for new peers now; the stack thread frees it. */
            shutdown(l->fd, SHUT_RDWR);
            atomic_store(&l->removed, true);
            poke_stack(net);
        } else {
            unlink_listener(&net->pub, l);
            free_listener(l);
        }
    }
    pthread_mutex_unlock(&net->pub.mu);
    pthread_mutex_unlock(&net->life);
    return rc;
}

char *msb_publish_list_json(struct msbnet *net)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    pthread_mutex_lock(&net->pub.mu);
    /* The list is newest first; inserting at 0 gives publish order. */
    for (struct msb_pub_listener *l = net->pub.head; ok && l; l = l->next)
        if (!atomic_load(&l->removed))
            ok = json_array_insert_new(arr, 0, msb_publish_spec_to_json(&l->spec)) == 0;
    pthread_mutex_unlock(&net->pub.mu);
    char *out = ok ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(arr);
    return out;
}

/* ---- the stack thread ------------------------------------------------------ */

/* Out of descriptors (or memory) the pending connection stays queued and
 * the listener readable: stop watching it for a moment instead of
 * spinning, as a server would. */
static void pause_accepting(struct msb_pub_listener *l)
{
    const struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};
    if (l->pause && event_del(l->ev) == 0)
        evtimer_add(l->pause, &pause);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_pub_listener *l = arg;
    if (l->ev)
        event_add(l->ev, NULL);
}

static void on_accept(struct msb_stack *s, struct msb_pub_listener *l)
{
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        struct sockaddr_storage peer;
        socklen_t sl = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            msb_count(&s->env.metrics->inbound.tcp_errors, 1);
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(l);
            return;
        }
        msb_tcp_inbound(s->tcp, fd, &peer, &l->spec);
    }
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_pub_listener *l = arg;
    if (atomic_load(&l->removed))
        return; /* shut down: the sync that follows frees it */
    if (l->spec.proto == MSB_IPPROTO_TCP)
        on_accept(l->s, l);
    else
        msb_udp_inbound_readable(l->s->udpin, l->fd, &l->spec);
    msb_stack_flush(l->s);
}

static void attach(struct msb_stack *s, struct msb_pub_listener *l)
{
    l->s = s;
    l->ev = event_new(s->env.base, l->fd, EV_READ | EV_PERSIST, on_ready, l);
    l->pause = evtimer_new(s->env.base, on_resume, l);
    if (!l->ev || !l->pause || event_add(l->ev, NULL)) {
        /* Stays registered but deaf; counted so the failure is visible. */
        msb_count(&s->env.metrics->inbound.tcp_errors, 1);
        drop_events(l);
    }
}

void msb_publish_sync(struct msbnet *net, struct msb_stack *s)
{
    struct msb_publish *p = &net->pub;
    if (!atomic_exchange(&p->dirty, false))
        return;
    pthread_mutex_lock(&p->mu);
    struct msb_pub_listener **link = &p->head;
    while (*link) {
        struct msb_pub_listener *l = *link;
        if (atomic_load(&l->removed)) {
            *link = l->next;
            if (l->spec.proto == MSB_IPPROTO_UDP)
                msb_udp_inbound_forget(s->udpin, &l->spec);
            free_listener(l);
            continue;
        }
        if (!l->ev)
            attach(s, l);
        link = &l->next;
    }
    pthread_mutex_unlock(&p->mu);
}

void msb_publish_detach(struct msbnet *net)
{
    struct msb_publish *p = &net->pub;
    pthread_mutex_lock(&p->mu);
    struct msb_pub_listener **link = &p->head;
    while (*link) {
        struct msb_pub_listener *l = *link;
        drop_events(l);
        l->s = NULL;
        if (atomic_load(&l->removed)) {
            *link = l->next;
            free_listener(l);
            continue;
        }
        link = &l->next;
    }
    /* A next start attaches every listener again. */
    atomic_store(&p->dirty, true);
    pthread_mutex_unlock(&p->mu);
}
