/* SPDX-License-Identifier: Apache-2.0 */
/* Resolved-hostname index: normalisation, strict TTL expiry, replacement,
 * bounds (entries, addresses, TTL, addresses per key), queries, and a
 * reference-model comparison plus a threaded stress run.  Every timestamp is
 * an explicit now_ms; the real clock only bounds how long the stress runs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit_main.h"
#include "lib/hostindex.h"
#include "lib/siphash.h"

#define BIG_TTL 1000000000ull

/* ---- helpers ----------------------------------------------------------- */

static struct msb_ip ip_of(const char *s)
{
    struct msb_ip a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_FATAL(msb_ip_parse(s, &a) == 0);
    return a;
}

/* 10.x.y.z for a small index i: distinct, valid v4 addresses. */
static struct msb_ip ip_n(unsigned i)
{
    const uint8_t b[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    struct msb_ip a;
    msb_ip_from_v4(&a, b);
    return a;
}

static bool name_is(const char *hostname, void *ctx)
{
    return strcmp(hostname, ctx) == 0;
}

static bool any_name(const char *hostname, void *ctx)
{
    (void)hostname;
    (void)ctx;
    return true;
}

static bool resolves(struct msb_hidx *h, const struct msb_ip *a, const char *name, uint64_t now)
{
    return msb_hidx_any(h, a, now, name_is, (void *)name);
}

static int put1(struct msb_hidx *h, const char *name, enum msb_family fam, const char *addr,
                uint64_t ttl, uint64_t now)
{
    struct msb_ip a = ip_of(addr);
    return msb_hidx_insert(h, name, fam, &a, 1, ttl, now);
}

static struct msb_hidx_stats stats_of(struct msb_hidx *h)
{
    struct msb_hidx_stats s;
    msb_hidx_stats(h, &s);
    return s;
}

/* What a query visited, copied out (views are only valid during the call). */
#define SEEN_MAX 64
struct seen_one {
    char name[MSB_HIDX_NAME_MAX + 1];
    enum msb_family family;
    struct msb_ip addrs[MSB_HIDX_MAX_ADDRS];
    size_t naddrs;
    uint64_t ttl;
};
struct seen {
    size_t n;
    struct seen_one v[SEEN_MAX];
};

static void record(const struct msb_hidx_view *view, void *ctx)
{
    struct seen *s = ctx;
    CU_ASSERT_FATAL(s->n < SEEN_MAX);
    struct seen_one *o = &s->v[s->n++];
    snprintf(o->name, sizeof o->name, "%s", view->hostname);
    o->family = view->family;
    o->naddrs = view->naddrs;
    memcpy(o->addrs, view->addrs, view->naddrs * sizeof *view->addrs);
    o->ttl = view->ttl_remaining_ms;
}

static long query(struct msb_hidx *h, enum msb_hidx_select sel, const void *key, uint64_t now,
                  size_t offset, size_t limit, struct seen *out)
{
    out->n = 0;
    return msb_hidx_query(h, sel, key, now, offset, limit, record, out);
}

static long total_by_name(struct msb_hidx *h, const char *name, uint64_t now)
{
    struct seen s;
    return query(h, MSB_HIDX_BY_HOSTNAME, name, now, 0, 0, &s);
}

/* ---- the seed's test --------------------------------------------------- */

static void test_seed_isolated_per_family(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip v4 = ip_of("1.1.1.1"), v6 = ip_of("2606:4700:4700::1111");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "Example.com.", MSB_FAMILY_V4, &v4, 1, 30000, 0), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "example.com", MSB_FAMILY_V6, &v6, 1, 30000, 0), 0);

    CU_ASSERT(resolves(&h, &v4, "example.com", 1));
    CU_ASSERT(resolves(&h, &v6, "example.com", 1));
    CU_ASSERT_FALSE(resolves(&h, &v4, "other.example", 1));
    /* Two keys: the v6 insert did not overwrite the v4 one. */
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);
    msb_hidx_destroy(&h);
}

/* ---- normalisation ----------------------------------------------------- */

static void expect_norm(const char *in, const char *want)
{
    char out[MSB_HIDX_NAME_MAX + 1];
    int len = msb_hidx_normalize(in, strlen(in), out);
    CU_ASSERT_EQUAL(len, (int)strlen(want));
    CU_ASSERT(len >= 0 && strcmp(out, want) == 0);
}

static void test_normalize_strips_dots_and_lowercases(void)
{
    expect_norm("example.com", "example.com");
    expect_norm("Example.COM.", "example.com");
    expect_norm("WWW.Example.Com...", "www.example.com");
    expect_norm("a.b.", "a.b");
    expect_norm("MiXeD-09_Z", "mixed-09_z"); /* only A-Z change */
    expect_norm(".leading.dot", ".leading.dot"); /* only trailing dots go */
}

/* Differently spelled names land on one key: the second insert replaces the
 * first, and every spelling finds it. */
static void test_normalized_spellings_share_a_key(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    CU_ASSERT_EQUAL(put1(&h, "WWW.Example.COM..", MSB_FAMILY_V4, "192.0.2.1", 1000, 0), 0);
    CU_ASSERT_EQUAL(put1(&h, "www.example.com", MSB_FAMILY_V4, "192.0.2.2", 1000, 0), 0);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 1);
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "Www.EXAMPLE.com.", 1, 0, 0, &s), 1);
    CU_ASSERT_STRING_EQUAL(s.v[0].name, "www.example.com");
    struct msb_ip a = ip_of("192.0.2.2");
    CU_ASSERT(s.v[0].naddrs == 1 && msb_ip_equal(&s.v[0].addrs[0], &a));
    msb_hidx_destroy(&h);
}

static void fill_name(char *buf, size_t len)
{
    /* Labels of 63 'a's separated by dots, like a real maximal name. */
    for (size_t i = 0; i < len; i++)
        buf[i] = (i % 64 == 63) ? '.' : 'A';
    buf[len] = '\0';
}

