/* SPDX-License-Identifier: Apache-2.0 */
/* The "tls", "secrets" and "scan_plaintext" config keys: every key read,
 * every refusal's message, and no secret value in any message. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/config.h"
#include "model/tls_config.h"
#include "cunit_main.h"

#define VALUE "Sk-VaLuE-4242-do-not-leak"
#define HOSTS "\"hosts\":[\"api.example.com\"]"
#define TLS_ON "\"tls\":{\"intercept\":true}"

static char err[512];

static int parse(const char *json, struct msb_config *c)
{
    err[0] = '\0';
    return msb_config_parse(json, c, err, sizeof err);
}

static void test_absent_keys(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(parse("{}", &c), 0);
    CU_ASSERT_PTR_NULL(c.tls);
    CU_ASSERT_PTR_NULL(c.secrets);
    CU_ASSERT_FALSE(c.scan_plaintext);
}

static void test_tls_defaults(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(parse("{\"tls\":{}}", &c), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.tls);
    CU_ASSERT_FALSE(c.tls->intercept);
    CU_ASSERT_EQUAL(c.tls->n_ports, 1);
    CU_ASSERT_EQUAL(c.tls->ports[0], 443);
    CU_ASSERT_TRUE(c.tls->verify_upstream);
    CU_ASSERT_EQUAL(c.tls->ca_validity_s, 7u * 86400u);
    CU_ASSERT_EQUAL(c.tls->leaf_cache_size, 256);
    CU_ASSERT_EQUAL(c.tls->max_connections, 256);
    CU_ASSERT_PTR_NULL(c.tls->ca_cert);
    msb_config_release(&c);
    CU_ASSERT_PTR_NULL(c.tls);
}

static void test_tls_every_key(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(
        parse("{\"tls\":{\"intercept\":true,\"ports\":[443,8443],\"bypass\":[\"Pinned.Example\","
              "\"*.bank.example\"],\"ca_cert\":\"/c.pem\",\"ca_key\":\"/k.pem\","
              "\"upstream_ca_files\":[\"/u1.pem\",\"/u2.pem\"],\"verify_upstream\":false,"
              "\"ca_validity_s\":3600,\"leaf_cache_size\":7,\"max_connections\":9},\"scan_plaintext\":true}", &c), 0);
    CU_ASSERT_TRUE(c.tls->intercept);
    CU_ASSERT_EQUAL(c.tls->n_ports, 2);
    CU_ASSERT_EQUAL(c.tls->ports[1], 8443);
    CU_ASSERT_EQUAL(c.tls->bypass.n, 2);
    CU_ASSERT_STRING_EQUAL(c.tls->bypass.v[0], "pinned.example"); /* lower-cased */
    CU_ASSERT_STRING_EQUAL(c.tls->ca_cert, "/c.pem");
    CU_ASSERT_STRING_EQUAL(c.tls->ca_key, "/k.pem");
    CU_ASSERT_EQUAL(c.tls->n_upstream_ca_files, 2);
    CU_ASSERT_STRING_EQUAL(c.tls->upstream_ca_files[1], "/u2.pem");
    CU_ASSERT_FALSE(c.tls->verify_upstream); /* allowed: no secrets */
    CU_ASSERT_EQUAL(c.tls->ca_validity_s, 3600);
    CU_ASSERT_EQUAL(c.tls->leaf_cache_size, 7);
    CU_ASSERT_EQUAL(c.tls->max_connections, 9);
    CU_ASSERT_TRUE(c.scan_plaintext);
    CU_ASSERT_TRUE(msb_host_patterns_match(&c.tls->bypass, "pinned.example"));
    CU_ASSERT_TRUE(msb_host_patterns_match(&c.tls->bypass, "www.bank.example"));
    CU_ASSERT_FALSE(msb_host_patterns_match(&c.tls->bypass, "bank.example"));
    CU_ASSERT_FALSE(msb_host_patterns_match(&c.tls->bypass, "evilbank.example"));
    CU_ASSERT_FALSE(msb_host_patterns_match(&c.tls->bypass, "x.pinned.example"));
    msb_config_release(&c);
}

