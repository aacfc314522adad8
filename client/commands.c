/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl's subcommands: option parsing, one RPC each, output. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"
#define DEFAULT_UNARY_DEADLINE_MS 5000u

struct sub {
    const char *name, *usage;
};

static int sub_usage(const struct sub *s, bool help)
{
    fprintf(help ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] %s %s\n", s->name,
            s->usage);
    return help ? 0 : EXIT_USAGE;
}

static int bad_option(const struct sub *s, char **argv)
{
    fprintf(stderr, "msbnetctl %s: unknown option or missing value: %s\n", s->name,
            argv[optind - 1]);
    return sub_usage(s, false);
}

static int no_extra(const struct sub *s, int argc, char **argv)
{
    if (optind < argc) {
        fprintf(stderr, "msbnetctl %s: unexpected argument \"%s\"\n", s->name, argv[optind]);
        return sub_usage(s, false);
    }
    return 0;
}

static uint32_t unary_deadline(const struct ctl_opts *o)
{
    return o->deadline_set ? o->deadline_ms : DEFAULT_UNARY_DEADLINE_MS;
}

int ctl_call(const struct ctl_opts *o, const char *cmd, const char *method,
             const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
             ProtobufCMessage **resp)
{
    struct ctl_conn c;
    struct ctl_status st;
    if (ctl_open(&c, &o->ep))
        return EXIT_USAGE;
    grpc_status_code code =
        ctl_unary(&c, method, req, d, resp, ctl_deadline(unary_deadline(o)), &st);
    ctl_close(&c);
    return code == GRPC_STATUS_OK ? 0 : ctl_report(cmd, &st);
}

void ctl_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

/* ---- status ------------------------------------------------------------ */

static void print_status(const struct ctl_opts *o, const Msbnet__V1__GetStatusResponse *r)
{
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s}", "version",
                          r->version, "plugin_version", r->plugin_version, "uptime_ms",
                          (json_int_t)r->uptime_ms, "gateway_ipv4", r->gateway_ipv4,
                          "gateway_ipv6", r->gateway_ipv6, "guest_ipv4", r->guest_ipv4,
                          "guest_ipv6", r->guest_ipv6, "guest_mac", r->guest_mac, "gateway_mac",
                          r->gateway_mac, "mtu", (int)r->mtu, "flows", (json_int_t)r->flows,
                          "policy_summary", r->policy_summary);
    if (o->json) {
        ctl_print_json(j);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (json_is_string(v))
            printf("%-16s %s\n", key, *json_string_value(v) ? json_string_value(v) : "-");
        else
            printf("%-16s %lld\n", key, (long long)json_integer_value(v));
    }
    json_decref(j);
}

