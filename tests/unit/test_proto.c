/* SPDX-License-Identifier: Apache-2.0 */
/* The generated protobuf-c code for control.proto packs and unpacks what
 * the control plane will send, and refuses truncated input. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "msbnet/v1/control.pb-c.h"

static void test_query_roundtrip(void)
{
    Msbnet__V1__QueryResolvedHostnamesRequest req = MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__INIT;
    req.selector_case = MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ADDRESS;
    req.address = "198.18.0.1";
    req.limit = 50;
    req.offset = 100;
    size_t len = msbnet__v1__query_resolved_hostnames_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    CU_ASSERT_EQUAL(msbnet__v1__query_resolved_hostnames_request__pack(&req, buf), len);

    Msbnet__V1__QueryResolvedHostnamesRequest *back =
        msbnet__v1__query_resolved_hostnames_request__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(back->selector_case,
                    MSBNET__V1__QUERY_RESOLVED_HOSTNAMES_REQUEST__SELECTOR_ADDRESS);
    CU_ASSERT_STRING_EQUAL(back->address, "198.18.0.1");
    CU_ASSERT_EQUAL(back->limit, 50);
    CU_ASSERT_EQUAL(back->offset, 100);
    msbnet__v1__query_resolved_hostnames_request__free_unpacked(back, NULL);

    /* A cut inside the first field (tag, length, string bytes) is malformed
     * and must be refused; cuts at field boundaries are valid messages. */
    for (size_t cut = 1; cut < 2 + strlen(req.address); cut++)
        CU_ASSERT_PTR_NULL(msbnet__v1__query_resolved_hostnames_request__unpack(NULL, cut, buf));
    free(buf);
}

static void test_service_descriptor(void)
{
    const ProtobufCServiceDescriptor *d = &msbnet__v1__network_control__descriptor;
    CU_ASSERT_STRING_EQUAL(d->name, "msbnet.v1.NetworkControl");
    CU_ASSERT_EQUAL(d->n_methods, 17);
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "SetGateways"));
    CU_ASSERT_PTR_NOT_NULL(
        protobuf_c_service_descriptor_get_method_by_name(d, "InstallTerminationCallback"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "GetCaCertificate"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "ListSecrets"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "GetLimits"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "SetLimits"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "PublishPort"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "UnpublishPort"));
    CU_ASSERT_PTR_NOT_NULL(
        protobuf_c_service_descriptor_get_method_by_name(d, "ListPublishedPorts"));
    CU_ASSERT_PTR_NOT_NULL(
        protobuf_c_service_descriptor_get_method_by_name(d, "StreamFlowRecords"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "ListFlows"));
    CU_ASSERT_PTR_NOT_NULL(protobuf_c_service_descriptor_get_method_by_name(d, "SetSecrets"));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"query_request_roundtrip", test_query_roundtrip},
        {"service_descriptor", test_service_descriptor},
        {NULL, NULL},
    };
    return cunit_run("proto", tests);
}