static void test_secret_keys(void)
{
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(
        parse("{" TLS_ON ",\"secrets\":[{\"env\":\"API_KEY\",\"value\":\"" VALUE "\"," HOSTS
              "},{\"env\":\"B\",\"value\":\"short\",\"placeholder\":\"PH_given_1\","
              "\"hosts\":[\"*.b.example\",\"b.example\"],\"inject\":{\"headers\":false,"
              "\"query\":true,\"body\":true},\"on_violation\":\"block-and-terminate\"}]}", &c),
        0);
    CU_ASSERT_EQUAL_FATAL(c.secrets->n, 2);
    const struct msb_secret_cfg *a = &c.secrets->s[0], *b = &c.secrets->s[1];
    CU_ASSERT_STRING_EQUAL(a->env, "API_KEY");
    CU_ASSERT_EQUAL(a->vlen, strlen(VALUE));
    CU_ASSERT_EQUAL(memcmp(a->value, VALUE, a->vlen), 0);
    CU_ASSERT_EQUAL(a->inject, MSB_CFG_INJECT_HEADERS | MSB_CFG_INJECT_BASIC);
    CU_ASSERT_EQUAL(a->on_violation, MSB_VIOLATION_BLOCK);
    CU_ASSERT_TRUE(a->placeholder_generated);
    CU_ASSERT_STRING_EQUAL(b->placeholder, "PH_given_1");
    CU_ASSERT_FALSE(b->placeholder_generated);
    CU_ASSERT_EQUAL(b->inject, MSB_CFG_INJECT_BASIC | MSB_CFG_INJECT_QUERY | MSB_CFG_INJECT_BODY);
    CU_ASSERT_EQUAL(b->on_violation, MSB_VIOLATION_BLOCK_TERMINATE);
    CU_ASSERT_EQUAL(b->hosts.n, 2);
    CU_ASSERT_TRUE(msb_host_patterns_match(&b->hosts, "b.example"));
    msb_config_release(&c);
}

/* Generated placeholders: as long as the value when it is 8..128 bytes,
 * else clamped; always within secret_scan.h's alphabet and first-byte
 * rule; different per parse. */
static void check_generated(size_t vlen, size_t want)
{
    char json[1024], value[300];
    memset(value, 'v', vlen);
    value[vlen] = '\0';
    snprintf(json, sizeof json, "{" TLS_ON ",\"secrets\":[{\"env\":\"K\",\"value\":\"%s\","
             HOSTS "}]}", value);
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(parse(json, &c), 0);
    const char *p = c.secrets->s[0].placeholder;
    CU_ASSERT_EQUAL(strlen(p), want);
    CU_ASSERT_EQUAL(c.secrets->s[0].plen, want);
    CU_ASSERT_PTR_NULL(strchr("0123456789abcdefABCDEFbfnrtu", p[0]));
    CU_ASSERT_EQUAL(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                    want);
    char first[130];
    strcpy(first, p);
    msb_config_release(&c);
    CU_ASSERT_EQUAL_FATAL(parse(json, &c), 0);
    CU_ASSERT_STRING_NOT_EQUAL(c.secrets->s[0].placeholder, first);
    msb_config_release(&c);
}

static void test_generated_placeholders(void)
{
    check_generated(1, 8);
    check_generated(8, 8);
    check_generated(40, 40);
    check_generated(128, 128);
    check_generated(200, 128);
}

static void test_value_sources(void)
{
    char path[] = "/tmp/msbnet-secret-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, VALUE "\r\n", strlen(VALUE) + 2), (ssize_t)strlen(VALUE) + 2);
    close(fd);
    setenv("MSBNET_TEST_SECRET", VALUE, 1);
    char json[512];
    snprintf(json, sizeof json, "{" TLS_ON ",\"secrets\":[{\"env\":\"F\",\"value_file\":\"%s\","
             HOSTS "},{\"env\":\"E\",\"value_env\":\"MSBNET_TEST_SECRET\"," HOSTS "}]}", path);
    struct msb_config c;
    CU_ASSERT_EQUAL_FATAL(parse(json, &c), 0);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(c.secrets->s[i].vlen, strlen(VALUE)); /* one newline dropped */
        CU_ASSERT_EQUAL(memcmp(c.secrets->s[i].value, VALUE, strlen(VALUE)), 0);
    }
    msb_config_release(&c);
    unlink(path);
    unsetenv("MSBNET_TEST_SECRET");
}

