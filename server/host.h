/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin instance msbnetd hosts, from options to teardown: load the
 * plugin, create the instance from the assembled config, read its
 * addressing, activate both gateways, start and stop the stack, and report
 * metrics on exit.  Shared by `tap` and `run`.
 */
#ifndef MSBD_HOST_H
#define MSBD_HOST_H

#include <signal.h>
#include <stdbool.h>

#include "addresses.h"
#include "options.h"
#include "plugin_loader.h"
#include <jansson.h>

struct msbd_host {
    struct msbd_plugin plugin;
    const struct msbnet_api_v1 *api;
    msbnet_t *net;
    struct msbd_addrs addrs;
    bool started;
    uint64_t opened_ms; /* CLOCK_MONOTONIC at open: GetStatus uptime */
    unsigned slot; /* from the config ("slot", default 0): names the control socket */
    /* The gateways set so far (empty = that family inactive), normalised. */
    char active_gw4[INET_ADDRSTRLEN], active_gw6[INET6_ADDRSTRLEN];
    /* msbnetd's own counters (the pump's and its transport's) as a new JSON
     * object, merged into every live snapshot as "msbnetd"; set by the loop
     * while its pump exists, NULL otherwise.  Reads atomics only. */
    json_t *(*own_stats)(const void *arg);
    const void *own_stats_arg;
    bool direct_tap; /* the plugin's stack thread reads and writes the TAP (direct.h) */
};

/* True when the plugin's table has start, stop and addresses_json (fields
 * appended after termination_count in ABI v1). */
bool msbd_api_has_data_plane(const struct msbnet_api_v1 *api);

/* Loads and creates.  Returns 0, 1 (plugin unusable) or MSBD_EXIT_USAGE
 * (bad config: the plugin's message, naming the key, is printed). */
int msbd_host_open(struct msbd_host *h, const struct msbd_opts *o);

/* api->set_gateways (NULL or "" leaves a family alone), recording what is
 * active for GetStatus.  Returns the plugin's MSBNET_* code. */
int msbd_host_set_gateways(struct msbd_host *h, const char *ipv4, const char *ipv6);

/* The plugin's metrics snapshot with msbnetd's own counters added as a
 * top-level "msbnetd" object (when own_stats is set): what StreamMetrics,
 * /metrics and /metrics.json report.  A new reference, or NULL when the
 * plugin gives no snapshot. */
json_t *msbd_host_metrics(const struct msbd_host *h);

/* The same as compact JSON text (free() it), or NULL. */
char *msbd_host_metrics_text(const struct msbd_host *h);

/* start().  Returns 0 or 1 with a message printed. */
int msbd_host_start(struct msbd_host *h);

/* stop() once (nothing when not started or already stopped).  Before the
 * control plane goes: the flows that end because of the stop leave their
 * records (end "stop") for the flow hub to hand out as it closes. */
void msbd_host_stop(struct msbd_host *h);

/* stop() unless done, the metrics (with msbnetd's counters, `extra`, under "msbnetd";
 * the reference is taken, NULL = none) to stderr when asked, destroy(),
 * unload.  Safe after a failed open. */
void msbd_host_close(struct msbd_host *h, json_t *extra, bool print_metrics);

/* The signals the event loop handles (INT, TERM, CHLD, HUP) are blocked
 * from before any thread or child exists until their events are armed, so
 * none is lost and the plugin's threads never take them. */
void msbd_signals_block(sigset_t *old);
void msbd_signals_restore(const sigset_t *old);

/* Every guest flow holds a descriptor: msbnetd raises its soft
 * RLIMIT_NOFILE to the hard limit at start, and `run` gives CMD the soft
 * limit msbnetd was started with (programs using select() expect it). */
void msbd_fd_limit_raise(void);
void msbd_fd_limit_restore(void);

#endif
