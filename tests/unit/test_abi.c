/* SPDX-License-Identifier: Apache-2.0 */
/* The version-1 function table as a VMM uses it: versioning, create/destroy,
 * frames in and out, gateways, hook, hostname queries, metrics. */
#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/clock.h"
#include "cunit_main.h"
#include "api/instance.h"
#include "msbnet/msbnet.h"

static const struct msbnet_api_v1 *api;

static msbnet_t *make(const char *json)
{
    char err[256] = "";
    msbnet_t *n = api->create(json, err, sizeof err);
    if (!n)
        fprintf(stderr, "\n  create(%s): %s\n", json, err);
    return n;
}

static void test_version_negotiation(void)
{
    char err[256] = "";
    CU_ASSERT_PTR_NULL(msbnet_get_api(0, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ABI version 0 is not served"));
    CU_ASSERT_PTR_NULL(msbnet_get_api(2, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ABI version 2"));
    CU_ASSERT_PTR_NULL(msbnet_get_api(2, NULL, 0)); /* no buffer: still no crash */
    api = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    CU_ASSERT_EQUAL(api->abi_version, 1);
    CU_ASSERT_EQUAL(api->struct_size, sizeof(struct msbnet_api_v1));
    CU_ASSERT_STRING_EQUAL(api->version(), MSBNET_VERSION_STRING);
}

static void test_bad_config_names_key(void)
{
    char err[256] = "";
    CU_ASSERT_PTR_NULL(api->create("{\"queue_capacity\": 1024, \"turbo\": true}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown key \"turbo\""));
    CU_ASSERT_PTR_NULL(api->create("{\"mtu\": 70000}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"mtu\""));
    CU_ASSERT_PTR_NULL(api->create("not json", NULL, 0));
    api->destroy(NULL);
}

static uint8_t frame[MSBNET_MAX_FRAME + 1];

static void test_write_frame_backpressure(void)
{
    msbnet_t *n = make("{\"queue_capacity\": 4}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(api->write_frame(n, frame, 60), MSBNET_WRITTEN);
    CU_ASSERT_EQUAL(api->write_frame(n, frame, 60), MSBNET_NOTHING_WRITTEN);
    CU_ASSERT_EQUAL(api->write_frame(n, frame, 13), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->write_frame(n, frame, MSBNET_MAX_FRAME + 1), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->write_frame(n, NULL, 60), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->write_frame(NULL, frame, 60), MSBNET_EINVAL);
    /* Refused frames are not counted as traffic; bad lengths count as drops. */
    CU_ASSERT_EQUAL(msb_read(&n->metrics.tx_frames), 4);
    CU_ASSERT_EQUAL(msb_read(&n->metrics.tx_bytes), 240);
    CU_ASSERT_EQUAL(msb_read(&n->metrics.tx_ring_full), 1);
    CU_ASSERT_EQUAL(msb_read(&n->metrics.drops[MSB_DROP_TX_BAD_LENGTH]), 2);
    api->destroy(n); /* frees the queued frames (ASan would see a leak) */
}

static bool fd_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void emit(msbnet_t *n, size_t len, uint8_t fill)
{
    struct msb_frame *f = msb_frame_alloc(len);
    memset(f->data, fill, len);
    CU_ASSERT(msb_instance_emit(n, f));
}

static void test_read_frame_contract(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    int fd = api->rx_wake_fd(n);
    CU_ASSERT(fd >= 0);
    uint8_t buf[2000];
    CU_ASSERT_EQUAL(api->read_frame(n, buf, sizeof buf, NULL), 0);
    CU_ASSERT_FALSE(fd_readable(fd));

    emit(n, 1500, 0xaa);
    emit(n, 100, 0xbb);
    CU_ASSERT(fd_readable(fd));
    size_t needed = 0;
    CU_ASSERT_EQUAL(api->read_frame(n, buf, 1000, &needed), MSBNET_ENOSPC);
    CU_ASSERT_EQUAL(needed, 1500);
    CU_ASSERT(fd_readable(fd)); /* the frame stayed, so the fd stays readable */
    CU_ASSERT_EQUAL(api->read_frame(n, buf, sizeof buf, NULL), 1500);
    CU_ASSERT_EQUAL(buf[0], 0xaa);
    CU_ASSERT_EQUAL(buf[1499], 0xaa);
    CU_ASSERT_EQUAL(api->read_frame(n, buf, sizeof buf, NULL), 100);
    CU_ASSERT_EQUAL(buf[0], 0xbb);
    CU_ASSERT_EQUAL(api->read_frame(n, buf, sizeof buf, NULL), 0);
    CU_ASSERT_FALSE(fd_readable(fd)); /* drained once empty */
    CU_ASSERT_EQUAL(msb_read(&n->metrics.rx_frames), 2);
    CU_ASSERT_EQUAL(msb_read(&n->metrics.rx_bytes), 1600);
    CU_ASSERT_EQUAL(api->read_frame(NULL, buf, sizeof buf, NULL), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->read_frame(n, NULL, 10, NULL), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->rx_wake_fd(NULL), MSBNET_EINVAL);
    api->destroy(n);
}

/* The stack stops when rx is full and must be woken once the reader makes
 * room, so it never has to poll. */
static void test_rx_full_wakes_stack_on_room(void)
{
    msbnet_t *n = make("{\"queue_capacity\": 2}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    emit(n, 60, 1);
    emit(n, 60, 2);
    CU_ASSERT_FALSE(msb_instance_rx_has_room(n, 1));
    struct msb_frame *f = msb_frame_alloc(60);
    CU_ASSERT_FALSE(msb_instance_emit(n, f)); /* freed and counted */
    CU_ASSERT_EQUAL(msb_read(&n->metrics.drops[MSB_DROP_RX_RING_FULL]), 1);
    msb_wake_drain(&n->proxy_wake);
    CU_ASSERT_FALSE(fd_readable(msb_wake_fd(&n->proxy_wake)));
    uint8_t buf[100];
    CU_ASSERT_EQUAL(api->read_frame(n, buf, sizeof buf, NULL), 60);
    CU_ASSERT(fd_readable(msb_wake_fd(&n->proxy_wake)));
    CU_ASSERT(msb_instance_rx_has_room(n, 1));
    api->destroy(n);
}

static void test_gateways(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    /* Nothing a guest cannot route through, in either family. */
    const char *bad4[] = {"0.0.0.0", "0.1.2.3", "127.0.0.1", "255.255.255.255", "224.0.0.1",
                          "240.0.0.1"};
    for (size_t i = 0; i < sizeof bad4 / sizeof bad4[0]; i++)
        CU_ASSERT_EQUAL(api->set_gateways(n, bad4[i], NULL), MSBNET_EINVAL);
    const char *bad6[] = {"::", "::1", "ff02::1", "::ffff:100.96.0.1", "::100.96.0.1"};
    for (size_t i = 0; i < sizeof bad6 / sizeof bad6[0]; i++)
        CU_ASSERT_EQUAL(api->set_gateways(n, NULL, bad6[i]), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_gateways(n, "100.96.0.1", NULL), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_gateways(n, "100.96.0.1", NULL), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_gateways(n, "100.96.0.5", NULL), MSBNET_EEXIST);
    CU_ASSERT_EQUAL(api->set_gateways(n, "fd42::1", NULL), MSBNET_EINVAL);  /* wrong family */
    CU_ASSERT_EQUAL(api->set_gateways(n, NULL, "100.96.0.1"), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_gateways(n, NULL, "fd42:6d73:62::zz"), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_gateways(n, "100.96.0.9", "fd42:6d73:62::1"), MSBNET_EEXIST);
    struct msb_ip ip;
    CU_ASSERT_FALSE(msb_gateway_get(&n->gw, MSB_FAMILY_V6, &ip)); /* all-or-nothing */
    CU_ASSERT_EQUAL(api->set_gateways(n, NULL, "fd42:6d73:62::1"), MSBNET_OK);
    CU_ASSERT(msb_gateway_get(&n->gw, MSB_FAMILY_V6, &ip));
    CU_ASSERT_EQUAL(api->set_gateways(NULL, "1.2.3.4", NULL), MSBNET_EINVAL);
    api->destroy(n);
}

/* A VMM at the common soft limit of 1024 descriptors: the default caps
 * (16384 TCP flows alone) are scaled to fit, leaving room for the host. */
static void test_caps_fit_descriptor_limit(void)
{
    struct rlimit saved, low;
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = (struct rlimit){1024, saved.rlim_max};
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &low), 0);
    msbnet_t *n = make(NULL);
    setrlimit(RLIMIT_NOFILE, &saved);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    const struct msb_config *c = &n->cfg;
    uint64_t held = (uint64_t)c->max_flows + c->max_udp_sessions + c->max_icmp_echoes +
                    2u * c->max_inbound_flows + 256 + 64;
    CU_ASSERT(held <= 1024 - 64 - 1024 / 8 + 4); /* each cap rounded up */
    CU_ASSERT(c->max_flows >= 100 && c->max_flows < 16384);
    CU_ASSERT(c->max_udp_sessions >= 1 && c->max_icmp_echoes >= 1 && c->max_inbound_flows >= 1);
    api->destroy(n);
    /* With room enough, the configured caps stay as they are. */
    n = make("{\"max_flows\": 100, \"max_udp_sessions\": 50, \"max_icmp_echoes\": 10}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(n->cfg.max_flows, 100);
    CU_ASSERT_EQUAL(n->cfg.max_udp_sessions, 50);
    api->destroy(n);
}

static int hook_calls;
static void count_hook(void *user, const char *reason)
{
    hook_calls++;
    CU_ASSERT_PTR_EQUAL(user, &hook_calls);
    CU_ASSERT_STRING_EQUAL(reason, "{\"rule\":1}");
}

static void test_termination_hook(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    msb_hook_trigger(&n->hook, "{\"rule\":1}"); /* no hook: counted, nothing called */
    CU_ASSERT_EQUAL(api->set_termination_hook(n, count_hook, &hook_calls), MSBNET_OK);
    msb_hook_trigger(&n->hook, "{\"rule\":1}");
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_EQUAL(api->termination_count(n), 2);
    CU_ASSERT_EQUAL(api->set_termination_hook(n, NULL, NULL), MSBNET_OK);
    msb_hook_trigger(&n->hook, "{\"rule\":1}");
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_EQUAL(api->set_termination_hook(NULL, count_hook, NULL), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->termination_count(NULL), 0);
    api->destroy(n);
}

static json_t *load(char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    api->free_string(s);
    return j;
}

static void test_query_hostnames(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    struct msb_ip a[2];
    msb_ip_parse("198.18.0.1", &a[0]);
    msb_ip_parse("198.18.0.7", &a[1]);
    uint64_t now = msb_now_ms();
    CU_ASSERT_EQUAL(msb_hidx_insert(&n->hidx, "B.example.", MSB_FAMILY_V4, a, 2, 60000, now), 0);
    CU_ASSERT_EQUAL(msb_hidx_insert(&n->hidx, "a.example", MSB_FAMILY_V4, a, 1, 60000, now), 0);

    char *out = NULL;
    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ALL, NULL, 0, 0, &out), MSBNET_OK);
    json_t *j = load(out);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), 2);
    json_t *e0 = json_array_get(json_object_get(j, "entries"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e0, "hostname")), "a.example");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e0, "family")), "ipv4");
    json_int_t ttl = json_integer_value(json_object_get(e0, "ttl_remaining_ms"));
    CU_ASSERT(ttl > 50000 && ttl <= 60000);
    json_decref(j);

    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ADDRESS, "198.18.0.7", 0, 0, &out), 0);
    j = load(out);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), 1);
    e0 = json_array_get(json_object_get(j, "entries"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e0, "hostname")), "b.example");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(e0, "addresses")), 2);
    json_decref(j);

    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_HOSTNAME, "A.EXAMPLE.", 0, 0, &out), 0);
    j = load(out);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);

    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ALL, NULL, 1, 1, &out), 0);
    j = load(out);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), 2);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);
    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ALL, NULL, (size_t)-1, 5, &out), 0);
    j = load(out);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "entries")), 0);
    json_decref(j);

    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ADDRESS, "not-an-ip", 0, 0, &out),
                    MSBNET_EINVAL);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_HOSTNAME, NULL, 0, 0, &out),
                    MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->query_hostnames(n, (enum msbnet_query_kind)7, "x", 0, 0, &out),
                    MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->query_hostnames(n, MSBNET_QUERY_ALL, NULL, 0, 0, NULL), MSBNET_EINVAL);
    api->destroy(n);
}

