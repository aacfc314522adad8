/* SPDX-License-Identifier: Apache-2.0 */
/* The termination hook relayed to the loop thread (term_relay.h): copied on
 * the plugin's thread, delivered to gRPC streams on the loop. */
#include "term_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Plugin thread: copy and wake, nothing else. */
static void hook(void *user, const char *reason)
{
    struct msbd_term_relay *r = user;
    pthread_mutex_lock(&r->lock);
    if (!r->pending) {
        r->pending = strdup(reason ? reason : "{}");
        r->pending_ms = wall_ms();
    }
    pthread_mutex_unlock(&r->lock);
    uint64_t one = 1;
    if (write(r->efd, &one, sizeof one) < 0) {
        /* Only EAGAIN at a counter of 2^64-2: a wake is already pending. */
    }
}

/* Loop thread. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct msbd_term_relay *r = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0) {
        /* EAGAIN: a spurious wake; the pending check below decides. */
    }
    pthread_mutex_lock(&r->lock);
    char *reason = r->pending;
    int64_t ms = r->pending_ms;
    r->pending = NULL;
    pthread_mutex_unlock(&r->lock);
    if (reason)
        r->deliver(r->arg, reason, ms);
    free(reason);
}

int msbd_term_relay_init(struct msbd_term_relay *r, struct event_base *base,
                         const struct msbnet_api_v1 *api, msbnet_t *net,
                         msbd_term_deliver_fn deliver, void *arg)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->api = api;
    r->deliver = deliver;
    r->arg = arg;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->ev = r->efd < 0 ? NULL : event_new(base, r->efd, EV_READ | EV_PERSIST, on_wake, r);
    if (!r->ev || event_add(r->ev, NULL) || api->set_termination_hook(net, hook, r)) {
        fprintf(stderr, "msbnetd: cannot install the termination hook\n");
        return -1;
    }
    r->net = net; /* marks the hook as installed */
    return 0;
}

void msbd_term_relay_free(struct msbd_term_relay *r)
{
    if (r->net)
        r->api->set_termination_hook(r->net, NULL, NULL);
    r->net = NULL;
    if (r->ev)
        event_free(r->ev);
    r->ev = NULL;
    if (r->efd >= 0)
        close(r->efd);
    r->efd = -1;
    free(r->pending);
    r->pending = NULL;
    pthread_mutex_destroy(&r->lock);
}
