/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports: the config key "publish" and "max_inbound_flows", the
 * ABI's spec objects, and msbnetd's --publish syntax; msbnetd's --tls-*
 * and --secret* options merged into a config file's keys. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_stderr.h"

#include "model/config.h"
#include "cunit_main.h"
#include "options.h"
#include "lib/pkt.h"
#include "model/publish_spec.h"

static struct msb_config cfg;

static int parse(const char *json, char *err, size_t errlen)
{
    err[0] = '\0';
    return msb_config_parse(json, &cfg, err, errlen);
}

static void bad(const char *json, const char *want)
{
    char err[256];
    CU_ASSERT_EQUAL(parse(json, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\n  %s\n  wanted \"%s\" in \"%s\"\n", json, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NULL(cfg.publish); /* nothing leaks on failure */
}

static void test_defaults_and_full_entry(void)
{
    char err[256];
    CU_ASSERT_EQUAL_FATAL(parse("{}", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.max_inbound_flows, 256);
    CU_ASSERT_EQUAL(cfg.n_publish, 0);
    CU_ASSERT_PTR_NULL(cfg.publish);
    const char *j = "{\"max_inbound_flows\": 9, \"publish\": ["
                    "{\"host_port\": 8080, \"guest_port\": 80},"
                    "{\"protocol\": \"udp\", \"host_address\": \"::1\", \"host_port\": 5353,"
                    " \"guest_port\": 53, \"real_peer\": true}]}";
    CU_ASSERT_EQUAL_FATAL(parse(j, err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.max_inbound_flows, 9);
    CU_ASSERT_EQUAL_FATAL(cfg.n_publish, 2);
    struct msb_ip lo4, lo6;
    msb_ip_parse("127.0.0.1", &lo4);
    msb_ip_parse("::1", &lo6);
    const struct msb_publish_spec *a = &cfg.publish[0], *b = &cfg.publish[1];
    CU_ASSERT(a->proto == MSB_IPPROTO_TCP && a->host_port == 8080 && a->guest_port == 80 &&
              !a->real_peer && msb_ip_equal(&a->host_addr, &lo4)); /* defaults */
    CU_ASSERT(b->proto == MSB_IPPROTO_UDP && b->host_port == 5353 && b->guest_port == 53 &&
              b->real_peer && msb_ip_equal(&b->host_addr, &lo6));
    msb_config_release(&cfg);
    CU_ASSERT_PTR_NULL(cfg.publish);
}

static void test_validation_names_index(void)
{
    bad("{\"publish\": {}}", "\"publish\" must be an array");
    bad("{\"publish\": [1]}", "\"publish\"[0]: expected an object");
    bad("{\"publish\": [{\"host_port\": 1, \"guest_port\": 1},"
        " {\"host_port\": 0, \"guest_port\": 80}]}",
        "\"publish\"[1]: \"host_port\" must be an integer in 1..65535");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 65536}]}",
        "[0]: \"guest_port\" must be an integer in 1..65535");
    bad("{\"publish\": [{\"host_port\": \"80\", \"guest_port\": 80}]}", "\"host_port\" must be");
    bad("{\"publish\": [{\"guest_port\": 80}]}", "[0]: \"host_port\" is required");
    bad("{\"publish\": [{\"host_port\": 80}]}", "[0]: \"guest_port\" is required");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80, \"protocol\": \"sctp\"}]}",
        "\"protocol\" must be \"tcp\" or \"udp\"");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80, \"host_address\": \"localhost\"}]}",
        "\"host_address\" must be an IPv4 or IPv6 address");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80, \"host_address\": \"1.2.3\"}]}",
        "\"host_address\"");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80, \"real_peer\": 1}]}",
        "\"real_peer\" must be true or false");
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80, \"hostport\": 1}]}",
        "[0]: unknown key \"hostport\"");
    bad("{\"max_inbound_flows\": 0}", "\"max_inbound_flows\"");
    bad("{\"max_inbound_flows\": 16385}", "\"max_inbound_flows\"");
}

