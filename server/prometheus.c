/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus renderer (prometheus.h): a curated table of families over
 * the metrics JSON, and an untyped fallback so no field is left out. */
#include "prometheus.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One sample: the JSON field it reads and its label set (preformatted,
 * NULL = none).  Label values here are constants, so no escaping needed.
 * A section may name a nested object ("msbnetd/transport"). */
struct sample {
    const char *section, *key, *labels;
};

#define MAX_SAMPLES 6

struct family {
    const char *name, *type, *help;
    struct sample s[MAX_SAMPLES];
};

#define C "counter"
#define G "gauge"

/* The curated mapping.  Counters end in _total (Prometheus naming); the
 * label names say which axis a family splits on. */
static const struct family families[] = {
    {"msbnet_guest_bytes_total", C,
     "Bytes across the guest boundary (from_guest: accepted into the tx ring; to_guest: "
     "handed to the VMM).",
     {{"guest", "tx_bytes", "direction=\"from_guest\""},
      {"guest", "rx_bytes", "direction=\"to_guest\""}}},
    {"msbnet_guest_frames_total", C, "Frames across the guest boundary.",
     {{"guest", "tx_frames", "direction=\"from_guest\""},
      {"guest", "rx_frames", "direction=\"to_guest\""}}},
    {"msbnet_guest_tx_ring_full_total", C,
     "Guest frames refused because the tx ring was full (backpressure; the VMM retries).",
     {{"guest", "tx_ring_full", NULL}}},
    {"msbnet_flows", G,
     "Open flows by protocol (TCP flows, UDP sessions, ICMP echoes awaiting a reply).",
     {{"tcp", "flows", "protocol=\"tcp\""},
      {"udp", "sessions", "protocol=\"udp\""},
      {"icmp", "echoes_outstanding", "protocol=\"icmp\""}}},
    {"msbnet_tcp_flows_by_state", G, "TCP flows by state.",
     {{"tcp", "connecting", "state=\"connecting\""},
      {"tcp", "established", "state=\"established\""},
      {"tcp", "closing", "state=\"closing\""}}},
    {"msbnet_tcp_connects_total", C, "Host-side TCP connects by outcome.",
     {{"tcp", "connects_ok", "outcome=\"ok\""},
      {"tcp", "connects_refused", "outcome=\"refused\""},
      {"tcp", "connects_timeout", "outcome=\"timeout\""},
      {"tcp", "connects_error", "outcome=\"error\""}}},
    {"msbnet_tcp_denied_total", C, "Guest TCP SYNs refused by policy or aimed at loopback.",
     {{"tcp", "denied", NULL}}},
    {"msbnet_relay_bytes_total", C, "Payload bytes relayed by protocol and direction.",
     {{"tcp", "bytes_to_host", "protocol=\"tcp\",direction=\"to_host\""},
      {"tcp", "bytes_to_guest", "protocol=\"tcp\",direction=\"to_guest\""},
      {"udp", "bytes_to_host", "protocol=\"udp\",direction=\"to_host\""},
      {"udp", "bytes_to_guest", "protocol=\"udp\",direction=\"to_guest\""}}},
    {"msbnet_tcp_resets_total", C, "TCP resets sent, by side.",
     {{"tcp", "resets_to_guest", "to=\"guest\""}, {"tcp", "resets_to_host", "to=\"host\""}}},
    {"msbnet_tcp_idle_timeouts_total", C, "TCP flows reset for idleness.",
     {{"tcp", "idle_timeouts", NULL}}},
    {"msbnet_tcp_segments_coalesced_total", C,
     "lwIP segments merged into larger frames toward the guest.",
     {{"tcp", "segments_coalesced", NULL}}},
    {"msbnet_tcp_bad_transitions_total", C,
     "TCP flow state changes outside the legal table (a bug in msbnet: stays 0).",
     {{"tcp", "bad_transition", NULL}}},
    {"msbnet_tcp_buffered_bytes", G,
     "TCP bytes held for the other side, all flows: guest bytes waiting for host peers "
     "(to_host), host bytes not yet acknowledged by the guest (to_guest).",
     {{"tcp", "buffered_bytes", "direction=\"to_host\""},
      {"tcp", "unacked_bytes", "direction=\"to_guest\""}}},
    {"msbnet_tcp_deferred_total", C,
     "TCP data put off at tcp_buffer_max_bytes: guest data left with lwIP (recv), host "
     "sockets not read (send).",
     {{"tcp", "recv_deferred", "side=\"recv\""}, {"tcp", "send_deferred", "side=\"send\""}}},
    {"msbnet_tcp_ooseq_dropped_total", C,
     "Out-of-order guest segments dropped beyond the per-flow queue cap or "
     "tcp_buffer_max_bytes.",
     {{"tcp", "ooseq_dropped", NULL}}},
    {"msbnet_tcp_lwip_held_bytes", G,
     "Guest bytes lwIP holds out of order or refused, all flows (inside tcp_buffer_max_bytes).",
     {{"tcp", "lwip_held_bytes", NULL}}},
    {"msbnet_tcp_acks_total", C,
     "Delayed ACKs toward the guest held for a reply to carry (held), and those sent alone (bare).",
     {{"tcp", "acks_held", "kind=\"held\""}, {"tcp", "acks_bare", "kind=\"bare\""}}},
    {"msbnet_tcp_budget_dropped_total", C,
     "In-order guest segments dropped at the edge at tcp_buffer_max_bytes (the guest resends).",
     {{"tcp", "budget_dropped", NULL}}},
    {"msbnet_tcp_small_segments_merged_total", C,
     "Small guest segments copied together while a host peer was slow.",
     {{"tcp", "small_segments_merged", NULL}}},
    {"msbnet_udp_sessions_total", C, "UDP sessions opened, and recycled at the session cap.",
     {{"udp", "sessions_opened", "event=\"opened\""},
      {"udp", "sessions_recycled", "event=\"recycled\""}}},
    {"msbnet_udp_idle_timeouts_total", C, "UDP sessions closed for idleness.",
     {{"udp", "idle_timeouts", NULL}}},
    {"msbnet_udp_datagrams_total", C, "UDP datagrams relayed by direction.",
     {{"udp", "datagrams_to_host", "direction=\"to_host\""},
      {"udp", "datagrams_to_guest", "direction=\"to_guest\""}}},
    {"msbnet_udp_fragmented_replies_total", C, "UDP replies fragmented to fit the guest MTU.",
     {{"udp", "fragmented_replies", NULL}}},
    {"msbnet_udp_icmp_errors_total", C, "ICMP errors sent to the guest for UDP, by type.",
     {{"udp", "port_unreachable", "type=\"port_unreachable\""},
      {"udp", "admin_prohibited", "type=\"admin_prohibited\""}}},
    {"msbnet_icmp_echo_requests_total", C,
     "Guest echo requests, answered by the gateway (local) or sent to the host (sent).",
     {{"icmp", "echo_local", "handled=\"local\""}, {"icmp", "echo_sent", "handled=\"sent\""}}},
    {"msbnet_icmp_echo_replies_total", C, "Host echo replies relayed to the guest.",
     {{"icmp", "echo_replies", NULL}}},
    {"msbnet_icmp_echo_timeouts_total", C, "Echo requests that got no reply in time.",
     {{"icmp", "echo_timeouts", NULL}}},
    {"msbnet_icmp_echo_raw_total", C, "Echo requests sent through a raw socket.",
     {{"icmp", "echo_raw", NULL}}},
    {"msbnet_dns_queries_total", C, "Guest DNS queries received.", {{"dns", "queries", NULL}}},
    {"msbnet_dns_responses_total", C, "Guest DNS queries by outcome.",
     {{"dns", "answered", "outcome=\"answered\""},
      {"dns", "alias", "outcome=\"alias\""},
      {"dns", "refused", "outcome=\"refused\""},
      {"dns", "servfail", "outcome=\"servfail\""},
      {"dns", "formerr", "outcome=\"formerr\""}}},
    {"msbnet_dns_truncated_total", C, "DNS answers cut to TC=1 for the guest's UDP size.",
     {{"dns", "truncated", NULL}}},
    {"msbnet_dns_rebind_blocked_total", C, "Upstream answers refused by rebind protection.",
     {{"dns", "rebind_blocked", NULL}}},
    {"msbnet_dns_forwarded_total", C, "Datagrams sent to DNS upstreams (retries included).",
     {{"dns", "forwarded", NULL}}},
    {"msbnet_dns_upstream_failures_total", C, "Upstream DNS tries that failed, by kind.",
     {{"dns", "upstream_timeouts", "kind=\"timeout\""},
      {"dns", "upstream_errors", "kind=\"error\""}}},
    {"msbnet_dns_in_flight", G, "DNS queries waiting for an upstream.",
     {{"dns", "in_flight", NULL}}},
    {"msbnet_dns_in_flight_cap_total", C, "DNS queries refused at the in-flight cap.",
     {{"dns", "in_flight_cap", NULL}}},
    {"msbnet_dns_resolver_denied_total", C,
     "UDP DNS queries refused because the policy denies UDP/53 to the resolver asked.",
     {{"dns", "resolver_denied", NULL}}},
    {"msbnet_limit_refused_total", C,
     "Events refused by a rate limit: new TCP flows (RST), new UDP sessions, DNS queries "
     "(REFUSED), UDP datagrams each way.",
     {{"limits", "tcp_refused", "kind=\"tcp_connection\""},
      {"limits", "udp_refused", "kind=\"udp_session\""},
      {"limits", "dns_refused", "kind=\"dns_query\""},
      {"limits", "udp_egress_dropped", "kind=\"udp_egress\""},
      {"limits", "udp_ingress_dropped", "kind=\"udp_ingress\""}}},
    {"msbnet_limit_tcp_pauses_total", C,
     "TCP flows paused for byte tokens (never dropped), by direction.",
     {{"limits", "egress_paused", "direction=\"egress\""},
      {"limits", "ingress_paused", "direction=\"ingress\""}}},
    {"msbnet_limit_throttled_seconds_total", C,
     "Time some TCP flow waited for byte tokens, by direction.",
     {{"limits", "egress_throttled_ms", "direction=\"egress\""},
      {"limits", "ingress_throttled_ms", "direction=\"ingress\""}}},
    {"msbnet_policy_decisions_total", C, "Policy decisions by action.",
     {{"policy", "allowed", "action=\"allow\""},
      {"policy", "denied", "action=\"deny\""},
      {"policy", "terminated", "action=\"terminate\""}}},
    {"msbnet_policy_rules", G, "Rules in the active policy.", {{"policy", "rules", NULL}}},
    /* Flow records (issue 15); by action and protocol: put_flow_records. */
    {"msbnet_flow_records_dropped_total", C,
     "Flow records dropped because no reader drained the ring in time.",
     {{"flow_records", "dropped", NULL}}},
    {"msbnet_flow_records_pending", G, "Flow records waiting in the ring for a reader.",
     {{"flow_records", "pending", NULL}}},
    {"msbnet_policy_replacements_total", C, "Policies replaced at run time (SetPolicy).",
     {{"policy", "replaced", NULL}}},
    {"msbnet_policy_flows_reset_total", C, "Open flows reset because a new policy denies them.",
     {{"policy", "flows_reset", NULL}}},
    {"msbnet_policy_sni_mismatch_total", C,
     "TLS connections whose SNI did not match the name the policy allowed.",
     {{"policy", "sni_mismatch", NULL}}},
    {"msbnet_policy_refused_total", C,
     "Destinations refused before any rule, by cause (loopback: the host's loopback or an "
     "unspecified address; protected: a protected_ports endpoint).",
     {{"policy", "refused_loopback", "cause=\"loopback\""},
      {"policy", "refused_protected", "cause=\"protected\""}}},
    {"msbnet_policy_host_local_total", C,
     "Destinations the kernel delivers locally (host addresses other than the gateway), "
     "judged as the host group.",
     {{"policy", "host_local", NULL}}},
    {"msbnet_hostname_index_entries", G, "Entries in the resolved-hostname index.",
     {{"hostnames", "entries", NULL}}},
    {"msbnet_hostname_index_addresses", G, "Addresses held by the resolved-hostname index.",
     {{"hostnames", "addresses", NULL}}},
    {"msbnet_hostname_index_removals_total", C,
     "Hostname index entries removed, by cause (evicted at the cap, expired).",
     {{"hostnames", "evicted_cap", "cause=\"cap\""},
      {"hostnames", "expired", "cause=\"expired\""}}},
    {"msbnet_hostname_index_rejected_names_total", C, "Names refused by the hostname index.",
     {{"hostnames", "rejected_names", NULL}}},
    {"msbnet_hostname_index_truncated_addresses_total", C,
     "Addresses ignored beyond the per-name or total address cap.",
     {{"hostnames", "truncated_addresses", NULL}}},
    {"msbnet_ring_capacity", G, "Frames each ring holds.", {{"rings", "capacity", NULL}}},
    {"msbnet_ring_depth", G, "Frames waiting in each ring (tx: from the guest).",
     {{"rings", "tx_depth", "ring=\"tx\""}, {"rings", "rx_depth", "ring=\"rx\""}}},
    {"msbnet_terminations_total", C, "Times the termination hook was triggered.",
     {{"termination", "count", NULL}}},
    /* TLS interception and secrets (plugin/README.md): counters only; the
     * per-secret counts are in ListSecrets, not here (a secret's name is
     * the operator's, but one series per secret would change with every
     * SetSecrets). */
    {"msbnet_tls_intercepted_total", C, "TLS connections the interception engine took on.",
     {{"tls", "intercepted", NULL}}},
    {"msbnet_tls_engine_opened_total", C,
     "Flows on an intercepted port handed to the interception engine.",
     {{"tls", "open", NULL}}},
    {"msbnet_tls_handshakes_total", C,
     "Intercepted connections by handshake outcome (bad_sni: refused for its SNI).",
     {{"tls", "handshakes_ok", "outcome=\"ok\""},
      {"tls", "guest_hs_failed", "outcome=\"guest_failed\""},
      {"tls", "upstream_hs_failed", "outcome=\"upstream_failed\""},
      {"tls", "upstream_verify_failed", "outcome=\"upstream_verify_failed\""},
      {"tls", "bad_sni", "outcome=\"bad_sni\""},
      {"tls", "handshake_timeouts", "outcome=\"timeout\""}}},
    {"msbnet_tls_alpn_total", C, "Intercepted connections by the protocol ALPN settled on.",
     {{"tls", "alpn_h2", "alpn=\"h2\""},
      {"tls", "alpn_http1", "alpn=\"http/1.1\""},
      {"tls", "alpn_other", "alpn=\"other\""},
      {"tls", "alpn_none", "alpn=\"none\""}}},
    {"msbnet_tls_h2_withheld_total", C,
     "Guests that offered h2 and got HTTP/1.1 because secrets may flow.",
     {{"tls", "h2_withheld", NULL}}},
    {"msbnet_tls_http_malformed_total", C, "Intercepted streams the HTTP filters refused.",
     {{"tls", "http_malformed", NULL}}},
    {"msbnet_tls_secret_substitutions_total", C,
     "Real secret values put in place of their placeholders (all secrets).",
     {{"tls", "substitutions", NULL}}},
    {"msbnet_tls_secret_violations_total", C,
     "Placeholders sent where their secret may not go (all secrets; plaintext ones too).",
     {{"tls", "violations", NULL}}},
    {"msbnet_tls_plaintext_violations_total", C,
     "Placeholders found by scan_plaintext on flows not intercepted.",
     {{"tls", "plaintext_violations", NULL}}},
    {"msbnet_tls_plaintext_bytes_total", C, "Plaintext bytes relayed by interception.",
     {{"tls", "bytes_to_upstream", "direction=\"to_upstream\""},
      {"tls", "bytes_to_guest", "direction=\"to_guest\""}}},
    {"msbnet_tls_raw_total", C, "Flows on an intercepted port relayed raw, by reason.",
     {{"tls", "bypassed", "reason=\"bypassed\""}, {"tls", "not_tls", "reason=\"not_tls\""}}},
    {"msbnet_tls_refused_total", C,
     "Flows on an intercepted port refused, by cause (cap: max_connections reached; quic: "
     "UDP to the port).",
     {{"tls", "refused_cap", "cause=\"cap\""}, {"tls", "quic_refused", "cause=\"quic\""}}},
    {"msbnet_tls_errors_total", C,
     "Interception errors by kind (alloc: no memory for a connection; tls_io: a TLS error "
     "after the handshakes; plaintext_scan: no scanner for a plaintext flow, reset).",
     {{"tls", "alloc_failed", "kind=\"alloc\""},
      {"tls", "tls_io_failed", "kind=\"tls_io\""},
      {"tls", "plaintext_scan_failed", "kind=\"plaintext_scan\""}}},
    {"msbnet_tls_secret_mem_unlocked_total", C,
     "Chunks of secret memory the kernel would not lock (values could be swapped out).",
     {{"tls", "secret_mem_unlocked", NULL}}},
    /* msbnetd's own counters: its frame pump (between the VMM transport and
     * the plugin) and the transport itself. */
    {"msbnet_msbnetd_frames_total", C,
     "Frames msbnetd moved (from_guest: read from the transport; to_guest: written to it).",
     {{"msbnetd", "guest_frames_in", "direction=\"from_guest\""},
      {"msbnetd", "guest_frames_out", "direction=\"to_guest\""}}},
    {"msbnet_msbnetd_plugin_writes_total", C,
     "Guest frames offered to the plugin by outcome (busy: ring full, retried; refused: "
     "bad frame, dropped).",
     {{"msbnetd", "plugin_accepted", "outcome=\"accepted\""},
      {"msbnetd", "plugin_busy", "outcome=\"busy\""},
      {"msbnetd", "plugin_refused", "outcome=\"refused\""}}},
    {"msbnet_msbnetd_transport_read_errors_total", C, "Transport reads that failed.",
     {{"msbnetd", "transport_read_errors", NULL}}},
    {"msbnet_msbnetd_transport_blocked_total", C,
     "Writes to the transport that would block (the frame waits).",
     {{"msbnetd", "transport_blocked", NULL}}},
    {"msbnet_msbnetd_transport_write_drops_total", C,
     "Frames for the guest dropped on a transport write error or a peer that left.",
     {{"msbnetd", "transport_write_drops", NULL}}},
    {"msbnet_msbnetd_no_peer_drops_total", C,
     "Frames for the guest drained while no VMM was connected.",
     {{"msbnetd", "no_peer_drops", NULL}}},
    {"msbnet_msbnetd_link_changes_total", C, "VMM connections up and down.",
     {{"msbnetd", "link_ups", "event=\"up\""}, {"msbnetd", "link_downs", "event=\"down\""}}},
    {"msbnet_msbnetd_frame_held", G, "1 while the pump holds a frame that could not go on yet.",
     {{"msbnetd", "tx_frame_held", "direction=\"from_guest\""},
      {"msbnetd", "rx_frame_held", "direction=\"to_guest\""}}},
    {"msbnet_msbnetd_transport_peer", G, "1 while a VMM is connected (stream) or known (dgram).",
     {{"msbnetd/transport", "connected", NULL}, {"msbnetd/transport", "peer_known", NULL}}},
    {"msbnet_msbnetd_transport_connections_total", C,
     "Stream connections by outcome (refused_busy: another VMM was connected).",
     {{"msbnetd/transport", "connections_accepted", "outcome=\"accepted\""},
      {"msbnetd/transport", "connections_refused_busy", "outcome=\"refused_busy\""}}},
    {"msbnet_msbnetd_transport_peer_closed_total", C, "Stream connections the VMM ended.",
     {{"msbnetd/transport", "peer_closed", NULL}}},
    {"msbnet_msbnetd_transport_truncated_frames_total", C,
     "Stream connections that ended in the middle of a frame.",
     {{"msbnetd/transport", "truncated_frames", NULL}}},
    {"msbnet_msbnetd_transport_out_bytes_discarded_total", C,
     "Bytes queued for a stream VMM that left.",
     {{"msbnetd/transport", "out_bytes_discarded", NULL}}},
    {"msbnet_msbnetd_transport_drops_total", C,
     "Connections (stream: bad_length) or datagrams (dgram) dropped, by reason.",
     {{"msbnetd/transport", "bad_length_drops", "reason=\"bad_length\""},
      {"msbnetd/transport", "undersize_drops", "reason=\"undersize\""},
      {"msbnetd/transport", "oversize_drops", "reason=\"oversize\""},
      {"msbnetd/transport", "foreign_drops", "reason=\"foreign\""},
      {"msbnetd/transport", "unnamed_sender_drops", "reason=\"unnamed_sender\""},
      {"msbnetd/transport", "no_peer_drops", "reason=\"no_peer\""}}},
    {"msbnet_msbnetd_transport_vfkit_handshakes_total", C, "VFKT datagrams consumed (dgram).",
     {{"msbnetd/transport", "vfkit_handshakes", NULL}}},
    {"msbnet_msbnetd_transport_peer_lost_total", C,
     "Sends that found the datagram VMM's socket gone.",
     {{"msbnetd/transport", "peer_lost", NULL}}},
};

