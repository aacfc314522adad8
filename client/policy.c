/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl policy get | set: the daemon's policy, read and replaced. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"
/* msbnetd reads requests of at most 64 KiB; leave room for the framing. */
#define POLICY_MAX_BYTES (64 * 1024 - 64)

static const char *const usage_text =
    "policy get\n"
    "       msbnetctl [GLOBAL OPTIONS] policy set (FILE | - | --rules TOKEN[,TOKEN...])\n"
    "\n"
    "  get                 print the policy in force (JSON)\n"
    "  set FILE | -        replace it with a JSON policy object from FILE or stdin\n"
    "  set --rules TOKENS  replace it with rule tokens\n"
    "                      <action>[:<direction>]@<target>[:<proto>[:<ports>]], comma\n"
    "                      separated or --rules repeated; token lists get default egress\n"
    "                      deny, so add allow@host:udp:53 to keep DNS\n"
    "  Shadowed-rule warnings are printed on stderr (in \"warnings\" with --json).\n";

static int usage(bool help)
{
    fprintf(help ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] %s", usage_text);
    return help ? 0 : EXIT_USAGE;
}

static int policy_get(const struct ctl_opts *o)
{
    Msbnet__V1__GetPolicyRequest req = MSBNET__V1__GET_POLICY_REQUEST__INIT;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "policy get", SVC "GetPolicy", &req.base,
                      &msbnet__v1__get_policy_response__descriptor, &resp);
    if (rc)
        return rc;
    const Msbnet__V1__GetPolicyResponse *r = (const void *)resp;
    json_t *j = json_loads(r->json, 0, NULL);
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | (o->json ? JSON_COMPACT : JSON_INDENT(2)))
                : NULL;
    printf("%s\n", s ? s : r->json);
    free(s);
    json_decref(j);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static void print_set_result(const struct ctl_opts *o, const Msbnet__V1__SetPolicyResponse *r)
{
    if (o->json) {
        json_t *w = json_array();
        for (size_t i = 0; i < r->n_warnings; i++)
            json_array_append_new(w, json_string(r->warnings[i]));
        json_t *j = json_pack("{s:o}", "warnings", w);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
        return;
    }
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(stderr, "msbnetctl: policy set: warning: %s\n", r->warnings[i]);
    printf("ok\n");
}

/* --rules may repeat; the pieces are joined with commas. */
static int append_rules(char **rules, const char *more)
{
    size_t have = *rules ? strlen(*rules) : 0, add = strlen(more);
    if (have + add + 2 > POLICY_MAX_BYTES) {
        fprintf(stderr, "msbnetctl: policy set: rules longer than %d bytes\n", POLICY_MAX_BYTES);
        return EXIT_USAGE;
    }
    char *n = realloc(*rules, have + add + 2);
    if (!n)
        return EXIT_USAGE;
    if (have)
        n[have++] = ',';
    memcpy(n + have, more, add + 1);
    *rules = n;
    return 0;
}

static int policy_set(const struct ctl_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    char *rules = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int rc = ch == 'r' ? append_rules(&rules, optarg) : -1;
        if (rc) {
            free(rules);
            return rc > 0 ? rc : usage(ch == 'h');
        }
    }
    if ((rules != NULL) == (optind < argc) || argc - optind > 1) {
        free(rules);
        fprintf(stderr, "msbnetctl: policy set: give one FILE (or -) or --rules\n");
        return usage(false);
    }
    Msbnet__V1__SetPolicyRequest req = MSBNET__V1__SET_POLICY_REQUEST__INIT;
    char *text = rules ? rules : ctl_read_file(argv[optind], POLICY_MAX_BYTES);
    if (!text)
        return EXIT_USAGE;
    if (rules) {
        req.policy_case = MSBNET__V1__SET_POLICY_REQUEST__POLICY_RULES;
        req.rules = text;
    } else {
        req.policy_case = MSBNET__V1__SET_POLICY_REQUEST__POLICY_JSON;
        req.json = text;
    }
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "policy set", SVC "SetPolicy", &req.base,
                      &msbnet__v1__set_policy_response__descriptor, &resp);
    free(text);
    if (rc)
        return rc;
    print_set_result(o, (const void *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int ctl_policy(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return usage(false);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return usage(true);
    if (strcmp(argv[1], "get") == 0) {
        if (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0))
            return usage(true);
        return argc == 2 ? policy_get(o) : usage(false);
    }
    if (strcmp(argv[1], "set") == 0)
        return policy_set(o, argc - 1, argv + 1);
    fprintf(stderr, "msbnetctl: policy: unknown subcommand \"%s\"\n", argv[1]);
    return usage(false);
}