int ctl_status(const struct ctl_opts *o, int argc, char **argv)
{
    static const struct sub s = {"status", ""};
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1)
        return ch == 'h' ? sub_usage(&s, true) : bad_option(&s, argv);
    if (no_extra(&s, argc, argv))
        return EXIT_USAGE;
    Msbnet__V1__GetStatusRequest req = MSBNET__V1__GET_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, s.name, SVC "GetStatus", &req.base,
                   &msbnet__v1__get_status_response__descriptor, &resp);
    if (rc)
        return rc;
    print_status(o, (const void *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ---- set-gateways ------------------------------------------------------ */

int ctl_set_gateways(const struct ctl_opts *o, int argc, char **argv)
{
    static const struct sub s = {"set-gateways", "[--ipv4 ADDR] [--ipv6 ADDR]"};
    static const struct option opts[] = {{"ipv4", required_argument, NULL, '4'},
                                         {"ipv6", required_argument, NULL, '6'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Msbnet__V1__SetGatewaysRequest req = MSBNET__V1__SET_GATEWAYS_REQUEST__INIT;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == '4')
            req.ipv4 = optarg;
        else if (ch == '6')
            req.ipv6 = optarg;
        else
            return ch == 'h' ? sub_usage(&s, true) : bad_option(&s, argv);
    }
    if (no_extra(&s, argc, argv))
        return EXIT_USAGE;
    if (!*req.ipv4 && !*req.ipv6) {
        fprintf(stderr, "msbnetctl set-gateways: give --ipv4 and/or --ipv6\n");
        return sub_usage(&s, false);
    }
    ProtobufCMessage *resp;
    int rc = ctl_call(o, s.name, SVC "SetGateways", &req.base,
                   &msbnet__v1__set_gateways_response__descriptor, &resp);
    if (rc)
        return rc;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (o->json)
        ctl_print_json(json_object());
    else
        printf("ok\n");
    return 0;
}

/* ---- hostnames --------------------------------------------------------- */

static void print_hostnames(const struct ctl_opts *o,
                            const Msbnet__V1__QueryResolvedHostnamesResponse *r)
{
    json_t *entries = json_array();
    if (!o->json)
        printf("%-40s %-6s %10s  %s\n", "HOSTNAME", "FAMILY", "TTL_MS", "ADDRESSES");
    for (size_t i = 0; i < r->n_entries; i++) {
        const Msbnet__V1__ResolvedHostname *e = r->entries[i];
        json_t *addrs = json_array();
        for (size_t k = 0; k < e->n_addresses; k++)
            json_array_append_new(addrs, json_string(e->addresses[k]));
        if (!o->json) {
            char *a = json_dumps(addrs, JSON_COMPACT);
            printf("%-40s %-6s %10llu  %s\n", e->hostname, e->family,
                   (unsigned long long)e->ttl_remaining_ms, a ? a : "");
            free(a);
        }
        json_array_append_new(entries,
                              json_pack("{s:s,s:s,s:o,s:I}", "hostname", e->hostname, "family",
                                        e->family, "addresses", addrs, "ttl_remaining_ms",
                                        (json_int_t)e->ttl_remaining_ms));
    }
    if (o->json)
        ctl_print_json(json_pack("{s:I,s:o}", "total", (json_int_t)r->total, "entries", entries));
    else {
        printf("total: %llu\n", (unsigned long long)r->total);
        json_decref(entries);
    }
}

static int hostnames_args(const struct sub *s, int argc, char **argv,
                          Msbnet__V1__QueryResolvedHostnamesRequest *req)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},         {"address", required_argument, NULL, 'A'},
        {"hostname", required_argument, NULL, 'H'}, {"limit", required_argument, NULL, 'l'},
        {"offset", required_argument, NULL, 'o'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch, selectors = 0;
    uint32_t v;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            req->selector_case = MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ALL;
            req->all = 1, selectors++;
            break;
        case 'A':
            req->selector_case = MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ADDRESS;
            req->address = optarg, selectors++;
            break;
        case 'H':
            req->selector_case = MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_HOSTNAME;
            req->hostname = optarg, selectors++;
            break;
        case 'l':
        case 'o':
            if (!ctl_parse_u32(optarg, 0, UINT32_MAX, &v)) {
                fprintf(stderr, "msbnetctl hostnames: \"%s\" is not a number\n", optarg);
                return EXIT_USAGE;
            }
            if (ch == 'l')
                req->limit = v;
            else
                req->offset = v;
            break;
        case 'h': return sub_usage(s, true) ? EXIT_USAGE : -1;
        default: return bad_option(s, argv);
        }
    }
    if (selectors != 1) {
        fprintf(stderr, "msbnetctl hostnames: give exactly one of --all, --address, --hostname\n");
        return sub_usage(s, false);
    }
    return no_extra(s, argc, argv);
}

int ctl_hostnames(const struct ctl_opts *o, int argc, char **argv)
{
    static const struct sub s = {
        "hostnames", "(--all | --address IP | --hostname NAME) [--limit N] [--offset N]"};
    Msbnet__V1__QueryResolvedHostnamesRequest req =
        MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__INIT;
    int rc = hostnames_args(&s, argc, argv, &req);
    if (rc)
        return rc < 0 ? 0 : rc;
    ProtobufCMessage *resp;
    rc = ctl_call(o, s.name, SVC "QueryResolvedHostnames", &req.base,
               &msbnet__v1__query_resolved_hostnames_response__descriptor, &resp);
    if (rc)
        return rc;
    print_hostnames(o, (const void *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
