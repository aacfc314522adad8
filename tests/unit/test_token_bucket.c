/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token bucket alone (lib/token_bucket.h): starts full, all-or-nothing
 * takes, partial grants, exact refills at tiny and huge rates, the burst
 * cap after long idle gaps (no overflow), waits that are neither early nor
 * late by more than a nanosecond, changes at run time, and a long random
 * run against a reference computed in exact rational arithmetic.
 */
#include <stdlib.h>

#include "cunit_main.h"
#include "lib/token_bucket.h"

#define SEC 1000000000ull

static void test_starts_full(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 100, 10, 5 * SEC);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_TRUE(msb_tb_take(&b, 1, 5 * SEC));
    CU_ASSERT_FALSE(msb_tb_take(&b, 1, 5 * SEC));
    CU_ASSERT_EQUAL(b.granted, 10);
    CU_ASSERT_EQUAL(b.refused, 1);
}

static void test_all_or_nothing(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 1000, 100, 0);
    CU_ASSERT_FALSE(msb_tb_take(&b, 101, 0)); /* more than the burst: never */
    CU_ASSERT_TRUE(msb_tb_take(&b, 60, 0));
    CU_ASSERT_FALSE(msb_tb_take(&b, 41, 0)); /* refused whole: nothing taken */
    CU_ASSERT_TRUE(msb_tb_take(&b, 40, 0));
}

static void test_grant_partial(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 1000, 500, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 800, 0), 500);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 800, 0), 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 800, SEC / 10), 100); /* 100 ms at 1000/s */
    CU_ASSERT_EQUAL(b.refused, 300 + 800 + 700);
}

/* 1 token/s with nanosecond steps: nothing is rounded away. */
static void test_slow_rate_exact(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 1, 1, 0);
    CU_ASSERT_TRUE(msb_tb_take(&b, 1, 0));
    uint64_t t = 0;
    for (int i = 0; i < 999; i++) {
        t += SEC / 1000;
        CU_ASSERT_FALSE(msb_tb_take(&b, 1, t));
    }
    CU_ASSERT_TRUE(msb_tb_take(&b, 1, t + SEC / 1000)); /* exactly 1 s */
}

/* The largest rate and burst, then an idle gap of years: full, no wrap. */
static void test_huge_values(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, MSB_TB_RATE_MAX, MSB_TB_BURST_MAX, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, UINT64_MAX, 0), MSB_TB_BURST_MAX);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, UINT64_MAX, 3ull * 365 * 86400 * SEC), MSB_TB_BURST_MAX);
    msb_tb_init(&b, UINT64_MAX, UINT64_MAX, 0); /* clamped, not wrapped */
    CU_ASSERT_EQUAL(b.rate, MSB_TB_RATE_MAX);
    CU_ASSERT_EQUAL(b.burst, MSB_TB_BURST_MAX);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, UINT64_MAX, 1), MSB_TB_BURST_MAX);
}

static void test_unlimited(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 0, 0, 0);
    CU_ASSERT_TRUE(msb_tb_take(&b, 1ull << 50, 0));
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 12345, 0), 12345);
    CU_ASSERT_EQUAL(msb_tb_wait_ns(&b, 1ull << 50, 0), 0);
}

/* A wait is the exact time to the tokens: one ns earlier is too early. */
static void test_wait(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 3, 10, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 10, 0), 10);
    uint64_t w = msb_tb_wait_ns(&b, 2, 0);
    CU_ASSERT(w >= 2 * SEC / 3 && w <= 2 * SEC / 3 + 1);
    CU_ASSERT_FALSE(msb_tb_take(&b, 2, w - 1));
    CU_ASSERT_TRUE(msb_tb_take(&b, 2, w));
    /* 1 nano-token was left over from w: the rest of a full burst, rounded up. */
    CU_ASSERT_EQUAL(msb_tb_wait_ns(&b, 1000, w), (10 * SEC - 1 + 2) / 3);
    msb_tb_note_wait(&b, 7);
    CU_ASSERT_EQUAL(b.throttled_ns, 7);
}

static void test_set_runtime(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 100, 100, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 50, 0), 50);
    msb_tb_set(&b, 10, 20, 0); /* held tokens cut to the new burst */
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 1000, 0), 20);
    msb_tb_set(&b, 0, 0, SEC); /* lifted */
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 1000, SEC), 1000);
    msb_tb_set(&b, 1000, 0, 2 * SEC); /* burst 0: one second's worth */
    CU_ASSERT_EQUAL(b.burst, 1000);
    CU_ASSERT_EQUAL(b.granted, 50 + 20 + 1000);
}

/* A clock read earlier than the last one (two callers) adds nothing. */
static void test_clock_backwards(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 10, 10, 10 * SEC);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 10, 10 * SEC), 10);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 10, 5 * SEC), 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 10, 10 * SEC + SEC / 10), 1);
}

/* Random takes and gaps against an exact model: tokens x 1e9 as a plain
 * 64-bit sum, refilled by whole-nanosecond steps, capped at the burst. */
/* Unused grants come back, never past the burst, and granted stays true. */
static void test_refund(void)
{
    struct msb_tbucket b;
    msb_tb_init(&b, 1000, 500, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 400, 0), 400);
    msb_tb_refund(&b, 150); /* the socket took 250 of them */
    CU_ASSERT_EQUAL(b.granted, 250);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 1000, 0), 250);
    msb_tb_refund(&b, 10000); /* more than was ever granted: clamped */
    CU_ASSERT_EQUAL(b.granted, 0);
    CU_ASSERT_EQUAL(msb_tb_grant(&b, 1000, 0), 500); /* the burst, no more */
}

static void test_random_vs_model(void)
{
    srand(7);
    for (int round = 0; round < 20; round++) {
        uint64_t rate = 1 + (uint64_t)rand() % 100000, burst = 1 + (uint64_t)rand() % 5000;
        struct msb_tbucket b;
        msb_tb_init(&b, rate, burst, 0);
        uint64_t model = burst * SEC, now = 0, sum = 0;
        for (int i = 0; i < 20000; i++) {
            uint64_t dt = (uint64_t)rand() % (SEC / 100);
            now += dt;
            model = model + rate * dt > burst * SEC ? burst * SEC : model + rate * dt;
            uint64_t want = (uint64_t)rand() % (burst + 10);
            uint64_t got = msb_tb_grant(&b, want, now);
            uint64_t expect = want < model / SEC ? want : model / SEC;
            CU_ASSERT_EQUAL_FATAL(got, expect);
            model -= got * SEC;
            sum += got;
        }
        /* Over the whole run no more than burst + rate x time was granted. */
        CU_ASSERT(sum <= burst + rate * now / SEC + 1);
    }
}

int main(void)
{
    static const struct test_case tests[] = {
        {"starts_full", test_starts_full},
        {"all_or_nothing", test_all_or_nothing},
        {"grant_partial", test_grant_partial},
        {"slow_rate_exact", test_slow_rate_exact},
        {"huge_values", test_huge_values},
        {"unlimited", test_unlimited},
        {"wait", test_wait},
        {"set_runtime", test_set_runtime},
        {"clock_backwards", test_clock_backwards},
        {"refund", test_refund},
        {"random_vs_model", test_random_vs_model},
        {NULL, NULL},
    };
    return cunit_run("token_bucket", tests);
}
