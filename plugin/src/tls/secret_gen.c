/* SPDX-License-Identifier: Apache-2.0 */
/* A generation of secrets (secret_gen.h): built from the parsed config,
 * completed against the previous one on replacement, shared by reference
 * between the engine's context and its connections. */
#include "tls/secret_gen.h"

#include <stdlib.h>
#include <string.h>

#include "lib/errmsg.h"

static const char *const add_why[] = {
    [MSB_SECRET_FULL] = "too many secrets",
    [MSB_SECRET_BAD_NAME] = "bad name",
    [MSB_SECRET_BAD_PLACEHOLDER] = "bad placeholder",
    [MSB_SECRET_BAD_VALUE] = "bad value",
    [MSB_SECRET_CLASH] = "its name or placeholder clashes with another",
    [MSB_SECRET_NO_MEMORY] = "out of memory",
};

/* Entry I into the set; its value (a tombstone gets a random one nobody
 * knows, which no host may receive) is wiped from the settings at once:
 * the set's copy is the only one left. */
static int add_one(struct msb_secret_gen *g, uint32_t i, char *err, size_t errlen)
{
    struct msb_secret_cfg *s = &g->cfg->s[i];
    char dummy[33];
    const void *v = s->value;
    size_t vlen = s->vlen;
    if (!v) {
        if (msb_placeholder_random(dummy, 32))
            return msb_fail(err, errlen, "secrets: no randomness from the kernel");
        v = dummy;
        vlen = 32;
    }
    enum msb_secret_add_result r =
        msb_secret_add(&g->set, s->env, s->placeholder, s->plen, v, vlen, s->inject);
    msb_secret_wipe(dummy, sizeof dummy);
    if (s->value) {
        msb_secret_wipe(s->value, s->vlen);
        free(s->value);
        s->value = NULL;
        s->vlen = 0;
    }
    if (r != MSB_SECRET_ADDED)
        return msb_fail(err, errlen, "secrets[%u] (\"%s\"): %s", i, s->env, add_why[r]);
    return 0;
}

struct msb_secret_gen *msb_secret_gen_new(struct msb_secrets_cfg *cfg, char *err, size_t errlen)
{
    struct msb_secret_gen *g = calloc(1, sizeof *g);
    if (!cfg)
        cfg = calloc(1, sizeof *cfg);
    if (!g || !cfg) {
        free(g);
        msb_secrets_cfg_free(cfg);
        msb_fail(err, errlen, "secrets: out of memory");
        return NULL;
    }
    atomic_init(&g->refs, 1);
    msb_secret_set_init(&g->set);
    g->cfg = cfg;
    for (uint32_t i = 0; i < cfg->n; i++) {
        if (add_one(g, i, err, errlen)) {
            msb_secret_gen_unref(g);
            return NULL;
        }
    }
    return g;
}

struct msb_secret_gen *msb_secret_gen_ref(struct msb_secret_gen *g)
{
    if (g)
        atomic_fetch_add(&g->refs, 1);
    return g;
}

void msb_secret_gen_unref(struct msb_secret_gen *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    msb_secret_set_free(&g->set);
    msb_secrets_cfg_free(g->cfg);
    free(g);
}

bool msb_secret_gen_removed(const struct msb_secret_gen *g, size_t i)
{
    return i < g->cfg->n && g->cfg->s[i].hosts.n == 0;
}

int msb_secret_gen_match(const struct msb_secret_gen *g, const struct msb_secret_gen *other,
                         size_t i)
{
    if (!g || !other || i >= other->cfg->n)
        return -1;
    for (uint32_t j = 0; j < g->cfg->n; j++) /* env is unique within a generation */
        if (strcmp(g->cfg->s[j].env, other->cfg->s[i].env) == 0)
            return msb_secret_gen_removed(g, j) == msb_secret_gen_removed(other, i) ? (int)j : -1;
    return -1;
}

static const struct msb_secret_cfg *by_env(const struct msb_secrets_cfg *c, const char *env)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->s[i].env, env) == 0)
            return &c->s[i];
    return NULL;
}

/* True when placeholder P (PLEN) is one of NEXT's or overlaps one: a
 * tombstone for it would clash (and the new secret covers it anyway). */
static bool overlaps(const struct msb_secrets_cfg *next, const char *p)
{
    for (uint32_t i = 0; i < next->n; i++) {
        const char *q = next->s[i].placeholder;
        if (strstr(q, p) || strstr(p, q))
            return true;
    }
    return false;
}

void msb_secret_gen_carry(const struct msb_secret_gen *old, struct msb_secrets_cfg *next)
{
    if (!old)
        return;
    for (uint32_t i = 0; i < next->n; i++) {
        struct msb_secret_cfg *s = &next->s[i];
        const struct msb_secret_cfg *was = by_env(old->cfg, s->env);
        if (s->placeholder_generated && was) {
            memcpy(s->placeholder, was->placeholder, sizeof s->placeholder);
            s->plen = was->plen;
        }
    }
    uint32_t given = next->n;
    for (uint32_t j = 0; j < old->cfg->n && next->n < MSB_CFG_SECRETS_MAX; j++) {
        const struct msb_secret_cfg *was = &old->cfg->s[j];
        bool kept = false;
        for (uint32_t i = 0; i < given && !kept; i++)
            kept = strcmp(next->s[i].env, was->env) == 0;
        if (kept || overlaps(next, was->placeholder))
            continue;
        struct msb_secret_cfg *t = &next->s[next->n++];
        memset(t, 0, sizeof *t);
        memcpy(t->env, was->env, sizeof t->env);
        memcpy(t->placeholder, was->placeholder, sizeof t->placeholder);
        t->plen = was->plen;
        t->placeholder_generated = was->placeholder_generated;
        t->inject = was->inject;
        t->on_violation = was->on_violation;
    }
}
