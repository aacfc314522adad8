/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl's gRPC transport: blocking calls on the C core over a pluck
 * completion queue (one thread, one call at a time). */
#ifndef MSBCTL_RPC_H
#define MSBCTL_RPC_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the daemon is: its unix socket, or HOST:PORT over TCP, with TLS
 * when a CA, a client certificate or --tls is given. */
struct ctl_endpoint {
    const char *socket;
    const char *addr; /* non-NULL: TCP */
    bool tls;
    const char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
};

struct ctl_conn {
    grpc_channel *ch;
    grpc_completion_queue *cq;
};

struct ctl_status {
    grpc_status_code code;
    char details[512];
};

struct ctl_stream {
    grpc_call *call;
    grpc_metadata_array imd, tmd;
    grpc_status_code code;
    grpc_slice details;
    bool status_armed; /* finish waits for the status only if it was asked for */
};

/* deadline_ms 0 = none. */
gpr_timespec ctl_deadline(uint32_t deadline_ms);

/* Returns 0, or -1 with a message printed (unreadable PEM files, bad TLS
 * material); nothing to close then. */
int ctl_open(struct ctl_conn *c, const struct ctl_endpoint *e);
void ctl_close(struct ctl_conn *c);

/* Returns the status code; *resp is set (free with
 * protobuf_c_message_free_unpacked) only for OK.  A reply that does not
 * decode is reported as INTERNAL. */
grpc_status_code ctl_unary(struct ctl_conn *c, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                           gpr_timespec deadline, struct ctl_status *st);

/* Server stream: open sends the request; next returns 1 with *msg, 0 at the
 * end of the stream, -1 when a message does not decode; finish waits for
 * the status and frees the call.  cancel ends it early. */
int ctl_stream_open(struct ctl_conn *c, struct ctl_stream *s, const char *method,
                    const ProtobufCMessage *req, gpr_timespec deadline);
int ctl_stream_next(struct ctl_conn *c, struct ctl_stream *s,
                    const ProtobufCMessageDescriptor *d, ProtobufCMessage **msg);
grpc_status_code ctl_stream_finish(struct ctl_conn *c, struct ctl_stream *s,
                                   struct ctl_status *st);
void ctl_stream_cancel(struct ctl_stream *s);

const char *ctl_status_name(grpc_status_code code);

/* A whole file ("-" = stdin) of at most max bytes, NUL-terminated; NULL
 * with a message printed. */
char *ctl_read_file(const char *path, size_t max);

#endif
