/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `msbnetd tap --netns PATH`: put tap0 into an existing network namespace
 * (one the caller made, e.g. `ip netns add G`), configure it there, and pump
 * its frames from msbnetd's own namespace until SIGINT/SIGTERM.
 */
#include "commands.h"
#include "direct.h"

#include <event2/event.h>
#include <stdio.h>

#include "grpc_server.h"
#include "guestif.h"
#include "host.h"
#include "netns.h"
#include "tap.h"

/* Only this thread visits the namespace, and only while no other thread
 * exists (start() comes later): host sockets are never opened in it. */
int msbd_tap_in_netns(const struct msbd_opts *o, const struct msbd_addrs *a, const char *path,
                      const char *who)
{
    char err[512];
    int orig;
    if (msbd_netns_enter(path, &orig, err, sizeof err)) {
        fprintf(stderr, "msbnetd %s: %s\n", who, err);
        return -1;
    }
    struct msbd_tap_mode mode;
    int fd = msbd_tap_open(MSBD_TAP_NAME, msbd_opts_vnet_hdr(o), &mode);
    if (fd >= 0)
        msbd_tap_report(msbd_opts_vnet_hdr(o), o->verbose, &mode);
    int rc = fd < 0                ? -1
             : o->no_guest_config ? msbd_guestif_link_only(MSBD_TAP_NAME, a, err, sizeof err)
                                  : msbd_guestif_configure(MSBD_TAP_NAME, a, o->prefix4,
                                                           o->prefix6, o->verbose, err, sizeof err);
    if (fd < 0)
        snprintf(err, sizeof err, "cannot create %s: %s", MSBD_TAP_NAME, strerror(-fd));
    char err2[256];
    if (msbd_netns_leave(orig, err2, sizeof err2)) {
        fprintf(stderr, "msbnetd %s: %s\n", who, err2);
        abort(); /* never carry on inside the guest's namespace */
    }
    if (rc) {
        fprintf(stderr, "msbnetd %s: %s\n", who, err);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct msbd_loop *l = arg;
    if (l->verbose)
        fprintf(stderr, "msbnetd: signal %d, stopping\n", (int)sig);
    event_base_loopbreak(l->base);
}

static int pump_until_signal(struct msbd_host *h, struct msbd_transport *t,
                             const struct msbd_opts *o, const sigset_t *old_mask)
{
    struct msbd_loop l;
    if (msbd_loop_init(&l, h, t, o->verbose)) {
        msbd_host_close(h, NULL, o->print_metrics);
        return 1;
    }
    msbd_loop_on_signal(&l, SIGINT, on_stop_signal, &l);
    msbd_loop_on_signal(&l, SIGTERM, on_stop_signal, &l);
    msbd_loop_on_signal(&l, SIGHUP, on_stop_signal, &l);
    /* Before the signals are unblocked: grpc's threads inherit the mask. */
    struct msbd_grpc *g = msbd_grpc_start(l.base, h, o);
    if (!g) {
        msbd_loop_close(&l, h, o->print_metrics);
        msbd_signals_restore(old_mask);
        return 1;
    }
    msbd_signals_restore(old_mask);
    if (o->verbose)
        fprintf(stderr, "msbnetd: pumping %s in %s\n", MSBD_TAP_NAME, o->netns_path);
    int rc = event_base_dispatch(l.base) < 0 ? 1 : 0;
    /* The plugin stops first: records of the flows the stop ends reach the
     * flow log and open streams as the control plane closes. */
    msbd_host_stop(h);
    msbd_grpc_stop(g); /* uses the plugin: before the loop and host close */
    msbd_loop_close(&l, h, o->print_metrics);
    return rc;
}

int msbd_cmd_tap(const struct msbd_opts *o)
{
    struct msbd_host h;
    int rc = msbd_host_open(&h, o);
    if (rc) {
        msbd_host_close(&h, NULL, false);
        return rc;
    }
    sigset_t old;
    msbd_signals_block(&old);
    int fd = msbd_tap_in_netns(o, &h.addrs, o->netns_path, "tap");
    if (fd >= 0)
        msbd_direct_attach(&h, fd, o);
    if (fd < 0 || msbd_host_start(&h)) {
        if (fd >= 0)
            close(fd);
        msbd_host_close(&h, NULL, false);
        return 1;
    }
    struct msbd_transport t;
    if (msbd_tap_transport(&t, fd, msbd_opts_vnet_hdr(o))) {
        fprintf(stderr, "msbnetd tap: %s has a virtio-net header msbnetd cannot use\n",
                MSBD_TAP_NAME);
        t.close(&t);
        msbd_host_close(&h, NULL, false);
        return 1;
    }
    t.plugin_io = h.direct_tap;
    rc = pump_until_signal(&h, &t, o, &old);
    t.close(&t);
    return rc;
}
