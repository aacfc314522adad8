/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetd's Prometheus renderer (server/prometheus.c): curated families with
 * HELP/TYPE, labels, drop reasons from whatever the plugin reports (escaped
 * even when hostile), fields without a curated name still exported, missing
 * sections skipped, and JSON that is not an object refused. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/metrics.h"
#include "prometheus.h"

static const struct msbd_prom_info info = {"1.2.3", "0.9\"x", 12345};

static char *render(const char *json)
{
    size_t len = 0;
    char *out = msbd_prom_render(json, &info, &len);
    if (out)
        CU_ASSERT_EQUAL(len, strlen(out));
    return out;
}

static void has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fprintf(stderr, "missing: %s\n", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
}

static void test_curated_families(void)
{
    char *t = render("{\"schema\":1,\"guest\":{\"tx_bytes\":10,\"rx_bytes\":20,"
                     "\"tx_frames\":1,\"rx_frames\":2,\"tx_ring_full\":0},"
                     "\"tcp\":{\"flows\":3,\"connects_ok\":7},"
                     "\"policy\":{\"allowed\":5,\"denied\":1,\"terminated\":0,"
                     "\"by_rule\":{\"0\":4,\"default\":2}},\"termination\":{\"count\":1}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# HELP msbnet_guest_bytes_total ");
    has(t, "# TYPE msbnet_guest_bytes_total counter\n");
    has(t, "msbnet_guest_bytes_total{direction=\"from_guest\"} 10\n");
    has(t, "msbnet_guest_bytes_total{direction=\"to_guest\"} 20\n");
    has(t, "# TYPE msbnet_flows gauge\nmsbnet_flows{protocol=\"tcp\"} 3\n");
    has(t, "msbnet_tcp_connects_total{outcome=\"ok\"} 7\n");
    has(t, "msbnet_policy_decisions_total{action=\"terminate\"} 0\n");
    has(t, "msbnet_policy_rule_decisions_total{rule=\"default\"} 2\n");
    has(t, "msbnet_terminations_total 1\n");
    has(t, "msbnet_uptime_seconds 12.345\n");
    /* The label value escapes the quote in the plugin's version. */
    has(t, "msbnet_info{version=\"1.2.3\",plugin_version=\"0.9\\\"x\"} 1\n");
    /* Absent sections: no family, no orphan HELP. */
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_dns_"));
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_drops_total"));
    /* A curated field is not exported twice. */
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_tcp_connects_ok"));
    free(t);
}

/* Flow records: one counter by action and protocol, drops and pending,
 * and no fallback series for the same fields. */
static void test_flow_records(void)
{
    char *t = render("{\"flow_records\":{\"dropped\":3,\"pending\":2,\"by_action\":"
                     "{\"allow\":{\"tcp\":5,\"dns\":1},\"deny\":{\"udp\":4}}}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# TYPE msbnet_flow_records_total counter\n");
    has(t, "msbnet_flow_records_total{action=\"allow\",protocol=\"tcp\"} 5\n");
    has(t, "msbnet_flow_records_total{action=\"allow\",protocol=\"dns\"} 1\n");
    has(t, "msbnet_flow_records_total{action=\"deny\",protocol=\"udp\"} 4\n");
    has(t, "msbnet_flow_records_dropped_total 3\n");
    has(t, "# TYPE msbnet_flow_records_pending gauge\nmsbnet_flow_records_pending 2\n");
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_flow_records_dropped 3"));
    free(t);
}

static void test_drop_reasons_escaped(void)
{
    char *t = render("{\"drops\":{\"eth_short\":4,\"we\\\"ird\\\\\\nname\":1,\"x\":\"str\"}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# TYPE msbnet_drops_total counter\n");
    has(t, "msbnet_drops_total{reason=\"eth_short\"} 4\n");
    has(t, "msbnet_drops_total{reason=\"we\\\"ird\\\\\\nname\"} 1\n");
    CU_ASSERT_PTR_NULL(strstr(t, "reason=\"x\""));
    free(t);
}

static void test_uncurated_fields_untyped(void)
{
    char *t = render("{\"tcp\":{\"flows\":1,\"new-thing\":9},\"quic\":{\"streams\":2,"
                     "\"nested\":{\"a\":1}},\"msbnetd\":{\"x\":1}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# TYPE msbnet_tcp_new_thing untyped\nmsbnet_tcp_new_thing 9\n");
    has(t, "# TYPE msbnet_quic_streams untyped\nmsbnet_quic_streams 2\n");
    CU_ASSERT_PTR_NULL(strstr(t, "nested"));
    /* msbnetd's own section follows the same rule. */
    has(t, "# TYPE msbnet_msbnetd_x untyped\nmsbnet_msbnetd_x 1\n");
    free(t);
}

/* msbnetd's pump and transport counters (the "msbnetd" object the server
 * merges into the snapshot): curated families, flags as 0/1 gauges, the
 * nested transport object, and a transport field not curated yet. */
