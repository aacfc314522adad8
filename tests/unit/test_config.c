/* SPDX-License-Identifier: Apache-2.0 */
/* Config JSON: defaults, every key, and clear refusals naming the key. */
#include <string.h>

#include "model/config.h"
#include "cunit_main.h"

static char err[256];

static int parse(const char *json, struct msb_config *c)
{
    err[0] = '\0';
    return msb_config_parse(json, c, err, sizeof err);
}

static void test_defaults(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse(NULL, &c), 0);
    CU_ASSERT_EQUAL(c.queue_capacity, 1024);
    CU_ASSERT_EQUAL(c.mtu, 1500);
    CU_ASSERT_EQUAL(c.slot, 0);
    CU_ASSERT_EQUAL(c.hostname_index_max_entries, 65536);
    CU_ASSERT_EQUAL(c.hostname_index_max_ttl_s, 86400);
    CU_ASSERT_EQUAL(c.wake, MSB_WAKE_AUTO);
    CU_ASSERT_EQUAL(parse("", &c), 0);
    CU_ASSERT_EQUAL(parse("{}", &c), 0);
    CU_ASSERT_EQUAL(c.mtu, 1500);
}

static void test_every_key(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse("{\"queue_capacity\": 256, \"slot\": 65535, \"mtu\": 65520,"
                          " \"hostname_index_max_entries\": 10,"
                          " \"hostname_index_max_ttl_s\": 60, \"wake\": \"pipe\"}",
                          &c),
                    0);
    CU_ASSERT_EQUAL(c.queue_capacity, 256);
    CU_ASSERT_EQUAL(c.slot, 65535);
    CU_ASSERT_EQUAL(c.mtu, 65520);
    CU_ASSERT_EQUAL(c.hostname_index_max_entries, 10);
    CU_ASSERT_EQUAL(c.hostname_index_max_ttl_s, 60);
    CU_ASSERT_EQUAL(c.wake, MSB_WAKE_PIPE);
}

static void expect_error(const char *json, const char *needle)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse(json, &c), -1);
    if (!strstr(err, needle))
        fprintf(stderr, "\n  config %s: got \"%s\", wanted \"%s\"\n", json, err, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void test_refusals_name_the_key(void)
{
    expect_error("{\"mtu_bytes\": 1500}", "unknown key \"mtu_bytes\"");
    expect_error("{\"mtu\": \"1500\"}", "key \"mtu\" must be an integer");
    expect_error("{\"mtu\": 1500.0}", "key \"mtu\" must be an integer");
    expect_error("{\"mtu\": true}", "key \"mtu\" must be an integer");
    expect_error("{\"mtu\": 65521}", "key \"mtu\" = 65521 is out of range 576..65520");
    expect_error("{\"mtu\": -1}", "key \"mtu\" = -1 is out of range");
    expect_error("{\"slot\": 65536}", "key \"slot\" = 65536 is out of range 0..65535");
    expect_error("{\"queue_capacity\": 1000}", "key \"queue_capacity\" = 1000 must be a power of two");
    expect_error("{\"queue_capacity\": 1}", "key \"queue_capacity\" = 1 is out of range");
    expect_error("{\"wake\": \"futex\"}", "key \"wake\" must be one of: auto, pipe");
    expect_error("{\"wake\": 1}", "key \"wake\" must be one of");
    expect_error("{\"mtu\": 99999999999999999999}", "invalid JSON");
    expect_error("[1, 2]", "expected a JSON object");
    expect_error("{\"mtu\": 1500", "invalid JSON at line 1");
    expect_error("{\"mtu\": 1500, \"mtu\": 9000}", "invalid JSON");
}

/* err is always terminated, even when far too small for the message. */
static void test_dns_keys(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse(NULL, &c), 0);
    CU_ASSERT_EQUAL(c.dns_query_timeout_ms, 5000);
    CU_ASSERT_TRUE(c.dns_rebind_protection);
    CU_ASSERT_EQUAL(c.n_dns_upstreams, 0);
    CU_ASSERT_EQUAL(parse("{\"dns_upstreams\": [\"198.18.0.1\", \"fd42::1\"],"
                          " \"dns_query_timeout_ms\": 800, \"dns_rebind_protection\": false}",
                          &c),
                    0);
    CU_ASSERT_EQUAL(c.n_dns_upstreams, 2);
    CU_ASSERT_EQUAL(c.dns_upstreams[0].family, MSB_FAMILY_V4);
    CU_ASSERT_EQUAL(c.dns_upstreams[1].family, MSB_FAMILY_V6);
    CU_ASSERT_EQUAL(c.dns_query_timeout_ms, 800);
    CU_ASSERT_FALSE(c.dns_rebind_protection);
    expect_error("{\"dns_upstreams\": \"1.1.1.1\"}", "key \"dns_upstreams\" must be an array");
    expect_error("{\"dns_upstreams\": [\"1.1.1.1\", \"x\"]}", "\"dns_upstreams\"[1] must be");
    expect_error("{\"dns_upstreams\": [\"1.1.1.1:53\"]}", "\"dns_upstreams\"[0] must be");
    expect_error("{\"dns_upstreams\": [\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\","
                 "\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\"]}",
                 "at most 8");
    expect_error("{\"dns_rebind_protection\": 1}", "must be true or false");
    expect_error("{\"dns_query_timeout_ms\": 50}", "out of range 100..60000");
}

