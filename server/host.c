/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin instance msbnetd hosts (host.h): loaded, created, its gateways
 * set, started and stopped, its metrics joined by msbnetd's own counters. */
#include "host.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

bool msbd_api_has_data_plane(const struct msbnet_api_v1 *api)
{
    return HAS_FIELD(api, start) && HAS_FIELD(api, stop) && HAS_FIELD(api, addresses_json);
}

/* create(), mapping the plugin's "unknown key dns_upstreams" to the option
 * the user actually typed. */
static int create(struct msbd_host *h, const struct msbd_opts *o, const char *json)
{
    char err[512];
    h->net = h->api->create(json, err, sizeof err);
    if (h->net)
        return 0;
    if (o->has_dns && strstr(err, "\"dns_upstreams\""))
        fprintf(stderr, "msbnetd: --dns is not supported by this plugin (%s)\n", err);
    else
        fprintf(stderr, "msbnetd: %s\n", err);
    return MSBD_EXIT_USAGE;
}

/* Records the canonical text, so an identical repeat in another spelling
 * ("fd42:0::1") still reports one form. */
static void record(int family, const char *in, char *out, size_t outlen)
{
    unsigned char buf[16];
    if (in && *in && inet_pton(family, in, buf) == 1)
        inet_ntop(family, buf, out, (socklen_t)outlen);
}

int msbd_host_set_gateways(struct msbd_host *h, const char *ipv4, const char *ipv6)
{
    ipv4 = ipv4 && *ipv4 ? ipv4 : NULL;
    ipv6 = ipv6 && *ipv6 ? ipv6 : NULL;
    int rc = h->api->set_gateways(h->net, ipv4, ipv6);
    if (rc == 0) {
        record(AF_INET, ipv4, h->active_gw4, sizeof h->active_gw4);
        record(AF_INET6, ipv6, h->active_gw6, sizeof h->active_gw6);
    }
    return rc;
}

/* The slot names the default control socket; the plugin has already
 * checked the config, so only its value is read here. */
static void read_slot(struct msbd_host *h, const char *json)
{
    json_t *root = json_loads(json, 0, NULL);
    json_t *slot = root ? json_object_get(root, "slot") : NULL;
    if (json_is_integer(slot) && json_integer_value(slot) >= 0)
        h->slot = (unsigned)json_integer_value(slot);
    json_decref(root);
}

static int read_addresses(struct msbd_host *h, bool set_gateways)
{
    char err[256];
    char *json = h->api->addresses_json(h->net);
    int rc = msbd_addrs_parse(json, &h->addrs, err, sizeof err);
    h->api->free_string(json);
    if (rc) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return 1;
    }
    if (!set_gateways)
        return 0; /* a controller activates them over gRPC */
    rc = msbd_host_set_gateways(h, h->addrs.gateway4_str, h->addrs.gateway6_str);
    if (rc) {
        fprintf(stderr, "msbnetd: set_gateways(%s, %s) failed (%d)\n", h->addrs.gateway4_str,
                h->addrs.gateway6_str, rc);
        return 1;
    }
    return 0;
}

/* Every guest flow, UDP session and echo holds a host socket: 16384 TCP
 * flows alone exceed the usual soft limit of 1024 descriptors, so take the
 * hard limit the administrator allows (a lower one just means fewer flows,
 * which the plugin refuses and counts). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int msbd_host_open(struct msbd_host *h, const struct msbd_opts *o)
{
    memset(h, 0, sizeof *h);
    raise_fd_limit();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h->opened_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    char err[512];
    if (msbd_plugin_load(&h->plugin, o->plugin_path, err, sizeof err)) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return 1;
    }
    h->api = h->plugin.api;
    if (!msbd_api_has_data_plane(h->api)) {
        fprintf(stderr,
                "msbnetd: plugin %s (%s) has no data plane (start/stop/addresses_json missing "
                "from its ABI table); it can only check configs\n",
                h->plugin.path, h->api->version());
        return 1;
    }
    char *json = msbd_opts_config_json(o);
    if (!json)
        return MSBD_EXIT_USAGE;
    int rc = create(h, o, json);
    if (!rc)
        read_slot(h, json);
    msbd_wipe_text(json); /* it may hold secret values */
    free(json);
    return rc ? rc : read_addresses(h, !o->no_gateways);
}

