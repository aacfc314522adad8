/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets replaced at run time (secrets_replace.h). */
#include "api/secrets_replace.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/instance.h"
#include "api/tls_state.h"
#include "msbnet/msbnet.h"

/* The values jansson holds in V zeroed before it frees them. */
static void wipe_values(json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        json_t *s = json_object_get(e, "value");
        if (json_is_string(s))
            msb_secret_wipe((char *)json_string_value(s), json_string_length(s));
    }
}

/* TEXT parsed and checked into a new generation built against the current
 * one.  NULL with a message; *RC says which error. */
static struct msb_secret_gen *parse(struct msb_tls_state *t, const char *text, int *rc,
                                    char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    *rc = MSBNET_EINVAL;
    if (!v) { /* je.text quotes no input, only where it broke */
        snprintf(err, errlen, "secrets: invalid JSON at line %d column %d", je.line, je.column);
        return NULL;
    }
    struct msb_secrets_cfg *cfg = NULL;
    int bad = json_is_array(v) ? msb_secrets_from_json(v, &cfg, err, errlen)
                               : (snprintf(err, errlen, "secrets: must be a list of secrets, "
                                           "as the config key \"secrets\""), -1);
    if (json_is_array(v))
        wipe_values(v);
    json_decref(v);
    if (bad || msb_tls_config_check(t->settings, cfg, err, errlen)) {
        msb_secrets_cfg_free(cfg);
        return NULL;
    }
    msb_secret_gen_carry(t->gen, cfg); /* under t->lock: the caller's */
    struct msb_secret_gen *g = msb_secret_gen_new(cfg, err, errlen);
    if (!g)
        *rc = strstr(err, "out of memory") ? MSBNET_ENOMEM : MSBNET_EINVAL;
    return g;
}

int msb_secrets_replace(struct msbnet *net, const char *text, char *err, size_t errlen)
{
    struct msb_tls_state *t = net->tls;
    if (!t->settings || !t->settings->intercept) {
        snprintf(err, errlen, "secrets: TLS interception is off (\"tls\": {\"intercept\": "
                 "true}, msbnetd run --tls-intercept): secrets could never be injected");
        return MSBNET_ESTATE;
    }
    int rc = MSBNET_OK;
    pthread_mutex_lock(&t->lock); /* one replacement at a time, each against the last */
    struct msb_secret_gen *g = parse(t, text, &rc, err, errlen), *old = NULL;
    if (g) {
        old = t->gen;
        t->gen = g;
        t->gen_pending = true;
    }
    pthread_mutex_unlock(&t->lock);
    if (!g)
        return rc;
    msb_secret_gen_unref(old); /* the context and open connections hold their own */
    msb_wake_signal(&net->proxy_wake);
    return MSBNET_OK;
}

void msb_secrets_take(struct msbnet *net)
{
    struct msb_tls_state *t = net->tls;
    if (!t->ctx)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->gen_pending) {
        msb_tls_ctx_set_secrets(t->ctx, t->gen);
        t->gen_pending = false;
        /* This thread alone publishes them: at the new set's indices now
         * (kept secrets with their counts), not at the next TLS event. */
        const struct msb_tls_stats *s = msb_tls_ctx_stats(t->ctx);
        for (size_t i = 0; i < MSB_SECRETS_MAX; i++) {
            atomic_store(&t->substitutions[i], s->substitutions[i]);
            atomic_store(&t->violations[i], s->violations[i]);
        }
    }
    pthread_mutex_unlock(&t->lock);
}
