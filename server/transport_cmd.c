/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `msbnetd stream` and `msbnetd dgram`: serve a VMM's network device over a
 * unix socket (see stream.h, dgram.h) with the same plugin setup, control
 * socket and metrics as `tap`, until SIGINT/SIGTERM/SIGHUP (or, with --fd,
 * until the VMM closes its end).
 */
#include "commands.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "dgram.h"
#include "grpc_server.h"
#include "stream.h"

struct serve_state {
    struct event_base *base;
    int rc;
    bool verbose;
};

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct serve_state *s = arg;
    if (s->verbose)
        fprintf(stderr, "msbnetd: signal %d, stopping\n", (int)sig);
    event_base_loopbreak(s->base);
}

/* --fd: the VMM owned the only connection; its end is msbnetd's end. */
static void on_ended(void *arg, bool clean)
{
    struct serve_state *s = arg;
    fprintf(stderr, "msbnetd: the VMM's socket (--fd) %s; exiting\n",
            clean ? "closed" : "was dropped for a protocol error");
    s->rc = clean ? 0 : 1;
    event_base_loopbreak(s->base);
}

/* The VMM configures the guest itself: say what to give it. */
static void say_addresses(const struct msbd_host *h, const struct msbd_opts *o)
{
    if (!o->verbose)
        return;
    char g4[INET_ADDRSTRLEN], g6[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, &h->addrs.guest4, g4, sizeof g4);
    inet_ntop(AF_INET6, &h->addrs.guest6, g6, sizeof g6);
    const uint8_t *m = h->addrs.guest_mac;
    fprintf(stderr,
            "msbnetd: guest MAC %02x:%02x:%02x:%02x:%02x:%02x, %s via %s, %s via %s, MTU %u\n",
            m[0], m[1], m[2], m[3], m[4], m[5], g4, h->addrs.gateway4_str, g6,
            h->addrs.gateway6_str, (unsigned)h->addrs.mtu);
}

static int serve(struct msbd_host *h, struct msbd_transport *t, const struct msbd_opts *o,
                 const sigset_t *old_mask)
{
    struct msbd_loop l;
    if (msbd_loop_init(&l, h, t, o->verbose)) {
        msbd_host_close(h, NULL, o->print_metrics);
        msbd_signals_restore(old_mask);
        return 1;
    }
    struct serve_state s = {.base = l.base, .verbose = o->verbose};
    t->ended = on_ended;
    t->ended_arg = &s;
    int rc = msbd_loop_on_signal(&l, SIGINT, on_stop_signal, &s);
    rc |= msbd_loop_on_signal(&l, SIGTERM, on_stop_signal, &s);
    rc |= msbd_loop_on_signal(&l, SIGHUP, on_stop_signal, &s);
    /* Before the signals are unblocked: grpc's threads inherit the mask. */
    struct msbd_grpc *g = rc ? NULL : msbd_grpc_start(l.base, h, o);
    msbd_signals_restore(old_mask);
    if (!g) {
        msbd_loop_close(&l, h, o->print_metrics);
        return 1;
    }
    say_addresses(h, o);
    rc = event_base_dispatch(l.base) < 0 ? 1 : s.rc;
    /* The plugin stops first: records of the flows the stop ends reach the
     * flow log and open streams as the control plane closes. */
    msbd_host_stop(h);
    msbd_grpc_stop(g); /* uses the plugin: before the loop and host close */
    msbd_loop_close(&l, h, o->print_metrics);
    return rc;
}

static struct msbd_transport *open_transport(enum msbd_command c, const struct msbd_opts *o)
{
    char err[512];
    struct msbd_transport *t;
    if (c == MSBD_CMD_DGRAM)
        t = msbd_dgram_open(o->listen_path, o->peer_path, o->transport_fd, o->verbose, err,
                            sizeof err);
    else if (o->transport_fd >= 0)
        t = msbd_stream_fd(o->transport_fd, o->verbose, err, sizeof err);
    else
        t = msbd_stream_listen(o->listen_path, o->verbose, err, sizeof err);
    if (!t)
        fprintf(stderr, "msbnetd %s: %s\n", c == MSBD_CMD_DGRAM ? "dgram" : "stream", err);
    return t;
}

static int serve_socket(enum msbd_command c, const struct msbd_opts *o)
{
    struct msbd_host h;
    int rc = msbd_host_open(&h, o);
    if (rc) {
        msbd_host_close(&h, NULL, false);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN); /* a VMM that vanishes is an error code, not a signal */
    sigset_t old;
    msbd_signals_block(&old);
    struct msbd_transport *t = open_transport(c, o);
    if (!t || msbd_host_start(&h)) {
        if (t)
            t->close(t);
        msbd_host_close(&h, NULL, false);
        msbd_signals_restore(&old);
        return 1;
    }
    rc = serve(&h, t, o, &old);
    t->close(t);
    return rc;
}

int msbd_cmd_stream(const struct msbd_opts *o)
{
    return serve_socket(MSBD_CMD_STREAM, o);
}

int msbd_cmd_dgram(const struct msbd_opts *o)
{
    return serve_socket(MSBD_CMD_DGRAM, o);
}