#undef C
#undef G

/* Families with one sample per key of a JSON object, whatever keys the
 * plugin reports: drops by reason, decisions by rule index. */
struct map_family {
    const char *section, *sub; /* sub: an object inside section, or NULL */
    const char *name, *help, *label;
};

static const struct map_family maps[] = {
    {"drops", NULL, "msbnet_drops_total",
     "Things discarded, by reason (stable names, listed in plugin/README.md).", "reason"},
    {"policy", "by_rule", "msbnet_policy_rule_decisions_total",
     "Policy decisions by the rule that decided (index, later = beyond the 64th, default = "
     "no rule matched).", "rule"},
};

static bool curated(const char *section, const char *key)
{
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++)
        if (strcmp(maps[m].section, section) == 0 && !maps[m].sub)
            return true;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (size_t i = 0; i < MAX_SAMPLES && families[f].s[i].section; i++)
            if (strcmp(families[f].s[i].section, section) == 0 &&
                strcmp(families[f].s[i].key, key) == 0)
                return true;
    return false;
}

/* The object a section names: "a" or "a/b" (one level of nesting). */
static json_t *section_of(json_t *root, const char *section)
{
    const char *slash = strchr(section, '/');
    if (!slash)
        return json_object_get(root, section);
    return json_object_get(json_object_getn(root, section, (size_t)(slash - section)), slash + 1);
}

