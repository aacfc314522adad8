/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow table alone (lib/flowtab.h): keyed insert/find/remove, the FIFO
 * reuse order TCP relies on, a full table, the activity order, two indexes
 * over one slot space, chains of keys aimed at one bucket, out-of-range
 * calls, and a long random run checked step by step against a plain
 * reference model (linear scans, an explicit FIFO and recency list).
 */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/flowtab.h"

#define NONE MSB_FLOWTAB_NONE

/* A tuple-sized key, as the NAT packs one. */
struct key {
    uint8_t b[37];
};

static struct key key_of(uint32_t v)
{
    struct key k;
    memset(&k, 0, sizeof k);
    memcpy(k.b + 1, &v, sizeof v);
    k.b[0] = 4;
    k.b[36] = (uint8_t)(v * 7);
    return k;
}

static struct msb_flowtab *table(uint32_t cap, size_t k0, size_t k1, bool lru)
{
    struct msb_flowtab_spec s = {.cap = cap, .key_len = {k0, k1}, .lru = lru};
    struct msb_flowtab *t = msb_flowtab_new(&s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

/* Deterministic, so a failure replays. */
static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}

static void test_insert_find_remove(void)
{
    struct msb_flowtab *t = table(8, sizeof(struct key), 0, false);
    struct key a = key_of(1), b = key_of(2), c = key_of(3);
    uint32_t sa = msb_flowtab_add(t, &a), sb = msb_flowtab_add(t, &b);
    CU_ASSERT_NOT_EQUAL(sa, NONE);
    CU_ASSERT_NOT_EQUAL(sb, NONE);
    CU_ASSERT_NOT_EQUAL(sa, sb);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &a), sa);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &b), sb);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &c), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_used(t), 2);
    CU_ASSERT_EQUAL(memcmp(msb_flowtab_key(t, 0, sa), &a, sizeof a), 0);
    /* Out of the index but still in use: found by nothing. */
    msb_flowtab_remove(t, 0, sa);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &a), NONE);
    CU_ASSERT_PTR_NULL(msb_flowtab_key(t, 0, sa));
    CU_ASSERT(msb_flowtab_in_use(t, sa));
    /* Re-filed under another key: the old one stays gone. */
    msb_flowtab_insert(t, 0, sa, &c);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &c), sa);
    msb_flowtab_insert(t, 0, sa, &a);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &a), sa);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &c), NONE);
    msb_flowtab_release(t, sb);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &b), NONE);
    CU_ASSERT(!msb_flowtab_in_use(t, sb));
    CU_ASSERT_EQUAL(msb_flowtab_used(t), 1);
    msb_flowtab_free(t);
}

static void test_fifo_reuse(void)
{
    struct msb_flowtab *t = table(4, 0, 0, false);
    for (uint32_t i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(msb_flowtab_alloc(t), i);
    msb_flowtab_release(t, 2);
    msb_flowtab_release(t, 0);
    msb_flowtab_release(t, 3);
    /* Freed first, reused first; and only after every older free slot. */
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), 2);
    msb_flowtab_release(t, 2);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), 0);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), 3);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), 2);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), NONE);
    msb_flowtab_free(t);
}

static void test_full_table(void)
{
    struct msb_flowtab *t = table(5, sizeof(struct key), 0, false);
    for (uint32_t i = 0; i < 5; i++) {
        struct key k = key_of(100 + i);
        CU_ASSERT_NOT_EQUAL(msb_flowtab_add(t, &k), NONE);
    }
    struct key extra = key_of(999);
    CU_ASSERT_EQUAL(msb_flowtab_add(t, &extra), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &extra), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_used(t), 5);
    struct key k2 = key_of(102);
    uint32_t s2 = msb_flowtab_find(t, 0, &k2);
    msb_flowtab_release(t, s2);
    CU_ASSERT_EQUAL(msb_flowtab_add(t, &extra), s2);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &extra), s2);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &k2), NONE);
    msb_flowtab_free(t);
}