static void test_name_length_limits(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    char name[MSB_HIDX_NAME_MAX + 8];
    fill_name(name, 253);
    CU_ASSERT_EQUAL(put1(&h, name, MSB_FAMILY_V4, "192.0.2.1", 1000, 0), 0);
    /* Trailing dots do not count against the limit. */
    strcat(name, "..");
    CU_ASSERT_EQUAL(put1(&h, name, MSB_FAMILY_V6, "192.0.2.1", 1000, 0), 0);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);
    CU_ASSERT_EQUAL(stats_of(&h).rejected_names, 0);

    fill_name(name, 254);
    name[253] = 'b'; /* end in a letter so nothing is stripped */
    CU_ASSERT_EQUAL(put1(&h, name, MSB_FAMILY_V4, "192.0.2.2", 1000, 0), -1);
    CU_ASSERT_EQUAL(stats_of(&h).rejected_names, 1);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);
    char out[MSB_HIDX_NAME_MAX + 1];
    CU_ASSERT_EQUAL(msb_hidx_normalize(name, 254, out), -1);
    msb_hidx_destroy(&h);
}

static void test_empty_and_dot_only_rejected(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    const char *bad[] = {"", ".", "...", NULL};
    for (const char **b = bad; *b; b++)
        CU_ASSERT_EQUAL(put1(&h, *b, MSB_FAMILY_V4, "192.0.2.1", 1000, 0), -1);
    struct msb_ip a = ip_of("192.0.2.1");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, NULL, MSB_FAMILY_V4, &a, 1, 1000, 0), -1);
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.rejected_names, 4);
    CU_ASSERT_EQUAL(s.entries, 0);
    CU_ASSERT_FALSE(msb_hidx_any(&h, &a, 1, any_name, NULL));
    msb_hidx_destroy(&h);
}

static void test_nonprintable_rejected(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    const char *bad[] = {"exa\x01mple.com", "tab\there.com", "new\nline.com", "del\x7f.com",
                         "high\x80.com", "\xff", "caf\xc3\xa9.com", NULL};
    uint64_t n = 0;
    for (const char **b = bad; *b; b++, n++) {
        CU_ASSERT_EQUAL(put1(&h, *b, MSB_FAMILY_V4, "192.0.2.1", 1000, 0), -1);
        char out[MSB_HIDX_NAME_MAX + 1];
        CU_ASSERT_EQUAL(msb_hidx_normalize(*b, strlen(*b), out), -1);
    }
    CU_ASSERT_EQUAL(stats_of(&h).rejected_names, n);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 0);
    msb_hidx_destroy(&h);
}

/* A family other than v4/v6 is a rejected key, not a third family. */
static void test_bad_family_rejected(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    CU_ASSERT_EQUAL(put1(&h, "example.com", MSB_FAMILY_NONE, "192.0.2.1", 1000, 0), -1);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 0);
    msb_hidx_destroy(&h);
}

/* ---- replacement, expiry, removal ------------------------------------- */

static void test_insert_replaces_whole_set(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip old2[2] = {ip_of("192.0.2.1"), ip_of("192.0.2.2")};
    struct msb_ip neu = ip_of("198.51.100.7");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "svc.test", MSB_FAMILY_V4, old2, 2, 5000, 0), 0);
    CU_ASSERT(resolves(&h, &old2[0], "svc.test", 1));
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "svc.test", MSB_FAMILY_V4, &neu, 1, 5000, 2), 0);

    CU_ASSERT_FALSE(resolves(&h, &old2[0], "svc.test", 3));
    CU_ASSERT_FALSE(resolves(&h, &old2[1], "svc.test", 3));
    CU_ASSERT(resolves(&h, &neu, "svc.test", 3));
    /* The reverse map no longer holds the old addresses at all. */
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &old2[0], 3, 0, 0, &s), 0);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &neu, 3, 0, 0, &s), 1);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 1);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 1);
    msb_hidx_destroy(&h);
}

static void test_strict_expiry(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip a = ip_of("192.0.2.9");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "t.test", MSB_FAMILY_V4, &a, 1, 500, 1000), 0);
    struct seen s;
    CU_ASSERT(resolves(&h, &a, "t.test", 1499));
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 1499, 0, 0, &s), 1);
    CU_ASSERT_EQUAL(s.v[0].ttl, 1);
    CU_ASSERT_FALSE(resolves(&h, &a, "t.test", 1500));
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 1500, 0, 0, &s), 0);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &a, 1500, 0, 0, &s), 0);
    CU_ASSERT_EQUAL(total_by_name(&h, "t.test", 1500), 0);
    msb_hidx_destroy(&h);
}

static void test_ttl_zero_dead_on_arrival(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip a = ip_of("192.0.2.9");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "zero.test", MSB_FAMILY_V4, &a, 1, 0, 1000), 0);
    CU_ASSERT_FALSE(resolves(&h, &a, "zero.test", 1000));
    CU_ASSERT_EQUAL(total_by_name(&h, "zero.test", 1000), 0);
    CU_ASSERT(msb_hidx_cleanup(&h, 1000));
    CU_ASSERT_EQUAL(stats_of(&h).entries, 0);
    CU_ASSERT_EQUAL(stats_of(&h).expired, 1);
    msb_hidx_destroy(&h);
}

/* The old expiry (t=1000) must not remove the replacement (t=100010). */
static void test_stale_expiry_spares_replacement(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip a = ip_of("192.0.2.9");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "r.test", MSB_FAMILY_V4, &a, 1, 1000, 0), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "r.test", MSB_FAMILY_V4, &a, 1, 100000, 10), 0);
    CU_ASSERT(msb_hidx_cleanup(&h, 5000));
    CU_ASSERT(resolves(&h, &a, "r.test", 5000));
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.expired, 0);
    CU_ASSERT_EQUAL(s.entries, 1);
    /* An insert of another key also sweeps expired entries: still spared. */
    CU_ASSERT_EQUAL(put1(&h, "other.test", MSB_FAMILY_V4, "192.0.2.10", 1000, 6000), 0);
    CU_ASSERT(resolves(&h, &a, "r.test", 6000));
    CU_ASSERT(msb_hidx_cleanup(&h, 100010));
    CU_ASSERT_FALSE(resolves(&h, &a, "r.test", 100010));
    CU_ASSERT_EQUAL(stats_of(&h).expired, 2);
    msb_hidx_destroy(&h);
}

