/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The termination hook: one callback the host installs so a fatal policy
 * violation can stop the sandbox.  Installed or replaced from any thread;
 * triggered from any thread, with the callback run outside the lock.
 */
#ifndef MSB_HOOK_H
#define MSB_HOOK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "msbnet/msbnet.h"

struct msb_hook {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    msbnet_termination_fn fn;
    void *user;
    unsigned running; /* calls in progress, of any installed callback */
    unsigned parked;  /* of those, calls waiting inside their own msb_hook_set */
    atomic_uint_fast64_t triggered;
};

int msb_hook_init(struct msb_hook *h);
void msb_hook_destroy(struct msb_hook *h);

/* Install (fn != NULL) or remove the callback.  Returns after every call of
 * the previous callback on other threads has finished. */
void msb_hook_set(struct msb_hook *h, msbnet_termination_fn fn, void *user);

/* Counts the trigger and calls the current callback, if any, with reason. */
void msb_hook_trigger(struct msb_hook *h, const char *reason);

uint64_t msb_hook_count(struct msb_hook *h);

#endif
