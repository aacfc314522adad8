/* SPDX-License-Identifier: Apache-2.0 */
/* The gRPC server's listeners (grpc_listen.c). */
#ifndef MSBD_GRPC_LISTEN_H
#define MSBD_GRPC_LISTEN_H

#include <grpc/grpc.h>
#include <stddef.h>

#include "options.h"

/* --control-socket, else the per-slot default (creating its directory). */
void msbd_grpc_socket_path(char *out, size_t len, const struct msbd_opts *o, unsigned slot);

/* Binds the unix socket, mode 0600, refusing a path another live process
 * serves.  Returns 0 or -1 with a message printed. */
int msbd_grpc_listen_unix(grpc_server *server, const char *path);

/* Binds o->control_host:port, TLS when o->tls_cert is set.  Returns 0 or -1
 * with a message printed. */
int msbd_grpc_listen_tcp(grpc_server *server, const struct msbd_opts *o);

#endif
