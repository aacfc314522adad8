/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetd's data-plane commands and the event loop they share. */
#ifndef MSBD_COMMANDS_H
#define MSBD_COMMANDS_H

#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "options.h"
#include "pump.h"
#include "transport.h"

#define MSBD_MAX_SIGNAL_EVENTS 4

/* One event base with the pump and a few signal events on it. */
struct msbd_loop {
    struct event_base *base;
    struct msbd_pump pump;
    struct msbd_host *host; /* reports the pump's counters while it exists */
    struct event *sig[MSBD_MAX_SIGNAL_EVENTS];
    int nsig;
    bool verbose;
};

/* Returns 0 or -1 with a message printed. */
int msbd_loop_init(struct msbd_loop *l, struct msbd_host *h, struct msbd_transport *t,
                   bool verbose);
int msbd_loop_on_signal(struct msbd_loop *l, int sig, event_callback_fn fn, void *arg);
void msbd_loop_free(struct msbd_loop *l);

/* Frees the loop before the instance (the pump watches the plugin's wake
 * fd), then closes the host with the pump's counters. */
void msbd_loop_close(struct msbd_loop *l, struct msbd_host *h, bool print_metrics);

/* Exit status: 0, 1 (runtime failure), 2 (usage); run: CMD's status. */
int msbd_cmd_tap(const struct msbd_opts *o);

/* Creates tap0 in the network namespace at path (as `tap --netns` and a
 * root `run` do, from msbnetd's own user namespace) and configures it; the
 * calling thread comes back to its namespace.  The fd, or -1 after saying
 * why on stderr, prefixed "msbnetd WHO:". */
struct msbd_addrs;
int msbd_tap_in_netns(const struct msbd_opts *o, const struct msbd_addrs *a, const char *path,
                      const char *who);
int msbd_cmd_run(const struct msbd_opts *o);
int msbd_cmd_stream(const struct msbd_opts *o);
int msbd_cmd_dgram(const struct msbd_opts *o);

#endif
