/* SPDX-License-Identifier: Apache-2.0 */
/* The NetworkControl handlers (rpc_unary.c, rpc_streams.c). */
#ifndef MSBD_RPC_H
#define MSBD_RPC_H

#include "grpc_call.h"
#include "msbnet/v1/control.pb-c.h"

void msbd_rpc_set_gateways(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_query_hostnames(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_get_status(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_get_policy(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_set_policy(struct msbd_call *c, const ProtobufCMessage *req);
/* "N rules, default egress X, default ingress Y" (free()), NULL when the
 * plugin cannot report its policy. */
char *msbd_policy_summary(const struct msbd_host *h);
/* rpc_tls.c */
void msbd_rpc_get_ca_certificate(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_list_secrets(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_set_secrets(struct msbd_call *c, const ProtobufCMessage *req);
/* rpc_limits.c */
void msbd_rpc_get_limits(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_set_limits(struct msbd_call *c, const ProtobufCMessage *req);
/* rpc_publish.c */
void msbd_rpc_publish_port(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_unpublish_port(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_list_published_ports(struct msbd_call *c, const ProtobufCMessage *req);
/* rpc_flows.c */
void msbd_rpc_stream_flow_records(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_flow_records_sent(struct msbd_call *c, bool ok);
/* rpc_list_flows.c */
void msbd_rpc_list_flows(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_stream_metrics(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_metrics_sent(struct msbd_call *c, bool ok);
void msbd_rpc_install_termination(struct msbd_call *c, const ProtobufCMessage *req);
void msbd_rpc_termination_sent(struct msbd_call *c, bool ok);

#endif
