/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/localnet.c against the real kernel: the suite moves itself into a
 * network namespace of its own (root, as every CI test), then adds and
 * removes addresses and local routes with iproute2 and checks that the set
 * follows, also past its size cap, and that the policy's classifier judges
 * a local address as the host group in every spelling.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/clock.h"
#include "lib/localnet.h"
#include "model/policy_engine.h"

static struct msb_localnet ln;

static struct msb_ip ip(const char *s)
{
    struct msb_ip a;
    CU_ASSERT_EQUAL_FATAL(msb_ip_parse(s, &a), 0);
    return a;
}

static void sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static bool local(const char *s)
{
    struct msb_ip a = ip(s);
    return msb_localnet_contains(&ln, &a);
}

/* Applies route events until `s` is (or is not) local; the kernel sends
 * them at once, the deadline only bounds a failure. */
static bool becomes(const char *s, bool want)
{
    uint64_t until = msb_now_ms() + 5000;
    while (local(s) != want) {
        if (msb_now_ms() > until)
            return false;
        msb_localnet_readable(&ln);
    }
    return true;
}

static void test_follows_addresses(void)
{
    CU_ASSERT_FATAL(becomes("127.0.0.1", true));
    CU_ASSERT(local("127.9.9.9"));
    CU_ASSERT(local("::1"));
    sh("ip link add d0 type veth peer name d1 && ip link set d0 up && ip link set d1 up");
    sh("ip addr add 198.51.100.7/24 dev d0 && ip -6 addr add 2001:db8:7::7/64 dev d0 nodad");
    CU_ASSERT(becomes("198.51.100.7", true));
    CU_ASSERT(becomes("2001:db8:7::7", true));
    CU_ASSERT(local("198.51.100.255")); /* the subnet's broadcast */
    CU_ASSERT(!local("198.51.100.8"));  /* a neighbour, routed out of d0 */
    CU_ASSERT(!local("2001:db8:7::8"));
    CU_ASSERT(!local("8.8.8.8"));
    sh("ip addr del 198.51.100.7/24 dev d0");
    CU_ASSERT(becomes("198.51.100.7", false));
    CU_ASSERT(local("2001:db8:7::7"));
}

/* AnyIP: a whole prefix delivered locally by one route. */
static void test_local_prefix_route(void)
{
    sh("ip route add local 203.0.113.0/24 dev lo");
    CU_ASSERT(becomes("203.0.113.99", true));
    sh("ip route del local 203.0.113.0/24 dev lo");
    CU_ASSERT(becomes("203.0.113.99", false));
}

/* Past the cap the set cannot be complete: every answer comes from the
 * kernel itself, so nothing local is ever missed. */
static void test_overflow_asks_kernel(void)
{
    FILE *f = fopen("/tmp/msbnet_localnet_routes", "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < MSB_LOCALNET_MAX + 200; i++)
        fprintf(f, "route add local 10.%d.%d.0/24 dev lo\n", i / 256, i % 256);
    fclose(f);
    sh("ip -batch /tmp/msbnet_localnet_routes");
    remove("/tmp/msbnet_localnet_routes");
    CU_ASSERT(becomes("10.16.3.9", true));
    CU_ASSERT(ln.overflow);
    CU_ASSERT(local("10.0.0.1"));
    CU_ASSERT(local("2001:db8:7::7"));
    CU_ASSERT(!local("10.200.0.1"));
    CU_ASSERT(!local("8.8.8.8"));
}

static void test_classified_as_host(void)
{
    sh("ip addr add 192.0.2.50/24 dev d0");
    CU_ASSERT_FATAL(becomes("192.0.2.50", true));
    const char *spellings[] = {"192.0.2.50", "::ffff:192.0.2.50", "::192.0.2.50",
                               "64:ff9b::c000:232", "2002:c000:232::1", "2001:db8:7::7"};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        struct msb_ip a = ip(spellings[i]);
        CU_ASSERT_EQUAL(msb_pol_classify(&a, NULL, &ln), MSB_GRP_HOST);
    }
    struct msb_ip pub = ip("192.0.2.51");
    CU_ASSERT_EQUAL(msb_pol_classify(&pub, NULL, &ln), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(msb_pol_classify(&pub, NULL, NULL), MSB_GRP_PUBLIC);
}

int main(void)
{
    if (unshare(CLONE_NEWNET) != 0) {
        perror("test_localnet: unshare(CLONE_NEWNET) (needs root)");
        return 1;
    }
    if (system("ip link set lo up") != 0 || msb_localnet_open(&ln) != 0) {
        perror("test_localnet: setup");
        return 1;
    }
    static const struct test_case tests[] = {
        {"the set follows address changes", test_follows_addresses},
        {"a local prefix route (AnyIP)", test_local_prefix_route},
        {"past the cap, the kernel answers", test_overflow_asks_kernel},
        {"a local address is the host group in every spelling", test_classified_as_host},
        {NULL, NULL},
    };
    int rc = cunit_run("localnet", tests);
    msb_localnet_close(&ln);
    return rc;
}
