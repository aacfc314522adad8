/* SPDX-License-Identifier: Apache-2.0 */
/* ListFlows: a page of the live flow table over the plugin's flows_json,
 * each flow the JSON record StreamFlowRecords sends (end "open").  The
 * plugin answers from its stack thread within 2 s; this loop waits that
 * long at most (a page is at most 1000 flows). */
#include "rpc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

#define LIST_FLOWS_MAX 1000 /* flows_json's own bound */

/* The request's faults as INVALID_ARGUMENT; true when it is sound. */
static bool request_ok(struct msbd_call *c, const Msbnet__V1__ListFlowsRequest *r)
{
    static const char *const protos[] = {"", "tcp", "udp", "icmp"};
    if (r->limit < 1 || r->limit > LIST_FLOWS_MAX) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "limit must be 1..1000");
        return false;
    }
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        if (strcmp(r->protocol, protos[i]) == 0)
            return true;
    msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                     "protocol must be tcp, udp, icmp or empty (every one)");
    return false;
}

/* Each flow object re-encoded as one compact JSON string (order kept). */
static void reply_page(struct msbd_call *c, json_t *page)
{
    json_t *flows = json_object_get(page, "flows");
    size_t n = json_array_size(flows), i;
    char **texts = calloc(n ? n : 1, sizeof *texts);
    bool ok = texts != NULL;
    for (i = 0; ok && i < n; i++)
        ok = (texts[i] = json_dumps(json_array_get(flows, i),
                                    JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL;
    if (!ok || !json_is_array(flows)) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        Msbnet__V1__ListFlowsResponse resp = MSBNET__V1__LIST_FLOWS_RESPONSE__INIT;
        resp.n_flows = n;
        resp.flows = texts;
        resp.total = (uint32_t)json_integer_value(json_object_get(page, "total"));
        resp.offset = (uint32_t)json_integer_value(json_object_get(page, "offset"));
        msbd_call_reply(c, &resp.base);
    }
    for (i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
}

void msbd_rpc_list_flows(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__ListFlowsRequest *r = (const void *)req;
    const struct msbd_host *h = c->g->host;
    if (!request_ok(c, r))
        return;
    if (!HAS_FIELD(h->api, flows_json)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin has no live flow table");
        return;
    }
    char *text = NULL;
    long n = h->api->flows_json(h->net, r->offset, r->limit, r->protocol, &text);
    json_t *page = n >= 0 && text ? json_loads(text, 0, NULL) : NULL;
    h->api->free_string(text);
    if (n == MSBNET_ESTATE)
        msbd_call_finish(c, GRPC_STATUS_UNAVAILABLE, "the stack did not answer within 2 s");
    else if (n == MSBNET_EINVAL)
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "the plugin refused the request");
    else if (!json_is_object(page))
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        reply_page(c, page);
    json_decref(page);
}