/* The refusal's message holds NEEDLE and never the value. */
static void expect_error(const char *json, const char *needle)
{
    struct msb_config c;
    CU_ASSERT_EQUAL(parse(json, &c), -1);
    if (!strstr(err, needle))
        fprintf(stderr, "\n  config %s: got \"%s\", wanted \"%s\"\n", json, err, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    CU_ASSERT_PTR_NULL(strstr(err, VALUE));
    CU_ASSERT_PTR_NULL(strstr(err, "VaLuE")); /* not even a part of it */
    CU_ASSERT_PTR_NULL(c.tls);
    CU_ASSERT_PTR_NULL(c.secrets);
}

static void test_tls_refusals(void)
{
    expect_error("{\"tls\":true}", "key \"tls\" must be an object");
    expect_error("{\"tls\":{\"intercpet\":true}}", "unknown key \"tls.intercpet\"");
    expect_error("{\"tls\":{\"intercept\":1}}", "key \"tls.intercept\" must be true or false");
    expect_error("{\"tls\":{\"verify_upstream\":\"no\"}}", "\"tls.verify_upstream\" must be true");
    expect_error("{\"tls\":{\"ports\":[]}}", "\"tls.ports\" must be an array of 1..16 ports");
    expect_error("{\"tls\":{\"ports\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}",
                 "\"tls.ports\" must be an array of 1..16 ports");
    expect_error("{\"tls\":{\"ports\":[443,0]}}", "\"tls.ports\"[1] must be a port 1..65535");
    expect_error("{\"tls\":{\"ports\":[65536]}}", "\"tls.ports\"[0] must be a port 1..65535");
    expect_error("{\"tls\":{\"ports\":[\"443\"]}}", "\"tls.ports\"[0] must be a port");
    expect_error("{\"tls\":{\"ports\":[443,443]}}", "\"tls.ports\"[1] repeats port 443");
    expect_error("{\"tls\":{\"bypass\":\"a.example\"}}", "\"tls.bypass\" must be an array of at "
                 "most 256 host patterns");
    expect_error("{\"tls\":{\"bypass\":[\"a..b\"]}}", "\"tls.bypass\"[0] must be a host name or");
    expect_error("{\"tls\":{\"bypass\":[\"*\"]}}", "\"tls.bypass\"[0] must be a host name or");
    expect_error("{\"tls\":{\"bypass\":[\"a.*.b\"]}}", "\"tls.bypass\"[0] must be a host name");
    expect_error("{\"tls\":{\"bypass\":[\"h\303\251.example\"]}}", "\"tls.bypass\"[0] must be");
    expect_error("{\"tls\":{\"bypass\":[\"A.example\",\"a.example\"]}}",
                 "\"tls.bypass\"[1] repeats [0]");
    expect_error("{\"tls\":{\"ca_cert\":\"/c.pem\"}}", "\"tls.ca_cert\" and \"tls.ca_key\" go "
                 "together: give both");
    expect_error("{\"tls\":{\"ca_key\":\"/k.pem\"}}", "\"tls.ca_cert\" and \"tls.ca_key\" go");
    expect_error("{\"tls\":{\"ca_cert\":\"\",\"ca_key\":\"/k\"}}", "\"tls.ca_cert\" must be a "
                 "file path");
    expect_error("{\"tls\":{\"upstream_ca_files\":[1]}}", "\"tls.upstream_ca_files\" must be a "
                 "file path");
    expect_error("{\"tls\":{\"upstream_ca_files\":{}}}", "\"tls.upstream_ca_files\" must be an "
                 "array of at most 16");
    expect_error("{\"tls\":{\"ca_validity_s\":59}}", "\"tls.ca_validity_s\" must be an integer "
                 "in 3600..31622400");
    expect_error("{\"tls\":{\"leaf_cache_size\":0}}", "\"tls.leaf_cache_size\" must be an "
                 "integer in 1..65536");
    expect_error("{\"tls\":{\"max_connections\":0}}", "\"tls.max_connections\" must be an "
                 "integer in 1..65536");
    expect_error("{\"scan_plaintext\":1}", "key \"scan_plaintext\" must be true or false");
}

#define S1(body) "{" TLS_ON ",\"secrets\":[{" body "}]}"
#define ENV_V "\"env\":\"K\",\"value\":\"" VALUE "\","

static void test_secret_refusals(void)
{
    expect_error("{" TLS_ON ",\"secrets\":{}}", "key \"secrets\" must be an array of at most 64");
    expect_error("{" TLS_ON ",\"secrets\":[\"" VALUE "\"]}", "\"secrets\"[0] must be an object");
    expect_error(S1("\"value\":\"" VALUE "\"," HOSTS), "\"secrets\"[0]: \"env\" must be a "
                 "variable name");
    expect_error(S1("\"env\":\"1K\",\"value\":\"" VALUE "\"," HOSTS), "\"env\" must be a var");
    expect_error(S1("\"env\":\"K-1\",\"value\":\"" VALUE "\"," HOSTS), "\"env\" must be a var");
    expect_error(S1(ENV_V HOSTS ",\"valeu\":1"), "\"secrets\"[0] (\"K\"): unknown key \"valeu\"");
    expect_error(S1("\"env\":\"K\"," HOSTS), "(\"K\"): give exactly one of \"value\", "
                 "\"value_file\", \"value_env\"");
    expect_error(S1(ENV_V "\"value_env\":\"X\"," HOSTS), "give exactly one of");
    expect_error(S1("\"env\":\"K\",\"value\":7," HOSTS), "(\"K\"): \"value\" must be a string");
    expect_error(S1("\"env\":\"K\",\"value\":\"a\\u0000" VALUE "\"," HOSTS),
                 "config: invalid JSON at line 1"); /* jansson refuses NUL by itself */
    expect_error(S1("\"env\":\"K\",\"value\":\"\"," HOSTS), "the value must be 1..4096 bytes "
                 "without control characters");
    expect_error(S1("\"env\":\"K\",\"value\":\"" VALUE "\\n\"," HOSTS),
                 "the value must be 1..4096 bytes without control characters");
    expect_error(S1("\"env\":\"K\",\"value\":\"" VALUE " x\",\"inject\":{\"query\":true},"
                    HOSTS), "without spaces for query injection");
    expect_error(S1("\"env\":\"K\",\"value_file\":\"/nonexistent/file\"," HOSTS),
                 "(\"K\"): cannot open value_file");
    expect_error(S1("\"env\":\"K\",\"value_env\":\"MSBNET_TEST_UNSET_VAR\"," HOSTS),
                 "environment variable MSBNET_TEST_UNSET_VAR (value_env) is not set or empty");
    expect_error(S1("\"env\":\"K\",\"value_env\":\"\"," HOSTS), "\"value_env\" must be a variable");
    expect_error(S1(ENV_V "\"hosts\":[]"), "(\"K\"): \"hosts\" must list at least one host");
    expect_error(S1("\"env\":\"K\",\"value\":\"" VALUE "\""), "\"hosts\" must list at least one");
    expect_error(S1(ENV_V "\"hosts\":[\"" VALUE "/\"]"), "\"secrets[0].hosts\"[0] must be a "
                 "host name");
    expect_error(S1(ENV_V HOSTS ",\"inject\":[]"), "(\"K\"): \"inject\" must be an object");
    expect_error(S1(ENV_V HOSTS ",\"inject\":{\"cookies\":true}"), "unknown key "
                 "\"inject.cookies\"");
    expect_error(S1(ENV_V HOSTS ",\"inject\":{\"body\":1}"), "\"inject.body\" must be true or");
    expect_error(S1(ENV_V HOSTS ",\"inject\":{\"headers\":false,\"basic_auth\":false}"),
                 "\"inject\" allows nothing");
    expect_error(S1(ENV_V HOSTS ",\"on_violation\":\"log\""), "\"on_violation\" must be one of: "
                 "block, block-and-log, block-and-terminate");
    expect_error(S1(ENV_V HOSTS ",\"placeholder\":\"short\""), "\"placeholder\" must be 8..128 "
                 "bytes of [A-Za-z0-9._~-], not starting with a hex digit");
    expect_error(S1(ENV_V HOSTS ",\"placeholder\":\"alpha-beta\""), "\"placeholder\" must be");
    expect_error(S1(ENV_V HOSTS ",\"placeholder\":\"Ph with space\""), "\"placeholder\" must be");
    expect_error(S1(ENV_V HOSTS ",\"placeholder\":\"nplaceholder\""), "\"placeholder\" must be");
}

static void test_cross_key_refusals(void)
{
    expect_error("{" TLS_ON ",\"secrets\":[{" ENV_V HOSTS "},{" ENV_V HOSTS "}]}",
                 "\"secrets\"[1] repeats env \"K\" of [0]");
    expect_error("{" TLS_ON ",\"secrets\":[{" ENV_V HOSTS ",\"placeholder\":\"PHxxxxxxxx\"},"
                 "{\"env\":\"L\",\"value\":\"" VALUE "\"," HOSTS ",\"placeholder\":"
                 "\"PHxxxxxxxxyy\"}]}", "[1] (\"L\"): its placeholder and that of [0] (\"K\") "
                 "contain one another");
    expect_error("{\"secrets\":[{" ENV_V HOSTS "}]}", "key \"secrets\" needs \"tls\": "
                 "{\"intercept\": true}");
    expect_error("{\"tls\":{\"intercept\":false},\"secrets\":[{" ENV_V HOSTS "}]}",
                 "key \"secrets\" needs \"tls\"");
    expect_error("{\"tls\":{\"intercept\":true,\"verify_upstream\":false},\"secrets\":[{" ENV_V
                 HOSTS "}]}", "\"tls.verify_upstream\" may be false only without secrets");
    /* jansson quotes text near a syntax error: not when secrets may be there. */
    expect_error("{" TLS_ON ",\"secrets\":[{\"env\":\"K\",\"value\":\"" VALUE "\001\"}]}",
                 "config: invalid JSON at line 1");
    /* jansson quotes at most 20 bytes: a short value would show in full. */
    expect_error("{" TLS_ON ",\"secrets\":[{\"env\":\"K\",\"value\":\"sk-VaLuE-1\001\"}]}",
                 "control character 0x1");
    expect_error("{" TLS_ON ",\"secrets\":[{\"env\":\"K\",\"value\":\"" VALUE "\" " VALUE "}]}",
                 "config: invalid JSON at line 1");
    /* An empty secrets list needs nothing. */
    struct msb_config c;
    CU_ASSERT_EQUAL(parse("{\"secrets\":[]}", &c), 0);
    msb_config_release(&c);
}

static void test_tiny_error_buffer(void)
{
    struct msb_config c;
    char tiny[8];
    CU_ASSERT_EQUAL(msb_config_parse(S1(ENV_V "\"hosts\":[]"), &c, tiny, sizeof tiny), -1);
    CU_ASSERT_EQUAL(strlen(tiny), sizeof tiny - 1);
    CU_ASSERT_EQUAL(msb_config_parse(S1(ENV_V "\"hosts\":[]"), &c, NULL, 0), -1);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"absent_keys", test_absent_keys},
        {"tls_defaults", test_tls_defaults},
        {"tls_every_key", test_tls_every_key},
        {"secret_keys", test_secret_keys},
        {"generated_placeholders", test_generated_placeholders},
        {"value_sources", test_value_sources},
        {"tls_refusals", test_tls_refusals},
        {"secret_refusals", test_secret_refusals},
        {"cross_key_refusals", test_cross_key_refusals},
        {"tiny_error_buffer", test_tiny_error_buffer},
        {NULL, NULL},
    };
    return cunit_run("tls_config", tests);
}
