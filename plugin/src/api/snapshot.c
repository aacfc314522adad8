/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON documents the plugin hands out (snapshot.h): the metrics
 * snapshot (schema 1, names listed in plugin/README.md) and hostname
 * query pages. */
#include "api/snapshot.h"
#include "api/flow_drain.h"

#include <jansson.h>
#include <stdio.h>

#include "lib/clock.h"
#include "model/policy_model.h"
#include "api/policy_replace.h"

/* jansson reports allocation failure by returning NULL / -1 from each call;
 * building into a possibly-NULL object and checking once at the end keeps
 * the builders straight-line. */
static void put_u64(json_t *obj, const char *key, uint64_t v)
{
    json_object_set_new(obj, key, json_integer((json_int_t)v));
}

static json_t *guest_section(struct msb_metrics *m)
{
    json_t *o = json_object();
    put_u64(o, "tx_bytes", msb_read(&m->tx_bytes));
    put_u64(o, "tx_frames", msb_read(&m->tx_frames));
    put_u64(o, "tx_ring_full", msb_read(&m->tx_ring_full));
    put_u64(o, "rx_bytes", msb_read(&m->rx_bytes));
    put_u64(o, "rx_frames", msb_read(&m->rx_frames));
    return o;
}

static json_t *drops_section(struct msb_metrics *m)
{
    json_t *o = json_object();
    for (int r = 0; r < MSB_DROP__COUNT; r++)
        put_u64(o, msb_drop_name((enum msb_drop_reason)r), msb_read(&m->drops[r]));
    return o;
}

/* A counter group as one JSON object keyed by its X-macro names. */
#define PUT_FIELD(name) put_u64(o, #name, msb_read(&g->name));
#define COUNTER_SECTION(fn, type, member, LIST)                                                    \
    static json_t *fn(struct msb_metrics *m)                                                       \
    {                                                                                              \
        json_t *o = json_object();                                                                 \
        type *g = &m->member;                                                                      \
        LIST(PUT_FIELD)                                                                            \
        return o;                                                                                  \
    }
COUNTER_SECTION(tcp_section, struct msb_tcp_metrics, tcp, MSB_TCP_METRICS)
COUNTER_SECTION(udp_section, struct msb_udp_metrics, udp, MSB_UDP_METRICS)
COUNTER_SECTION(icmp_section, struct msb_icmp_metrics, icmp, MSB_ICMP_METRICS)
COUNTER_SECTION(dns_counters, struct msb_dns_metrics, dns, MSB_DNS_METRICS)
COUNTER_SECTION(inbound_section, struct msb_inbound_metrics, inbound, MSB_INBOUND_METRICS)
COUNTER_SECTION(dhcp_section, struct msb_dhcp_metrics, dhcp, MSB_DHCP_METRICS)
COUNTER_SECTION(ra_section, struct msb_ra_metrics, ra, MSB_RA_METRICS)
COUNTER_SECTION(reasm_section, struct msb_reasm_metrics, reasm, MSB_REASM_METRICS)
COUNTER_SECTION(vnet_section, struct msb_vnet_metrics, vnet, MSB_VNET_METRICS)
COUNTER_SECTION(limits_section, struct msb_limits_metrics, limits, MSB_LIMITS_METRICS)
COUNTER_SECTION(proxy_section, struct msb_proxy_metrics, proxy, MSB_PROXY_METRICS)
COUNTER_SECTION(tls_section, struct msb_tls_metrics, tls, MSB_TLS_METRICS)
#undef COUNTER_SECTION

static json_t *dns_transport(struct msb_dns_transport_metrics *g)
{
    json_t *o = json_object();
    MSB_DNS_TRANSPORT_METRICS(PUT_FIELD)
    return o;
}
#undef PUT_FIELD

/* Prometheus-style: counts cumulative, le bounds in ms, then +Inf. */
static json_t *dns_latency(struct msb_dns_metrics *g)
{
    static const uint64_t bounds[] = {MSB_DNS_LATENCY_BOUNDS_MS};
    json_t *o = json_object(), *le = json_array(), *cum = json_array();
    uint64_t total = 0;
    for (size_t i = 0; i < MSB_DNS_LATENCY_BUCKETS; i++) {
        total += msb_read(&g->latency[i]);
        if (i < MSB_DNS_LATENCY_BUCKETS - 1)
            json_array_append_new(le, json_integer((json_int_t)bounds[i]));
        else
            json_array_append_new(le, json_string("+Inf"));
        json_array_append_new(cum, json_integer((json_int_t)total));
    }
    json_object_set_new(o, "le_ms", le);
    json_object_set_new(o, "counts", cum);
    put_u64(o, "count", total);
    put_u64(o, "sum_ms", msb_read(&g->latency_sum_ms));
    return o;
}

static json_t *dns_section(struct msb_metrics *m)
{
    json_t *o = dns_counters(m);
    json_object_set_new(o, "udp", dns_transport(&m->dns.udp));
    json_object_set_new(o, "tcp", dns_transport(&m->dns.tcp));
    json_object_set_new(o, "upstream_latency", dns_latency(&m->dns));
    return o;
}

