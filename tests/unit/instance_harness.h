/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One started plugin instance for the suites that drive the stack end to
 * end through the ABI with a scripted guest (test_tcp, test_udp): the
 * instance, its addresses as the guest sees them, and its metrics.
 */
#ifndef MSB_TEST_INSTANCE_HARNESS_H
#define MSB_TEST_INSTANCE_HARNESS_H

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>

#include "lib/addr.h"
#include "cunit_main.h"
#include "msbnet/msbnet.h"

static const struct msbnet_api_v1 *api;
static msbnet_t *net;
static uint8_t gw_mac[6], g_mac[6];
static struct msb_ip g4, g6, gw4, gw6;
static int fds_at_start; /* set by main() before the first test */

static json_t *metrics(void)
{
    char *s = api->metrics_json(net);
    json_t *j = json_loads(s, 0, NULL);
    api->free_string(s);
    return j;
}

static long long metric(const char *section, const char *name)
{
    json_t *j = metrics();
    long long v = json_integer_value(json_object_get(json_object_get(j, section), name));
    json_decref(j);
    return v;
}

static void parse_mac(const char *s, uint8_t m[6])
{
    unsigned v[6];
    CU_ASSERT_EQUAL(sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Creates and starts `net` from config, with both gateways set, and reads
 * the addresses the guest uses into gw_mac, g_mac, g4, g6, gw4, gw6. */
static void start(const char *config)
{
    char err[256] = "";
    if (!api)
        api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    net = api->create(config, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    char *a = api->addresses_json(net);
    json_t *j = json_loads(a, 0, NULL);
    api->free_string(a);
    parse_mac(jstr(j, "gateway_mac"), gw_mac);
    parse_mac(jstr(j, "guest_mac"), g_mac);
    CU_ASSERT_EQUAL(msb_ip_parse(jstr(j, "guest_ipv4"), &g4), 0);
    CU_ASSERT_EQUAL(msb_ip_parse(jstr(j, "guest_ipv6"), &g6), 0);
    CU_ASSERT_EQUAL(msb_ip_parse(jstr(j, "gateway_ipv4"), &gw4), 0);
    CU_ASSERT_EQUAL(msb_ip_parse(jstr(j, "gateway_ipv6"), &gw6), 0);
    CU_ASSERT_EQUAL(api->set_gateways(net, jstr(j, "gateway_ipv4"), jstr(j, "gateway_ipv6")),
                    MSBNET_OK);
    json_decref(j);
    CU_ASSERT_EQUAL_FATAL(api->start(net, err, sizeof err), MSBNET_OK);
}

/* Open descriptors, to check that a suite's flows leave none behind. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The suite's last test: every flow closed its host socket. */
static void test_no_fd_leak(void)
{
    CU_ASSERT_EQUAL(count_fds(), fds_at_start);
}

#endif