static void test_metrics_json(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    api->write_frame(n, frame, 100);
    api->write_frame(n, frame, 5);
    json_t *j = load(api->metrics_json(n));
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "schema")), 1);
    json_t *g = json_object_get(j, "guest");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "tx_bytes")), 100);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "tx_frames")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "rx_frames")), 0);
    json_t *d = json_object_get(j, "drops");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "tx_bad_length")), 1);
    CU_ASSERT(json_is_integer(json_object_get(d, "rx_ring_full")));
    json_t *r = json_object_get(j, "rings");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "tx_depth")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "capacity")), 1024);
    CU_ASSERT(json_is_integer(json_object_get(json_object_get(j, "hostnames"), "entries")));
    CU_ASSERT(json_is_integer(json_object_get(json_object_get(j, "termination"), "count")));
    json_decref(j);
    CU_ASSERT_PTR_NULL(api->metrics_json(NULL));
    api->free_string(NULL);
    api->destroy(n);
}

static json_t *policy_of(msbnet_t *n)
{
    return load(api->policy_json(n));
}

static const char *rule_action(json_t *pol, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(pol, "rules"), i), "action"));
}

/* set_policy takes JSON or tokens, returns shadow warnings, and on any
 * error leaves the policy as it was. */
static void test_set_policy_stopped(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    json_t *p = policy_of(n); /* default public_only: DNS to host + public */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "default_egress")), "deny");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(p, "rules")), 2);
    json_decref(p);

    char err[512] = "", *w = NULL;
    CU_ASSERT_EQUAL(api->set_policy(n, " allow@10.0.0.0/8, deny@10.1.2.3:tcp:80", &w, err,
                                    sizeof err), MSBNET_OK);
    json_t *wj = load(w);
    CU_ASSERT_EQUAL(json_array_size(wj), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_array_get(wj, 0)),
                                  "rule #1 (egress deny cidr 10.1.2.3/32 tcp port 80) is shadowed by rule #0"));
    json_decref(wj);
    p = policy_of(n);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "default_egress")), "deny");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "default_ingress")), "allow");
    CU_ASSERT_STRING_EQUAL(rule_action(p, 1), "deny");
    json_decref(p);

    CU_ASSERT_EQUAL(api->set_policy(n, "{\"default_egress\":\"allow\"}", NULL, err, sizeof err),
                    MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_policy(n, "{\"rules\":[{\"direction\":\"egress\",\"destination\":"
                                    "\"any\",\"action\":\"allow\",\"ports\":[{\"start\":9,"
                                    "\"end\":1}]}]}", &w, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rules[0]: invalid port range 9..1"));
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT_EQUAL(api->set_policy(n, "alow@public", &w, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Did you mean `allow`?"));
    CU_ASSERT_EQUAL(api->set_policy(n, "   ", NULL, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_policy(n, NULL, NULL, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_policy(NULL, "allow@any", NULL, NULL, 0), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_policy(n, "{", NULL, NULL, 0), MSBNET_EINVAL); /* no err buffer */
    p = policy_of(n); /* still the last good one */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "default_egress")), "allow");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(p, "rules")), 0);
    json_decref(p);
    CU_ASSERT_PTR_NULL(api->policy_json(NULL));
    json_t *m = load(api->metrics_json(n));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(m, "policy"), "replaced")), 2);
    json_decref(m);
    api->destroy(n);
}

