/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Call contexts: arming requests, batches and their completion, the final
 * status.  A context is freed when its last batch has completed, which is
 * always after RECV_CLOSE_ON_SERVER (started first and completed last), so
 * a hostile client that vanishes mid-call leaves nothing behind.
 */
#include "grpc_call.h"
#include "flow_hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_wire.h"

void msbd_call_arm(struct msbd_grpc *g)
{
    struct msbd_call *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "msbnetd: out of memory arming a gRPC call\n");
        return;
    }
    c->g = g;
    c->t_new = (struct msbd_tag){.call = c, .op = MSBD_TAG_NEW};
    c->t_recv = (struct msbd_tag){.call = c, .op = MSBD_TAG_RECV};
    c->t_send = (struct msbd_tag){.call = c, .op = MSBD_TAG_SEND};
    c->t_status = (struct msbd_tag){.call = c, .op = MSBD_TAG_STATUS};
    c->t_close = (struct msbd_tag){.call = c, .op = MSBD_TAG_CLOSE};
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    g->ncalls++;
    /* Unregistered calls: every method, known or not, arrives here, so an
     * unknown one is answered UNIMPLEMENTED instead of waiting in core. */
    MSBD_TAG_GIVEN(&c->t_new);
    grpc_call_error e =
        grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "msbnetd: grpc_server_request_call failed (%d)\n", (int)e);
        grpc_metadata_array_destroy(&c->md);
        grpc_call_details_destroy(&c->details);
        g->ncalls--;
        free(c);
        return;
    }
    c->pending = 1;
}

static bool start(struct msbd_call *c, grpc_op *ops, size_t n, struct msbd_tag *t)
{
    MSBD_TAG_GIVEN(t);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "msbnetd: grpc_call_start_batch failed (%d)\n", (int)e);
        return false;
    }
    c->pending++;
    return true;
}

/* Adds SEND_INITIAL_METADATA before the first thing sent. */
static size_t initial_md(struct msbd_call *c, grpc_op *op)
{
    if (c->md_sent)
        return 0;
    memset(op, 0, sizeof *op);
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    c->md_sent = true;
    return 1;
}

static void start_status(struct msbd_call *c, grpc_byte_buffer *msg)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = initial_md(c, &ops[0]);
    if (msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
        c->out = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->status;
    ops[n++].data.send_status_from_server.status_details = &c->status_text;
    start(c, ops, n, &c->t_status);
}

static void set_status(struct msbd_call *c, grpc_status_code code, const char *text)
{
    c->status_started = true;
    c->status = code;
    c->status_text = grpc_slice_from_copied_string(text ? text : "");
}

void msbd_call_finish(struct msbd_call *c, grpc_status_code code, const char *text)
{
    if (c->status_started)
        return;
    set_status(c, code, text);
    if (c->send_busy)
        c->status_deferred = true; /* one SEND op of a kind at a time */
    else
        start_status(c, NULL);
}

void msbd_call_reply(struct msbd_call *c, const ProtobufCMessage *m)
{
    if (c->status_started)
        return;
    grpc_byte_buffer *bb = msbd_wire_encode(m);
    if (!bb) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    set_status(c, GRPC_STATUS_OK, "");
    start_status(c, bb);
}

bool msbd_call_send(struct msbd_call *c, const ProtobufCMessage *m)
{
    if (c->send_busy || c->status_started)
        return false;
    grpc_byte_buffer *bb = msbd_wire_encode(m);
    if (!bb)
        return false;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = initial_md(c, &ops[0]);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    c->out = bb;
    if (!start(c, ops, n, &c->t_send)) {
        grpc_byte_buffer_destroy(bb);
        c->out = NULL;
        return false;
    }
    c->send_busy = true;
    return true;
}

void msbd_call_link(struct msbd_call *c)
{
    struct msbd_grpc *g = c->g;
    c->prev = NULL;
    c->next = g->streams;
    if (g->streams)
        g->streams->prev = c;
    g->streams = c;
    c->linked = true;
}

static void unlink_stream(struct msbd_call *c)
{
    if (c->timer) {
        event_free(c->timer);
        c->timer = NULL;
    }
    msbd_flow_sub_free(c->flow_sub);
    c->flow_sub = NULL;
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->g->streams = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = false;
}

static void call_free(struct msbd_call *c)
{
    unlink_stream(c);
    if (c->out)
        grpc_byte_buffer_destroy(c->out);
    if (c->req)
        grpc_byte_buffer_destroy(c->req);
    if (c->status_started)
        grpc_slice_unref(c->status_text);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    if (c->call)
        grpc_call_unref(c->call);
    c->g->ncalls--;
    free(c);
}

/* RECV_CLOSE_ON_SERVER first: it completes when the call ends for any
 * reason (status sent, client gone, deadline), which is what ends a stream. */
static void on_new(struct msbd_call *c)
{
    struct msbd_grpc *g = c->g;
    /* Counted before the next request is armed: ncalls is then the live
     * calls, this one included (after arming it holds one more, which made
     * the limit 511). */
    bool too_many = g->ncalls > MSBD_MAX_CALLS;
    if (!g->shutting_down)
        msbd_call_arm(g);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (!start(c, &op, 1, &c->t_close))
        return;
    c->method = msbd_method_find(c->details.method);
    if (!c->method || !c->method->handle) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "method not implemented by msbnetd");
        return;
    }
    if (too_many || g->shutting_down) {
        msbd_call_finish(c, g->shutting_down ? GRPC_STATUS_UNAVAILABLE
                                             : GRPC_STATUS_RESOURCE_EXHAUSTED,
                         g->shutting_down ? "msbnetd is shutting down" : "too many calls");
        return;
    }
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->req;
    if (!start(c, &op, 1, &c->t_recv))
        msbd_call_finish(c, GRPC_STATUS_INTERNAL, "cannot read the request");
}

static void on_recv(struct msbd_call *c, int ok)
{
    if (c->status_started)
        return;
    ProtobufCMessage *req = ok ? msbd_wire_decode(c->method->req_desc, c->req) : NULL;
    if (!req) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, c->req ? "malformed request message"
                                                                 : "no request message");
        return;
    }
    c->method->handle(c, req);
    protobuf_c_message_free_unpacked(req, NULL);
}

static void on_send(struct msbd_call *c, int ok)
{
    grpc_byte_buffer_destroy(c->out);
    c->out = NULL;
    c->send_busy = false;
    if (c->status_deferred) {
        c->status_deferred = false;
        start_status(c, NULL);
    } else if (c->method && c->method->sent) {
        c->method->sent(c, ok);
    }
}

/* The call is over on the wire; a cancelled one gets no status (nobody
 * would read it). */
static void on_close(struct msbd_call *c)
{
    unlink_stream(c);
    if (c->cancelled && !c->status_started)
        set_status(c, GRPC_STATUS_CANCELLED, "");
}

void msbd_call_on_tag(struct msbd_tag *t)
{
    struct msbd_call *c = t->call;
    c->pending--;
    switch (t->op) {
    case MSBD_TAG_NEW:
        if (t->success)
            on_new(c);
        break;
    case MSBD_TAG_RECV: on_recv(c, t->success); break;
    case MSBD_TAG_SEND: on_send(c, t->success); break;
    case MSBD_TAG_STATUS: break;
    case MSBD_TAG_CLOSE: on_close(c); break;
    case MSBD_TAG_SHUTDOWN: break;
    }
    if (c->pending == 0)
        call_free(c);
}
