/* SPDX-License-Identifier: Apache-2.0 */
/* The unary RPCs: SetGateways, QueryResolvedHostnames, GetStatus (the
 * policy calls are in rpc_policy.c). */
#include "rpc.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PAGE 256    /* entries per reply: 256 x 64 addresses stays far below 4 MiB */
#define MAX_ADDR_TEXT 64 /* longer than any textual address: refuse before parsing */

static grpc_status_code status_of(int rc)
{
    switch (rc) {
    case MSBNET_OK: return GRPC_STATUS_OK;
    case MSBNET_EINVAL: return GRPC_STATUS_INVALID_ARGUMENT;
    case MSBNET_EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
    case MSBNET_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default: return GRPC_STATUS_INTERNAL;
    }
}

void msbd_rpc_set_gateways(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__SetGatewaysRequest *r = (const void *)req;
    if (!*r->ipv4 && !*r->ipv6) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "set ipv4 and/or ipv6");
        return;
    }
    if (strlen(r->ipv4) >= MAX_ADDR_TEXT || strlen(r->ipv6) >= MAX_ADDR_TEXT) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "not an address");
        return;
    }
    int rc = msbd_host_set_gateways(c->g->host, r->ipv4, r->ipv6);
    if (rc == MSBNET_OK) {
        Msbnet__V1__SetGatewaysResponse resp = MSBNET__V1__SET_GATEWAYS_RESPONSE__INIT;
        msbd_call_reply(c, &resp.base);
        return;
    }
    msbd_call_finish(c, status_of(rc),
                     rc == MSBNET_EEXIST ? "a different gateway is already set for that family"
                     : rc == MSBNET_EINVAL ? "malformed or wrong-family gateway address"
                                           : "set_gateways failed");
}

/* ---- QueryResolvedHostnames ------------------------------------------- */

static const char *str_or_empty(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Strings point into `root`, which outlives the packing of the reply. */
static void fill_entry(Msbnet__V1__ResolvedHostname *e, json_t *j)
{
    msbnet__v1__resolved_hostname__init(e);
    e->hostname = (char *)str_or_empty(j, "hostname");
    e->family = (char *)str_or_empty(j, "family");
    e->ttl_remaining_ms = (uint64_t)json_integer_value(json_object_get(j, "ttl_remaining_ms"));
    json_t *addrs = json_object_get(j, "addresses");
    size_t n = json_array_size(addrs);
    e->addresses = n ? calloc(n, sizeof *e->addresses) : NULL;
    for (size_t i = 0; e->addresses && i < n; i++) {
        const char *a = json_string_value(json_array_get(addrs, i));
        e->addresses[e->n_addresses++] = (char *)(a ? a : "");
    }
}

static void reply_hostnames(struct msbd_call *c, json_t *root)
{
    Msbnet__V1__QueryResolvedHostnamesResponse resp =
        MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_RESPONSE__INIT;
    resp.total = (uint64_t)json_integer_value(json_object_get(root, "total"));
    json_t *entries = json_object_get(root, "entries");
    size_t n = json_array_size(entries);
    Msbnet__V1__ResolvedHostname *es = n ? calloc(n, sizeof *es) : NULL;
    Msbnet__V1__ResolvedHostname **ptrs = n ? calloc(n, sizeof *ptrs) : NULL;
    if (n && (!es || !ptrs)) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            fill_entry(&es[i], json_array_get(entries, i));
            ptrs[i] = &es[i];
        }
        resp.n_entries = n;
        resp.entries = ptrs;
        msbd_call_reply(c, &resp.base);
    }
    for (size_t i = 0; es && i < n; i++)
        free(es[i].addresses);
    free(es);
    free(ptrs);
}

void msbd_rpc_query_hostnames(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__QueryResolvedHostnamesRequest *r = (const void *)req;
    enum msbnet_query_kind kind;
    const char *key = NULL;
    switch (r->selector_case) {
    case MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ADDRESS:
        kind = MSBNET_QUERY_ADDRESS, key = r->address;
        break;
    case MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_HOSTNAME:
        kind = MSBNET_QUERY_HOSTNAME, key = r->hostname;
        break;
    case MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ALL:
        kind = MSBNET_QUERY_ALL;
        break;
    default:
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "set one of address, hostname, all");
        return;
    }
    size_t limit = r->limit == 0 || r->limit > MAX_PAGE ? MAX_PAGE : r->limit;
    const struct msbd_host *h = c->g->host;
    char *out = NULL;
    int rc = h->api->query_hostnames(h->net, kind, key, (size_t)r->offset, limit, &out);
    json_t *root = rc == 0 && out ? json_loads(out, 0, NULL) : NULL;
    h->api->free_string(out);
    if (!root)
        msbd_call_finish(c, rc ? status_of(rc) : GRPC_STATUS_INTERNAL,
                         rc == MSBNET_EINVAL ? "address is not an IP literal" : "query failed");
    else
        reply_hostnames(c, root);
    json_decref(root);
}

/* ---- GetStatus --------------------------------------------------------- */

static uint64_t flows_gauge(const struct msbd_host *h)
{
    char *s = h->api->metrics_json(h->net);
    json_t *m = s ? json_loads(s, 0, NULL) : NULL;
    h->api->free_string(s);
    json_int_t v = json_integer_value(json_object_get(json_object_get(m, "tcp"), "flows"));
    json_decref(m);
    return v > 0 ? (uint64_t)v : 0;
}

static uint64_t uptime_ms(const struct msbd_host *h)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    return now - h->opened_ms;
}

static void mac_text(char *out, const uint8_t m[6])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void msbd_rpc_get_status(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    struct msbd_host *h = c->g->host;
    char g4[INET_ADDRSTRLEN], g6[INET6_ADDRSTRLEN], gmac[18], mmac[18];
    inet_ntop(AF_INET, &h->addrs.guest4, g4, sizeof g4);
    inet_ntop(AF_INET6, &h->addrs.guest6, g6, sizeof g6);
    mac_text(gmac, h->addrs.guest_mac);
    mac_text(mmac, h->addrs.gateway_mac);
    Msbnet__V1__GetStatusResponse r = MSBNET__V1__GET_STATUS_RESPONSE__INIT;
    r.version = (char *)MSBNET_VERSION_STRING;
    r.plugin_version = (char *)h->api->version();
    r.uptime_ms = uptime_ms(h);
    r.gateway_ipv4 = h->active_gw4;
    r.gateway_ipv6 = h->active_gw6;
    r.guest_ipv4 = g4;
    r.guest_ipv6 = g6;
    r.guest_mac = gmac;
    r.gateway_mac = mmac;
    r.mtu = h->addrs.mtu;
    r.flows = flows_gauge(h);
    char *summary = msbd_policy_summary(h);
    r.policy_summary = summary ? summary : (char *)"";
    msbd_call_reply(c, &r.base);
    free(summary);
}
