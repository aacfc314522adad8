/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl's streaming subcommands: metrics and watch-termination. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"

static int usage_of(const char *name, const char *text, bool help)
{
    fprintf(help ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] %s %s\n", name, text);
    return help ? 0 : EXIT_USAGE;
}

/* "section.key value" lines: greppable, one counter per line. */
static void print_flat(const char *prefix, json_t *j)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (json_is_object(v))
            print_flat(name, v);
        else if (json_is_integer(v))
            printf("%-40s %lld\n", name, (long long)json_integer_value(v));
    }
}

static void print_snapshot(const struct ctl_opts *o, const Msbnet__V1__MetricsSnapshot *m)
{
    if (o->json) {
        printf("%s\n", m->json);
    } else {
        json_t *j = json_loads(m->json, 0, NULL);
        printf("# snapshot (dropped so far: %llu)\n", (unsigned long long)m->dropped_snapshots);
        print_flat("", j);
        json_decref(j);
    }
    fflush(stdout);
}

/* Reads until the stream ends or `count` messages (0 = no limit) arrived;
 * then cancels if needed and returns the exit status. */
static int run_stream(const struct ctl_opts *o, const char *cmd, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
                      uint32_t deadline_ms, uint32_t count,
                      void (*print)(const struct ctl_opts *, const void *))
{
    struct ctl_conn c;
    struct ctl_stream s;
    struct ctl_status st;
    if (ctl_open(&c, &o->ep))
        return EXIT_USAGE;
    int rc = 0;
    uint32_t got = 0;
    if (ctl_stream_open(&c, &s, method, req, ctl_deadline(deadline_ms)) == 0) {
        ProtobufCMessage *m;
        int r;
        while ((!count || got < count) && (r = ctl_stream_next(&c, &s, d, &m)) != 0) {
            if (r < 0) {
                fprintf(stderr, "msbnetctl: %s: undecodable message\n", cmd);
                rc = EXIT_RPC;
                break;
            }
            print(o, m);
            protobuf_c_message_free_unpacked(m, NULL);
            got++;
        }
    }
    bool stopped_early = rc || (count && got >= count);
    if (stopped_early)
        ctl_stream_cancel(&s);
    grpc_status_code code = ctl_stream_finish(&c, &s, &st);
    ctl_close(&c);
    if (rc || stopped_early)
        return rc;
    return code == GRPC_STATUS_OK ? 0 : ctl_report(cmd, &st);
}

static void print_metrics_msg(const struct ctl_opts *o, const void *m)
{
    print_snapshot(o, m);
}

int ctl_metrics(const struct ctl_opts *o, int argc, char **argv)
{
    static const char *const text = "[--follow] [--interval MS] [--count N]";
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Msbnet__V1__StreamMetricsRequest req = MSBNET__V1__STREAM_METRICS_REQUEST__INIT;
    req.interval_ms = 1000;
    bool follow = false;
    uint32_t count = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == 'f') {
            follow = true;
        } else if (ch == 'i' || ch == 'c') {
            /* The daemon validates the interval (100..60000); passing it on
             * shows its INVALID_ARGUMENT rather than a second rule here. */
            if (!ctl_parse_u32(optarg, ch == 'c' ? 1 : 0, UINT32_MAX,
                               ch == 'i' ? &req.interval_ms : &count)) {
                fprintf(stderr, "msbnetctl metrics: \"%s\" is not a number\n", optarg);
                return usage_of("metrics", text, false);
            }
        } else {
            return usage_of("metrics", text, ch == 'h');
        }
    }
    if (optind < argc)
        return usage_of("metrics", text, false);
    if (!follow)
        count = 1;
    uint32_t deadline = o->deadline_set ? o->deadline_ms : follow ? 0 : 5000;
    return run_stream(o, "metrics", SVC "StreamMetrics", &req.base,
                      &msbnet__v1__metrics_snapshot__descriptor, deadline, count,
                      print_metrics_msg);
}

static void print_event(const struct ctl_opts *o, const void *msg)
{
    const Msbnet__V1__TerminationEvent *e = msg;
    json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "unix_time_ms", (json_int_t)e->unix_time_ms,
                          "reason", e->reason, "rule", e->rule, "flow", e->flow);
    if (o->json) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("terminated at %lld ms: %s (rule %s, flow %s)\n", (long long)e->unix_time_ms,
               e->reason, *e->rule ? e->rule : "-", *e->flow ? e->flow : "-");
    }
    json_decref(j);
    fflush(stdout);
}

int ctl_watch_termination(const struct ctl_opts *o, int argc, char **argv)
{
    static const char *const text = "[--client NAME]";
    static const struct option opts[] = {{"client", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Msbnet__V1__InstallTerminationCallbackRequest req =
        MSBNET__V1__INSTALL_TERMINATION_CALLBACK_REQUEST__INIT;
    req.client = "msbnetctl";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == 'c')
            req.client = optarg;
        else
            return usage_of("watch-termination", text, ch == 'h');
    }
    if (optind < argc)
        return usage_of("watch-termination", text, false);
    return run_stream(o, "watch-termination", SVC "InstallTerminationCallback", &req.base,
                      &msbnet__v1__termination_event__descriptor,
                      o->deadline_set ? o->deadline_ms : 0, 0, print_event);
}