/* "profile": "multi-tenant" fills in caps and rates where the config is
 * silent, keeps what it sets lower, and refuses what would undo it. */
static void test_multi_tenant_profile(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse("{\"profile\": \"multi-tenant\", \"max_udp_sessions\": 8}", &c), 0);
    CU_ASSERT_EQUAL(c.max_flows, 512);
    CU_ASSERT_EQUAL(c.max_udp_sessions, 8);
    CU_ASSERT_EQUAL(c.max_icmp_echoes, 16);
    CU_ASSERT_TRUE(c.dns_rebind_protection);
    CU_ASSERT_TRUE(c.dns_force_upstreams);
    CU_ASSERT_TRUE(c.no_publish);
    CU_ASSERT_EQUAL(c.limits.k[MSB_LIMIT_CONNECTIONS].rate, 50);
    CU_ASSERT_EQUAL(c.limits.k[MSB_LIMIT_DNS].rate, 100);
    CU_ASSERT_EQUAL(c.limits.k[MSB_LIMIT_EGRESS].rate, 0);
    msb_config_release(&c);
    /* The operator's own rate is kept; key order does not matter. */
    CU_ASSERT_EQUAL(parse("{\"limits\": {\"connections\": {\"rate\": 7}},"
                          " \"profile\": \"multi-tenant\"}", &c), 0);
    CU_ASSERT_EQUAL(c.limits.k[MSB_LIMIT_CONNECTIONS].rate, 7);
    msb_config_release(&c);
    CU_ASSERT_EQUAL(parse("{\"profile\": \"standard\"}", &c), 0);
    CU_ASSERT_EQUAL(c.max_flows, 16384); /* the default, untouched */
    CU_ASSERT_FALSE(c.dns_force_upstreams);
    CU_ASSERT_FALSE(c.no_publish);
    expect_error("{\"profile\": \"multi-tenant\", \"max_flows\": 100000}",
                 "key \"max_flows\" may be at most 512");
    expect_error("{\"profile\": \"multi-tenant\", \"dns_rebind_protection\": false}",
                 "keeps \"dns_rebind_protection\" on");
    expect_error("{\"profile\": \"multi-tenant\", \"publish\": [{\"host_port\": 8080,"
                 " \"guest_port\": 80}]}", "publishes no ports");
    expect_error("{\"profile\": \"shared\"}", "key \"profile\" must be");
    expect_error("{\"profile\": 1}", "key \"profile\" must be");
}

static void test_tiny_error_buffer(void)
{
    struct msb_config c;
    char small[8];
    memset(small, 'x', sizeof small);
    CU_ASSERT_EQUAL(msb_config_parse("{\"nope\": 1}", &c, small, sizeof small), -1);
    CU_ASSERT_EQUAL(small[sizeof small - 1], '\0');
    CU_ASSERT_EQUAL(msb_config_parse("{\"nope\": 1}", &c, NULL, 0), -1);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"defaults", test_defaults},
        {"every_key_parsed", test_every_key},
        {"refusals_name_the_key", test_refusals_name_the_key},
        {"tiny_error_buffer", test_tiny_error_buffer},
        {"dns_keys", test_dns_keys},
        {"multi_tenant_profile", test_multi_tenant_profile},
        {NULL, NULL},
    };
    return cunit_run("config", tests);
}