static void expect_order(struct msb_flowtab *t, const uint32_t *want, size_t n)
{
    uint32_t s = msb_flowtab_oldest(t);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(s, want[i]);
        s = msb_flowtab_newer(t, s);
    }
    CU_ASSERT_EQUAL(s, NONE);
}

static void test_lru_order(void)
{
    struct msb_flowtab *t = table(4, 0, 0, true);
    CU_ASSERT_EQUAL(msb_flowtab_oldest(t), NONE);
    for (uint32_t i = 0; i < 4; i++)
        msb_flowtab_alloc(t);
    expect_order(t, (const uint32_t[]){0, 1, 2, 3}, 4);
    msb_flowtab_touch(t, 0);
    msb_flowtab_touch(t, 2);
    expect_order(t, (const uint32_t[]){1, 3, 0, 2}, 4);
    msb_flowtab_touch(t, 2); /* already the newest */
    expect_order(t, (const uint32_t[]){1, 3, 0, 2}, 4);
    msb_flowtab_release(t, 3);
    expect_order(t, (const uint32_t[]){1, 0, 2}, 3);
    msb_flowtab_release(t, 1);
    expect_order(t, (const uint32_t[]){0, 2}, 2);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), 3); /* new slots are the newest */
    expect_order(t, (const uint32_t[]){0, 2, 3}, 3);
    msb_flowtab_release(t, 2);
    msb_flowtab_release(t, 0);
    msb_flowtab_release(t, 3);
    CU_ASSERT_EQUAL(msb_flowtab_oldest(t), NONE);
    msb_flowtab_free(t);
    /* A table without the order answers NONE and ignores touch. */
    t = table(2, 0, 0, false);
    msb_flowtab_alloc(t);
    msb_flowtab_touch(t, 0);
    CU_ASSERT_EQUAL(msb_flowtab_oldest(t), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_newer(t, 0), NONE);
    msb_flowtab_free(t);
}

static void test_two_keys(void)
{
    struct msb_flowtab *t = table(16, sizeof(struct key), 6, false);
    uint8_t peer_a[6] = {1, 2, 3, 4, 0, 80}, peer_b[6] = {1, 2, 3, 4, 0, 81};
    struct key ga = key_of(7), gb = key_of(8);
    uint32_t a = msb_flowtab_alloc(t), b = msb_flowtab_alloc(t);
    msb_flowtab_insert(t, 0, a, &ga);
    msb_flowtab_insert(t, 1, a, peer_a);
    msb_flowtab_insert(t, 0, b, &gb);
    msb_flowtab_insert(t, 1, b, peer_b);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &ga), a);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, peer_a), a);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &gb), b);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, peer_b), b);
    /* The indexes are separate: a key of one is unknown to the other. */
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, &ga), NONE);
    msb_flowtab_remove(t, 1, a);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, peer_a), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &ga), a);
    /* Release takes the slot out of both. */
    msb_flowtab_release(t, b);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &gb), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, peer_b), NONE);
    msb_flowtab_free(t);
}

static void test_equal_keys_last_wins(void)
{
    struct msb_flowtab *t = table(4, 6, 0, false);
    uint8_t k[6] = {9, 9, 9, 9, 9, 9};
    uint32_t a = msb_flowtab_add(t, k), b = msb_flowtab_add(t, k);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, k), b);
    msb_flowtab_release(t, b);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, k), a);
    msb_flowtab_free(t);
}

/* Keys that share one bucket: a chain several deep, found, cut in the
 * middle, at its head and at its tail. */
