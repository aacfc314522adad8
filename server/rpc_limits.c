/* SPDX-License-Identifier: Apache-2.0 */
/* GetLimits / SetLimits through the plugin's limits_json / set_limits (an
 * older plugin answers UNIMPLEMENTED). */
#include "rpc.h"

#include <stddef.h>

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

/* The limits in force as JSON (free with free_string); NULL when out of
 * memory, the call then finished. */
static char *current(struct msbd_call *c)
{
    const struct msbd_host *h = c->g->host;
    char *json = h->api->limits_json(h->net);
    if (!json)
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return json;
}

static bool has_limits_api(struct msbd_call *c)
{
    const struct msbnet_api_v1 *api = c->g->host->api;
    if (HAS_FIELD(api, set_limits) && HAS_FIELD(api, limits_json))
        return true;
    msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin has no rate limits");
    return false;
}

void msbd_rpc_get_limits(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    char *json = has_limits_api(c) ? current(c) : NULL;
    if (!json)
        return;
    Msbnet__V1__GetLimitsResponse r = MSBNET__V1__GET_LIMITS_RESPONSE__INIT;
    r.json = json;
    msbd_call_reply(c, &r.base);
    c->g->host->api->free_string(json);
}

void msbd_rpc_set_limits(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__SetLimitsRequest *r = (const Msbnet__V1__SetLimitsRequest *)req;
    const struct msbd_host *h = c->g->host;
    if (!has_limits_api(c))
        return;
    if (!r->json || !*r->json) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                         "json: empty (\"{}\" lifts every limit)");
        return;
    }
    char err[256] = "";
    int rc = h->api->set_limits(h->net, r->json, err, sizeof err);
    if (rc != MSBNET_OK) {
        msbd_call_finish(c, rc == MSBNET_EINVAL ? GRPC_STATUS_INVALID_ARGUMENT
                                                : GRPC_STATUS_RESOURCE_EXHAUSTED, err);
        return;
    }
    char *json = current(c);
    if (!json)
        return;
    Msbnet__V1__SetLimitsResponse resp = MSBNET__V1__SET_LIMITS_RESPONSE__INIT;
    resp.json = json;
    msbd_call_reply(c, &resp.base);
    h->api->free_string(json);
}