static void test_empty_insert_and_remove_drop_key(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip a = ip_of("192.0.2.1"), b = ip_of("2001:db8::1");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "gone.test", MSB_FAMILY_V4, &a, 1, 5000, 0), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "gone.test", MSB_FAMILY_V6, &b, 1, 5000, 0), 0);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);

    /* An empty answer clears only its own family. */
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "GONE.test.", MSB_FAMILY_V4, NULL, 0, 5000, 1), 0);
    CU_ASSERT_FALSE(resolves(&h, &a, "gone.test", 2));
    CU_ASSERT(resolves(&h, &b, "gone.test", 2));
    CU_ASSERT_EQUAL(stats_of(&h).entries, 1);

    msb_hidx_remove(&h, "Gone.Test", MSB_FAMILY_V6, 3);
    CU_ASSERT_FALSE(resolves(&h, &b, "gone.test", 4));
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.entries, 0);
    CU_ASSERT_EQUAL(s.addresses, 0);
    CU_ASSERT_EQUAL(s.expired, 0); /* removed, not expired */
    /* Removing an absent key is harmless. */
    msb_hidx_remove(&h, "never.test", MSB_FAMILY_V4, 5);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 0);
    msb_hidx_destroy(&h);
}

/* ---- bounds ------------------------------------------------------------ */

static void test_cap_evicts_soonest_expiry(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 3, BIG_TTL) == 0);
    CU_ASSERT_EQUAL(put1(&h, "a.test", MSB_FAMILY_V4, "192.0.2.1", 5000, 0), 0);
    CU_ASSERT_EQUAL(put1(&h, "b.test", MSB_FAMILY_V4, "192.0.2.2", 1000, 0), 0);
    CU_ASSERT_EQUAL(put1(&h, "c.test", MSB_FAMILY_V4, "192.0.2.3", 3000, 0), 0);
    /* Replacing a key at the cap makes room from its own slot. */
    CU_ASSERT_EQUAL(put1(&h, "c.test", MSB_FAMILY_V4, "192.0.2.3", 3000, 1), 0);
    CU_ASSERT_EQUAL(stats_of(&h).evicted_cap, 0);

    CU_ASSERT_EQUAL(put1(&h, "d.test", MSB_FAMILY_V4, "192.0.2.4", 4000, 1), 0);
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.evicted_cap, 1);
    CU_ASSERT_EQUAL(s.entries, 3);
    CU_ASSERT_EQUAL(total_by_name(&h, "b.test", 2), 0); /* soonest expiry */
    CU_ASSERT_EQUAL(total_by_name(&h, "a.test", 2), 1); /* oldest insert survives */
    CU_ASSERT_EQUAL(total_by_name(&h, "c.test", 2), 1);
    CU_ASSERT_EQUAL(total_by_name(&h, "d.test", 2), 1);
    struct msb_ip b = ip_of("192.0.2.2");
    CU_ASSERT_FALSE(msb_hidx_any(&h, &b, 2, any_name, NULL));

    /* Next in line is c (expires at 3001). */
    CU_ASSERT_EQUAL(put1(&h, "e.test", MSB_FAMILY_V6, "2001:db8::5", 9000, 2), 0);
    CU_ASSERT_EQUAL(total_by_name(&h, "c.test", 3), 0);
    CU_ASSERT_EQUAL(stats_of(&h).evicted_cap, 2);
    msb_hidx_destroy(&h);
}

static void put_n(struct msb_hidx *h, const char *name, unsigned first, unsigned n, uint64_t ttl)
{
    struct msb_ip a[MSB_HIDX_MAX_ADDRS];
    for (unsigned i = 0; i < n; i++)
        a[i] = ip_n(first + i);
    CU_ASSERT_EQUAL(msb_hidx_insert(h, name, MSB_FAMILY_V4, a, n, ttl, 0), 0);
}

/* 3 entries allow 12 addresses in total: 5 + 5 + 3 does not fit. */
static void test_address_cap_evicts(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 3, BIG_TTL) == 0);
    put_n(&h, "a.test", 0, 5, 3000);
    put_n(&h, "b.test", 100, 5, 2000);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 10);
    CU_ASSERT_EQUAL(stats_of(&h).evicted_cap, 0);
    put_n(&h, "c.test", 200, 3, 4000);
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.evicted_cap, 1);
    CU_ASSERT_EQUAL(s.entries, 2);
    CU_ASSERT_EQUAL(s.addresses, 8);
    CU_ASSERT_EQUAL(total_by_name(&h, "b.test", 1), 0);
    CU_ASSERT_EQUAL(total_by_name(&h, "a.test", 1), 1);
    CU_ASSERT_EQUAL(total_by_name(&h, "c.test", 1), 1);
    /* Exactly 12 fits without eviction. */
    put_n(&h, "d.test", 300, 4, 5000);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 12);
    CU_ASSERT_EQUAL(stats_of(&h).evicted_cap, 1);
    msb_hidx_destroy(&h);
}

static void test_ttl_ceiling(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, 1000) == 0);
    struct msb_ip a = ip_of("192.0.2.1");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "cap.test", MSB_FAMILY_V4, &a, 1, 1000000000ull, 50), 0);
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 50, 0, 0, &s), 1);
    CU_ASSERT(s.v[0].ttl <= 1000 && s.v[0].ttl > 0);
    CU_ASSERT(resolves(&h, &a, "cap.test", 1049));
    CU_ASSERT_FALSE(resolves(&h, &a, "cap.test", 1050));
    msb_hidx_destroy(&h);
}

/* now + ttl past UINT64_MAX must not wrap into the past. */
static void test_expiry_saturates(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, UINT64_MAX) == 0);
    struct msb_ip a = ip_of("192.0.2.1");
    uint64_t now = UINT64_MAX - 10;
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "sat.test", MSB_FAMILY_V4, &a, 1, UINT64_MAX, now), 0);
    CU_ASSERT(resolves(&h, &a, "sat.test", now));
    CU_ASSERT(resolves(&h, &a, "sat.test", UINT64_MAX - 1));
    msb_hidx_destroy(&h);
}

