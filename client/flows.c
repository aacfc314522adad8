/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl flows: flow records from StreamFlowRecords, as a table or as
 * the JSON lines the daemon sends; --live hands over to flows_live.c. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"
/* Without --follow: what arrives in this long (the daemon drains every
 * 100 ms), then exit. */
#define ONE_SHOT_MS 1500

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s && *s ? s : "-";
}

static void endpoint(char *out, size_t len, json_t *j, const char *key)
{
    char pk[32];
    snprintf(pk, sizeof pk, "%s_port", key);
    const char *a = str(j, key);
    long long p = json_integer_value(json_object_get(j, pk));
    snprintf(out, len, strchr(a, ':') ? "[%s]:%lld" : "%s:%lld", a, p);
}

void ctl_flow_header(bool dns)
{
    printf("%-8s %-4s %-9s %-7s %-22s %-26s %-28s %-14s %10s %10s%s\n", "TIME", "PROTO", "ACTION",
           "RULE", "GUEST", "DESTINATION", "HOSTNAME", "END", "BYTES_OUT", "BYTES_IN",
           dns ? " DNS" : "");
}

static const char *qtype_name(long long t, char *buf, size_t len)
{
    static const struct {
        long long t;
        const char *name;
    } names[] = {{1, "A"},   {2, "NS"},   {5, "CNAME"}, {6, "SOA"},  {12, "PTR"},    {15, "MX"},
                 {16, "TXT"}, {28, "AAAA"}, {33, "SRV"}, {64, "SVCB"}, {65, "HTTPS"}, {255, "ANY"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].t == t)
            return names[i].name;
    snprintf(buf, len, "TYPE%lld", t);
    return buf;
}

static const char *rcode_name(long long r, char *buf, size_t len)
{
    static const char *const names[] = {"NOERROR", "FORMERR",  "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP", "REFUSED"};
    if (r < 0)
        return "NOREPLY"; /* the query was still waiting when its flow ended */
    if (r < (long long)(sizeof names / sizeof names[0]))
        return names[r];
    snprintf(buf, len, "RCODE%lld", r);
    return buf;
}

/* At most this many of a reply's addresses in the table (the record holds
 * up to 16): the rest as "+N", so a row stays one readable line; --json
 * has them all. */
#define DNS_ADDRS_SHOWN 3

/* A dns record's last column: "TYPE RCODE ANSWERS [ADDR,ADDR,+N]", the
 * query name being the row's HOSTNAME. */
static void dns_cell(json_t *j, char *out, size_t len)
{
    char tb[32], rb[32];
    json_t *addrs = json_object_get(j, "addrs");
    int n = snprintf(out, len, " %s %s %lld",
                     qtype_name(json_integer_value(json_object_get(j, "qtype")), tb, sizeof tb),
                     rcode_name(json_integer_value(json_object_get(j, "rcode")), rb, sizeof rb),
                     json_integer_value(json_object_get(j, "answers")));
    size_t total = json_array_size(addrs);
    for (size_t i = 0; i < total && n > 0 && (size_t)n < len; i++) {
        const char *sep = i ? "," : " ";
        if (i == DNS_ADDRS_SHOWN) {
            n += snprintf(out + n, len - (size_t)n, ",+%zu", total - i);
            break;
        }
        const char *a = json_string_value(json_array_get(addrs, i));
        n += snprintf(out + n, len - (size_t)n, "%s%s", sep, a ? a : "?");
    }
}

void ctl_flow_row(const char *line, const char *time_key)
{
    json_t *j = json_loads(line, 0, NULL);
    if (!j) {
        printf("%s\n", line);
        return;
    }
    time_t t = (time_t)(json_integer_value(json_object_get(j, time_key)) / 1000);
    struct tm tm;
    char when[16] = "-", g[64], d[64], rule[16];
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    endpoint(g, sizeof g, j, "guest");
    endpoint(d, sizeof d, j, "dst");
    long long r = json_integer_value(json_object_get(j, "rule"));
    snprintf(rule, sizeof rule, r < 0 ? "default" : "#%lld", r);
    const char *host = str(j, "hostname");
    if (*host == '-')
        host = str(j, "sni");
    char dns[160] = "";
    if (strcmp(str(j, "proto"), "dns") == 0)
        dns_cell(j, dns, sizeof dns);
    printf("%-8s %-4s %-9s %-7s %-22s %-26s %-28s %-14s %10lld %10lld%s\n", when, str(j, "proto"),
           str(j, "action"), rule, g, d, host, str(j, "end"),
           json_integer_value(json_object_get(j, "bytes_out")),
           json_integer_value(json_object_get(j, "bytes_in")), dns);
    json_decref(j);
}