static void test_duplicates(void)
{
    /* same protocol, port and address, or a wildcard of the same family */
    bad("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80},"
        " {\"host_port\": 81, \"guest_port\": 80},"
        " {\"host_port\": 80, \"guest_port\": 8080}]}",
        "\"publish\"[2]: duplicates [0]");
    bad("{\"publish\": [{\"host_address\": \"0.0.0.0\", \"host_port\": 80, \"guest_port\": 80},"
        " {\"host_port\": 80, \"guest_port\": 81}]}",
        "[1]: duplicates [0]");
    /* not duplicates: other protocol, other family, other address */
    char err[256];
    CU_ASSERT_EQUAL(parse("{\"publish\": [{\"host_port\": 80, \"guest_port\": 80},"
                          " {\"host_port\": 80, \"guest_port\": 80, \"protocol\": \"udp\"},"
                          " {\"host_port\": 80, \"guest_port\": 80, \"host_address\": \"::\"},"
                          " {\"host_port\": 80, \"guest_port\": 80, \"host_address\": \"127.0.0.2\"}]}",
                          err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.n_publish, 4);
    msb_config_release(&cfg);
}

static void test_spec_text(void)
{
    struct msb_publish_spec s;
    char err[256];
    CU_ASSERT_EQUAL(msb_publish_spec_parse("{\"host_port\": 5000}", false, &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.host_port, 5000);
    CU_ASSERT_EQUAL(msb_publish_spec_parse("{\"host_port\": 5000}", true, &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"guest_port\" is required"));
    CU_ASSERT_EQUAL(msb_publish_spec_parse("{\"host_port\": 5000", true, &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON"));
    CU_ASSERT_EQUAL(msb_publish_spec_parse(NULL, true, &s, err, sizeof err), -1);
    CU_ASSERT_EQUAL(msb_publish_spec_parse("{\"host_port\": 1, \"host_port\": 2, \"guest_port\": 3}",
                                           true, &s, err, sizeof err), -1);
}

/* --publish: the JSON object it becomes, or NULL. */
static char *cli(const char *arg)
{
    char why[160];
    json_t *j = msbd_publish_arg(arg, why, sizeof why);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static void cli_ok(const char *arg, const char *want)
{
    char *got = cli(arg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n  --publish %s: got %s\n  want %s\n", arg, got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void test_cli_syntax(void)
{
    cli_ok("8080:80", "{\"guest_port\":80,\"host_port\":8080,\"protocol\":\"tcp\"}");
    cli_ok("8080", "{\"guest_port\":8080,\"host_port\":8080,\"protocol\":\"tcp\"}");
    cli_ok("5353:53/udp", "{\"guest_port\":53,\"host_port\":5353,\"protocol\":\"udp\"}");
    cli_ok("0.0.0.0:8080:80/tcp", "{\"guest_port\":80,\"host_address\":\"0.0.0.0\","
                                  "\"host_port\":8080,\"protocol\":\"tcp\"}");
    cli_ok("[::1]:8080:80", "{\"guest_port\":80,\"host_address\":\"::1\","
                            "\"host_port\":8080,\"protocol\":\"tcp\"}");
    const char *bad_args[] = {"", ":80", "8080:", "0:80", "8080:65536", "8080:80/sctp", "8080:80/",
                              "a:b", "1.2.3.4:8080", "::1:8080:80", "[::1]:8080", "[::1:8080:80",
                              "[1.2.3.4]:1:2", "300.1.1.1:1:2", "8080:80:90:100", "-1:80",
                              "8080:+80", "99999999999999999999:1", NULL};
    for (int i = 0; bad_args[i]; i++) {
        char *got = cli(bad_args[i]);
        if (got)
            fprintf(stderr, "\n  --publish '%s' accepted as %s\n", bad_args[i], got);
        CU_ASSERT_PTR_NULL(got);
        free(got);
    }
    /* Every accepted form is a valid config entry. */
    char *one = cli("[::1]:8080:80/udp");
    char json[256], err[256];
    snprintf(json, sizeof json, "{\"publish\": [%s]}", one);
    free(one);
    CU_ASSERT_EQUAL(parse(json, err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.n_publish, 1);
    msb_config_release(&cfg);
}

/* argv for msbd_opts_parse: writable strings, as a real argv. */
struct argv_buf {
    char *v[16];
    int n;
};

static void argv_add(struct argv_buf *a, const char *s)
{
    a->v[a->n++] = strdup(s);
    a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
}

#define SECRET_VALUE "cli-secret-value-77"

/* The options land in the file's "tls" object and "secrets" list (added,
 * not replacing); --on-secret-violation marks the options' entries only;
 * --secret's value is overwritten in argv once copied. */
static void test_secret_options(void)
{
    char path[] = "/tmp/msbnet-cfg-XXXXXX";
    int fd = mkstemp(path);
    const char *file = "{\"tls\":{\"verify_upstream\":true},\"secrets\":[{\"env\":\"F\","
                       "\"value_env\":\"HOME\",\"hosts\":[\"f.example\"]}]}";
    CU_ASSERT_EQUAL(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);
    struct argv_buf a = {.n = 0};
    const char *args[] = {"run", "--config", path, "--tls-intercept", "--tls-port", "8443",
                          "--secret", "K=" SECRET_VALUE "@a.example,*.b.example", "--secret-env",
                          "E@e.example", "--on-secret-violation", "block-and-terminate", "--",
                          "true", NULL};
    for (int i = 0; args[i]; i++)
        argv_add(&a, args[i]);
    struct msbd_opts o = {0};
    CU_ASSERT_EQUAL_FATAL(msbd_opts_parse(&o, MSBD_CMD_RUN, a.n, a.v), 0);
    CU_ASSERT_STRING_EQUAL(a.v[7], "K=*******************@a.example,*.b.example");
    char *json = msbd_opts_config_json(&o);
    char *again = msbd_opts_config_json(&o); /* the options stay usable */
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_STRING_EQUAL(json, again);
    json_t *root = json_loads(json, 0, NULL);
    char *tls = json_dumps(json_object_get(root, "tls"), JSON_COMPACT | JSON_SORT_KEYS);
    CU_ASSERT_STRING_EQUAL(tls, "{\"intercept\":true,\"ports\":[8443],\"verify_upstream\":true}");
    char *sec = json_dumps(json_object_get(root, "secrets"), JSON_COMPACT | JSON_SORT_KEYS);
    CU_ASSERT_STRING_EQUAL(sec,
        "[{\"env\":\"F\",\"hosts\":[\"f.example\"],\"value_env\":\"HOME\"},"
        "{\"env\":\"K\",\"hosts\":[\"a.example\",\"*.b.example\"],"
        "\"on_violation\":\"block-and-terminate\",\"value\":\"" SECRET_VALUE "\"},"
        "{\"env\":\"E\",\"hosts\":[\"e.example\"],\"on_violation\":\"block-and-terminate\","
        "\"value_env\":\"E\"}]");
    free(tls);
    free(sec);
    json_decref(root);
    free(json);
    free(again);
    msbd_opts_free(&o);
    argv_free(&a);
    unlink(path);
}

static void parse_one_secret(void *arg)
{
    struct argv_buf a = {.n = 0};
    argv_add(&a, "run");
    argv_add(&a, ((const char **)arg)[0]);
    argv_add(&a, ((const char **)arg)[1]);
    argv_add(&a, "true");
    struct msbd_opts o = {0};
    CU_ASSERT_EQUAL(msbd_opts_parse(&o, MSBD_CMD_RUN, a.n, a.v), 2);
    msbd_opts_free(&o);
    argv_free(&a);
}

/* Malformed --secret forms exit 2 naming ENV, never the value. */
static void test_secret_option_refusals(void)
{
    const char *cases[][3] = {
        {"--secret", "K=" SECRET_VALUE, "--secret for \"K\": expected ENV=VALUE@HOST[,HOST]"},
        {"--secret", "K=" SECRET_VALUE "@", "--secret for \"K\": expected"},
        {"--secret", "K=" SECRET_VALUE "@a,,b", "--secret for \"K\": expected"},
        {"--secret", "K=" SECRET_VALUE "@a,", "--secret for \"K\": expected"},
        {"--secret", "=" SECRET_VALUE "@a", "--secret for \"\": expected"},
        {"--secret", "K" SECRET_VALUE "@a", "--secret for \"?\": expected ENV=VALUE@HOST"},
        {"--secret-env", "K", "--secret-env for \"K\": expected ENV@HOST[,HOST]"},
        {"--secret-file", "K=/nonexistent/" "x@a", "--secret-file for \"K\": cannot read"},
        {"--tls-port", "65536", "--tls-port: \"65536\" is not a port"},
        {"--on-secret-violation", "log", "must be block, block-and-log or block-and-terminate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *out = capture_stderr(parse_one_secret, (void *)cases[i]);
        if (!strstr(out, cases[i][2]))
            fprintf(stderr, "\n  %s %s: got %s", cases[i][0], cases[i][1], out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i][2]));
        CU_ASSERT_PTR_NULL(strstr(out, SECRET_VALUE));
    }
}

int main(void)
{
    static const struct test_case tests[] = {
        {"defaults_and_full_entry", test_defaults_and_full_entry},
        {"validation_names_index", test_validation_names_index},
        {"duplicates", test_duplicates},
        {"spec_text", test_spec_text},
        {"cli_syntax", test_cli_syntax},
        {"secret_options", test_secret_options},
        {"secret_option_refusals", test_secret_option_refusals},
        {NULL, NULL},
    };
    return cunit_run("publish_config", tests);
}