static void test_addresses_truncated_and_deduplicated(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 64, BIG_TTL) == 0);
    struct msb_ip many[MSB_HIDX_MAX_ADDRS + 6];
    for (unsigned i = 0; i < MSB_HIDX_MAX_ADDRS + 6; i++)
        many[i] = ip_n(i);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "many.test", MSB_FAMILY_V4, many, MSB_HIDX_MAX_ADDRS + 6,
                                    1000, 0), 0);
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 1, 0, 0, &s), 1);
    CU_ASSERT_EQUAL(s.v[0].naddrs, MSB_HIDX_MAX_ADDRS);
    CU_ASSERT_EQUAL(stats_of(&h).truncated_addrs, 1);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, MSB_HIDX_MAX_ADDRS);
    CU_ASSERT(resolves(&h, &many[MSB_HIDX_MAX_ADDRS - 1], "many.test", 1));
    CU_ASSERT_FALSE(resolves(&h, &many[MSB_HIDX_MAX_ADDRS], "many.test", 1));

    /* 64 distinct addresses, each given twice: all kept, nothing truncated. */
    struct msb_ip dup[2 * MSB_HIDX_MAX_ADDRS];
    for (unsigned i = 0; i < 2 * MSB_HIDX_MAX_ADDRS; i++)
        dup[i] = ip_n(1000 + i % MSB_HIDX_MAX_ADDRS);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "dup.test", MSB_FAMILY_V4, dup, 2 * MSB_HIDX_MAX_ADDRS,
                                    1000, 0), 0);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "dup.test", 1, 0, 0, &s), 1);
    CU_ASSERT_EQUAL(s.v[0].naddrs, MSB_HIDX_MAX_ADDRS);
    CU_ASSERT_EQUAL(stats_of(&h).truncated_addrs, 1);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 2 * MSB_HIDX_MAX_ADDRS);

    struct msb_ip three[3] = {ip_n(7), ip_n(7), ip_n(7)};
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "one.test", MSB_FAMILY_V4, three, 3, 1000, 0), 0);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "one.test", 1, 0, 0, &s), 1);
    CU_ASSERT_EQUAL(s.v[0].naddrs, 1);
    msb_hidx_destroy(&h);
}

/* ---- queries ----------------------------------------------------------- */

static const char *const QNAMES[] = {"mango.test", "apple.test", "kiwi.test", "zeta.test",
                                     "banana.test", "apple.test.x", "cherry.test"};
#define NQNAMES (sizeof QNAMES / sizeof QNAMES[0])

static void fill_query_index(struct msb_hidx *h)
{
    for (unsigned i = 0; i < NQNAMES; i++) {
        CU_ASSERT_EQUAL(put1(h, QNAMES[i], MSB_FAMILY_V6, "2001:db8::1", 1000 + i, 0), 0);
        if (i % 3 != 2) /* kiwi.test and apple.test.x only have a v6 answer */
            CU_ASSERT_EQUAL(put1(h, QNAMES[i], MSB_FAMILY_V4, "192.0.2.1", 2000 + i, 0), 0);
    }
}

static bool ordered(const struct seen_one *a, const struct seen_one *b)
{
    int c = strcmp(a->name, b->name);
    return c < 0 || (c == 0 && a->family < b->family);
}

static void test_query_all_sorted_and_paged(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 64, BIG_TTL) == 0);
    fill_query_index(&h);
    struct seen all, page;
    long total = query(&h, MSB_HIDX_ALL, NULL, 1, 0, 0, &all);
    CU_ASSERT_EQUAL(total, (long)stats_of(&h).entries);
    CU_ASSERT_EQUAL(total, 12);
    CU_ASSERT_EQUAL((long)all.n, total);
    for (size_t i = 1; i < all.n; i++)
        CU_ASSERT(ordered(&all.v[i - 1], &all.v[i]));
    CU_ASSERT_STRING_EQUAL(all.v[0].name, "apple.test");
    CU_ASSERT_EQUAL(all.v[0].family, MSB_FAMILY_V4);

    /* Pages of 5 are disjoint, in order, and cover the whole list. */
    size_t seen_total = 0;
    for (size_t off = 0; off < (size_t)total + 5; off += 5) {
        CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 1, off, 5, &page), total);
        size_t want = off >= (size_t)total ? 0 : (size_t)total - off < 5 ? (size_t)total - off : 5;
        CU_ASSERT_EQUAL(page.n, want);
        for (size_t i = 0; i < page.n; i++) {
            CU_ASSERT_STRING_EQUAL(page.v[i].name, all.v[off + i].name);
            CU_ASSERT_EQUAL(page.v[i].family, all.v[off + i].family);
        }
        seen_total += page.n;
    }
    CU_ASSERT_EQUAL(seen_total, (size_t)total);
    /* Expired entries (the v6 ones expiring at 1000..1003) leave the
     * listing without a cleanup. */
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_ALL, NULL, 1003, 0, 0, &all), 12 - 4);
    msb_hidx_destroy(&h);
}

static void test_query_by_hostname(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 64, BIG_TTL) == 0);
    fill_query_index(&h);
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "APPLE.Test.", 1, 0, 0, &s), 2);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.v[0].name, "apple.test");
    CU_ASSERT_EQUAL(s.v[0].family, MSB_FAMILY_V4);
    CU_ASSERT_STRING_EQUAL(s.v[1].name, "apple.test");
    CU_ASSERT_EQUAL(s.v[1].family, MSB_FAMILY_V6);
    struct msb_ip v6 = ip_of("2001:db8::1");
    CU_ASSERT(s.v[1].naddrs == 1 && msb_ip_equal(&s.v[1].addrs[0], &v6));
    /* Exact names only: no prefix or suffix matching; apple.test.x has
     * only a v6 answer. */
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "apple.test.x", 1, 0, 0, &s), 1);
    CU_ASSERT(s.n == 1 && strcmp(s.v[0].name, "apple.test.x") == 0);
    CU_ASSERT_EQUAL(s.v[0].family, MSB_FAMILY_V6);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "apple", 1, 0, 0, &s), 0);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "test", 1, 0, 0, &s), 0);
    /* An unusable name matches nothing (0 or -1, but never a visit). */
    CU_ASSERT(query(&h, MSB_HIDX_BY_HOSTNAME, "...", 1, 0, 0, &s) <= 0);
    CU_ASSERT_EQUAL(s.n, 0);
    /* offset 1 of 2 */
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_HOSTNAME, "apple.test", 1, 1, 0, &s), 2);
    CU_ASSERT(s.n == 1 && s.v[0].family == MSB_FAMILY_V6);
    msb_hidx_destroy(&h);
}