static void print_batch(const struct ctl_opts *o, const Msbnet__V1__FlowRecordBatch *b,
                        uint64_t *dropped)
{
    for (size_t i = 0; i < b->n_records; i++) {
        if (o->json)
            printf("%s\n", b->records[i]);
        else
            ctl_flow_row(b->records[i], "closed_unix_ms");
    }
    if (b->dropped_records > *dropped)
        fprintf(stderr, "msbnetctl: flows: %llu records lost (this reader was behind)\n",
                (unsigned long long)(b->dropped_records - *dropped));
    *dropped = b->dropped_records;
    fflush(stdout);
}

static int stream(const struct ctl_opts *o, const Msbnet__V1__StreamFlowRecordsRequest *req,
                  bool follow)
{
    struct ctl_conn c;
    struct ctl_stream s;
    struct ctl_status st;
    if (ctl_open(&c, &o->ep))
        return EXIT_USAGE;
    uint32_t ms = follow ? (o->deadline_set ? o->deadline_ms : 0) : ONE_SHOT_MS;
    uint64_t dropped = 0;
    int rc = 0;
    if (!o->json)
        ctl_flow_header(true);
    if (ctl_stream_open(&c, &s, SVC "StreamFlowRecords", &req->base, ctl_deadline(ms)) == 0) {
        ProtobufCMessage *m;
        int r;
        while ((r = ctl_stream_next(&c, &s, &msbnet__v1__flow_record_batch__descriptor, &m))) {
            if (r < 0) {
                fprintf(stderr, "msbnetctl: flows: undecodable message\n");
                rc = EXIT_RPC;
                ctl_stream_cancel(&s);
                break;
            }
            print_batch(o, (const void *)m, &dropped);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    grpc_status_code code = ctl_stream_finish(&c, &s, &st);
    ctl_close(&c);
    if (rc)
        return rc;
    /* One shot: the stream's end by its own deadline is the normal end. */
    if (code == GRPC_STATUS_OK || (!follow && code == GRPC_STATUS_DEADLINE_EXCEEDED))
        return 0;
    return ctl_report("flows", &st);
}

int ctl_flows(const struct ctl_opts *o, int argc, char **argv)
{
    static const char *const text =
        "[--follow] [--denied | --action A] [--protocol P] [--hostname SUFFIX]\n"
        "  flow records as flows end or are refused (--follow: until interrupted; else\n"
        "  what arrives within 1.5 s); --json: one JSON record per line\n"
        "flows --live [--protocol tcp|udp|icmp]\n"
        "  the open flows now, with their counts so far (TIME: when each opened)";
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"denied", no_argument, NULL, 'd'},
                                         {"action", required_argument, NULL, 'a'},
                                         {"protocol", required_argument, NULL, 'p'},
                                         {"hostname", required_argument, NULL, 'n'},
                                         {"live", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Msbnet__V1__StreamFlowRecordsRequest req = MSBNET__V1__STREAM_FLOW_RECORDS_REQUEST__INIT;
    bool follow = false, live = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == 'f')
            follow = true;
        else if (ch == 'l')
            live = true;
        else if (ch == 'd')
            req.action = "denied";
        else if (ch == 'a')
            req.action = optarg; /* the daemon checks the values */
        else if (ch == 'p')
            req.protocol = optarg;
        else if (ch == 'n')
            req.hostname_suffix = optarg;
        else {
            fprintf(ch == 'h' ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] flows %s\n",
                    text);
            return ch == 'h' ? 0 : EXIT_USAGE;
        }
    }
    bool stream_only = follow || *req.action || *req.hostname_suffix;
    if (optind < argc || (live && stream_only)) {
        fprintf(stderr, "usage: msbnetctl [GLOBAL OPTIONS] flows %s\n", text);
        return EXIT_USAGE;
    }
    return live ? ctl_flows_live(o, req.protocol) : stream(o, &req, follow);
}