static json_t *rings_section(struct msbnet *net)
{
    json_t *o = json_object();
    put_u64(o, "capacity", msb_ring_capacity(&net->tx));
    put_u64(o, "tx_depth", msb_ring_count(&net->tx));
    put_u64(o, "rx_depth", msb_ring_count(&net->rx));
    return o;
}

static json_t *hostnames_section(struct msbnet *net)
{
    struct msb_hidx_stats s;
    msb_hidx_stats(&net->hidx, &s);
    json_t *o = json_object();
    put_u64(o, "entries", s.entries);
    put_u64(o, "addresses", s.addresses);
    put_u64(o, "evicted_cap", s.evicted_cap);
    put_u64(o, "expired", s.expired);
    put_u64(o, "rejected_names", s.rejected_names);
    put_u64(o, "truncated_addresses", s.truncated_addrs);
    return o;
}

/* Decisions by rule: {"0": n, "5": n, "later": n, "default": n}, only the
 * buckets that decided something ("later" = rules past the first 64). */
static json_t *by_rule_section(struct msb_policy_metrics *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < MSB_POLICY_BY_RULE + 2; i++) {
        uint64_t v = msb_read(&m->by_rule[i]);
        if (!v)
            continue;
        char key[24];
        if (i == MSB_POLICY_BUCKET_LATER)
            snprintf(key, sizeof key, "later");
        else if (i == MSB_POLICY_BUCKET_DEFAULT)
            snprintf(key, sizeof key, "default");
        else
            snprintf(key, sizeof key, "%zu", i);
        put_u64(o, key, v);
    }
    return o;
}

static json_t *policy_section(struct msbnet *net)
{
    json_t *o = json_object();
#define MSB_POLICY_PUT(name) put_u64(o, #name, msb_read(&net->metrics.policy.name));
    MSB_POLICY_METRICS(MSB_POLICY_PUT)
#undef MSB_POLICY_PUT
    put_u64(o, "rules", msb_policy_rule_count(net));
    json_object_set_new(o, "by_rule", by_rule_section(&net->metrics.policy));
    return o;
}

char *msb_metrics_json(struct msbnet *net)
{
    json_t *root = json_object();
    put_u64(root, "schema", MSB_METRICS_SCHEMA);
    json_object_set_new(root, "guest", guest_section(&net->metrics));
    json_object_set_new(root, "drops", drops_section(&net->metrics));
    json_object_set_new(root, "tcp", tcp_section(&net->metrics));
    json_object_set_new(root, "udp", udp_section(&net->metrics));
    json_object_set_new(root, "icmp", icmp_section(&net->metrics));
    json_object_set_new(root, "dns", dns_section(&net->metrics));
    json_object_set_new(root, "inbound", inbound_section(&net->metrics));
    json_object_set_new(root, "dhcp", dhcp_section(&net->metrics));
    json_object_set_new(root, "ra", ra_section(&net->metrics));
    json_object_set_new(root, "reassembly", reasm_section(&net->metrics));
    json_object_set_new(root, "vnet", vnet_section(&net->metrics));
    json_object_set_new(root, "limits", limits_section(&net->metrics));
    json_object_set_new(root, "proxy", proxy_section(&net->metrics));
    json_object_set_new(root, "tls", tls_section(&net->metrics));
    json_object_set_new(root, "rings", rings_section(net));
    json_object_set_new(root, "hostnames", hostnames_section(net));
    json_object_set_new(root, "policy", policy_section(net));
    json_object_set_new(root, "flow_records", msb_flow_records_section(net));
    json_t *term = json_object();
    put_u64(term, "count", msb_hook_count(&net->hook));
    json_object_set_new(root, "termination", term);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return s;
}

static void add_view(const struct msb_hidx_view *v, void *ctx)
{
    json_t *addrs = json_array();
    for (size_t i = 0; i < v->naddrs; i++) {
        char buf[MSB_IP_STRLEN];
        json_array_append_new(addrs, json_string(msb_ip_format(&v->addrs[i], buf, sizeof buf)));
    }
    json_t *e = json_object();
    json_object_set_new(e, "hostname", json_string(v->hostname));
    json_object_set_new(e, "family", json_string(v->family == MSB_FAMILY_V4 ? "ipv4" : "ipv6"));
    json_object_set_new(e, "addresses", addrs);
    put_u64(e, "ttl_remaining_ms", v->ttl_remaining_ms);
    json_array_append_new(ctx, e);
}

int msb_hostnames_json(struct msbnet *net, enum msb_hidx_select sel, const void *key,
                       size_t offset, size_t limit, char **out)
{
    json_t *entries = json_array();
    if (!entries)
        return -1;
    long total = msb_hidx_query(&net->hidx, sel, key, msb_now_ms(), offset, limit, add_view,
                                entries);
    if (total < 0) {
        json_decref(entries);
        return -1;
    }
    json_t *root = json_object();
    put_u64(root, "total", (uint64_t)total);
    json_object_set_new(root, "entries", entries);
    *out = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return *out ? 0 : -1;
}