/* Integers as they are; booleans (msbnetd's flags) as 0/1 gauges. */
static bool field(json_t *root, const struct sample *s, json_int_t *v)
{
    json_t *j = json_object_get(section_of(root, s->section), s->key);
    if (json_is_boolean(j)) {
        *v = json_is_true(j);
        return true;
    }
    if (!json_is_integer(j))
        return false;
    *v = json_integer_value(j);
    return true;
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A field counting milliseconds ("..._ms") behind a family in seconds
 * (Prometheus' base unit) is written as seconds with three decimals. */
static bool ms_as_seconds(const struct family *fam, const struct sample *s)
{
    size_t n = strlen(fam->name), k = strlen(s->key);
    return n > 14 && strcmp(fam->name + n - 14, "_seconds_total") == 0 && k > 3 &&
           strcmp(s->key + k - 3, "_ms") == 0;
}

/* A family is written only when the plugin reports at least one of its
 * fields (the echo test plugin, or an older plugin, has fewer sections). */
static void put_family(FILE *f, json_t *root, const struct family *fam)
{
    bool any = false;
    for (size_t i = 0; i < MAX_SAMPLES && fam->s[i].section; i++) {
        json_int_t v;
        if (!field(root, &fam->s[i], &v))
            continue;
        if (!any)
            header(f, fam->name, fam->type, fam->help);
        any = true;
        char num[32];
        if (ms_as_seconds(fam, &fam->s[i]))
            snprintf(num, sizeof num, "%lld.%03lld", (long long)v / 1000, (long long)v % 1000);
        else
            snprintf(num, sizeof num, "%lld", (long long)v);
        if (fam->s[i].labels)
            fprintf(f, "%s{%s} %s\n", fam->name, fam->s[i].labels, num);
        else
            fprintf(f, "%s %s\n", fam->name, num);
    }
}

/* Label values: backslash, double quote and newline escaped (the format's
 * rule); names come from the plugin, but the output must parse regardless. */
static void put_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void put_map(FILE *f, json_t *root, const struct map_family *m)
{
    json_t *obj = json_object_get(root, m->section);
    if (m->sub)
        obj = json_object_get(obj, m->sub);
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return;
    header(f, m->name, "counter", m->help);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_integer(v))
            continue;
        fprintf(f, "%s{%s=\"", m->name, m->label);
        put_label_value(f, key);
        fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
    }
}

