/* SPDX-License-Identifier: Apache-2.0 */
/* The flow-record hub (flow_hub.h): drain on a timer, filter and queue per
 * stream, one batch in flight per stream. */
#include "flow_hub.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flow_filter.h"
#include "flow_log.h"
#include "grpc_call.h"
#include "host.h"
#include "msbnet/v1/control.pb-c.h"

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

struct msbd_flow_sub {
    struct msbd_flow_hub *hub;
    struct msbd_call *c;
    char *action, *protocol, *suffix;
    char *q[MSBD_FLOW_SUB_QUEUE]; /* owned lines, a ring */
    size_t head, count;
    uint64_t dropped;
    struct msbd_flow_sub *prev, *next;
};

struct msbd_flow_hub {
    struct msbd_host *h;
    struct event *timer;
    struct msbd_flow_sub *subs;
    struct msbd_flow_log *log;
};

/* Sends up to MSBD_FLOW_BATCH queued lines when nothing is in flight. */
static void pump(struct msbd_flow_sub *s)
{
    if (!s->count || s->c->send_busy)
        return;
    size_t n = s->count < MSBD_FLOW_BATCH ? s->count : MSBD_FLOW_BATCH;
    char *lines[MSBD_FLOW_BATCH];
    for (size_t i = 0; i < n; i++)
        lines[i] = s->q[(s->head + i) % MSBD_FLOW_SUB_QUEUE];
    Msbnet__V1__FlowRecordBatch b = MSBNET__V1__FLOW_RECORD_BATCH__INIT;
    b.n_records = n;
    b.records = lines;
    b.dropped_records = s->dropped;
    if (!msbd_call_send(s->c, &b.base))
        return; /* still busy: the sent callback pumps again */
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    s->head = (s->head + n) % MSBD_FLOW_SUB_QUEUE;
    s->count -= n;
}

static void offer(struct msbd_flow_sub *s, const char *line, size_t len)
{
    if (!msbd_flow_match(line, s->action, s->protocol, s->suffix))
        return;
    char *copy = s->count < MSBD_FLOW_SUB_QUEUE ? strndup(line, len) : NULL;
    if (!copy) {
        s->dropped++; /* the reader is behind (or memory is short) */
        return;
    }
    s->q[(s->head + s->count) % MSBD_FLOW_SUB_QUEUE] = copy;
    s->count++;
}

/* Hands each line of text (NUL-terminated lines in place) to every sub. */
static void fan_out(struct msbd_flow_hub *hub, char *text)
{
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        for (struct msbd_flow_sub *s = hub->subs; s; s = s->next)
            offer(s, line, (size_t)(nl - line));
    }
    for (struct msbd_flow_sub *s = hub->subs; s; s = s->next)
        pump(s);
}

static void drain(struct msbd_flow_hub *hub)
{
    char *text = NULL;
    long n = hub->h->api->drain_flow_records(hub->h->net, 0, &text);
    if (n > 0 && text) {
        /* The log first and in one write: fan_out cuts the text in place. */
        if (hub->log)
            msbd_flow_log_write_lines(hub->log, text, strlen(text));
        fan_out(hub, text);
    }
    hub->h->api->free_string(text);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_flow_hub *hub = arg;
    if (hub->subs || hub->log) /* else the plugin keeps (and then drops) them */
        drain(hub);
}

void msbd_flow_hub_flush(struct msbd_flow_hub *hub)
{
    if (hub)
        on_tick(-1, 0, hub);
}

struct msbd_flow_hub *msbd_flow_hub_new(struct event_base *base, struct msbd_host *h,
                                        struct msbd_flow_log *log)
{
    struct msbd_flow_hub *hub = HAS_FIELD(h->api, drain_flow_records) ? calloc(1, sizeof *hub)
                                                                       : NULL;
    if (!hub) {
        msbd_flow_log_close(log);
        return NULL;
    }
    hub->h = h;
    hub->log = log;
    const struct timeval tv = {0, MSBD_FLOW_DRAIN_MS * 1000};
    hub->timer = event_new(base, -1, EV_PERSIST, on_tick, hub);
    if (!hub->timer || event_add(hub->timer, &tv)) {
        msbd_flow_hub_free(hub);
        return NULL;
    }
    return hub;
}

void msbd_flow_hub_free(struct msbd_flow_hub *hub)
{
    if (!hub)
        return;
    while (hub->subs)
        msbd_flow_sub_free(hub->subs);
    if (hub->log) {
        drain(hub); /* what the last tick left: every record reaches the file */
        msbd_flow_log_close(hub->log);
    }
    if (hub->timer)
        event_free(hub->timer);
    free(hub);
}

struct msbd_flow_sub *msbd_flow_sub_new(struct msbd_flow_hub *hub, struct msbd_call *c,
                                        const char *action, const char *protocol,
                                        const char *suffix)
{
    struct msbd_flow_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hub = hub;
    s->c = c;
    s->action = strdup(action);
    s->protocol = strdup(protocol);
    s->suffix = strdup(suffix);
    if (!s->action || !s->protocol || !s->suffix) {
        msbd_flow_sub_free(s);
        return NULL;
    }
    s->next = hub->subs;
    if (hub->subs)
        hub->subs->prev = s;
    hub->subs = s;
    return s;
}

void msbd_flow_sub_sent(struct msbd_flow_sub *s, bool ok)
{
    if (ok)
        pump(s);
}

void msbd_flow_sub_free(struct msbd_flow_sub *s)
{
    if (!s)
        return;
    struct msbd_flow_hub *hub = s->hub;
    if (s->prev)
        s->prev->next = s->next;
    else if (hub->subs == s)
        hub->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    for (size_t i = 0; i < s->count; i++)
        free(s->q[(s->head + i) % MSBD_FLOW_SUB_QUEUE]);
    free(s->action);
    free(s->protocol);
    free(s->suffix);
    free(s);
}