static bool policy_default_egress_is(msbnet_t *n, const char *want)
{
    json_t *p = policy_of(n);
    bool ok = p && strcmp(json_string_value(json_object_get(p, "default_egress")), want) == 0;
    json_decref(p);
    return ok;
}

static bool has_pending(msbnet_t *n)
{
    pthread_mutex_lock(&n->policy_lock);
    bool p = n->policy_pending != NULL;
    pthread_mutex_unlock(&n->policy_lock);
    return p;
}

/* While the stack runs the swap happens on its thread; a policy still
 * pending when the stack stops is applied by stop, and a pending one
 * replaced by a newer one is freed (ASan/valgrind would see a leak). */
static void test_set_policy_running(void)
{
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(api->start(n, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_policy(n, "{\"default_egress\":\"allow\"}", NULL, err, sizeof err),
                    MSBNET_OK);
    CU_ASSERT(policy_default_egress_is(n, "allow")); /* pending or taken: current either way */
    uint64_t until = msb_now_ms() + 2000; /* the stack takes it without any frame */
    while (has_pending(n) && msb_now_ms() < until)
        usleep(5000);
    CU_ASSERT_FALSE(has_pending(n));
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(api->set_policy(n, i % 2 ? "allow@public" : "deny@any", NULL, err,
                                        sizeof err), MSBNET_OK);
    api->stop(n);
    json_t *p = policy_of(n);
    CU_ASSERT_STRING_EQUAL(rule_action(p, 0), "allow");
    json_decref(p);
    api->destroy(n);
}

/* Published ports through the table, on a stopped instance (the stack
 * side is test_publish's): the calls bind at once and report why not. */
static void test_publish_port(void)
{
    CU_ASSERT(api->struct_size >= offsetof(struct msbnet_api_v1, unpublish_port) +
                                      sizeof api->unpublish_port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api->publish_port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api->unpublish_port);
    char err[256] = "";
    /* A config entry binds at create: an address the host lacks (TEST-NET)
     * fails create with the entry and the reason. */
    CU_ASSERT_PTR_NULL(api->create("{\"publish\":[{\"host_port\":1,\"guest_port\":80,"
                                   "\"host_address\":\"192.0.2.1\"}]}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tcp 192.0.2.1:1 -> 80: bind"));
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    const char *spec = "{\"protocol\":\"udp\",\"host_port\":47831,\"guest_port\":53}";
    CU_ASSERT_EQUAL(api->publish_port(n, spec, err, sizeof err), MSBNET_OK);
    json_t *j = load(api->metrics_json(n));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "inbound"), "listeners")),
                    1);
    json_decref(j);
    CU_ASSERT_EQUAL(api->publish_port(n, spec, err, sizeof err), MSBNET_EEXIST);
    CU_ASSERT_EQUAL(api->unpublish_port(n, "{\"protocol\":\"udp\",\"host_port\":47831}", NULL, 0),
                    MSBNET_OK);
    CU_ASSERT_EQUAL(api->unpublish_port(n, spec, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->publish_port(n, "[]", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->unpublish_port(NULL, spec, NULL, 0), MSBNET_EINVAL);
    api->destroy(n);
}

/* set_frame_fds was appended after unpublish_port (ABI v1 only grows):
 * older callers' offsets are unchanged and struct_size covers it. */
static void test_set_frame_fds_appended(void)
{
    CU_ASSERT(offsetof(struct msbnet_api_v1, set_frame_fds) >
              offsetof(struct msbnet_api_v1, unpublish_port));
    CU_ASSERT(api->struct_size >=
              offsetof(struct msbnet_api_v1, set_frame_fds) + sizeof api->set_frame_fds);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api->set_frame_fds);
    msbnet_t *n = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(api->set_frame_fds(NULL, -1, -1), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_frame_fds(n, -3, -1), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_frame_fds(n, -1, -1), MSBNET_OK);
    char err[256];
    CU_ASSERT_EQUAL_FATAL(api->start(n, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_frame_fds(n, -1, -1), MSBNET_ESTATE);
    api->destroy(n);
}

/* ca_certificate and secrets_json were appended after set_frame_fds: the
 * CA exists from the first start with interception on, is the same after
 * stop/start, and neither call hands out a key or a secret value. */
static void test_tls_calls_appended(void)
{
    CU_ASSERT(offsetof(struct msbnet_api_v1, ca_certificate) >
              offsetof(struct msbnet_api_v1, set_frame_fds));
    CU_ASSERT(offsetof(struct msbnet_api_v1, secrets_json) >
              offsetof(struct msbnet_api_v1, ca_certificate));
    CU_ASSERT(api->struct_size >=
              offsetof(struct msbnet_api_v1, secrets_json) + sizeof api->secrets_json);
    char *pem = (char *)"x", err[512];
    msbnet_t *plain = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
    CU_ASSERT_EQUAL(api->ca_certificate(plain, &pem), MSBNET_ESTATE);
    CU_ASSERT_PTR_NULL(pem);
    CU_ASSERT_EQUAL(api->ca_certificate(NULL, &pem), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->ca_certificate(plain, NULL), MSBNET_EINVAL);
    char *js = api->secrets_json(plain);
    CU_ASSERT_STRING_EQUAL(js, "{\"intercept\":false,\"scan_plaintext\":false,\"secrets\":[]}");
    api->free_string(js);
    api->destroy(plain);

    setenv("MSBNET_ABI_SECRET", "abi-secret-value-77", 1);
    msbnet_t *n = make("{\"tls\":{\"intercept\":true},\"secrets\":[{\"env\":\"K\","
                       "\"value_env\":\"MSBNET_ABI_SECRET\",\"hosts\":[\"*.example.com\"]}]}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(api->ca_certificate(n, &pem), MSBNET_ESTATE); /* not started yet */
    js = api->secrets_json(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"K\",\"hosts\":[\"*.example.com\"]"));
    CU_ASSERT_PTR_NULL(strstr(js, "abi-secret-value-77"));
    api->free_string(js);
    CU_ASSERT_EQUAL_FATAL(api->start(n, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL_FATAL(api->ca_certificate(n, &pem), MSBNET_OK);
    CU_ASSERT_EQUAL(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27), 0);
    CU_ASSERT_PTR_NULL(strstr(pem, "PRIVATE KEY"));
    api->stop(n);
    char *again = NULL;
    CU_ASSERT_EQUAL(api->start(n, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->ca_certificate(n, &again), MSBNET_OK);
    CU_ASSERT_STRING_EQUAL(pem, again); /* one CA per instance */
    api->free_string(pem);
    api->free_string(again);
    api->destroy(n);
    unsetenv("MSBNET_ABI_SECRET");

    /* A user CA that cannot be loaded fails start, naming the file. */
    n = make("{\"tls\":{\"intercept\":true,\"ca_cert\":\"/nonexistent/ca.pem\","
             "\"ca_key\":\"/nonexistent/ca.key\"}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(api->start(n, err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tls: cannot load the sandbox CA"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/ca.pem"));
    CU_ASSERT_EQUAL(api->ca_certificate(n, &pem), MSBNET_ESTATE);
    api->destroy(n);
}

/* set_secrets was appended after flows_json.  Refused without
 * interception and for bad input (never echoing a value); a new list
 * keeps each env's placeholder, and a secret left out stays as a
 * tombstone ("removed", no host).  Running or not. */
static void test_set_secrets_appended(void)
{
    CU_ASSERT(offsetof(struct msbnet_api_v1, set_secrets) >
              offsetof(struct msbnet_api_v1, flows_json));
    CU_ASSERT(api->struct_size >=
              offsetof(struct msbnet_api_v1, set_secrets) + sizeof api->set_secrets);
    char err[512] = "";
    msbnet_t *plain = make(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
    CU_ASSERT_EQUAL(api->set_secrets(plain, "[]", err, sizeof err), MSBNET_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "interception is off"));
    api->destroy(plain);

    msbnet_t *n = make("{\"tls\":{\"intercept\":true},\"secrets\":["
                       "{\"env\":\"K\",\"value\":\"old-value-k1\",\"placeholder\":\"Pkey-000001\","
                       "\"hosts\":[\"api.example.com\"]},"
                       "{\"env\":\"J\",\"value\":\"old-value-j1\",\"hosts\":[\"j.example.com\"]}]}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(api->set_secrets(NULL, "[]", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_secrets(n, "[{\"env\":\"K\",\"value\":\"zz-leak-me-1\"", err,
                                     sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON"));
    CU_ASSERT_PTR_NULL(strstr(err, "zz-leak-me-1"));
    CU_ASSERT_EQUAL(api->set_secrets(n, "{}", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_EQUAL(api->set_secrets(n, "[{\"env\":\"K\",\"value\":\"zz-leak-me-1\","
                                        "\"hosts\":[]}]", err, sizeof err), MSBNET_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"secrets\"[0] (\"K\")"));
    CU_ASSERT_PTR_NULL(strstr(err, "zz-leak-me-1"));
    CU_ASSERT_EQUAL(api->set_secrets(n, "[{\"env\":\"K\",\"value\":\"new-value-k2\","
                                        "\"hosts\":[\"api.example.com\"]}]", err, sizeof err),
                    MSBNET_OK);
    char *js = api->secrets_json(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"K\",\"hosts\":[\"api.example.com\"]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"placeholder\":\"Pkey-000001\"")); /* kept */
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"J\",\"hosts\":[]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"removed\":true"));
    CU_ASSERT_PTR_NULL(strstr(js, "value-"));
    api->free_string(js);
    CU_ASSERT_EQUAL_FATAL(api->start(n, err, sizeof err), MSBNET_OK);
    CU_ASSERT_EQUAL(api->set_secrets(n, "[]", err, sizeof err), MSBNET_OK);
    js = api->secrets_json(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"K\",\"hosts\":[]")); /* both tombstones */
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"J\",\"hosts\":[]"));
    api->free_string(js);
    /* K back without a placeholder: it gets the guest's again, no tombstone
     * left for it; J stays removed. */
    CU_ASSERT_EQUAL(api->set_secrets(n, "[{\"env\":\"K\",\"value\":\"new-value-k3\","
                                        "\"hosts\":[\"api.example.com\"]}]", err, sizeof err),
                    MSBNET_OK);
    js = api->secrets_json(n);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"K\",\"hosts\":[\"api.example.com\"]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"placeholder\":\"Pkey-000001\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"env\":\"J\",\"hosts\":[]"));
    CU_ASSERT_PTR_NULL(strstr(strstr(js, "Pkey-000001") + 1, "Pkey-000001")); /* once */
    api->free_string(js);
    /* A placeholder containing a live one is refused, naming the entry. */
    CU_ASSERT_EQUAL(api->set_secrets(n, "[{\"env\":\"K\",\"value\":\"v-k4-zzzz\","
                                        "\"hosts\":[\"a.example\"]},{\"env\":\"L\",\"value\":"
                                        "\"v-l4-zzzz\",\"placeholder\":\"Pkey-000001x\","
                                        "\"hosts\":[\"a.example\"]}]", err, sizeof err),
                    MSBNET_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(err, "zzzz"));
    api->destroy(n);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"version_negotiation", test_version_negotiation},
        {"caps_fit_descriptor_limit", test_caps_fit_descriptor_limit},
        {"bad_config_names_key", test_bad_config_names_key},
        {"write_frame_backpressure", test_write_frame_backpressure},
        {"read_frame_contract", test_read_frame_contract},
        {"rx_full_wakes_stack_on_room", test_rx_full_wakes_stack_on_room},
        {"gateways_set_once", test_gateways},
        {"termination_hook", test_termination_hook},
        {"query_hostnames", test_query_hostnames},
        {"metrics_json", test_metrics_json},
        {"set_policy_stopped", test_set_policy_stopped},
        {"set_policy_running", test_set_policy_running},
        {"publish_port", test_publish_port},
        {"set_frame_fds appended", test_set_frame_fds_appended},
        {"tls calls appended", test_tls_calls_appended},
        {"set_secrets appended", test_set_secrets_appended},
        {NULL, NULL},
    };
    return cunit_run("abi", tests);
}
