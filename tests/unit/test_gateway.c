/* SPDX-License-Identifier: Apache-2.0 */
/* Gateway addresses: set once per family, first write wins, a two-family
 * set is all-or-nothing, and racing setters agree on one winner that every
 * reader sees.  Built with TSan too, so it uses only gateway.c and addr.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/gateway.h"

#define RACERS 8
#define ROUNDS 200

static struct msb_ip ip_of(const char *s)
{
    struct msb_ip a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_FATAL(msb_ip_parse(s, &a) == 0);
    return a;
}

/* True when fam's gateway is set and equals want. */
static bool gw_is(const struct msb_gateways *g, enum msb_family fam, const char *want)
{
    struct msb_ip got, w = ip_of(want);
    return msb_gateway_get(g, fam, &got) && msb_ip_equal(&got, &w);
}

static bool gw_unset(const struct msb_gateways *g, enum msb_family fam)
{
    struct msb_ip got;
    return !msb_gateway_get(g, fam, &got);
}

static void test_unset_reads_false(void)
{
    struct msb_gateways g;
    CU_ASSERT_FATAL(msb_gateways_init(&g) == 0);
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V4));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V6));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_NONE));
    /* Setting nothing succeeds and still sets nothing. */
    CU_ASSERT_EQUAL(msb_gateways_set(&g, NULL, NULL), 0);
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V4));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V6));
    msb_gateways_destroy(&g);
}

static void test_v4_set_once(void)
{
    struct msb_gateways g;
    CU_ASSERT_FATAL(msb_gateways_init(&g) == 0);
    struct msb_ip a = ip_of("100.96.0.1"), same = ip_of("100.96.0.1"), b = ip_of("100.96.0.2");
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &a, NULL), 0);
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V4, "100.96.0.1"));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V6)); /* the other family untouched */
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &same, NULL), 0); /* identical repeat */
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &b, NULL), -1);
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V4, "100.96.0.1"));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_NONE));
    msb_gateways_destroy(&g);
}

static void test_v6_set_once(void)
{
    struct msb_gateways g;
    CU_ASSERT_FATAL(msb_gateways_init(&g) == 0);
    struct msb_ip a = ip_of("fd42:6d73:62::1"), b = ip_of("fd42:6d73:62::2");
    CU_ASSERT_EQUAL(msb_gateways_set(&g, NULL, &a), 0);
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V6, "fd42:6d73:62::1"));
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V4));
    CU_ASSERT_EQUAL(msb_gateways_set(&g, NULL, &a), 0);
    CU_ASSERT_EQUAL(msb_gateways_set(&g, NULL, &b), -1);
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V6, "fd42:6d73:62::1"));
    msb_gateways_destroy(&g);
}

/* v4 would be new, v6 conflicts: the whole call fails and v4 stays unset;
 * the mirror case (v4 conflicts, v6 new) likewise. */
static void test_two_family_set_is_all_or_nothing(void)
{
    struct msb_gateways g;
    CU_ASSERT_FATAL(msb_gateways_init(&g) == 0);
    struct msb_ip v4 = ip_of("100.96.0.1"), v4b = ip_of("100.96.0.9");
    struct msb_ip v6 = ip_of("fd00::1"), v6b = ip_of("fd00::2");
    CU_ASSERT_EQUAL(msb_gateways_set(&g, NULL, &v6), 0);
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &v4, &v6b), -1);
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V4));
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V6, "fd00::1"));

    CU_ASSERT_EQUAL(msb_gateways_set(&g, &v4, &v6), 0); /* v4 new, v6 same */
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V4, "100.96.0.1"));
    msb_gateways_destroy(&g);

    CU_ASSERT_FATAL(msb_gateways_init(&g) == 0);
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &v4, NULL), 0);
    CU_ASSERT_EQUAL(msb_gateways_set(&g, &v4b, &v6), -1);
    CU_ASSERT(gw_unset(&g, MSB_FAMILY_V6));
    CU_ASSERT(gw_is(&g, MSB_FAMILY_V4, "100.96.0.1"));
    msb_gateways_destroy(&g);
}

