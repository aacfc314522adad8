/* SPDX-License-Identifier: Apache-2.0 */
/* StreamFlowRecords: a subscription to the flow hub (flow_hub.h) with the
 * request's filters; the stream lasts until the client cancels or msbnetd
 * shuts down. */
#include "rpc.h"

#include <string.h>

#include "flow_hub.h"

static bool one_of(const char *s, const char *const *allowed)
{
    if (!*s)
        return true;
    for (; *allowed; allowed++)
        if (strcmp(s, *allowed) == 0)
            return true;
    return false;
}

void msbd_rpc_stream_flow_records(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__StreamFlowRecordsRequest *r = (const void *)req;
    static const char *const actions[] = {"allow", "deny", "terminate", "refused", "denied",
                                          NULL};
    static const char *const protos[] = {"tcp", "udp", "icmp", "dns", NULL};
    if (!one_of(r->action, actions)) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                         "action must be allow, deny, terminate, refused or denied");
        return;
    }
    if (!one_of(r->protocol, protos)) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "protocol must be tcp, udp, icmp or dns");
        return;
    }
    if (strlen(r->hostname_suffix) > 253) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "hostname_suffix: longer than a name");
        return;
    }
    if (!c->g->flows) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin keeps no flow records");
        return;
    }
    c->flow_sub = msbd_flow_sub_new(c->g->flows, c, r->action, r->protocol, r->hostname_suffix);
    if (!c->flow_sub) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    msbd_call_link(c);
}

void msbd_rpc_flow_records_sent(struct msbd_call *c, bool ok)
{
    if (c->flow_sub)
        msbd_flow_sub_sent(c->flow_sub, ok);
}
