/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow table (flowtab.h): per index, chained buckets whose links live
 * in per-slot arrays (no allocation after creation), each slot's key copy
 * and full hash; a ring of free slots; a doubly linked activity order.
 */
#include "lib/flowtab.h"

#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/pkt.h"
#include "lib/siphash.h"

/* In next[]: the slot is under no key in this index (NONE ends a chain). */
#define UNFILED (MSB_FLOWTAB_NONE - 1)

struct ft_index {
    size_t key_len; /* 0: the index is not used */
    uint32_t *bucket;
    uint32_t *next;
    uint32_t *hash; /* the full hash: chains compare it before the key, removal finds the bucket */
    uint8_t *keys;  /* cap * key_len */
};

struct msb_flowtab {
    uint32_t cap, used, mask;
    struct msb_sipkey sk;
    struct ft_index ix[MSB_FLOWTAB_INDEXES];
    uint8_t *in_use;
    uint32_t *free_q, free_head, free_count; /* ring: alloc at head, release at tail */
    bool lru;
    uint32_t *older, *newer, oldest, newest;
};

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* ---- creation --------------------------------------------------------------- */

static bool spec_ok(const struct msb_flowtab_spec *s)
{
    if (s->cap == 0 || s->cap > MSB_FLOWTAB_CAP_MAX)
        return false;
    for (unsigned i = 0; i < MSB_FLOWTAB_INDEXES; i++)
        if (s->key_len[i] > MSB_FLOWTAB_KEY_MAX)
            return false;
    return true;
}

static bool index_init(struct ft_index *x, size_t key_len, uint32_t cap, uint32_t nbuckets)
{
    x->key_len = key_len;
    if (!key_len)
        return true;
    x->bucket = malloc(nbuckets * sizeof *x->bucket);
    x->next = malloc(cap * sizeof *x->next);
    x->hash = calloc(cap, sizeof *x->hash);
    x->keys = calloc(cap, key_len);
    if (!x->bucket || !x->next || !x->hash || !x->keys)
        return false;
    for (uint32_t i = 0; i < nbuckets; i++)
        x->bucket[i] = MSB_FLOWTAB_NONE;
    for (uint32_t i = 0; i < cap; i++)
        x->next[i] = UNFILED;
    return true;
}

struct msb_flowtab *msb_flowtab_new(const struct msb_flowtab_spec *spec)
{
    if (!spec_ok(spec))
        return NULL;
    struct msb_flowtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uint32_t cap = spec->cap, nb = pow2_at_least(cap) * 2;
    t->cap = cap;
    t->mask = nb - 1;
    t->lru = spec->lru;
    t->oldest = t->newest = MSB_FLOWTAB_NONE;
    t->in_use = calloc(cap, 1);
    t->free_q = malloc(cap * sizeof *t->free_q);
    bool ok = t->in_use && t->free_q;
    for (unsigned i = 0; ok && i < MSB_FLOWTAB_INDEXES; i++)
        ok = index_init(&t->ix[i], spec->key_len[i], cap, nb);
    if (ok && t->lru) {
        t->older = malloc(cap * sizeof *t->older);
        t->newer = malloc(cap * sizeof *t->newer);
        ok = t->older && t->newer;
    }
    if (!ok) {
        msb_flowtab_free(t);
        return NULL;
    }
    for (uint32_t i = 0; i < cap; i++)
        t->free_q[i] = i;
    t->free_count = cap;
    msb_sipkey_random(&t->sk);
    return t;
}

void msb_flowtab_free(struct msb_flowtab *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < MSB_FLOWTAB_INDEXES; i++) {
        free(t->ix[i].bucket);
        free(t->ix[i].next);
        free(t->ix[i].hash);
        free(t->ix[i].keys);
    }
    free(t->in_use);
    free(t->free_q);
    free(t->older);
    free(t->newer);
    free(t);
}

uint32_t msb_flowtab_cap(const struct msb_flowtab *t)
{
    return t->cap;
}

uint32_t msb_flowtab_used(const struct msb_flowtab *t)
{
    return t->used;
}

bool msb_flowtab_in_use(const struct msb_flowtab *t, uint32_t slot)
{
    return slot < t->cap && t->in_use[slot];
}

/* ---- keys --------------------------------------------------------------------- */

static const struct ft_index *index_of(const struct msb_flowtab *t, unsigned ix)
{
    return ix < MSB_FLOWTAB_INDEXES && t->ix[ix].key_len ? &t->ix[ix] : NULL;
}

static uint32_t hash_key(const struct msb_flowtab *t, const struct ft_index *x, const void *key)
{
    return (uint32_t)msb_siphash(&t->sk, key, x->key_len);
}

uint32_t msb_flowtab_bucket(const struct msb_flowtab *t, unsigned ix, const void *key)
{
    const struct ft_index *x = index_of(t, ix);
    return x ? hash_key(t, x, key) & t->mask : MSB_FLOWTAB_NONE;
}

