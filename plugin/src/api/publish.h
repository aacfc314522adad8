/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry of published ports: one host listener (TCP or UDP socket)
 * per spec, shared between the control plane and the stack thread.
 *
 * The control plane (create, publish_port, unpublish_port) binds and
 * listens on its own thread, so a bind error is reported synchronously,
 * then links the entry and wakes the stack.  The stack thread attaches a
 * read event to each new entry (msb_publish_sync, on every proxy wake) and
 * frees the ones marked removed.  Removing shuts the socket down at once
 * (a TCP listener stops accepting; pending connections are reset), so a
 * caller sees the port closed when unpublish returns; the descriptor is
 * closed by the stack thread, which owns its event.  Lock order: net->life
 * before mu; the stack thread takes only mu.
 */
#ifndef MSB_PUBLISH_H
#define MSB_PUBLISH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/publish_spec.h"

struct msbnet;
struct msb_stack;
struct event;

struct msb_pub_listener {
    struct msb_publish_spec spec;
    int fd;
    atomic_bool removed;
    struct event *ev;     /* stack thread only */
    struct event *pause;  /* out of descriptors: accept again after a pause */
    struct msb_stack *s;  /* the stack ev belongs to */
    struct msb_pub_listener *next;
};

struct msb_publish {
    pthread_mutex_t mu;
    struct msb_pub_listener *head;
    atomic_bool dirty; /* entries added or removed since the last sync */
};

void msb_publish_init(struct msb_publish *p);
/* Closes every listener.  The stack must be stopped. */
void msb_publish_destroy(struct msb_publish *p);

/* Binds and registers a listener.  MSBNET_OK, or an MSBNET_E* code with a
 * reason in err (EEXIST: already published; ESYS: socket/bind/listen). */
int msb_publish_open(struct msbnet *net, const struct msb_publish_spec *spec, char *err,
                     size_t errlen);

/* Unregisters the listener named by spec's protocol, address and port. */
int msb_publish_close(struct msbnet *net, const struct msb_publish_spec *spec, char *err,
                      size_t errlen);

/* The listeners still published, oldest first, as a JSON array of spec
 * objects (malloc'd text; NULL on allocation failure).  Any thread. */
char *msb_publish_list_json(struct msbnet *net);

/* Stack thread: watch new listeners, free removed ones. */
void msb_publish_sync(struct msbnet *net, struct msb_stack *s);

/* The stack is stopping (its thread joined): drop every event. */
void msb_publish_detach(struct msbnet *net);

#endif
