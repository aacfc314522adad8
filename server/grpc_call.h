/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the gRPC server files: one context per call, the tags
 * handed through the completion queue, and the helpers handlers use to
 * answer.  Everything here runs on the loop thread only.
 */
#ifndef MSBD_GRPC_CALL_H
#define MSBD_GRPC_CALL_H

#include <event2/event.h>
#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host.h"
#include "term_relay.h"

/* What a completion-queue tag stands for. */
enum msbd_tag_op { MSBD_TAG_NEW, MSBD_TAG_RECV, MSBD_TAG_SEND, MSBD_TAG_STATUS, MSBD_TAG_CLOSE,
                   MSBD_TAG_SHUTDOWN };

struct msbd_call;

/* Each in-flight batch has its own tag; a tag is in the handoff queue at
 * most once, so the queue links through the tag itself (no allocation on
 * the CQ thread). */
struct msbd_tag {
    struct msbd_call *call;
    enum msbd_tag_op op;
    int success;
    struct msbd_tag *next;
};

/* A tag goes to grpc on the loop thread and comes back from the completion
 * queue on the CQ thread; grpc (not built with ThreadSanitizer) orders the
 * two, invisibly to TSan.  In msbnetd_tsan the hand-off is said to TSan:
 * released where it is given to grpc, acquired where the CQ returns it.
 * Anything the loop writes after the release still races, as it should. */
#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define MSBD_TAG_GIVEN(t) __tsan_release(t)
#define MSBD_TAG_RETURNED(t) __tsan_acquire(t)
#else
#define MSBD_TAG_GIVEN(t) ((void)(t))
#define MSBD_TAG_RETURNED(t) ((void)(t))
#endif

struct msbd_method;
struct msbd_http;

struct msbd_call {
    struct msbd_grpc *g;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *req; /* RECV_MESSAGE target */
    grpc_byte_buffer *out; /* the one message in flight */
    const struct msbd_method *method;
    struct msbd_tag t_new, t_recv, t_send, t_status, t_close;
    int pending; /* batches started and not yet completed */
    int cancelled;
    bool md_sent, send_busy, status_started, status_deferred;
    grpc_status_code status;
    grpc_slice status_text;
    /* server streams */
    struct event *timer;
    uint64_t dropped;
    struct msbd_call *prev, *next; /* g->streams while open */
    bool linked;
    struct msbd_flow_sub *flow_sub; /* StreamFlowRecords (flow_hub.h), freed on unlink */
};

/* A method: its path, request type and handler.  The handler owns nothing
 * of `req` (freed after it returns) and must answer through msbd_call_*. */
struct msbd_method {
    const char *path;
    const ProtobufCMessageDescriptor *req_desc;
    void (*handle)(struct msbd_call *c, const ProtobufCMessage *req);
    void (*sent)(struct msbd_call *c, bool ok); /* streams: a message left (or failed) */
};

/* The first termination event, kept for callbacks installed later. */
struct msbd_term_event {
    int64_t unix_time_ms;
    char *reason, *rule, *flow;
};

#define MSBD_MAX_CALLS 512 /* live calls; beyond: RESOURCE_EXHAUSTED */

struct msbd_grpc {
    struct event_base *base;
    struct msbd_host *host;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool thread_started;
    int wake_fd;
    struct event *wake_ev;
    pthread_mutex_t lock; /* guards head/tail only */
    struct msbd_tag *head, *tail;
    struct msbd_tag shutdown_tag;
    bool shutting_down, shutdown_done;
    int ncalls;
    struct msbd_call *streams;
    struct msbd_term_relay relay;
    bool relay_on;
    struct msbd_term_event *fired;
    char path[108];
    struct msbd_http *http;   /* --http, NULL = off */
    int term_pid, term_sig;   /* --on-terminate-signal, 0 = off */
    bool term_signalled;      /* sent at most once */
    struct msbd_flow_hub *flows; /* flow records (flow_hub.h); NULL: the plugin has none */
};

/* The method table (rpc_*.c) and lookup by path; NULL = unknown. */
const struct msbd_method *msbd_method_find(grpc_slice path);

/* grpc_call.c */
void msbd_call_arm(struct msbd_grpc *g);
void msbd_call_on_tag(struct msbd_tag *t);
/* Unary answer: initial metadata, the message, OK. */
void msbd_call_reply(struct msbd_call *c, const ProtobufCMessage *m);
/* One stream message; false when one is still in flight (caller drops). */
bool msbd_call_send(struct msbd_call *c, const ProtobufCMessage *m);
/* Final status (once; waits for a message in flight). */
void msbd_call_finish(struct msbd_call *c, grpc_status_code code, const char *text);
/* Streams stay in g->streams until closed, so shutdown and the termination
 * hook can reach them. */
void msbd_call_link(struct msbd_call *c);

/* rpc_streams.c: the hook's reason reached the loop. */
void msbd_rpc_termination_fired(struct msbd_grpc *g, const char *reason_json, int64_t ms);
void msbd_term_event_free(struct msbd_term_event *e);

#endif
