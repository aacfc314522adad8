/* SPDX-License-Identifier: Apache-2.0 */
/* StreamFlowRecords' filter (server/flow_filter.c): action and "denied",
 * protocol, hostname suffix on label boundaries (hostname or SNI), and
 * lines that are not records. */
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "flow_filter.h"

#define REC(action, proto, host, sni)                                                         \
    "{\"v\":1,\"proto\":\"" proto "\",\"hostname\":\"" host "\",\"sni\":\"" sni               \
    "\",\"action\":\"" action "\",\"rule\":-1}"

static void test_action_and_protocol(void)
{
    const char *allow = REC("allow", "tcp", "a.test", "");
    const char *deny = REC("deny", "dns", "b.test", "");
    const char *refused = REC("refused", "udp", "", "");
    CU_ASSERT(msbd_flow_match(allow, "", "", ""));
    CU_ASSERT(msbd_flow_match(allow, "allow", "tcp", ""));
    CU_ASSERT_FALSE(msbd_flow_match(allow, "deny", "", ""));
    CU_ASSERT_FALSE(msbd_flow_match(allow, "", "udp", ""));
    CU_ASSERT_FALSE(msbd_flow_match(allow, "denied", "", ""));
    CU_ASSERT(msbd_flow_match(deny, "denied", "", ""));
    CU_ASSERT(msbd_flow_match(refused, "denied", "udp", ""));
    CU_ASSERT_FALSE(msbd_flow_match(refused, "deny", "", ""));
}

static void test_suffix(void)
{
    const char *r = REC("allow", "tcp", "api.Example.com", "");
    CU_ASSERT(msbd_flow_match(r, "", "", "example.com"));     /* case-insensitive */
    CU_ASSERT(msbd_flow_match(r, "", "", "api.example.com")); /* the name itself */
    CU_ASSERT(msbd_flow_match(r, "", "", ".example.com"));
    CU_ASSERT_FALSE(msbd_flow_match(r, "", "", "ample.com")); /* not a label boundary */
    CU_ASSERT_FALSE(msbd_flow_match(r, "", "", "x.api.example.com"));
    const char *sni_only = REC("deny", "tcp", "", "evil.test");
    CU_ASSERT(msbd_flow_match(sni_only, "", "", "evil.test"));
    const char *none = REC("deny", "tcp", "", "");
    CU_ASSERT_FALSE(msbd_flow_match(none, "", "", "test"));
}

static void test_not_records(void)
{
    CU_ASSERT(msbd_flow_match("not json", "", "", "")); /* no filter: passed on as is */
    CU_ASSERT_FALSE(msbd_flow_match("not json", "allow", "", ""));
    CU_ASSERT_FALSE(msbd_flow_match("{\"action\":1,\"proto\":\"tcp\"}", "allow", "", ""));
    CU_ASSERT_FALSE(msbd_flow_match("[]", "", "tcp", ""));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"action and protocol", test_action_and_protocol},
        {"hostname suffix", test_suffix},
        {"lines that are not records", test_not_records},
        {NULL, NULL},
    };
    return cunit_run("flow_filter", tests);
}
