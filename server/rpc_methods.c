/* SPDX-License-Identifier: Apache-2.0 */
/* Method paths of msbnet.v1.NetworkControl (protoc-c generates messages
 * only, so the paths are written out here) and their handlers. */
#include "rpc.h"

#define SVC "/msbnet.v1.NetworkControl/"

static const struct msbd_method methods[] = {
    {SVC "SetGateways", &msbnet__v1__set_gateways_request__descriptor, msbd_rpc_set_gateways,
     NULL},
    {SVC "QueryResolvedHostnames", &msbnet__v1__query_resolved_hostnames_request__descriptor,
     msbd_rpc_query_hostnames, NULL},
    {SVC "GetStatus", &msbnet__v1__get_status_request__descriptor, msbd_rpc_get_status, NULL},
    {SVC "StreamMetrics", &msbnet__v1__stream_metrics_request__descriptor,
     msbd_rpc_stream_metrics, msbd_rpc_metrics_sent},
    {SVC "InstallTerminationCallback",
     &msbnet__v1__install_termination_callback_request__descriptor,
     msbd_rpc_install_termination, msbd_rpc_termination_sent},
    {SVC "GetPolicy", &msbnet__v1__get_policy_request__descriptor, msbd_rpc_get_policy, NULL},
    {SVC "SetPolicy", &msbnet__v1__set_policy_request__descriptor, msbd_rpc_set_policy, NULL},
    {SVC "GetCaCertificate", &msbnet__v1__get_ca_certificate_request__descriptor,
     msbd_rpc_get_ca_certificate, NULL},
    {SVC "ListSecrets", &msbnet__v1__list_secrets_request__descriptor, msbd_rpc_list_secrets,
     NULL},
    {SVC "GetLimits", &msbnet__v1__get_limits_request__descriptor, msbd_rpc_get_limits, NULL},
    {SVC "SetLimits", &msbnet__v1__set_limits_request__descriptor, msbd_rpc_set_limits, NULL},
    {SVC "PublishPort", &msbnet__v1__publish_port_request__descriptor, msbd_rpc_publish_port,
     NULL},
    {SVC "UnpublishPort", &msbnet__v1__unpublish_port_request__descriptor,
     msbd_rpc_unpublish_port, NULL},
    {SVC "ListPublishedPorts", &msbnet__v1__list_published_ports_request__descriptor,
     msbd_rpc_list_published_ports, NULL},
    {SVC "StreamFlowRecords", &msbnet__v1__stream_flow_records_request__descriptor,
     msbd_rpc_stream_flow_records, msbd_rpc_flow_records_sent},
    {SVC "ListFlows", &msbnet__v1__list_flows_request__descriptor, msbd_rpc_list_flows, NULL},
    {SVC "SetSecrets", &msbnet__v1__set_secrets_request__descriptor, msbd_rpc_set_secrets, NULL},
};

const struct msbd_method *msbd_method_find(grpc_slice path)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (grpc_slice_str_cmp(path, methods[i].path) == 0)
            return &methods[i];
    return NULL;
}
