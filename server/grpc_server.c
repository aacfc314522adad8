/*
 * The gRPC server's life: listener, completion-queue thread, the handoff
 * queue to the loop thread, and the shutdown order of grpc's own tests
 * (shutdown_and_notify, cancel, drain, destroy, CQ shutdown, drain).
 */
#include "grpc_server.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "grpc_call.h"
#include "http_metrics.h"

#define MAX_REQUEST_BYTES (64 * 1024) /* the largest request is two addresses */
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

/* $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=, also how tests keep
 * parallel daemons of the same slot apart), else /run/msbnet as root, else
 * the user's runtime directory. */
static void default_path(char *out, size_t len, unsigned slot)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (dir && *dir) {
        if (mkdir(dir, 0700) && errno != EEXIST)
            fprintf(stderr, "msbnetd: mkdir %s: %s\n", dir, strerror(errno));
        snprintf(out, len, "%s/slot-%u.sock", dir, slot);
        return;
    }
    if (geteuid() == 0) {
        if (mkdir("/run/msbnet", 0700) && errno != EEXIST)
            fprintf(stderr, "msbnetd: mkdir /run/msbnet: %s\n", strerror(errno));
        snprintf(out, len, "/run/msbnet/slot-%u.sock", slot);
        return;
    }
    dir = getenv("XDG_RUNTIME_DIR");
    snprintf(out, len, "%s/msbnet-slot-%u.sock", dir && *dir ? dir : "/tmp", slot);
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

/* grpc unlinks a socket file before binding, which would silently take the
 * path from a live msbnetd serving the same slot; refuse that instead. */
static bool socket_in_use(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

/* Unix socket only, so insecure credentials are fine: the file mode is the
 * access control.  umask makes the socket 0600 from its bind on, with no
 * window where another user could connect; chmod is the belt to it. */
static int listen_unix(struct msbd_grpc *g)
{
    char target[sizeof g->path + 8];
    snprintf(target, sizeof target, "unix:%s", g->path);
    if (socket_in_use(g->path)) {
        fprintf(stderr, "msbnetd: %s is in use by another process (another msbnetd for this "
                        "slot?)\n", g->path);
        return -1;
    }
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    mode_t old = umask(0177);
    int port = grpc_server_add_http2_port(g->server, target, creds);
    umask(old);
    grpc_server_credentials_release(creds);
    if (!port || chmod(g->path, 0600)) {
        fprintf(stderr, "msbnetd: cannot listen on %s%s%s\n", target, port ? ": " : "",
                port ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

/* PEM files are small; the key's copy is wiped before it is freed. */
static void free_pem(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

static grpc_server_credentials *tls_credentials(const struct msbd_opts *o)
{
    char *cert = msbd_read_config(o->tls_cert), *key = msbd_read_config(o->tls_key);
    char *ca = o->tls_client_ca ? msbd_read_config(o->tls_client_ca) : NULL;
    grpc_server_credentials *creds = NULL;
    if (cert && key && (ca || !o->tls_client_ca)) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        /* With a client CA every client must present a certificate it signed. */
        creds = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1,
            ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    }
    free_pem(cert);
    free_pem(key);
    free_pem(ca);
    return creds;
}

/* Options already refused a non-loopback address without TLS; plain TCP
 * is for loopback only. */
static int listen_tcp(struct msbd_grpc *g, const struct msbd_opts *o)
{
    char target[80];
    bool v6 = strchr(o->control_host, ':') != NULL;
    snprintf(target, sizeof target, v6 ? "[%s]:%u" : "%s:%u", o->control_host, o->control_port);
    bool tls = o->tls_cert != NULL;
    grpc_server_credentials *creds =
        tls ? tls_credentials(o) : grpc_insecure_server_credentials_create();
    if (!creds) {
        fprintf(stderr, "msbnetd: --control-addr %s: unusable TLS certificate or key\n", target);
        return -1;
    }
    int port = grpc_server_add_http2_port(g->server, target, creds);
    grpc_server_credentials_release(creds);
    if (!port) {
        fprintf(stderr, "msbnetd: --control-addr: cannot listen on %s (in use, not an address "
                        "of this host%s)\n", target,
                tls ? ", or a certificate/key grpc refused: see its message above" : "");
        return -1;
    }
    if (o->verbose)
        fprintf(stderr, "msbnetd: control on %s (%s)\n", target,
                tls ? (o->tls_client_ca ? "TLS, client certificates required" : "TLS")
                    : "plain, loopback");
    return 0;
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
    if (o->control_socket)
        snprintf(g->path, sizeof g->path, "%s", o->control_socket);
    else
        default_path(g->path, sizeof g->path, h->slot);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    g->server = create_server();
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    g->term_pid = o->term_pid;
    g->term_sig = o->term_sig;
    if (listen_unix(g)) {
        free_all(g, false);
        return NULL;
    }
    if ((o->control_tcp && listen_tcp(g, o)) || start_thread_and_wake(g)) {
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
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
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
    grpc_server_destroy(g->server);
    g->server = NULL;
    unlink(g->path); /* grpc leaves the socket file behind */
    free_all(g, true);
}
