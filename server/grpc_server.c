/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC server's life: listeners (grpc_listen.c), completion-queue thread, the handoff
 * queue to the loop thread, and the shutdown order of grpc's own tests
 * (shutdown_and_notify, cancel, drain, destroy, CQ shutdown, drain).
 */
#include "grpc_server.h"
#include "flow_hub.h"
#include "flow_log.h"

#include <errno.h>
#include <grpc/support/time.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "grpc_call.h"
#include "grpc_listen.h"
#include "http_metrics.h"

#define MAX_REQUEST_BYTES (64 * 1024) /* the largest request is a policy */
#define MAX_STREAMS_PER_CONNECTION 128
#define SHUTDOWN_GRACE_MS 500 /* then streams stuck behind a slow reader are cancelled */

/* CQ thread: never touches call state, only queues the tag and wakes. */
static void push(struct msbd_grpc *g, struct msbd_tag *t)
{
    t->next = NULL;
    pthread_mutex_lock(&g->lock);
    if (g->tail)
        g->tail->next = t;
    else
        g->head = t;
    g->tail = t;
    pthread_mutex_unlock(&g->lock);
    uint64_t one = 1;
    if (write(g->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN only when a wake is already pending */
    }
}

static void *cq_thread(void *arg)
{
    struct msbd_grpc *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct msbd_tag *t = ev.tag;
        MSBD_TAG_RETURNED(t);
        t->success = ev.success;
        push(g, t);
    }
}

/* Loop thread: take the whole queue at once, then handle without the lock. */
static void drain_queue(struct msbd_grpc *g)
{
    uint64_t n;
    if (read(g->wake_fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing new since the last drain */
    }
    pthread_mutex_lock(&g->lock);
    struct msbd_tag *t = g->head;
    g->head = g->tail = NULL;
    pthread_mutex_unlock(&g->lock);
    while (t) {
        struct msbd_tag *next = t->next;
        if (t->op == MSBD_TAG_SHUTDOWN)
            g->shutdown_done = true;
        else
            msbd_call_on_tag(t);
        t = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    drain_queue(arg);
}

/* For VMMs that keep no stream open: one signal, on the first event only
 * (a repeat could hit a recycled pid long after the VMM acted). */
static void signal_action(struct msbd_grpc *g)
{
    if (!g->term_pid || g->term_signalled)
        return;
    g->term_signalled = true;
    if (kill(g->term_pid, g->term_sig))
        fprintf(stderr, "msbnetd: termination: cannot send signal %d to pid %d: %s\n",
                g->term_sig, g->term_pid, strerror(errno));
}

static void on_termination(void *arg, const char *reason, int64_t ms)
{
    signal_action(arg);
    msbd_rpc_termination_fired(arg, reason, ms);
}

static grpc_server *create_server(void)
{
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = MAX_REQUEST_BYTES;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
    args[1].value.integer = MAX_STREAMS_PER_CONNECTION;
    grpc_channel_args ca = {.num_args = 2, .args = args};
    return grpc_server_create(&ca, NULL);
}

static int start_thread_and_wake(struct msbd_grpc *g)
{
    g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g->wake_ev = g->wake_fd < 0 ? NULL
                                : event_new(g->base, g->wake_fd, EV_READ | EV_PERSIST, on_wake, g);
    if (!g->wake_ev || event_add(g->wake_ev, NULL))
        return -1;
    if (pthread_create(&g->thread, NULL, cq_thread, g))
        return -1;
    g->thread_started = true;
    return 0;
}

/* A server that never started may already hold listeners (the unix socket
 * when the TCP one fails); core asserts unless it is shut down before it is
 * destroyed.  No CQ thread runs yet, so wait for the tag here. */
static void abandon_server(struct msbd_grpc *g)
{
    MSBD_TAG_GIVEN(&g->shutdown_tag);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN || ev.tag == &g->shutdown_tag)
            break;
    }
    grpc_server_destroy(g->server);
}

