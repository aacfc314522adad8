#include "hook.h"

/* How many hook calls of which hook this thread is inside: a callback that
 * replaces its own hook must not wait for itself. */
static _Thread_local const struct msb_hook *tls_hook;
static _Thread_local unsigned tls_depth;

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
    unsigned own = tls_hook == h ? tls_depth : 0;
    pthread_mutex_lock(&h->mu);
    h->fn = fn;
    h->user = user;
    /* Callers may free the old callback's user data once we return, so wait
     * until no other thread still runs it.  Triggers are rare (fatal
     * violations), so waiting for all calls cannot starve in practice. */
    while (h->running > own)
        pthread_cond_wait(&h->idle, &h->mu);
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

    const struct msb_hook *saved_hook = tls_hook;
    unsigned saved_depth = tls_depth;
    tls_hook = h;
    tls_depth = (saved_hook == h ? saved_depth : 0) + 1;
    fn(user, reason ? reason : "{}");
    tls_hook = saved_hook;
    tls_depth = saved_depth;

    pthread_mutex_lock(&h->mu);
    if (--h->running == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
}

uint64_t msb_hook_count(struct msb_hook *h)
{
    return atomic_load(&h->triggered);
}
