/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf-c messages <-> gRPC byte buffers (shared by msbnetd and msbnetctl). */
#ifndef MSBD_GRPC_WIRE_H
#define MSBD_GRPC_WIRE_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

/* A new byte buffer holding m packed; NULL on allocation failure. */
grpc_byte_buffer *msbd_wire_encode(const ProtobufCMessage *m);

/* The message in bb, or NULL when bb is NULL, cannot be read (bad
 * compression) or is not a valid `d` (hostile bytes).  Free with
 * protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *msbd_wire_decode(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb);

#endif