static void test_query_by_address(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 64, BIG_TTL) == 0);
    fill_query_index(&h);
    struct msb_ip v4 = ip_of("192.0.2.1"), v6 = ip_of("2001:db8::1"), none = ip_of("192.0.2.2");
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &v6, 1, 0, 0, &s), (long)NQNAMES);
    for (size_t i = 1; i < s.n; i++)
        CU_ASSERT(ordered(&s.v[i - 1], &s.v[i]));
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &v4, 1, 0, 0, &s), 5);
    CU_ASSERT_EQUAL(s.n, 5);
    for (size_t i = 0; i < s.n; i++)
        CU_ASSERT_EQUAL(s.v[i].family, MSB_FAMILY_V4);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &v4, 1, 1, 2, &s), 5);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &none, 1, 0, 0, &s), 0);
    /* A missing key for a keyed query is an error, not an empty result. */
    CU_ASSERT_EQUAL(msb_hidx_query(&h, MSB_HIDX_BY_ADDRESS, NULL, 1, 0, 0, record, &s), -1);
    CU_ASSERT_EQUAL(msb_hidx_query(&h, MSB_HIDX_BY_HOSTNAME, NULL, 1, 0, 0, record, &s), -1);
    msb_hidx_destroy(&h);
}

/* ---- cleanup ----------------------------------------------------------- */

static void test_cleanup_evicts_and_counts(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    for (unsigned i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%u.test", i);
        put_n(&h, name, 10 * i, 2, 100 * (i + 1)); /* expiries 100..600 */
    }
    CU_ASSERT(msb_hidx_cleanup(&h, 300)); /* 100, 200, 300 go */
    struct msb_hidx_stats s = stats_of(&h);
    CU_ASSERT_EQUAL(s.expired, 3);
    CU_ASSERT_EQUAL(s.entries, 3);
    CU_ASSERT_EQUAL(s.addresses, 6);
    CU_ASSERT_EQUAL(total_by_name(&h, "n3.test", 300), 1);
    CU_ASSERT(msb_hidx_cleanup(&h, 300)); /* idempotent */
    CU_ASSERT_EQUAL(stats_of(&h).expired, 3);
    CU_ASSERT(msb_hidx_cleanup(&h, 10000));
    s = stats_of(&h);
    CU_ASSERT_EQUAL(s.expired, 6);
    CU_ASSERT_EQUAL(s.entries, 0);
    CU_ASSERT_EQUAL(s.addresses, 0);
    msb_hidx_destroy(&h);
}

/* Holding the read lock makes trywrlock fail deterministically. */
static void test_cleanup_skips_when_busy(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    put_n(&h, "busy.test", 0, 1, 10);
    CU_ASSERT_FATAL(pthread_rwlock_rdlock(&h.lock) == 0);
    CU_ASSERT_FALSE(msb_hidx_cleanup(&h, 100));
    pthread_rwlock_unlock(&h.lock);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 1);
    CU_ASSERT_EQUAL(stats_of(&h).expired, 0);
    CU_ASSERT(msb_hidx_cleanup(&h, 100));
    CU_ASSERT_EQUAL(stats_of(&h).entries, 0);
    msb_hidx_destroy(&h);
}

/* ---- growth ------------------------------------------------------------ */

/* Enough keys and addresses to grow both hash tables several times; every
 * key and address is still found afterwards. */
static void test_tables_grow(void)
{
    enum { KEYS = 600 };
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, KEYS, BIG_TTL) == 0);
    char name[32];
    for (unsigned i = 0; i < KEYS; i++) {
        snprintf(name, sizeof name, "host%u.grow", i);
        put_n(&h, name, 4 * i, 4, 1000 + i);
    }
    CU_ASSERT_EQUAL(stats_of(&h).entries, KEYS);
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 4 * KEYS);
    CU_ASSERT_EQUAL(stats_of(&h).evicted_cap, 0);
    unsigned bad = 0;
    for (unsigned i = 0; i < KEYS; i++) {
        snprintf(name, sizeof name, "host%u.grow", i);
        struct msb_ip a = ip_n(4 * i + 3);
        bad += total_by_name(&h, name, 1) != 1 || !resolves(&h, &a, name, 1);
    }
    CU_ASSERT_EQUAL(bad, 0);
    msb_hidx_destroy(&h);
}

/* ---- hash collisions --------------------------------------------------- */

/* Keys and addresses that share a bucket must still be told apart.  The
 * key is random per index, so the test searches for colliding inputs with
 * the index's own key, hashed the way hostindex.c hashes them (name bytes
 * then the family byte; the whole struct msb_ip).  If that layout changes
 * the search just finds no real collision and the checks still hold. */
static size_t key_bucket(const struct msb_hidx *h, const char *name, enum msb_family fam)
{
    char buf[MSB_HIDX_NAME_MAX + 2];
    size_t len = strlen(name);
    memcpy(buf, name, len);
    buf[len] = (char)fam;
    return (size_t)msb_siphash(&h->key, buf, len + 1) & h->kmask;
}

static size_t addr_bucket(const struct msb_hidx *h, const struct msb_ip *a)
{
    return (size_t)msb_siphash(&h->key, a, sizeof *a) & h->amask;
}

static void test_same_name_both_families_in_one_bucket(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    char name[32];
    unsigned i = 0;
    do
        snprintf(name, sizeof name, "c%u.test", i++);
    while (key_bucket(&h, name, MSB_FAMILY_V4) != key_bucket(&h, name, MSB_FAMILY_V6));
    struct msb_ip a4 = ip_of("192.0.2.4"), a6 = ip_of("2001:db8::6");
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, name, MSB_FAMILY_V4, &a4, 1, 1000, 0), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, name, MSB_FAMILY_V6, &a6, 1, 2000, 0), 0);
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);
    CU_ASSERT(resolves(&h, &a4, name, 1) && resolves(&h, &a6, name, 1));
    msb_hidx_remove(&h, name, MSB_FAMILY_V6, 2);
    CU_ASSERT(resolves(&h, &a4, name, 3));
    CU_ASSERT_FALSE(resolves(&h, &a6, name, 3));
    msb_hidx_destroy(&h);
}

