/* SPDX-License-Identifier: Apache-2.0 */
/* An instance's TLS and secrets state (tls_state.h): the secret set built
 * from the config, the CA made or loaded at start, its PEM, and the JSON
 * of the secrets without their values. */
#include "api/tls_state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msbnet/msbnet.h"

/* model/ cannot see tls/: its copies of the scanner's bounds must agree. */
_Static_assert(MSB_CFG_SECRETS_MAX == MSB_SECRETS_MAX, "secret count");
_Static_assert(MSB_CFG_SECRET_ENV_MAX == MSB_SECRET_NAME_MAX, "secret name");
_Static_assert(MSB_CFG_PLACEHOLDER_MIN == MSB_PLACEHOLDER_MIN, "placeholder min");
_Static_assert(MSB_CFG_PLACEHOLDER_MAX == MSB_PLACEHOLDER_MAX, "placeholder max");
_Static_assert(MSB_CFG_SECRET_VALUE_MAX == MSB_SECRET_VALUE_MAX, "value max");
_Static_assert(MSB_CFG_INJECT_HEADERS == MSB_INJECT_HEADERS && MSB_CFG_INJECT_BASIC ==
               MSB_INJECT_BASIC && MSB_CFG_INJECT_QUERY == MSB_INJECT_QUERY &&
               MSB_CFG_INJECT_BODY == MSB_INJECT_BODY, "inject bits");

struct msb_tls_state *msb_tls_state_new(struct msb_tls_settings *tls,
                                        struct msb_secrets_cfg *secrets, bool scan_plaintext,
                                        char *err, size_t errlen)
{
    struct msb_tls_state *t = calloc(1, sizeof *t);
    if (!t || pthread_mutex_init(&t->lock, NULL)) {
        free(t);
        msb_tls_settings_free(tls);
        msb_secrets_cfg_free(secrets);
        snprintf(err, errlen, "out of memory for the TLS state");
        return NULL;
    }
    t->settings = tls;
    t->scan_plaintext = scan_plaintext;
    for (size_t i = 0; i < MSB_SECRETS_MAX; i++) {
        atomic_init(&t->substitutions[i], 0);
        atomic_init(&t->violations[i], 0);
    }
    /* The config was checked by the same rules: a refusal here is a bug in
     * one of the two, reported without the value all the same. */
    if (!(t->gen = msb_secret_gen_new(secrets, err, errlen))) {
        msb_tls_state_free(t);
        return NULL;
    }
    return t;
}

