/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetd's gRPC control server (service msbnet.v1.NetworkControl) on a
 * unix socket of mode 0600, optionally also on TCP (TLS off loopback); it
 * also owns the other control-plane endpoints (HTTP metrics).  A completion-queue thread only moves finished
 * operations into a mutex-protected queue and writes an eventfd; every call
 * is handled on the libevent loop thread, so handlers never block the loop
 * and call state needs no locks.
 */
#ifndef MSBD_GRPC_SERVER_H
#define MSBD_GRPC_SERVER_H

#include <event2/event.h>

#include "host.h"
#include "options.h"

struct msbd_grpc;

/* Listens on o->control_socket (or the per-slot default), on
 * o->control_host:port when --control-addr is given (TLS when a cert is),
 * starts the HTTP metrics endpoint when --http is given, and installs the
 * termination hook (with the --on-terminate-signal action).  Call with INT/TERM/HUP/CHLD blocked so grpc's threads
 * never take them.  Returns NULL with a message printed. */
struct msbd_grpc *msbd_grpc_start(struct event_base *base, struct msbd_host *h,
                                  const struct msbd_opts *o);

/* After the loop has stopped: stop accepting, give open streams a final
 * UNAVAILABLE, cancel what is still stuck after a grace period, drain the
 * completion queue and free everything (the socket file is removed).
 * NULL is ignored. */
void msbd_grpc_stop(struct msbd_grpc *g);

#endif