int msbd_host_start(struct msbd_host *h)
{
    char err[512] = "";
    int rc = h->api->start(h->net, err, sizeof err);
    if (rc) {
        fprintf(stderr, "msbnetd: start failed (%d): %s\n", rc, err);
        return 1;
    }
    h->started = true;
    return 0;
}

static json_t *plugin_snapshot(const struct msbd_host *h)
{
    char *s = h->api->metrics_json(h->net);
    json_t *m = s ? json_loads(s, 0, NULL) : NULL;
    h->api->free_string(s);
    if (m && !json_is_object(m)) {
        json_decref(m);
        m = NULL;
    }
    return m;
}

/* msbnetd's own counters go under "msbnetd" with the data path they
 * describe.  With the direct TAP path the plugin moves the frames itself
 * (its guest.* counters): the pump's counters are left out rather than
 * shown as 0, so no series claims a place the frames do not pass; the
 * TAP's own facts ("transport": its header mode) still hold. */
static void add_own(const struct msbd_host *h, json_t *m, json_t *own)
{
    if (h->direct_tap) {
        json_t *d = json_pack("{s:s}", "data_path", "plugin");
        json_t *t = json_object_get(own, "transport");
        if (d && t)
            json_object_set(d, "transport", t);
        json_object_set_new(m, "msbnetd", d);
        return;
    }
    json_object_set_new(own, "data_path", json_string("pump"));
    json_object_set(m, "msbnetd", own);
}

json_t *msbd_host_metrics(const struct msbd_host *h)
{
    json_t *m = plugin_snapshot(h);
    json_t *own = m && h->own_stats ? h->own_stats(h->own_stats_arg) : NULL;
    if (own) {
        add_own(h, m, own);
        json_decref(own);
    }
    return m;
}

char *msbd_host_metrics_text(const struct msbd_host *h)
{
    json_t *m = msbd_host_metrics(h);
    char *out = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    return out;
}

/* At exit the loop is gone: its last counters come as `extra`. */
static void print_metrics(struct msbd_host *h, json_t *extra)
{
    json_t *m = plugin_snapshot(h);
    if (!m) {
        fprintf(stderr, "msbnetd: no metrics from the plugin\n");
        return;
    }
    if (extra)
        add_own(h, m, extra);
    char *out = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (out)
        fprintf(stderr, "%s\n", out);
    free(out);
    json_decref(m);
}

void msbd_host_stop(struct msbd_host *h)
{
    if (h->net && h->started)
        h->api->stop(h->net);
    h->started = false;
}

void msbd_host_close(struct msbd_host *h, json_t *extra, bool want_metrics)
{
    msbd_host_stop(h);
    if (h->net && want_metrics)
        print_metrics(h, extra);
    json_decref(extra);
    if (h->net)
        h->api->destroy(h->net);
    h->net = NULL;
    if (h->plugin.handle)
        msbd_plugin_unload(&h->plugin);
}

static void handled_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGHUP);
    sigaddset(s, SIGCHLD);
}

void msbd_signals_block(sigset_t *old)
{
    sigset_t s;
    handled_set(&s);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

void msbd_signals_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static struct rlimit nofile_at_start;
static bool nofile_saved;

void msbd_fd_limit_raise(void)
{
    if (getrlimit(RLIMIT_NOFILE, &nofile_at_start))
        return;
    nofile_saved = true;
    struct rlimit raised = {nofile_at_start.rlim_max, nofile_at_start.rlim_max};
    setrlimit(RLIMIT_NOFILE, &raised);
}

void msbd_fd_limit_restore(void)
{
    if (nofile_saved)
        setrlimit(RLIMIT_NOFILE, &nofile_at_start);
}
