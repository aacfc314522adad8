/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop msbnetd's data-plane commands share (commands.h): one event
 * base with the frame pump and a few signal events. */
#include "commands.h"

#include <stdio.h>

static json_t *pump_stats(const void *arg)
{
    return msbd_pump_stats_json(arg);
}

int msbd_loop_init(struct msbd_loop *l, struct msbd_host *h, struct msbd_transport *t,
                   bool verbose)
{
    memset(l, 0, sizeof *l);
    l->verbose = verbose;
    l->base = event_base_new();
    if (!l->base || msbd_pump_init(&l->pump, l->base, h->api, h->net, t, verbose)) {
        fprintf(stderr, "msbnetd: cannot set up the event loop\n");
        if (l->base)
            event_base_free(l->base);
        l->base = NULL;
        return -1;
    }
    /* Set before the control plane starts, cleared before the pump goes. */
    l->host = h;
    h->own_stats = pump_stats;
    h->own_stats_arg = &l->pump;
    return 0;
}

int msbd_loop_on_signal(struct msbd_loop *l, int sig, event_callback_fn fn, void *arg)
{
    if (l->nsig == MSBD_MAX_SIGNAL_EVENTS)
        return -1;
    struct event *ev = evsignal_new(l->base, sig, fn, arg);
    if (!ev || evsignal_add(ev, NULL)) {
        if (ev)
            event_free(ev);
        fprintf(stderr, "msbnetd: cannot watch signal %d\n", sig);
        return -1;
    }
    l->sig[l->nsig++] = ev;
    return 0;
}

void msbd_loop_free(struct msbd_loop *l)
{
    for (int i = 0; i < l->nsig; i++)
        event_free(l->sig[i]);
    l->nsig = 0;
    if (l->host)
        l->host->own_stats = NULL;
    l->host = NULL;
    if (l->base) {
        msbd_pump_free(&l->pump);
        event_base_free(l->base);
    }
    l->base = NULL;
}

void msbd_loop_close(struct msbd_loop *l, struct msbd_host *h, bool print_metrics)
{
    json_t *stats = l->base ? msbd_pump_stats_json(&l->pump) : NULL;
    msbd_loop_free(l);
    msbd_host_close(h, stats, print_metrics);
}
