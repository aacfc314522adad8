/* SPDX-License-Identifier: Apache-2.0 */
/* Draining flow records and their counters (flow_drain.h). */
#include "api/flow_drain.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/instance.h"
#include "lib/flow_records.h"

long msb_flow_records_drain(struct msbnet *net, size_t max, char **out)
{
    *out = NULL;
    if (max == 0 || max > MSB_FLOWREC_CAP)
        max = MSB_FLOWREC_CAP;
    size_t waiting = msb_read_size(&net->flows.head) - msb_read_size(&net->flows.tail);
    if (max > waiting)
        max = waiting; /* more may arrive meanwhile: they wait for the next call */
    /* Lines are short in practice; grow rather than reserve the worst case. */
    size_t cap = max * 400 + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    static _Thread_local char line[MSB_FLOWREC_JSON_MAX];
    long n = 0;
    struct msb_flowrec r;
    while ((size_t)n < max && msb_flowrec_pop(&net->flows, &r)) {
        size_t len = msb_flowrec_json(&r, line, sizeof line);
        if (used + len + 2 > cap) {
            size_t ncap = (used + len + 2) * 2;
            char *nb = realloc(buf, ncap);
            if (!nb)
                break; /* the record is lost; what was taken is returned */
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + used, line, len);
        used += len;
        buf[used++] = '\n';
        n++;
    }
    buf[used] = '\0';
    *out = buf;
    return n;
}

json_t *msb_flow_records_section(struct msbnet *net)
{
    struct msb_flowrec_log *l = &net->flows;
    json_t *o = json_object(), *by = json_object();
    json_object_set_new(o, "dropped", json_integer((json_int_t)atomic_load(&l->dropped)));
    json_object_set_new(o, "pending", json_integer((json_int_t)(msb_read_size(&l->head) -
                                                                msb_read_size(&l->tail))));
    for (unsigned a = 0; a < MSB_FR__ACTIONS; a++) {
        json_t *p = json_object();
        for (unsigned k = 0; k < MSB_FR__PROTOS; k++)
            json_object_set_new(p, msb_flowrec_proto_name(k),
                                json_integer((json_int_t)atomic_load(&l->by_action_proto[a][k])));
        json_object_set_new(by, msb_flowrec_action_name(a), p);
    }
    json_object_set_new(o, "by_action", by);
    return o;
}
