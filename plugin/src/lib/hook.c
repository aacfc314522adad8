/* SPDX-License-Identifier: Apache-2.0 */
/* The termination hook (hook.h): the callback runs outside the lock, and a
 * setter waits for running calls but not for its own thread's, so a
 * callback may replace the hook it runs from without deadlocking. */
#include "lib/hook.h"

/* The hook calls this thread is inside, innermost first (frames live on the
 * stack of msb_hook_trigger): a callback that changes a hook it is (maybe
 * indirectly) being called from must not wait for itself. */
struct hook_frame {
    const struct msb_hook *h;
    const struct hook_frame *up;
};
static _Thread_local const struct hook_frame *tls_top;

static unsigned own_calls(const struct msb_hook *h)
{
    unsigned n = 0;
    for (const struct hook_frame *f = tls_top; f; f = f->up)
        n += f->h == h;
    return n;
}

int msb_hook_init(struct msb_hook *h)
{
    if (pthread_mutex_init(&h->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&h->idle, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        return -1;
    }
    h->fn = NULL;
    h->user = NULL;
    h->running = 0;
    h->parked = 0;
    atomic_init(&h->triggered, 0);
    return 0;
}

void msb_hook_destroy(struct msb_hook *h)
{
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
}

void msb_hook_set(struct msb_hook *h, msbnet_termination_fn fn, void *user)
{
    unsigned own = own_calls(h);
    pthread_mutex_lock(&h->mu);
    h->fn = fn;
    h->user = user;
    /* Callers may free the old callback's user data once we return, so wait
     * until no other thread still runs it.  Triggers are rare (fatal
     * violations), so waiting for all calls cannot starve in practice.
     * A set from inside the hook parks its own calls and waits only for
     * calls that are not parked: two threads doing this at once must not
     * wait for each other.  A set from outside waits for every call. */
    h->parked += own;
    if (own)
        pthread_cond_broadcast(&h->idle);
    while (own ? h->running > h->parked : h->running > 0)
        pthread_cond_wait(&h->idle, &h->mu);
    h->parked -= own;
    pthread_mutex_unlock(&h->mu);
}

void msb_hook_trigger(struct msb_hook *h, const char *reason)
{
    atomic_fetch_add(&h->triggered, 1);
    pthread_mutex_lock(&h->mu);
    msbnet_termination_fn fn = h->fn;
    void *user = h->user;
    if (fn)
        h->running++;
    pthread_mutex_unlock(&h->mu);
    if (!fn)
        return;

    struct hook_frame frame = {h, tls_top};
    tls_top = &frame;
    fn(user, reason ? reason : "{}");
    tls_top = frame.up;

    pthread_mutex_lock(&h->mu);
    /* Wakes outside setters (waiting for 0) and inside ones (waiting for
     * every call left to be parked). */
    if (--h->running <= h->parked)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
}

uint64_t msb_hook_count(struct msb_hook *h)
{
    return atomic_load(&h->triggered);
}
