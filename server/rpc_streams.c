/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server streams.  StreamMetrics: a timer per stream; a tick while the
 * previous snapshot is still in flight (slow reader) is dropped and counted,
 * so one stream holds at most one message and never stalls the loop.
 * InstallTerminationCallback: open streams wait in g->streams; the first
 * termination event is sent to each and the stream ends OK; streams opened
 * later get it at once.
 */
#include "rpc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MIN_INTERVAL_MS 100u
#define MAX_INTERVAL_MS 60000u

static void send_snapshot(struct msbd_call *c)
{
    /* The plugin's snapshot with msbnetd's own counters as "msbnetd". */
    char *json = msbd_host_metrics_text(c->g->host);
    if (!json) {
        c->dropped++;
        return;
    }
    Msbnet__V1__MetricsSnapshot m = MSBNET__V1__METRICS_SNAPSHOT__INIT;
    m.json = json;
    m.dropped_snapshots = c->dropped;
    if (!msbd_call_send(c, &m.base))
        c->dropped++;
    free(json);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_call *c = arg;
    if (c->send_busy)
        c->dropped++; /* the reader is behind: skip, never queue */
    else
        send_snapshot(c);
}

void msbd_rpc_stream_metrics(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__StreamMetricsRequest *r = (const void *)req;
    if (r->interval_ms < MIN_INTERVAL_MS || r->interval_ms > MAX_INTERVAL_MS) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "interval_ms must be 100..60000");
        return;
    }
    struct timeval tv = {.tv_sec = r->interval_ms / 1000,
                         .tv_usec = (suseconds_t)(r->interval_ms % 1000) * 1000};
    c->timer = event_new(c->g->base, -1, EV_PERSIST, on_tick, c);
    if (!c->timer || event_add(c->timer, &tv)) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot arm the stream's timer");
        return;
    }
    msbd_call_link(c);
    send_snapshot(c); /* the first one at once, not after one interval */
}

void msbd_rpc_metrics_sent(struct msbd_call *c, bool ok)
{
    if (!ok && c->timer)
        event_del(c->timer); /* the call is going away; RECV_CLOSE cleans up */
}

/* ---- termination ------------------------------------------------------- */

void msbd_term_event_free(struct msbd_term_event *e)
{
    if (!e)
        return;
    free(e->reason);
    free(e->rule);
    free(e->flow);
    free(e);
}

/* A string member as is; any other JSON value in its compact text. */
static char *member_text(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (v)
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return strdup(dflt);
}

static struct msbd_term_event *parse_event(const char *reason_json, int64_t ms)
{
    struct msbd_term_event *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    json_t *o = json_loads(reason_json, JSON_DECODE_ANY, NULL);
    e->unix_time_ms = ms;
    /* The plugin's object (msbnet.h: MSBNET_REASON_*) names rule and flow;
     * a reason that is not an object is passed on verbatim. */
    e->reason = json_is_object(o) ? member_text(o, MSBNET_REASON_KIND, "policy terminate")
                                  : strdup(reason_json);
    e->rule = member_text(json_is_object(o) ? o : NULL, MSBNET_REASON_RULE, "");
    e->flow = member_text(json_is_object(o) ? o : NULL, MSBNET_REASON_FLOW, "");
    json_decref(o);
    if (!e->reason || !e->rule || !e->flow) {
        msbd_term_event_free(e);
        return NULL;
    }
    return e;
}

static void send_event(struct msbd_call *c, const struct msbd_term_event *e)
{
    Msbnet__V1__TerminationEvent m = MSBNET__V1__TERMINATION_EVENT__INIT;
    m.unix_time_ms = e->unix_time_ms;
    m.reason = e->reason;
    m.rule = e->rule;
    m.flow = e->flow;
    if (!msbd_call_send(c, &m.base))
        msbd_call_finish(c, GRPC_STATUS_INTERNAL, "cannot send the termination event");
}

void msbd_rpc_install_termination(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req; /* the client name is informational only */
    if (c->g->fired) {
        send_event(c, c->g->fired);
        return;
    }
    msbd_call_link(c);
}

void msbd_rpc_termination_sent(struct msbd_call *c, bool ok)
{
    msbd_call_finish(c, ok ? GRPC_STATUS_OK : GRPC_STATUS_UNAVAILABLE,
                     ok ? "" : "the event could not be delivered");
}

void msbd_rpc_termination_fired(struct msbd_grpc *g, const char *reason_json, int64_t ms)
{
    if (g->fired || g->shutting_down)
        return; /* the first event is the one that ends the sandbox */
    g->fired = parse_event(reason_json, ms);
    if (!g->fired)
        return;
    struct msbd_call *c = g->streams, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->method->sent == msbd_rpc_termination_sent)
            send_event(c, g->fired);
    }
}
