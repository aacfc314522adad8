/* SPDX-License-Identifier: Apache-2.0 */
/* set_policy and policy_json (policy_replace.h): a new policy is parsed on
 * the caller's thread, then parked for the stack thread or, while no stack
 * runs, swapped in directly. */
#include "api/policy_replace.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/instance.h"
#include "msbnet/msbnet.h"
#include "model/policy_engine.h"

static char *warnings_to_json(const struct msb_policy *p)
{
    char **w;
    long n = msb_policy_shadow_warnings(p, &w);
    if (n < 0)
        return NULL;
    json_t *a = json_array();
    for (long i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(w[i]));
    msb_pol_warnings_free(w, n);
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

/* Under policy_lock.  The old policy (or an older pending one) is returned
 * for the caller to free outside the lock. */
static struct msb_policy *install_locked(struct msbnet *net, struct msb_policy *p)
{
    struct msb_policy *old;
    if (net->policy_stack_live) {
        old = net->policy_pending;
        net->policy_pending = p;
        atomic_store(&net->policy_has_pending, true);
    } else {
        old = net->policy;
        net->policy = p;
    }
    return old;
}

int msb_policy_replace(struct msbnet *net, const char *text, char **warnings_json, char *err,
                       size_t errlen)
{
    if (warnings_json)
        *warnings_json = NULL;
    if (!text) {
        snprintf(err, errlen, "policy: missing");
        return MSBNET_EINVAL;
    }
    struct msb_policy *p = msb_policy_parse_text(text, err, errlen);
    if (!p)
        return MSBNET_EINVAL;
    char *w = NULL;
    if (warnings_json && !(w = warnings_to_json(p))) {
        snprintf(err, errlen, "policy: out of memory");
        msb_policy_free(p);
        return MSBNET_ENOMEM;
    }
    pthread_mutex_lock(&net->policy_lock);
    bool live = net->policy_stack_live;
    struct msb_policy *old = install_locked(net, p);
    pthread_mutex_unlock(&net->policy_lock);
    msb_policy_free(old);
    msb_count(&net->metrics.policy.replaced, 1);
    if (live)
        msb_wake_signal(&net->proxy_wake);
    if (warnings_json)
        *warnings_json = w;
    return MSBNET_OK;
}

/* Under policy_lock: a pending policy already judges every frame the
 * stack reads from now on, so callers see it as the current one. */
static const struct msb_policy *in_force(const struct msbnet *net)
{
    return net->policy_pending ? net->policy_pending : net->policy;
}

char *msb_policy_current_json(struct msbnet *net)
{
    pthread_mutex_lock(&net->policy_lock);
    json_t *j = msb_policy_to_json(in_force(net));
    pthread_mutex_unlock(&net->policy_lock);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

size_t msb_policy_rule_count(struct msbnet *net)
{
    pthread_mutex_lock(&net->policy_lock);
    const struct msb_policy *p = in_force(net);
    size_t n = p ? p->nrules : 0;
    pthread_mutex_unlock(&net->policy_lock);
    return n;
}

/* Swaps pending into place; returns the policy to free. */
static struct msb_policy *swap_pending_locked(struct msbnet *net)
{
    struct msb_policy *p = net->policy_pending;
    if (!p)
        return NULL;
    struct msb_policy *old = net->policy;
    net->policy = p;
    net->policy_pending = NULL;
    atomic_store(&net->policy_has_pending, false);
    return old;
}

bool msb_policy_take_pending(struct msbnet *net)
{
    if (!atomic_load_explicit(&net->policy_has_pending, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&net->policy_lock);
    struct msb_policy *old = swap_pending_locked(net);
    pthread_mutex_unlock(&net->policy_lock);
    if (!old)
        return false;
    msb_policy_free(old);
    return true;
}

void msb_policy_set_stack_live(struct msbnet *net, bool live)
{
    pthread_mutex_lock(&net->policy_lock);
    net->policy_stack_live = live;
    struct msb_policy *old = live ? NULL : swap_pending_locked(net);
    pthread_mutex_unlock(&net->policy_lock);
    msb_policy_free(old);
}