static void test_two_names_in_one_bucket(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    const char *first = "first.test";
    char other[32];
    unsigned i = 0;
    do
        snprintf(other, sizeof other, "o%u.test", i++);
    while (key_bucket(&h, other, MSB_FAMILY_V4) != key_bucket(&h, first, MSB_FAMILY_V4));
    CU_ASSERT_EQUAL(put1(&h, first, MSB_FAMILY_V4, "192.0.2.1", 1000, 0), 0);
    CU_ASSERT_EQUAL(put1(&h, other, MSB_FAMILY_V4, "192.0.2.2", 1000, 0), 0);
    CU_ASSERT_EQUAL(put1(&h, first, MSB_FAMILY_V4, "192.0.2.3", 1000, 0), 0); /* replace */
    CU_ASSERT_EQUAL(stats_of(&h).entries, 2);
    CU_ASSERT_EQUAL(total_by_name(&h, other, 1), 1);
    struct msb_ip a2 = ip_of("192.0.2.2");
    CU_ASSERT(resolves(&h, &a2, other, 1));
    msb_hidx_destroy(&h);
}

static void test_two_addresses_in_one_bucket(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, 16, BIG_TTL) == 0);
    struct msb_ip a = ip_n(0), b;
    unsigned i = 1;
    do
        b = ip_n(i++);
    while (addr_bucket(&h, &b) != addr_bucket(&h, &a));
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "a.test", MSB_FAMILY_V4, &a, 1, 1000, 0), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&h, "b.test", MSB_FAMILY_V4, &b, 1, 1000, 0), 0);
    CU_ASSERT(resolves(&h, &a, "a.test", 1));
    CU_ASSERT_FALSE(resolves(&h, &a, "b.test", 1));
    CU_ASSERT_FALSE(resolves(&h, &b, "a.test", 1));
    struct seen s;
    CU_ASSERT_EQUAL(query(&h, MSB_HIDX_BY_ADDRESS, &b, 1, 0, 0, &s), 1);
    CU_ASSERT_STRING_EQUAL(s.v[0].name, "b.test");
    msb_hidx_remove(&h, "a.test", MSB_FAMILY_V4, 2); /* unlink from a shared chain */
    CU_ASSERT(resolves(&h, &b, "b.test", 3));
    CU_ASSERT_EQUAL(stats_of(&h).addresses, 1);
    msb_hidx_destroy(&h);
}

/* ---- reference model --------------------------------------------------- */

/* A deliberately naive re-statement of the documented semantics (linear
 * scans, min-expiry eviction) run side by side with the index on a random
 * operation sequence.  Expiries are kept unique so the eviction choice is
 * unambiguous. */
#define M_NAMES 10
#define M_ADDRS 12
#define M_MAX_ENTRIES 5
#define M_SLOTS (2 * M_NAMES)

static const char *const M_BASE[M_NAMES] = {"alpha.test", "bravo.test", "charlie.test",
                                            "delta.test", "echo.test", "fox.test",
                                            "golf.test", "hotel.test", "india.test", "j.test"};

struct m_entry {
    bool used;
    unsigned name; /* index into M_BASE */
    enum msb_family fam;
    struct msb_ip addrs[8];
    size_t n;
    uint64_t exp;
};

struct model {
    struct m_entry e[M_SLOTS];
    uint64_t expired, evicted;
};

static size_t m_count(const struct model *m, size_t *links)
{
    size_t c = 0, l = 0;
    for (size_t i = 0; i < M_SLOTS; i++) {
        c += m->e[i].used;
        l += m->e[i].used ? m->e[i].n : 0;
    }
    *links = l;
    return c;
}

static void m_expire(struct model *m, uint64_t now)
{
    for (size_t i = 0; i < M_SLOTS; i++) {
        if (m->e[i].used && m->e[i].exp <= now) {
            m->e[i].used = false;
            m->expired++;
        }
    }
}

static struct m_entry *m_find(struct model *m, unsigned name, enum msb_family fam)
{
    for (size_t i = 0; i < M_SLOTS; i++)
        if (m->e[i].used && m->e[i].name == name && m->e[i].fam == fam)
            return &m->e[i];
    return NULL;
}

static void m_evict_one(struct model *m)
{
    struct m_entry *min = NULL;
    for (size_t i = 0; i < M_SLOTS; i++)
        if (m->e[i].used && (!min || m->e[i].exp < min->exp))
            min = &m->e[i];
    min->used = false;
    m->evicted++;
}

static bool m_exp_taken(const struct model *m, uint64_t exp)
{
    for (size_t i = 0; i < M_SLOTS; i++)
        if (m->e[i].used && m->e[i].exp == exp)
            return true;
    return false;
}

static size_t m_dedupe(const struct msb_ip *in, size_t n, struct msb_ip *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && !msb_ip_equal(&out[j], &in[i]))
            j++;
        if (j == k)
            out[k++] = in[i];
    }
    return k;
}

static void m_insert(struct model *m, unsigned name, enum msb_family fam,
                     const struct msb_ip *addrs, size_t n, uint64_t exp, uint64_t now)
{
    m_expire(m, now);
    struct m_entry *old = m_find(m, name, fam);
    if (old)
        old->used = false;
    struct msb_ip uniq[8];
    size_t k = m_dedupe(addrs, n, uniq), links;
    if (k == 0)
        return;
    size_t c;
    while ((c = m_count(m, &links)) > 0 &&
           (c >= M_MAX_ENTRIES || links + k > M_MAX_ENTRIES * MSB_HIDX_LINKS_PER_ENTRY))
        m_evict_one(m);
    struct m_entry *slot = m->e;
    while (slot->used)
        slot++;
    *slot = (struct m_entry){.used = true, .name = name, .fam = fam, .n = k, .exp = exp};
    memcpy(slot->addrs, uniq, k * sizeof *uniq);
}