void msb_tls_state_free(struct msb_tls_state *t)
{
    if (!t)
        return;
    msb_tls_ctx_free(t->ctx); /* before the generation it holds a reference to */
    msb_secret_gen_unref(t->gen);
    msb_tls_settings_free(t->settings);
    msb_tls_ca_free(t->ca);
    free(t->ca_pem);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static char *pem_of(const struct msb_tls_ca *ca, char *err, size_t errlen)
{
    size_t len;
    if (msb_tls_ca_cert_pem(ca, NULL, 0, &len, err, errlen))
        return NULL;
    char *pem = malloc(len + 1);
    if (!pem)
        snprintf(err, errlen, "out of memory");
    else if (msb_tls_ca_cert_pem(ca, pem, len + 1, &len, err, errlen)) {
        free(pem);
        pem = NULL;
    }
    return pem;
}

int msb_tls_state_start(struct msb_tls_state *t, char *err, size_t errlen)
{
    const struct msb_tls_settings *s = t->settings;
    if (!s || !s->intercept || t->ca)
        return 0;
    char why[512] = "";
    struct msb_tls_ca_opts opts = {.validity_secs = (long)s->ca_validity_s};
    struct msb_tls_ca *ca = s->ca_cert ? msb_tls_ca_load(s->ca_cert, s->ca_key, why, sizeof why)
                                       : msb_tls_ca_generate(&opts, why, sizeof why);
    char *pem = ca ? pem_of(ca, why, sizeof why) : NULL;
    if (!pem) {
        msb_tls_ca_free(ca);
        snprintf(err, errlen, "tls: %s the sandbox CA: %s",
                 s->ca_cert ? "cannot load" : "cannot generate", why);
        return -1;
    }
    for (uint32_t i = 0; i < s->n_upstream_ca_files; i++) {
        FILE *f = fopen(s->upstream_ca_files[i], "re");
        if (!f) {
            msb_tls_ca_free(ca);
            free(pem);
            snprintf(err, errlen, "tls: cannot read upstream_ca_files[%u] %s", i,
                     s->upstream_ca_files[i]);
            return -1;
        }
        fclose(f);
    }
    struct msb_tls_ctx_opts o = {.ca = ca,
                                 .secrets = NULL, /* set below, under the lock */
                                 .upstream_ca_files = (const char *const *)s->upstream_ca_files,
                                 .n_upstream_ca_files = s->n_upstream_ca_files,
                                 .verify_upstream = s->verify_upstream,
                                 .leaf_cache_size = s->leaf_cache_size,
                                 .max_conns = s->max_connections};
    t->ctx = msb_tls_ctx_new(&o, why, sizeof why);
    if (!t->ctx) {
        msb_tls_ca_free(ca);
        free(pem);
        snprintf(err, errlen, "tls: cannot set up interception: %s", why);
        return -1;
    }
    t->ca = ca;
    pthread_mutex_lock(&t->lock);
    t->ca_pem = pem;
    msb_tls_ctx_set_secrets(t->ctx, t->gen); /* one replaced while it was made */
    t->gen_pending = false;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int msb_tls_state_ca_pem(struct msb_tls_state *t, char **out)
{
    *out = NULL;
    pthread_mutex_lock(&t->lock);
    int rc = MSBNET_ESTATE;
    if (t->ca_pem) {
        *out = strdup(t->ca_pem);
        rc = *out ? MSBNET_OK : MSBNET_ENOMEM;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static json_t *strings(const struct msb_host_patterns *p)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < p->n; i++)
        json_array_append_new(a, json_string(p->v[i]));
    return a;
}

static json_t *inject_list(unsigned bits)
{
    static const char *const names[] = {"headers", "basic_auth", "query", "body"};
    json_t *a = json_array();
    for (unsigned k = 0; a && k < 4; k++)
        if (bits & (1u << k))
            json_array_append_new(a, json_string(names[k]));
    return a;
}

static json_t *secret_json(struct msb_tls_state *t, const struct msb_secret_gen *g, uint32_t i)
{
    static const char *const viol[] = {"block", "block-and-log", "block-and-terminate"};
    const struct msb_secret_cfg *s = &g->cfg->s[i];
    return json_pack("{s:s, s:o, s:o, s:s, s:s, s:b, s:b, s:I, s:I}", "env", s->env, "hosts",
                     strings(&s->hosts), "inject", inject_list(s->inject), "on_violation",
                     viol[s->on_violation], "placeholder", s->placeholder,
                     "placeholder_generated", s->placeholder_generated, "removed",
                     msb_secret_gen_removed(g, i), "substitutions",
                     (json_int_t)atomic_load(&t->substitutions[i]), "violations",
                     (json_int_t)atomic_load(&t->violations[i]));
}

char *msb_tls_state_secrets_json(struct msb_tls_state *t)
{
    pthread_mutex_lock(&t->lock);
    struct msb_secret_gen *g = msb_secret_gen_ref(t->gen);
    pthread_mutex_unlock(&t->lock);
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < g->cfg->n; i++)
        json_array_append_new(list, secret_json(t, g, i));
    msb_secret_gen_unref(g);
    bool intercept = t->settings && t->settings->intercept;
    json_t *root = json_pack("{s:b, s:b, s:o}", "intercept", intercept, "scan_plaintext",
                             t->scan_plaintext, "secrets", list);
    char *out = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return out;
}