/* [a-zA-Z0-9_] only; anything else becomes '_'. */
static void put_name_part(FILE *f, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        fputc(ok ? c : '_', f);
    }
}

static void put_fallback(FILE *f, const char *section, const char *key, json_int_t v)
{
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 0)
            fputs("# HELP ", f);
        else if (pass == 1)
            fputs("# TYPE ", f);
        fputs("msbnet_", f);
        put_name_part(f, section);
        fputc('_', f);
        put_name_part(f, key);
        if (pass == 0)
            fputs(" A field of the plugin's metrics JSON without a curated name yet.\n", f);
        else if (pass == 1)
            fputs(" untyped\n", f);
        else
            fprintf(f, " %lld\n", (long long)v);
    }
}

static void put_uncurated_in(FILE *f, const char *section, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (json_is_integer(v) && !curated(section, key))
            put_fallback(f, section, key, json_integer_value(v));
    }
}

/* Fields of a newer plugin (or msbnetd transport) still reach Prometheus,
 * typed as untyped: which are gauges is written only in plugin/README.md. */
static void put_uncurated(FILE *f, json_t *root)
{
    const char *section;
    json_t *obj;
    json_object_foreach(root, section, obj)
    {
        if (json_is_object(obj))
            put_uncurated_in(f, section, obj);
    }
    json_t *t = section_of(root, "msbnetd/transport");
    if (json_is_object(t))
        put_uncurated_in(f, "msbnetd/transport", t);
}

