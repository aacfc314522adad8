/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GetPolicy / SetPolicy, and the policy line of GetStatus, through the
 * plugin's policy_json / set_policy (appended to ABI v1 after
 * addresses_json; an older plugin answers UNIMPLEMENTED).
 */
#include "rpc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

#define MAX_WARNINGS 256 /* one per rule pair at most; far more than any real policy */

static bool has_policy_api(const struct msbnet_api_v1 *api)
{
    return HAS_FIELD(api, set_policy) && HAS_FIELD(api, policy_json);
}

void msbd_rpc_get_policy(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    const struct msbd_host *h = c->g->host;
    if (!has_policy_api(h->api)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin cannot report its policy");
        return;
    }
    char *json = h->api->policy_json(h->net);
    if (!json) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Msbnet__V1__GetPolicyResponse r = MSBNET__V1__GET_POLICY_RESPONSE__INIT;
    r.json = json;
    msbd_call_reply(c, &r.base);
    h->api->free_string(json);
}

/* The plugin tells JSON from tokens by the first non-space character; the
 * request says which one it means, so a mismatch is the caller's mistake
 * and is named rather than parsed as the other kind. */
static const char *kind_mismatch(const Msbnet__V1__SetPolicyRequest *r)
{
    const char *s = r->policy_case == MSBNET__V1__SET_POLICY_REQUEST__POLICY_JSON ? r->json
                                                                                   : r->rules;
    s += strspn(s, " \t\r\n");
    bool object = *s == '{';
    if (r->policy_case == MSBNET__V1__SET_POLICY_REQUEST__POLICY_JSON && !object)
        return "json: expected a JSON policy object";
    if (r->policy_case == MSBNET__V1__SET_POLICY_REQUEST__POLICY_RULES && object)
        return "rules: expected rule tokens (a JSON object goes in the json field)";
    if (r->policy_case == MSBNET__V1__SET_POLICY_REQUEST__POLICY_RULES && !*s)
        return "rules: empty";
    return NULL;
}

/* Warnings point into `arr`, which outlives the packing of the reply. */
static void reply_warnings(struct msbd_call *c, json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n > MAX_WARNINGS)
        n = MAX_WARNINGS;
    char **w = n ? calloc(n, sizeof *w) : NULL;
    if (n && !w) {
        /* The policy is in place; only the warnings are lost. */
        n = 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s)
            w[k++] = (char *)s;
    }
    Msbnet__V1__SetPolicyResponse r = MSBNET__V1__SET_POLICY_RESPONSE__INIT;
    r.n_warnings = k;
    r.warnings = w;
    msbd_call_reply(c, &r.base);
    free(w);
}

void msbd_rpc_set_policy(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__SetPolicyRequest *r = (const void *)req;
    const struct msbd_host *h = c->g->host;
    if (r->policy_case != MSBNET__V1__SET_POLICY_REQUEST__POLICY_JSON &&
        r->policy_case != MSBNET__V1__SET_POLICY_REQUEST__POLICY_RULES) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "set json or rules");
        return;
    }
    const char *mismatch = kind_mismatch(r);
    if (mismatch) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, mismatch);
        return;
    }
    if (!has_policy_api(h->api)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin cannot replace its policy");
        return;
    }
    char err[512] = "", *warnings = NULL;
    const char *text = r->policy_case == MSBNET__V1__SET_POLICY_REQUEST__POLICY_JSON ? r->json
                                                                                      : r->rules;
    int rc = h->api->set_policy(h->net, text, &warnings, err, sizeof err);
    if (rc != MSBNET_OK) {
        h->api->free_string(warnings);
        msbd_call_finish(c, rc == MSBNET_EINVAL ? GRPC_STATUS_INVALID_ARGUMENT
                            : rc == MSBNET_ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED
                                                  : GRPC_STATUS_INTERNAL,
                         *err ? err : "set_policy failed");
        return;
    }
    json_t *arr = warnings ? json_loads(warnings, 0, NULL) : NULL;
    h->api->free_string(warnings);
    reply_warnings(c, arr);
    json_decref(arr);
}

char *msbd_policy_summary(const struct msbd_host *h)
{
    if (!has_policy_api(h->api))
        return NULL;
    char *json = h->api->policy_json(h->net);
    json_t *p = json ? json_loads(json, 0, NULL) : NULL;
    h->api->free_string(json);
    if (!p)
        return NULL;
    const char *eg = json_string_value(json_object_get(p, "default_egress"));
    const char *in = json_string_value(json_object_get(p, "default_ingress"));
    char buf[128];
    snprintf(buf, sizeof buf, "%zu rules, default egress %.16s, default ingress %.16s",
             json_array_size(json_object_get(p, "rules")), eg ? eg : "?", in ? in : "?");
    json_decref(p);
    return strdup(buf);
}