/* ---- racing setters ---------------------------------------------------- */

struct race {
    struct msb_gateways g;
    pthread_barrier_t start;
    struct msb_ip want[RACERS];
    int rc[RACERS];
    atomic_uint bad_reads; /* get() false or not the winner right after a set */
};

struct racer {
    struct race *r;
    int i;
};

static void *race_one(void *arg)
{
    struct racer *me = arg;
    struct race *r = me->r;
    pthread_barrier_wait(&r->start);
    int rc = msb_gateways_set(&r->g, &r->want[me->i], NULL);
    r->rc[me->i] = rc;
    /* Whatever happened, a gateway is now published: a winner sees its own
     * address, a loser some other racer's, never a torn or unset one. */
    struct msb_ip got;
    bool ok = msb_gateway_get(&r->g, MSB_FAMILY_V4, &got);
    bool own = ok && msb_ip_equal(&got, &r->want[me->i]);
    bool other = false;
    for (int j = 0; ok && j < RACERS; j++)
        other = other || (j != me->i && msb_ip_equal(&got, &r->want[j]));
    if (!ok || (rc == 0 && !own) || (rc != 0 && !other))
        atomic_fetch_add(&r->bad_reads, 1);
    return NULL;
}

/* Runs one round; returns the index of the single winner, or -1. */
static int race_round(struct race *r)
{
    CU_ASSERT_FATAL(msb_gateways_init(&r->g) == 0);
    CU_ASSERT_FATAL(pthread_barrier_init(&r->start, NULL, RACERS) == 0);
    pthread_t th[RACERS];
    struct racer who[RACERS];
    for (int i = 0; i < RACERS; i++) {
        who[i] = (struct racer){r, i};
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, race_one, &who[i]) == 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r->start);
    int winner = -1, wins = 0;
    for (int i = 0; i < RACERS; i++) {
        if (r->rc[i] == 0) {
            winner = i;
            wins++;
        }
    }
    return wins == 1 ? winner : -1;
}

static void test_racing_different_values_one_winner(void)
{
    static struct race r;
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        memset(&r, 0, sizeof r);
        for (int i = 0; i < RACERS; i++) {
            const uint8_t b[4] = {100, 96, (uint8_t)round, (uint8_t)(i + 1)};
            msb_ip_from_v4(&r.want[i], b);
        }
        int w = race_round(&r);
        struct msb_ip got;
        bool ok = w >= 0 && msb_gateway_get(&r.g, MSB_FAMILY_V4, &got) &&
                  msb_ip_equal(&got, &r.want[w]) && atomic_load(&r.bad_reads) == 0;
        failures += !ok;
        msb_gateways_destroy(&r.g);
    }
    CU_ASSERT_EQUAL(failures, 0);
}

static void test_racing_same_value_all_succeed(void)
{
    static struct race r;
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        memset(&r, 0, sizeof r);
        for (int i = 0; i < RACERS; i++)
            r.want[i] = ip_of("100.96.0.1");
        race_round(&r);
        int zeros = 0;
        for (int i = 0; i < RACERS; i++)
            zeros += r.rc[i] == 0;
        failures += zeros != RACERS || !gw_is(&r.g, MSB_FAMILY_V4, "100.96.0.1") ||
                    atomic_load(&r.bad_reads) != 0;
        msb_gateways_destroy(&r.g);
    }
    CU_ASSERT_EQUAL(failures, 0);
}

static const struct test_case tests[] = {
    {"unset gateway reads false", test_unset_reads_false},
    {"v4: first write wins", test_v4_set_once},
    {"v6: first write wins", test_v6_set_once},
    {"two-family set is all-or-nothing", test_two_family_set_is_all_or_nothing},
    {"racing different values: one winner", test_racing_different_values_one_winner},
    {"racing same value: all succeed", test_racing_same_value_all_succeed},
    {NULL, NULL},
};

int main(void)
{
    return cunit_run("gateway", tests);
}