/* Flow records produced, by action and protocol: a fixed, small label set
 * (4 x 4).  Per-hostname or per-destination series are left out on
 * purpose: the guest chooses those values, so they are unbounded, and a
 * sandbox could blow up the time-series database; the records themselves
 * carry them. */
static void put_flow_records(FILE *f, json_t *root)
{
    json_t *by = json_object_get(json_object_get(root, "flow_records"), "by_action");
    if (!json_is_object(by) || json_object_size(by) == 0)
        return;
    header(f, "msbnet_flow_records_total", "counter",
           "Flow records produced (ended or refused flows), by action and protocol.");
    const char *action, *proto;
    json_t *per, *v;
    json_object_foreach(by, action, per)
    {
        json_object_foreach(per, proto, v)
        {
            if (!json_is_integer(v))
                continue;
            fputs("msbnet_flow_records_total{action=\"", f);
            put_label_value(f, action);
            fputs("\",protocol=\"", f);
            put_label_value(f, proto);
            fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
        }
    }
}

static void put_info(FILE *f, const struct msbd_prom_info *info)
{
    header(f, "msbnet_info", "gauge", "Constant 1, labelled with msbnetd's and the plugin's versions.");
    fputs("msbnet_info{version=\"", f);
    put_label_value(f, info->version ? info->version : "");
    fputs("\",plugin_version=\"", f);
    put_label_value(f, info->plugin_version ? info->plugin_version : "");
    fputs("\"} 1\n", f);
    header(f, "msbnet_uptime_seconds", "gauge", "Seconds since msbnetd loaded the plugin.");
    fprintf(f, "msbnet_uptime_seconds %llu.%03llu\n",
            (unsigned long long)(info->uptime_ms / 1000),
            (unsigned long long)(info->uptime_ms % 1000));
}

char *msbd_prom_render(const char *metrics_json, const struct msbd_prom_info *info,
                       size_t *len)
{
    json_t *root = metrics_json ? json_loads(metrics_json, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) {
        json_decref(root);
        return NULL;
    }
    put_info(f, info);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        put_family(f, root, &families[i]);
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        put_map(f, root, &maps[i]);
    put_flow_records(f, root);
    put_uncurated(f, root);
    bool bad = ferror(f) != 0;
    if (fclose(f) || bad) {
        free(buf);
        buf = NULL;
        n = 0;
    }
    json_decref(root);
    if (len)
        *len = n;
    return buf;
}