/* The model's live entries matching sel/key, in query order. */
static size_t m_select(struct model *m, enum msb_hidx_select sel, unsigned name,
                       const struct msb_ip *addr, uint64_t now, struct m_entry **out)
{
    size_t n = 0;
    for (size_t i = 0; i < M_SLOTS; i++) {
        struct m_entry *e = &m->e[i];
        bool match = sel == MSB_HIDX_ALL || (sel == MSB_HIDX_BY_HOSTNAME && e->name == name);
        for (size_t a = 0; sel == MSB_HIDX_BY_ADDRESS && a < e->n; a++)
            match = match || msb_ip_equal(&e->addrs[a], addr);
        if (e->used && e->exp > now && match)
            out[n++] = e;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort by (name, family) */
        for (size_t j = i; j > 0; j--) {
            int c = strcmp(M_BASE[out[j - 1]->name], M_BASE[out[j]->name]);
            if (c < 0 || (c == 0 && out[j - 1]->fam < out[j]->fam))
                break;
            struct m_entry *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return n;
}

struct m_rng {
    uint64_t s;
};

static unsigned rnd(struct m_rng *r, unsigned bound)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((r->s >> 33) % bound);
}

/* Spells name i with random upper case letters and 0..2 trailing dots. */
static void m_spell(struct m_rng *r, unsigned i, char *buf)
{
    size_t len = strlen(M_BASE[i]);
    for (size_t c = 0; c < len; c++) {
        char ch = M_BASE[i][c];
        buf[c] = (ch >= 'a' && ch <= 'z' && rnd(r, 2)) ? (char)(ch - 'a' + 'A') : ch;
    }
    unsigned dots = rnd(r, 3);
    memset(buf + len, '.', dots);
    buf[len + dots] = '\0';
}

static struct msb_ip m_addr(unsigned i)
{
    if (i % 2)
        return ip_n(i);
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    b[15] = (uint8_t)i;
    struct msb_ip a;
    msb_ip_from_v6(&a, b);
    return a;
}

/* Compares one query's visits with the model's selection. */
static bool m_same(struct msb_hidx *h, struct model *m, enum msb_hidx_select sel, unsigned name,
                   const char *spelled, const struct msb_ip *addr, uint64_t now)
{
    struct m_entry *want[M_SLOTS];
    size_t n = m_select(m, sel, name, addr, now, want);
    struct seen s;
    const void *key = sel == MSB_HIDX_BY_ADDRESS ? (const void *)addr : spelled;
    if (query(h, sel, key, now, 0, 0, &s) != (long)n || s.n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s.v[i].name, M_BASE[want[i]->name]) || s.v[i].family != want[i]->fam ||
            s.v[i].naddrs != want[i]->n || s.v[i].ttl != want[i]->exp - now ||
            memcmp(s.v[i].addrs, want[i]->addrs, want[i]->n * sizeof *s.v[i].addrs))
            return false;
    }
    return true;
}

static bool m_stats_same(struct msb_hidx *h, struct model *m)
{
    size_t links, count = m_count(m, &links);
    struct msb_hidx_stats s = stats_of(h);
    return s.entries == count && s.addresses == links && s.expired == m->expired &&
           s.evicted_cap == m->evicted;
}

/* One random step; returns false on the first divergence. */
static bool m_step(struct msb_hidx *h, struct model *m, struct m_rng *r, uint64_t *now)
{
    *now += rnd(r, 40);
    unsigned name = rnd(r, M_NAMES), op = rnd(r, 10);
    enum msb_family fam = rnd(r, 2) ? MSB_FAMILY_V4 : MSB_FAMILY_V6;
    char spelled[32];
    m_spell(r, name, spelled);
    struct msb_ip addr = m_addr(rnd(r, M_ADDRS));
    if (op < 6) {
        struct msb_ip addrs[8];
        size_t n = op == 0 ? 0 : 1 + rnd(r, 8);
        for (size_t i = 0; i < n; i++)
            addrs[i] = m_addr(rnd(r, M_ADDRS));
        uint64_t ttl = rnd(r, 20) == 0 ? 0 : rnd(r, 400);
        while (ttl && m_exp_taken(m, *now + ttl))
            ttl++;
        m_insert(m, name, fam, addrs, n, *now + ttl, *now);
        if (msb_hidx_insert(h, spelled, fam, addrs, n, ttl, *now) != 0)
            return false;
    } else if (op == 6) {
        m_expire(m, *now);
        if (!msb_hidx_cleanup(h, *now))
            return false;
    } else if (op == 7) {
        struct m_entry *sel[M_SLOTS];
        bool want = false;
        size_t n = m_select(m, MSB_HIDX_BY_ADDRESS, 0, &addr, *now, sel);
        for (size_t i = 0; i < n; i++)
            want = want || sel[i]->name == name;
        if (msb_hidx_any(h, &addr, *now, name_is, (void *)M_BASE[name]) != want)
            return false;
    } else {
        enum msb_hidx_select sel = op == 8 ? MSB_HIDX_BY_HOSTNAME : MSB_HIDX_BY_ADDRESS;
        if (!m_same(h, m, sel, name, spelled, &addr, *now))
            return false;
    }
    return m_stats_same(h, m) && m_same(h, m, MSB_HIDX_ALL, 0, NULL, NULL, *now);
}

static void test_matches_reference_model(void)
{
    struct msb_hidx h;
    CU_ASSERT_FATAL(msb_hidx_init(&h, M_MAX_ENTRIES, BIG_TTL) == 0);
    static struct model m; /* zeroed; static keeps the test's frame small */
    memset(&m, 0, sizeof m);
    struct m_rng r = {.s = 0x5eedu};
    uint64_t now = 0;
    int step = 0;
    while (step < 20000 && m_step(&h, &m, &r, &now))
        step++;
    CU_ASSERT_EQUAL(step, 20000);
    if (step != 20000)
        fprintf(stderr, "\n  model diverged at step %d (now=%llu)\n", step,
                (unsigned long long)now);
    /* The sequence must actually have exercised the interesting paths. */
    CU_ASSERT(m.evicted > 100);
    CU_ASSERT(m.expired > 100);
    msb_hidx_destroy(&h);
}

/* ---- threads ----------------------------------------------------------- */

#define S_CAP 8
#define S_NAMES 16
#define S_ADDRS 24

struct stress {
    struct msb_hidx h;
    atomic_uint_fast64_t clock; /* logical now_ms shared by all threads */
    atomic_bool stop;
    atomic_ulong ops;
    atomic_ulong bad; /* CUnit asserts are not thread-safe: count here */
};

static void stress_write(struct stress *s, unsigned *seed)
{
    char name[32];
    /* Two spellings of each name, so normalisation is exercised too. */
    unsigned k = (unsigned)rand_r(seed) % S_NAMES;
    snprintf(name, sizeof name, rand_r(seed) % 2 ? "s%u.stress" : "S%u.Stress.", k);
    enum msb_family fam = rand_r(seed) % 2 ? MSB_FAMILY_V4 : MSB_FAMILY_V6;
    uint64_t now = atomic_fetch_add(&s->clock, 1);
    if (rand_r(seed) % 8 == 0) {
        msb_hidx_remove(&s->h, name, fam, now);
        return;
    }
    struct msb_ip a[5];
    size_t n = (size_t)(rand_r(seed) % 5);
    for (size_t i = 0; i < n; i++)
        a[i] = ip_n((unsigned)(rand_r(seed) % S_ADDRS));
    uint64_t ttl = 1 + (uint64_t)(rand_r(seed) % 300);
    if (msb_hidx_insert(&s->h, name, fam, a, n, ttl, now) != 0)
        atomic_fetch_add(&s->bad, 1);
}

