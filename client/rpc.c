/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl's blocking gRPC calls (rpc.h): a channel to the unix socket or
 * to TCP (optionally TLS), unary calls and server streams, each batch
 * waited for on a pluck completion queue. */
#include "rpc.h"

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_wire.h"

/* Tags only need to be distinct addresses. */
static char tag_status, tag_send, tag_recv, tag_unary;

gpr_timespec ctl_deadline(uint32_t ms)
{
    if (!ms)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

#define PEM_MAX_BYTES (1u << 20)

char *ctl_read_file(const char *path, size_t max)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "r");
    char *buf = f ? malloc(max + 1) : NULL;
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > max;
    if (f && !in)
        fclose(f);
    if (bad) {
        fprintf(stderr, "msbnetctl: cannot read %s (missing, unreadable or over %zu bytes)\n",
                in ? "stdin" : path, max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static char *read_pem(const char *path)
{
    return ctl_read_file(path, PEM_MAX_BYTES);
}

static void free_pem(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

static grpc_channel_credentials *tls_credentials(const struct ctl_endpoint *e)
{
    char *ca = e->tls_ca ? read_pem(e->tls_ca) : NULL;
    char *cert = e->tls_cert ? read_pem(e->tls_cert) : NULL;
    char *key = e->tls_key ? read_pem(e->tls_key) : NULL;
    grpc_channel_credentials *creds = NULL;
    if ((ca || !e->tls_ca) && (cert || !e->tls_cert) && (key || !e->tls_key)) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        /* No CA file: grpc's default roots (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH). */
        creds = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
    }
    free_pem(ca);
    free_pem(cert);
    free_pem(key);
    return creds;
}

int ctl_open(struct ctl_conn *c, const struct ctl_endpoint *e)
{
    grpc_init();
    char target[512];
    if (e->addr)
        snprintf(target, sizeof target, "%s", e->addr);
    else
        snprintf(target, sizeof target, "unix:%s", e->socket);
    bool tls = e->addr && (e->tls || e->tls_ca || e->tls_cert);
    grpc_channel_credentials *creds = tls ? tls_credentials(e) : grpc_insecure_credentials_create();
    if (!creds) {
        grpc_shutdown_blocking();
        return -1;
    }
    grpc_arg arg = {.type = GRPC_ARG_STRING,
                    .key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                    .value.string = (char *)e->tls_server_name};
    grpc_channel_args args = {.num_args = 1, .args = &arg};
    c->ch = grpc_channel_create(target, creds, tls && e->tls_server_name ? &args : NULL);
    grpc_channel_credentials_release(creds);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    return 0;
}

void ctl_close(struct ctl_conn *c)
{
    grpc_channel_destroy(c->ch);
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(c->cq);
    grpc_shutdown_blocking();
}

/* Every batch here completes (the call has a deadline or is cancelled), so
 * waiting without a limit cannot hang past the call's own deadline. */
static void wait_for(struct ctl_conn *c, void *tag)
{
    grpc_completion_queue_pluck(c->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

static void copy_details(struct ctl_status *st, grpc_status_code code, grpc_slice details)
{
    st->code = code;
    size_t n = GRPC_SLICE_LENGTH(details);
    if (n >= sizeof st->details)
        n = sizeof st->details - 1;
    memcpy(st->details, GRPC_SLICE_START_PTR(details), n);
    st->details[n] = '\0';
}

static grpc_call *new_call(struct ctl_conn *c, const char *method, gpr_timespec deadline)
{
    return grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                    grpc_slice_from_static_string(method), NULL, deadline, NULL);
}

grpc_status_code ctl_unary(struct ctl_conn *c, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                           gpr_timespec deadline, struct ctl_status *st)
{
    *resp = NULL;
    grpc_call *call = new_call(c, method, deadline);
    grpc_byte_buffer *out = msbd_wire_encode(req), *in = NULL;
    grpc_metadata_array imd, tmd;
    grpc_metadata_array_init(&imd);
    grpc_metadata_array_init(&tmd);
    grpc_slice details = grpc_empty_slice();
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(call, ops, 6, &tag_unary, NULL) == GRPC_CALL_OK)
        wait_for(c, &tag_unary);
    copy_details(st, code, details);
    if (code == GRPC_STATUS_OK) {
        *resp = msbd_wire_decode(resp_desc, in);
        if (!*resp) {
            st->code = code = GRPC_STATUS_INTERNAL;
            snprintf(st->details, sizeof st->details, "msbnetctl: undecodable reply");
        }
    }
    grpc_byte_buffer_destroy(out);
    if (in)
        grpc_byte_buffer_destroy(in);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&imd);
    grpc_metadata_array_destroy(&tmd);
    grpc_call_unref(call);
    return code;
}

int ctl_stream_open(struct ctl_conn *c, struct ctl_stream *s, const char *method,
                    const ProtobufCMessage *req, gpr_timespec deadline)
{
    memset(s, 0, sizeof *s);
    s->call = new_call(c, method, deadline);
    s->details = grpc_empty_slice();
    s->code = GRPC_STATUS_UNKNOWN;
    grpc_metadata_array_init(&s->imd);
    grpc_metadata_array_init(&s->tmd);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->imd;
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.trailing_metadata = &s->tmd;
    ops[2].data.recv_status_on_client.status = &s->code;
    ops[2].data.recv_status_on_client.status_details = &s->details;
    if (grpc_call_start_batch(s->call, ops, 3, &tag_status, NULL) != GRPC_CALL_OK)
        return -1;
    s->status_armed = true;
    grpc_byte_buffer *out = msbd_wire_encode(req);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].data.send_message.send_message = out;
    ops[1].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    grpc_call_error e = grpc_call_start_batch(s->call, ops, 2, &tag_send, NULL);
    if (e == GRPC_CALL_OK)
        wait_for(c, &tag_send);
    grpc_byte_buffer_destroy(out);
    return e == GRPC_CALL_OK ? 0 : -1;
}

int ctl_stream_next(struct ctl_conn *c, struct ctl_stream *s,
                    const ProtobufCMessageDescriptor *d, ProtobufCMessage **msg)
{
    grpc_byte_buffer *in = NULL;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &in;
    if (grpc_call_start_batch(s->call, &op, 1, &tag_recv, NULL) != GRPC_CALL_OK)
        return 0;
    wait_for(c, &tag_recv);
    if (!in)
        return 0; /* end of stream: the status says why */
    *msg = msbd_wire_decode(d, in);
    grpc_byte_buffer_destroy(in);
    return *msg ? 1 : -1;
}

void ctl_stream_cancel(struct ctl_stream *s)
{
    grpc_call_cancel(s->call, NULL);
}

grpc_status_code ctl_stream_finish(struct ctl_conn *c, struct ctl_stream *s,
                                   struct ctl_status *st)
{
    if (s->status_armed)
        wait_for(c, &tag_status); /* else: UNKNOWN, never a hang */
    copy_details(st, s->code, s->details);
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->imd);
    grpc_metadata_array_destroy(&s->tmd);
    grpc_call_unref(s->call);
    return st->code;
}

const char *ctl_status_name(grpc_status_code code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    return code >= 0 && (size_t)code < sizeof names / sizeof names[0] ? names[code] : "?";
}
