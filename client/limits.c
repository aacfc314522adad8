/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl limits [get | set SPEC... | clear]: the rate limits in force,
 * or a new set of them (GetLimits / SetLimits). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "limit_spec.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"

static const char *const kinds[] = {"egress", "ingress", "connections", "dns_queries"};

static int usage(FILE *out, int status)
{
    fputs("usage: msbnetctl [GLOBAL OPTIONS] limits [get]\n"
          "       msbnetctl [GLOBAL OPTIONS] limits set (KIND=RATE[/BURST]... | JSON)\n"
          "       msbnetctl [GLOBAL OPTIONS] limits clear\n"
          "  KIND: egress, ingress (bytes/s: 50mbit, 2MiB, 1000000), connections,\n"
          "  dns_queries (per second).  set replaces every kind: one left out is\n"
          "  unlimited; clear lifts them all.\n",
          out);
    return status;
}

/* One line per kind: its rate and burst, or "unlimited". */
static void print_table(const char *json)
{
    json_t *root = json_loads(json, 0, NULL);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        json_t *k = json_object_get(root, kinds[i]);
        const char *unit = i < 2 ? " bytes" : "";
        if (!k)
            printf("%-12s unlimited\n", kinds[i]);
        else
            printf("%-12s %" JSON_INTEGER_FORMAT "%s/s, burst %" JSON_INTEGER_FORMAT "%s\n",
                   kinds[i], json_integer_value(json_object_get(k, "rate")), unit,
                   json_integer_value(json_object_get(k, "burst")), unit);
    }
    json_decref(root);
}

static void print_limits(const struct ctl_opts *o, const char *json)
{
    if (o->json)
        ctl_print_json(json_loads(json, 0, NULL));
    else
        print_table(json);
}

static int get(const struct ctl_opts *o)
{
    Msbnet__V1__GetLimitsRequest req = MSBNET__V1__GET_LIMITS_REQUEST__INIT;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "limits", SVC "GetLimits", &req.base,
                      &msbnet__v1__get_limits_response__descriptor, &resp);
    if (rc)
        return rc;
    print_limits(o, ((const Msbnet__V1__GetLimitsResponse *)resp)->json);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int set(const struct ctl_opts *o, const char *json)
{
    Msbnet__V1__SetLimitsRequest req = MSBNET__V1__SET_LIMITS_REQUEST__INIT;
    req.json = (char *)json;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "limits", SVC "SetLimits", &req.base,
                      &msbnet__v1__set_limits_response__descriptor, &resp);
    if (rc)
        return rc;
    print_limits(o, ((const Msbnet__V1__SetLimitsResponse *)resp)->json);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* SPEC tokens, or one JSON object given as is (the daemon checks it). */
static int set_specs(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 1)
        return usage(stderr, EXIT_USAGE);
    if (argc == 1 && argv[0][0] == '{')
        return set(o, argv[0]);
    json_t *limits = json_object();
    char err[256];
    for (int i = 0; i < argc; i++) {
        if (msbd_limit_spec_add(limits, argv[i], err, sizeof err)) {
            fprintf(stderr, "msbnetctl: limits set: %s\n", err);
            json_decref(limits);
            return EXIT_USAGE;
        }
    }
    char *json = json_dumps(limits, JSON_COMPACT);
    json_decref(limits);
    int rc = json ? set(o, json) : EXIT_RPC;
    free(json);
    return rc;
}

int ctl_limits(const struct ctl_opts *o, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "get";
    if (!strcmp(verb, "-h") || !strcmp(verb, "--help"))
        return usage(stdout, 0);
    if (!strcmp(verb, "get") && argc <= 2)
        return get(o);
    if (!strcmp(verb, "clear") && argc == 2)
        return set(o, "{}");
    if (!strcmp(verb, "set"))
        return set_specs(o, argc - 2, argv + 2);
    return usage(stderr, EXIT_USAGE);
}