uint32_t msb_flowtab_find(const struct msb_flowtab *t, unsigned ix, const void *key)
{
    const struct ft_index *x = index_of(t, ix);
    if (!x)
        return MSB_FLOWTAB_NONE;
    uint32_t h = hash_key(t, x, key);
    for (uint32_t i = x->bucket[h & t->mask]; i != MSB_FLOWTAB_NONE; i = x->next[i])
        if (x->hash[i] == h && memcmp(x->keys + (size_t)i * x->key_len, key, x->key_len) == 0)
            return i;
    return MSB_FLOWTAB_NONE;
}

static void unfile(struct msb_flowtab *t, struct ft_index *x, uint32_t slot)
{
    if (x->next[slot] == UNFILED)
        return;
    uint32_t *link = &x->bucket[x->hash[slot] & t->mask];
    while (*link != slot && *link != MSB_FLOWTAB_NONE)
        link = &x->next[*link];
    if (*link == slot)
        *link = x->next[slot];
    x->next[slot] = UNFILED;
}

void msb_flowtab_remove(struct msb_flowtab *t, unsigned ix, uint32_t slot)
{
    if (index_of(t, ix) && msb_flowtab_in_use(t, slot))
        unfile(t, &t->ix[ix], slot);
}

void msb_flowtab_insert(struct msb_flowtab *t, unsigned ix, uint32_t slot, const void *key)
{
    if (!index_of(t, ix) || !msb_flowtab_in_use(t, slot))
        return;
    struct ft_index *x = &t->ix[ix];
    unfile(t, x, slot);
    memcpy(x->keys + (size_t)slot * x->key_len, key, x->key_len);
    x->hash[slot] = hash_key(t, x, key);
    uint32_t *head = &x->bucket[x->hash[slot] & t->mask];
    x->next[slot] = *head;
    *head = slot;
}

const void *msb_flowtab_key(const struct msb_flowtab *t, unsigned ix, uint32_t slot)
{
    const struct ft_index *x = index_of(t, ix);
    if (!x || !msb_flowtab_in_use(t, slot) || x->next[slot] == UNFILED)
        return NULL;
    return x->keys + (size_t)slot * x->key_len;
}

/* ---- activity order -------------------------------------------------------------- */

static void order_unlink(struct msb_flowtab *t, uint32_t s)
{
    if (t->older[s] != MSB_FLOWTAB_NONE)
        t->newer[t->older[s]] = t->newer[s];
    else
        t->oldest = t->newer[s];
    if (t->newer[s] != MSB_FLOWTAB_NONE)
        t->older[t->newer[s]] = t->older[s];
    else
        t->newest = t->older[s];
}

static void order_append(struct msb_flowtab *t, uint32_t s)
{
    t->older[s] = t->newest;
    t->newer[s] = MSB_FLOWTAB_NONE;
    if (t->newest != MSB_FLOWTAB_NONE)
        t->newer[t->newest] = s;
    else
        t->oldest = s;
    t->newest = s;
}

void msb_flowtab_touch(struct msb_flowtab *t, uint32_t slot)
{
    if (!t->lru || !msb_flowtab_in_use(t, slot) || t->newest == slot)
        return;
    order_unlink(t, slot);
    order_append(t, slot);
}

uint32_t msb_flowtab_oldest(const struct msb_flowtab *t)
{
    return t->oldest;
}

uint32_t msb_flowtab_newer(const struct msb_flowtab *t, uint32_t slot)
{
    if (!t->lru || !msb_flowtab_in_use(t, slot))
        return MSB_FLOWTAB_NONE;
    return t->newer[slot];
}

/* ---- slots ------------------------------------------------------------------------ */

uint32_t msb_flowtab_alloc(struct msb_flowtab *t)
{
    if (!t->free_count)
        return MSB_FLOWTAB_NONE;
    uint32_t slot = t->free_q[t->free_head];
    t->free_head = t->free_head + 1 == t->cap ? 0 : t->free_head + 1;
    t->free_count--;
    t->in_use[slot] = 1;
    t->used++;
    if (t->lru)
        order_append(t, slot);
    return slot;
}

uint32_t msb_flowtab_add(struct msb_flowtab *t, const void *key)
{
    uint32_t slot = msb_flowtab_alloc(t);
    if (slot != MSB_FLOWTAB_NONE)
        msb_flowtab_insert(t, 0, slot, key);
    return slot;
}

void msb_flowtab_release(struct msb_flowtab *t, uint32_t slot)
{
    if (!msb_flowtab_in_use(t, slot))
        return;
    for (unsigned i = 0; i < MSB_FLOWTAB_INDEXES; i++)
        if (t->ix[i].key_len)
            unfile(t, &t->ix[i], slot);
    if (t->lru)
        order_unlink(t, slot);
    t->in_use[slot] = 0;
    t->used--;
    t->free_q[(t->free_head + t->free_count) % t->cap] = slot;
    t->free_count++;
}

void msb_flowtab_tuple_key(uint8_t k[MSB_FLOWTAB_TUPLE_LEN], const struct msb_ip *g, uint16_t gp,
                           const struct msb_ip *d, uint16_t dp)
{
    k[0] = g->family;
    memcpy(k + 1, g->b, 16);
    memcpy(k + 17, d->b, 16);
    msb_put16(k + 33, gp);
    msb_put16(k + 35, dp);
}