static void test_collisions(void)
{
    struct msb_flowtab *t = table(64, sizeof(struct key), 0, false);
    struct key first = key_of(0), chain[6];
    uint32_t want = msb_flowtab_bucket(t, 0, &first), n = 0;
    for (uint32_t v = 0; n < 6 && v < 1000000; v++) {
        struct key k = key_of(v);
        if (msb_flowtab_bucket(t, 0, &k) == want)
            chain[n++] = k;
    }
    CU_ASSERT_EQUAL_FATAL(n, 6);
    uint32_t slot[6];
    for (int i = 0; i < 6; i++)
        slot[i] = msb_flowtab_add(t, &chain[i]);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &chain[i]), slot[i]);
    msb_flowtab_release(t, slot[2]); /* middle */
    msb_flowtab_release(t, slot[5]); /* head (filed last) */
    msb_flowtab_release(t, slot[0]); /* tail */
    for (int i = 0; i < 6; i++) {
        bool gone = i == 0 || i == 2 || i == 5;
        CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &chain[i]), gone ? NONE : slot[i]);
    }
    slot[2] = msb_flowtab_add(t, &chain[2]);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &chain[2]), slot[2]);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &chain[3]), slot[3]);
    msb_flowtab_free(t);
}

static void test_out_of_range(void)
{
    CU_ASSERT_PTR_NULL(msb_flowtab_new(&(struct msb_flowtab_spec){.cap = 0}));
    CU_ASSERT_PTR_NULL(msb_flowtab_new(&(struct msb_flowtab_spec){.cap = MSB_FLOWTAB_CAP_MAX + 1}));
    CU_ASSERT_PTR_NULL(msb_flowtab_new(
        &(struct msb_flowtab_spec){.cap = 4, .key_len = {MSB_FLOWTAB_KEY_MAX + 1, 0}}));
    struct msb_flowtab *t = table(2, 4, 0, true);
    uint8_t k[4] = {1, 2, 3, 4};
    /* Slots not in use, out of range, an index without keys: no effect. */
    msb_flowtab_insert(t, 0, 1, k);
    msb_flowtab_insert(t, 0, 7, k);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, k), NONE);
    msb_flowtab_release(t, 7);
    msb_flowtab_touch(t, 5);
    uint32_t s = msb_flowtab_alloc(t);
    msb_flowtab_insert(t, 1, s, k);
    msb_flowtab_insert(t, 9, s, k);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 1, k), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 9, k), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_bucket(t, 1, k), NONE);
    /* A double release does not queue the slot twice. */
    msb_flowtab_release(t, s);
    msb_flowtab_release(t, s);
    CU_ASSERT_EQUAL(msb_flowtab_used(t), 0);
    CU_ASSERT_NOT_EQUAL(msb_flowtab_alloc(t), NONE);
    CU_ASSERT_NOT_EQUAL(msb_flowtab_alloc(t), NONE);
    CU_ASSERT_EQUAL(msb_flowtab_alloc(t), NONE);
    msb_flowtab_free(t);
    msb_flowtab_free(NULL);
}

/* ---- random operations against a reference model ------------------------------ */

#define RCAP 97   /* not a power of two */
#define RKEYS 300 /* distinct keys in play: lookups both hit and miss */

struct model {
    bool used[RCAP];
    uint32_t key[RCAP]; /* the key's value, when used */
    uint32_t fifo[RCAP], head, count;
    uint32_t order[RCAP], n; /* oldest first */
};

static uint32_t model_find(const struct model *m, uint32_t v)
{
    for (uint32_t i = 0; i < RCAP; i++)
        if (m->used[i] && m->key[i] == v)
            return i;
    return NONE;
}

static void model_drop_order(struct model *m, uint32_t s)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (m->order[i] == s) {
            memmove(m->order + i, m->order + i + 1, (m->n - i - 1) * sizeof *m->order);
            m->n--;
            return;
        }
}

static void model_add(struct model *m, struct msb_flowtab *t, uint32_t v)
{
    struct key k = key_of(v);
    uint32_t want = m->count ? m->fifo[m->head] : NONE;
    CU_ASSERT_EQUAL(msb_flowtab_add(t, &k), want);
    if (want == NONE)
        return;
    m->head = (m->head + 1) % RCAP;
    m->count--;
    m->used[want] = true;
    m->key[want] = v;
    m->order[m->n++] = want;
}

