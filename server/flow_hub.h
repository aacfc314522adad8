/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one reader of the plugin's flow records (drain_flow_records): a
 * timer on the loop drains them and hands each line to every open
 * StreamFlowRecords stream (each with its filter and a bounded queue of
 * its own: a stream that falls behind loses records, counted, and never
 * slows the others or the loop), and to the --flow-log file when there is
 * one.  While nobody listens (no stream, no log) nothing is drained,
 * so the plugin's ring fills and counts its own drops.  Loop thread only.
 */
#ifndef MSBD_FLOW_HUB_H
#define MSBD_FLOW_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct msbd_host;
struct msbd_call;
struct msbd_flow_hub;
struct msbd_flow_sub;

/* Lines drained per tick at most, and lines a stream may have queued. */
#define MSBD_FLOW_DRAIN_MS 100
#define MSBD_FLOW_SUB_QUEUE 8192
#define MSBD_FLOW_BATCH 256

struct msbd_flow_log;
/* NULL when the plugin has no drain_flow_records or memory is short.  With
 * a log (owned from here on; NULL = none) every record is drained and
 * written to it, streams or not. */
struct msbd_flow_hub *msbd_flow_hub_new(struct event_base *base, struct msbd_host *h,
                                        struct msbd_flow_log *log);
void msbd_flow_hub_free(struct msbd_flow_hub *hub);

/* What a tick does, now (NULL ignored): at shutdown, after the plugin
 * stopped, so the records of the flows the stop ended reach the streams
 * still open (their first batch goes before their closing status). */
void msbd_flow_hub_flush(struct msbd_flow_hub *hub);

/* A stream's subscription (filters copied); NULL when memory is short.
 * The hub sends through msbd_call_send, one batch in flight. */
struct msbd_flow_sub *msbd_flow_sub_new(struct msbd_flow_hub *hub, struct msbd_call *c,
                                        const char *action, const char *protocol,
                                        const char *suffix);
/* The stream's message left (or failed): send the next batch. */
void msbd_flow_sub_sent(struct msbd_flow_sub *s, bool ok);
/* The call is going away. */
void msbd_flow_sub_free(struct msbd_flow_sub *s);

#endif