static void test_msbnetd_counters(void)
{
    char *t = render("{\"guest\":{\"tx_frames\":1},\"msbnetd\":{\"guest_frames_in\":5,"
                     "\"guest_frames_out\":6,\"plugin_accepted\":5,\"plugin_busy\":2,"
                     "\"plugin_refused\":0,\"transport_write_drops\":3,\"no_peer_drops\":4,"
                     "\"link_ups\":2,\"link_downs\":1,\"tx_frame_held\":true,"
                     "\"rx_frame_held\":false,\"transport\":{\"kind\":\"stream\","
                     "\"connections_accepted\":2,\"connections_refused_busy\":1,"
                     "\"bad_length_drops\":7,\"connected\":true,\"future\":8}}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# TYPE msbnet_msbnetd_frames_total counter\n");
    has(t, "msbnet_msbnetd_frames_total{direction=\"from_guest\"} 5\n");
    has(t, "msbnet_msbnetd_plugin_writes_total{outcome=\"busy\"} 2\n");
    has(t, "# HELP msbnet_msbnetd_transport_write_drops_total ");
    has(t, "msbnet_msbnetd_transport_write_drops_total 3\n");
    has(t, "msbnet_msbnetd_no_peer_drops_total 4\n");
    has(t, "msbnet_msbnetd_link_changes_total{event=\"down\"} 1\n");
    has(t, "# TYPE msbnet_msbnetd_frame_held gauge\n");
    has(t, "msbnet_msbnetd_frame_held{direction=\"from_guest\"} 1\n");
    has(t, "msbnet_msbnetd_frame_held{direction=\"to_guest\"} 0\n");
    has(t, "msbnet_msbnetd_transport_peer 1\n");
    has(t, "msbnet_msbnetd_transport_connections_total{outcome=\"refused_busy\"} 1\n");
    has(t, "msbnet_msbnetd_transport_drops_total{reason=\"bad_length\"} 7\n");
    /* dgram-only reasons are absent for a stream transport. */
    CU_ASSERT_PTR_NULL(strstr(t, "reason=\"foreign\""));
    has(t, "# TYPE msbnet_msbnetd_transport_future untyped\nmsbnet_msbnetd_transport_future 8\n");
    /* Curated fields are not exported twice, the kind string not at all. */
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_msbnetd_guest_frames_in"));
    CU_ASSERT_PTR_NULL(strstr(t, "msbnet_msbnetd_transport_bad_length_drops"));
    CU_ASSERT_PTR_NULL(strstr(t, "kind"));
    free(t);
}

/* The TCP state checker and the refusals before any rule have curated
 * counter families, not the untyped fallback. */
static void test_policy_and_state_counters(void)
{
    char *t = render("{\"tcp\":{\"bad_transition\":0},\"policy\":{\"refused_loopback\":9,"
                     "\"refused_protected\":2,\"host_local\":4}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "# TYPE msbnet_tcp_bad_transitions_total counter\n");
    has(t, "msbnet_tcp_bad_transitions_total 0\n");
    has(t, "# TYPE msbnet_policy_refused_total counter\n");
    has(t, "msbnet_policy_refused_total{cause=\"loopback\"} 9\n");
    has(t, "msbnet_policy_refused_total{cause=\"protected\"} 2\n");
    has(t, "# TYPE msbnet_policy_host_local_total counter\nmsbnet_policy_host_local_total 4\n");
    CU_ASSERT_PTR_NULL(strstr(t, "untyped"));
    free(t);
}

/* Every field of the plugin's tls section (the list the plugin writes it
 * from, so a field added later without a family fails here) lands in a
 * counter family with HELP and TYPE, none in the untyped fallback. */
static void test_tls_counters_typed(void)
{
    char json[2048] = "{\"tls\":{";
    size_t n = strlen(json), k = 0;
#define TLS_FIELD(name)                                                                            \
    n += (size_t)snprintf(json + n, sizeof json - n, "%s\"" #name "\":%zu", k ? "," : "", 100 + k); \
    k++;
    MSB_TLS_METRICS(TLS_FIELD)
#undef TLS_FIELD
    snprintf(json + n, sizeof json - n, "}}");
    char *t = render(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NULL(strstr(t, "untyped"));
    size_t families = 0;
    for (const char *l = strstr(t, "# TYPE msbnet_tls_"); l; l = strstr(l + 1, "# TYPE msbnet_tls_")) {
        const char *eol = strchr(l, '\n');
        CU_ASSERT(eol && eol - l > 8 && strncmp(eol - 8, " counter", 8) == 0);
        families++;
    }
    CU_ASSERT_EQUAL(families, 14);
    for (size_t i = 0; i < k; i++) { /* each value once, on a sample line */
        char v[16];
        snprintf(v, sizeof v, " %zu\n", 100 + i);
        const char *at = strstr(t, v);
        CU_ASSERT_PTR_NOT_NULL(at);
        CU_ASSERT(at && !strstr(at + 1, v));
    }
    has(t, "# TYPE msbnet_tls_handshakes_total counter\n");
    has(t, "msbnet_tls_handshakes_total{outcome=\"ok\"} 101\n");
    has(t, "msbnet_tls_handshakes_total{outcome=\"timeout\"} 106\n");
    has(t, "# TYPE msbnet_tls_secret_violations_total counter\nmsbnet_tls_secret_violations_total 114\n");
    has(t, "msbnet_tls_refused_total{cause=\"cap\"} 123\n");
    has(t, "# TYPE msbnet_tls_secret_mem_unlocked_total counter\n");
    free(t);
}

static void test_refuses_non_objects(void)
{
    CU_ASSERT_PTR_NULL(render("[1,2]"));
    CU_ASSERT_PTR_NULL(render("{\"guest\":"));
    CU_ASSERT_PTR_NULL(render(""));
    CU_ASSERT_PTR_NULL(msbd_prom_render(NULL, &info, NULL));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"curated families, labels, HELP/TYPE", test_curated_families},
        {"flow records by action and protocol, drops, pending", test_flow_records},
        {"drop reasons from the plugin, escaped", test_drop_reasons_escaped},
        {"fields without a curated name: untyped", test_uncurated_fields_untyped},
        {"every tls field a typed counter", test_tls_counters_typed},
        {"msbnetd's pump and transport counters", test_msbnetd_counters},
        {"TCP state checker and policy refusals: counters", test_policy_and_state_counters},
        {"not a JSON object: NULL", test_refuses_non_objects},
        {NULL, NULL},
    };
    return cunit_run("prometheus", tests);
}