static void model_release(struct model *m, struct msb_flowtab *t, uint32_t s)
{
    msb_flowtab_release(t, s);
    m->used[s] = false;
    m->fifo[(m->head + m->count) % RCAP] = s;
    m->count++;
    model_drop_order(m, s);
}

static void model_touch(struct model *m, struct msb_flowtab *t, uint32_t s)
{
    msb_flowtab_touch(t, s);
    model_drop_order(m, s);
    m->order[m->n++] = s;
}

static void model_check(const struct model *m, const struct msb_flowtab *t)
{
    CU_ASSERT_EQUAL(msb_flowtab_used(t), m->n);
    uint32_t s = msb_flowtab_oldest(t);
    for (uint32_t i = 0; i < m->n; i++, s = msb_flowtab_newer(t, s))
        CU_ASSERT_EQUAL(s, m->order[i]);
    CU_ASSERT_EQUAL(s, NONE);
}

static void random_step(struct model *m, struct msb_flowtab *t, uint64_t *seed)
{
    uint32_t v = rnd(seed) % RKEYS, op = rnd(seed) % 8;
    struct key k = key_of(v);
    uint32_t at = model_find(m, v);
    CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &k), at);
    if (op < 3 && at == NONE)
        model_add(m, t, v);
    else if (op < 6 && at != NONE)
        model_release(m, t, at);
    else if (at != NONE)
        model_touch(m, t, at);
}

static void test_random_vs_model(void)
{
    struct msb_flowtab *t = table(RCAP, sizeof(struct key), 0, true);
    static struct model m;
    memset(&m, 0, sizeof m);
    for (uint32_t i = 0; i < RCAP; i++)
        m.fifo[i] = i;
    m.count = RCAP;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int step = 0; step < 200000; step++) {
        random_step(&m, t, &seed);
        if (step % 1000 == 0)
            model_check(&m, t);
    }
    model_check(&m, t);
    for (uint32_t v = 0; v < RKEYS; v++) {
        struct key k = key_of(v);
        CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &k), model_find(&m, v));
    }
    msb_flowtab_free(t);
}

/* Many keys in a big table: every one found, none found after release. */
static void test_many_keys(void)
{
    enum { N = 50000 };
    struct msb_flowtab *t = table(N, sizeof(struct key), 0, false);
    uint64_t seed = 12345;
    static uint32_t vals[N], slots[N];
    for (uint32_t i = 0; i < N; i++) {
        vals[i] = (rnd(&seed) & ~0xffffu) | i; /* distinct */
        struct key k = key_of(vals[i]);
        slots[i] = msb_flowtab_add(t, &k);
        CU_ASSERT_EQUAL(slots[i], i);
    }
    for (uint32_t i = 0; i < N; i++) {
        struct key k = key_of(vals[i]);
        CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &k), slots[i]);
    }
    for (uint32_t i = 0; i < N; i += 2)
        msb_flowtab_release(t, slots[i]);
    for (uint32_t i = 0; i < N; i++) {
        struct key k = key_of(vals[i]);
        CU_ASSERT_EQUAL(msb_flowtab_find(t, 0, &k), i % 2 ? slots[i] : NONE);
    }
    msb_flowtab_free(t);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"insert_find_remove", test_insert_find_remove},
        {"fifo_reuse_order", test_fifo_reuse},
        {"full_table", test_full_table},
        {"lru_order", test_lru_order},
        {"two_keys", test_two_keys},
        {"equal_keys_last_wins", test_equal_keys_last_wins},
        {"collisions", test_collisions},
        {"out_of_range", test_out_of_range},
        {"random_vs_model", test_random_vs_model},
        {"many_keys", test_many_keys},
        {NULL, NULL},
    };
    return cunit_run("flowtab", tests);
}