static void *stress_writer(void *arg)
{
    struct stress *s = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (!atomic_load(&s->stop)) {
        stress_write(s, &seed);
        atomic_fetch_add(&s->ops, 1);
    }
    return NULL;
}

struct visits {
    struct stress *s;
    size_t n;
};

static void count_visit(const struct msb_hidx_view *v, void *ctx)
{
    /* Views must be well-formed while the reader holds them. */
    struct visits *vs = ctx;
    if (v->naddrs < 1 || v->naddrs > 4 || v->ttl_remaining_ms == 0 || !v->hostname[0])
        atomic_fetch_add(&vs->s->bad, 1);
    vs->n++;
}

static void stress_read(struct stress *s, unsigned *seed)
{
    uint64_t now = atomic_load(&s->clock);
    struct msb_ip a = ip_n((unsigned)(rand_r(seed) % S_ADDRS));
    struct visits vs = {s, 0};
    long t = 0;
    switch (rand_r(seed) % 4) {
    case 0:
        msb_hidx_any(&s->h, &a, now, any_name, NULL);
        break;
    case 1:
        t = msb_hidx_query(&s->h, MSB_HIDX_ALL, NULL, now, (size_t)(rand_r(seed) % 4), 3,
                           count_visit, &vs);
        if (t > S_CAP || vs.n > 3)
            atomic_fetch_add(&s->bad, 1);
        break;
    case 2:
        t = msb_hidx_query(&s->h, MSB_HIDX_BY_ADDRESS, &a, now, 0, 0, count_visit, &vs);
        if ((size_t)t != vs.n)
            atomic_fetch_add(&s->bad, 1);
        break;
    default:
        msb_hidx_cleanup(&s->h, now);
    }
    if (t < 0)
        atomic_fetch_add(&s->bad, 1);
}

static void *stress_reader(void *arg)
{
    struct stress *s = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed ^ 0x9e37u;
    while (!atomic_load(&s->stop)) {
        stress_read(s, &seed);
        atomic_fetch_add(&s->ops, 1);
    }
    return NULL;
}

/* After the run every stored address must be reachable from the reverse map
 * and the totals must agree with a full listing. */
static void stress_check(struct stress *s)
{
    struct msb_hidx_stats st = stats_of(&s->h);
    CU_ASSERT(st.entries <= S_CAP);
    CU_ASSERT(st.addresses <= S_CAP * MSB_HIDX_LINKS_PER_ENTRY);
    struct seen all;
    /* At now=0 every stored entry is live (all ttls were >= 1). */
    CU_ASSERT_EQUAL(query(&s->h, MSB_HIDX_ALL, NULL, 0, 0, 0, &all), (long)st.entries);
    size_t links = 0, unreachable = 0;
    for (size_t i = 0; i < all.n; i++) {
        links += all.v[i].naddrs;
        for (size_t a = 0; a < all.v[i].naddrs; a++)
            unreachable += !resolves(&s->h, &all.v[i].addrs[a], all.v[i].name, 0);
    }
    CU_ASSERT_EQUAL(links, st.addresses);
    CU_ASSERT_EQUAL(unreachable, 0);
}

static void test_threaded_stress(void)
{
    static struct stress s;
    memset(&s, 0, sizeof s);
    CU_ASSERT_FATAL(msb_hidx_init(&s.h, S_CAP, BIG_TTL) == 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, i < 2 ? stress_writer : stress_reader, &s) == 0);
    struct timespec half = {0, 500 * 1000 * 1000};
    nanosleep(&half, NULL);
    atomic_store(&s.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT(atomic_load(&s.ops) > 1000);
    CU_ASSERT_EQUAL(atomic_load(&s.bad), 0);
    CU_ASSERT(stats_of(&s.h).evicted_cap > 0);
    stress_check(&s);
    msb_hidx_destroy(&s.h); /* ASan / valgrind report anything left behind */
}

static const struct test_case tests[] = {
    {"seed: resolved hostnames are isolated per family", test_seed_isolated_per_family},
    {"normalize strips trailing dots and lower-cases", test_normalize_strips_dots_and_lowercases},
    {"different spellings share one key", test_normalized_spellings_share_a_key},
    {"253-byte name accepted, 254 rejected", test_name_length_limits},
    {"empty and dot-only names rejected", test_empty_and_dot_only_rejected},
    {"non-printable bytes rejected", test_nonprintable_rejected},
    {"bad family rejected", test_bad_family_rejected},
    {"insert replaces the whole set", test_insert_replaces_whole_set},
    {"expiry is strict", test_strict_expiry},
    {"ttl 0 is dead on arrival", test_ttl_zero_dead_on_arrival},
    {"stale expiry spares a newer replacement", test_stale_expiry_spares_replacement},
    {"empty insert and remove drop the key", test_empty_insert_and_remove_drop_key},
    {"entry cap evicts the soonest expiry", test_cap_evicts_soonest_expiry},
    {"address cap evicts", test_address_cap_evicts},
    {"ttl ceiling", test_ttl_ceiling},
    {"expiry saturates at the clock's end", test_expiry_saturates},
    {"addresses truncated at 64 and deduplicated", test_addresses_truncated_and_deduplicated},
    {"query ALL sorted and paged", test_query_all_sorted_and_paged},
    {"query BY_HOSTNAME", test_query_by_hostname},
    {"query BY_ADDRESS", test_query_by_address},
    {"cleanup evicts expired entries and counts them", test_cleanup_evicts_and_counts},
    {"cleanup skips when the lock is busy", test_cleanup_skips_when_busy},
    {"hash tables grow", test_tables_grow},
    {"same name, both families, one bucket", test_same_name_both_families_in_one_bucket},
    {"two names in one bucket", test_two_names_in_one_bucket},
    {"two addresses in one bucket", test_two_addresses_in_one_bucket},
    {"matches a reference model", test_matches_reference_model},
    {"threaded stress", test_threaded_stress},
    {NULL, NULL},
};

int main(void)
{
    return cunit_run("hostindex", tests);
}