static void free_all(struct msbd_grpc *g, bool started)
{
    msbd_http_stop(g->http);
    g->http = NULL;
    if (g->relay_on)
        msbd_term_relay_free(&g->relay);
    if (g->server && !started)
        abandon_server(g);
    if (g->cq) {
        grpc_completion_queue_shutdown(g->cq);
        if (g->thread_started)
            pthread_join(g->thread, NULL); /* it returns at GRPC_QUEUE_SHUTDOWN */
        else
            while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN) {
            }
        grpc_completion_queue_destroy(g->cq);
    }
    if (g->wake_ev)
        event_free(g->wake_ev);
    if (g->wake_fd >= 0)
        close(g->wake_fd);
    msbd_term_event_free(g->fired);
    pthread_mutex_destroy(&g->lock);
    free(g);
    grpc_shutdown_blocking();
}

struct msbd_grpc *msbd_grpc_start(struct event_base *base, struct msbd_host *h,
                                  const struct msbd_opts *o)
{
    struct msbd_grpc *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    grpc_init();
    g->base = base;
    g->host = h;
    g->wake_fd = -1;
    g->shutdown_tag.op = MSBD_TAG_SHUTDOWN;
    pthread_mutex_init(&g->lock, NULL);
    msbd_grpc_socket_path(g->path, sizeof g->path, o, h->slot);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    g->server = create_server();
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    g->term_pid = o->term_pid;
    g->term_sig = o->term_sig;
    if (msbd_grpc_listen_unix(g->server, g->path)) {
        free_all(g, false);
        return NULL;
    }
    if ((o->control_tcp && msbd_grpc_listen_tcp(g->server, o)) || start_thread_and_wake(g)) {
        unlink(g->path); /* bound, never served */
        free_all(g, false);
        return NULL;
    }
    grpc_server_start(g->server);
    msbd_call_arm(g);
    g->relay_on = true; /* freeing is safe after a failed init */
    if (msbd_term_relay_init(&g->relay, base, h->api, h->net, on_termination, g)) {
        msbd_grpc_stop(g);
        return NULL;
    }
    struct msbd_flow_log *log = NULL;
    char why[512];
    if (o->flow_log && !(log = msbd_flow_log_open(o->flow_log, o->flow_log_max, why, sizeof why))) {
        fprintf(stderr, "msbnetd: %s\n", why);
        msbd_grpc_stop(g);
        return NULL;
    }
    g->flows = msbd_flow_hub_new(base, h, log); /* NULL: StreamFlowRecords is UNIMPLEMENTED */
    if (o->flow_log && !g->flows) {
        fprintf(stderr, "msbnetd: --flow-log: the plugin keeps no flow records\n");
        msbd_grpc_stop(g);
        return NULL;
    }
    if (o->http && !(g->http = msbd_http_start(base, h, o->http_host, o->http_port, o->verbose))) {
        msbd_grpc_stop(g);
        return NULL;
    }
    if (o->verbose)
        fprintf(stderr, "msbnetd: control socket %s\n", g->path);
    return g;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open streams end with a status a client can act on, not a reset. */
static void end_streams(struct msbd_grpc *g)
{
    for (struct msbd_call *c = g->streams; c; c = c->next) {
        if (c->timer)
            event_del(c->timer);
        msbd_call_finish(c, GRPC_STATUS_UNAVAILABLE, "msbnetd is shutting down");
    }
}

void msbd_grpc_stop(struct msbd_grpc *g)
{
    if (!g)
        return;
    g->shutting_down = true;
    msbd_http_stop(g->http); /* no scrape during teardown */
    g->http = NULL;
    MSBD_TAG_GIVEN(&g->shutdown_tag);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
    msbd_flow_hub_flush(g->flows); /* the records of the stop, to the streams */
    end_streams(g);
    int64_t cancel_at = now_ms() + SHUTDOWN_GRACE_MS;
    bool cancelled = false;
    /* The loop no longer runs: wait on the wake fd ourselves. */
    while (!g->shutdown_done || g->ncalls > 0) {
        struct pollfd p = {.fd = g->wake_fd, .events = POLLIN};
        poll(&p, 1, 50);
        drain_queue(g);
        if (!cancelled && now_ms() >= cancel_at) {
            grpc_server_cancel_all_calls(g->server);
            cancelled = true;
        }
    }
    msbd_flow_hub_free(g->flows); /* every stream, so every subscription, is gone */
    g->flows = NULL;
    grpc_server_destroy(g->server);
    g->server = NULL;
    unlink(g->path); /* grpc leaves the socket file behind */
    free_all(g, true);
}
