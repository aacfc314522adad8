/* SPDX-License-Identifier: Apache-2.0 */
/* The "limits" key (model/limits_config.h): quantities with every unit,
 * bounds, every refusal's message, defaults, and the JSON round trip. */
#include <string.h>

#include "cunit_main.h"
#include "lib/token_bucket.h"
#include "model/limits_config.h"

static char err[256];

static uint64_t q(const char *s, bool bytes)
{
    uint64_t v = 0;
    err[0] = '\0';
    return msb_quantity_parse(s, bytes, MSB_TB_RATE_MAX, "x", &v, err, sizeof err) ? 0 : v;
}

static void test_units(void)
{
    CU_ASSERT_EQUAL(q("6250000", true), 6250000);
    CU_ASSERT_EQUAL(q("12B", true), 12);
    CU_ASSERT_EQUAL(q("12b", true), 12); /* "b" alone is bytes */
    CU_ASSERT_EQUAL(q("50mbit", true), 6250000);
    CU_ASSERT_EQUAL(q("50Mbit", true), 6250000);
    CU_ASSERT_EQUAL(q("1gbit", true), 125000000);
    CU_ASSERT_EQUAL(q("800kbit", true), 100000);
    CU_ASSERT_EQUAL(q("8bit", true), 1);
    CU_ASSERT_EQUAL(q("2kB", true), 2000);
    CU_ASSERT_EQUAL(q("2MB", true), 2000000);
    CU_ASSERT_EQUAL(q("1.5GB", true), 1500000000);
    CU_ASSERT_EQUAL(q("2KiB", true), 2048);
    CU_ASSERT_EQUAL(q("2mib", true), 2u << 20);
    CU_ASSERT_EQUAL(q("0.5GiB", true), 1u << 29);
    CU_ASSERT_EQUAL(q("2.5mbit", true), 312500);
    CU_ASSERT_EQUAL(q("1.000000001GB", true), 1000000001);
    CU_ASSERT_EQUAL(q("100", false), 100);
}

static void test_refusals(void)
{
    static const char *const bad_bytes[] = {"", "mbit", "-5", "5 mbit", "5mbits", "5.mbit",
                                            ".5mbit", "1.0000000001GB", "0", "0.1bit", "7bit",
                                            "99999999999999999999", "1e6", "5Mbps", NULL};
    for (int i = 0; bad_bytes[i]; i++) {
        CU_ASSERT_EQUAL(q(bad_bytes[i], true), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "config: x must be"));
    }
    CU_ASSERT_EQUAL(q("5mbit", false), 0); /* counts take no units */
    CU_ASSERT_EQUAL(q("1.5", false), 0);
    CU_ASSERT_EQUAL(q("1000000000000000GiB", true), 0); /* over the bound, no wrap */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1 .. 1099511627776 bytes"));
}

static int parse(const char *json, struct msb_limits *l)
{
    json_error_t je;
    json_t *v = json_loads(json, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    err[0] = '\0';
    int rc = msb_limits_from_json(v, l, err, sizeof err);
    json_decref(v);
    return rc;
}

static void test_object(void)
{
    struct msb_limits l;
    CU_ASSERT_EQUAL_FATAL(parse("{\"egress\":{\"rate\":\"50mbit\",\"burst\":\"256KiB\"},"
                                "\"ingress\":{\"rate\":1000},\"connections\":{\"rate\":100,"
                                "\"burst\":20},\"dns_queries\":{\"rate\":50}}", &l), 0);
    CU_ASSERT_EQUAL(l.k[MSB_LIMIT_EGRESS].rate, 6250000);
    CU_ASSERT_EQUAL(l.k[MSB_LIMIT_EGRESS].burst, 262144);
    CU_ASSERT_EQUAL(l.k[MSB_LIMIT_INGRESS].burst, 1000); /* one second's worth */
    CU_ASSERT_EQUAL(l.k[MSB_LIMIT_CONNECTIONS].burst, 20);
    CU_ASSERT_EQUAL(l.k[MSB_LIMIT_DNS].rate, 50);
    CU_ASSERT_EQUAL_FATAL(parse("{}", &l), 0);
    for (int k = 0; k < MSB_LIMIT_KINDS; k++)
        CU_ASSERT_EQUAL(l.k[k].rate, 0);
}

static void expect_refused(const char *json, const char *msg)
{
    struct msb_limits l;
    CU_ASSERT_EQUAL(parse(json, &l), -1);
    if (!strstr(err, msg))
        fprintf(stderr, "\n%s: got \"%s\", want \"%s\"\n", json, err, msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, msg));
}

static void test_object_refusals(void)
{
    expect_refused("[]", "key \"limits\" must be an object");
    expect_refused("{\"uplink\":{}}", "unknown key \"limits.uplink\"");
    expect_refused("{\"egress\":5}", "limits.egress must be an object");
    expect_refused("{\"egress\":{}}", "limits.egress needs a \"rate\"");
    expect_refused("{\"egress\":{\"burst\":5}}", "limits.egress needs a \"rate\"");
    expect_refused("{\"egress\":{\"rate\":0}}", "limits.egress.rate must be 1 ..");
    expect_refused("{\"egress\":{\"rate\":-3}}", "limits.egress.rate must be 1 ..");
    expect_refused("{\"egress\":{\"rate\":true}}", "limits.egress.rate must be an integer or");
    expect_refused("{\"egress\":{\"rate\":5,\"ceil\":9}}", "unknown key \"limits.egress.ceil\"");
    expect_refused("{\"connections\":{\"rate\":\"100\"}}",
                   "limits.connections.rate must be an integer");
    expect_refused("{\"dns_queries\":{\"rate\":5,\"burst\":4294967297}}",
                   "limits.dns_queries.burst must be 1 .. 4294967296");
}

static void test_round_trip(void)
{
    struct msb_limits l, back;
    CU_ASSERT_EQUAL_FATAL(parse("{\"ingress\":{\"rate\":\"1gbit\"},\"dns_queries\":{\"rate\":7,"
                                "\"burst\":3}}", &l), 0);
    json_t *j = msb_limits_to_json(&l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_PTR_NULL(json_object_get(j, "egress"));
    CU_ASSERT_EQUAL(msb_limits_from_json(j, &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(memcmp(&l, &back, sizeof l), 0);
    json_decref(j);
    CU_ASSERT_STRING_EQUAL(msb_limit_kind_name(MSB_LIMIT_DNS), "dns_queries");
    CU_ASSERT_STRING_EQUAL(msb_limit_kind_name((enum msb_limit_kind)9), "?");
}

int main(void)
{
    static const struct test_case tests[] = {
        {"units", test_units},
        {"refusals", test_refusals},
        {"object", test_object},
        {"object_refusals", test_object_refusals},
        {"round_trip", test_round_trip},
        {NULL, NULL},
    };
    return cunit_run("limits_config", tests);
}
