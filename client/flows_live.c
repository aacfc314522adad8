/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl flows --live: the open flows from ListFlows, every page of
 * them, as the records' table (TIME: when each flow opened) or as JSON
 * lines.  Pages are taken in turn, so a flow that opens or ends between
 * two pages may be missed or shown twice: a snapshot of a moving table. */
#include <stdio.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"
#define PAGE 1000     /* ListFlows' largest page */
#define MAX_PAGES 300 /* far past the plugin's flow caps: a bound, not a limit */

/* Prints one page; its number of flows, or -1 with the exit status in *rc. */
static long one_page(const struct ctl_opts *o, const char *protocol, uint32_t offset,
                     uint32_t *total, int *rc)
{
    Msbnet__V1__ListFlowsRequest req = MSBNET__V1__LIST_FLOWS_REQUEST__INIT;
    req.offset = offset;
    req.limit = PAGE;
    req.protocol = (char *)protocol;
    ProtobufCMessage *m = NULL;
    if ((*rc = ctl_call(o, "flows", SVC "ListFlows", &req.base,
                        &msbnet__v1__list_flows_response__descriptor, &m)))
        return -1;
    const Msbnet__V1__ListFlowsResponse *r = (const void *)m;
    for (size_t i = 0; i < r->n_flows; i++) {
        if (o->json)
            printf("%s\n", r->flows[i]);
        else
            ctl_flow_row(r->flows[i], "opened_unix_ms");
    }
    *total = r->total;
    long n = (long)r->n_flows;
    protobuf_c_message_free_unpacked(m, NULL);
    return n;
}

int ctl_flows_live(const struct ctl_opts *o, const char *protocol)
{
    uint32_t offset = 0, total = 0;
    int rc = 0;
    if (!o->json)
        ctl_flow_header(false); /* the live table holds no dns records */
    for (int page = 0; page < MAX_PAGES; page++) {
        long n = one_page(o, protocol, offset, &total, &rc);
        if (n < 0)
            return rc;
        offset += (uint32_t)n;
        if (n < PAGE || offset >= total)
            break;
    }
    fflush(stdout);
    return 0;
}
