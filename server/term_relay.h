/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin's termination hook, carried to the event loop.  The hook runs
 * on whichever plugin thread detected the violation and must not block, so
 * it only copies the reason under a mutex and writes an eventfd; the loop
 * thread then delivers it (to gRPC streams) where all call state lives.
 */
#ifndef MSBD_TERM_RELAY_H
#define MSBD_TERM_RELAY_H

#include <event2/event.h>
#include <msbnet/msbnet.h>
#include <pthread.h>
#include <stdint.h>

typedef void (*msbd_term_deliver_fn)(void *arg, const char *reason_json, int64_t unix_time_ms);

struct msbd_term_relay {
    pthread_mutex_t lock;
    char *pending;          /* first undelivered reason (later ones are counted by the plugin) */
    int64_t pending_ms;     /* wall clock when the hook fired */
    int efd;
    struct event *ev;
    const struct msbnet_api_v1 *api;
    msbnet_t *net;
    msbd_term_deliver_fn deliver;
    void *arg;
};

/* Installs the hook.  Returns 0 or -1 (message printed). */
int msbd_term_relay_init(struct msbd_term_relay *r, struct event_base *base,
                         const struct msbnet_api_v1 *api, msbnet_t *net,
                         msbd_term_deliver_fn deliver, void *arg);

/* Removes the hook (the plugin guarantees it is no longer running after
 * set_termination_hook returns), then frees.  Safe after a failed init. */
void msbd_term_relay_free(struct msbd_term_relay *r);

#endif
