/* SPDX-License-Identifier: Apache-2.0 */
/* The live flow table (flow_live.h): a page parked for the stack thread. */
#include "api/flow_live.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/instance.h"
#include "lib/flow_records.h"
#include "proto/flow_emit.h"
#include "stack/stack.h"

int msb_flow_live_init(struct msb_flow_live *l)
{
    memset(l, 0, sizeof *l);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca))
        return -1;
    int bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (bad)
        return -1;
    if (pthread_mutex_init(&l->mu, NULL)) {
        pthread_cond_destroy(&l->cv);
        return -1;
    }
    if (pthread_mutex_init(&l->callers, NULL)) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        return -1;
    }
    return 0;
}

void msb_flow_live_destroy(struct msb_flow_live *l)
{
    pthread_mutex_destroy(&l->callers);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

void msb_flow_live_serve(struct msb_flow_live *l, struct msb_stack *s)
{
    pthread_mutex_lock(&l->mu);
    if (l->req) {
        msb_stack_live(s, l->req);
        l->req = NULL;
        l->done = true;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
}

/* Parks pg, wakes the stack, waits; false when it did not answer. */
static bool ask_stack(struct msbnet *net, struct msb_flow_page *pg)
{
    struct msb_flow_live *l = &net->live;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += MSB_FLOW_LIVE_WAIT_MS / 1000;
    pthread_mutex_lock(&l->mu);
    l->req = pg;
    l->done = false;
    msb_wake_signal(&net->proxy_wake);
    int rc = 0;
    while (!l->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cv, &l->mu, &until);
    bool ok = l->done;
    l->req = NULL; /* withdrawn: the stack no longer sees pg */
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* The page as JSON; NULL when memory is short. */
static char *page_json(const struct msb_flow_page *pg)
{
    size_t cap = 64 + (size_t)pg->n * (MSB_FLOWREC_JSON_MAX + 1), len;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    len = (size_t)snprintf(s, cap, "{\"total\":%u,\"offset\":%u,\"flows\":[", pg->total,
                           pg->offset);
    for (uint32_t i = 0; i < pg->n; i++) {
        if (i)
            s[len++] = ',';
        len += msb_flowrec_json(&pg->out[i], s + len, cap - len);
    }
    snprintf(s + len, cap - len, "]}");
    return s;
}

long msb_flow_live_json(struct msbnet *net, size_t offset, size_t limit, const char *protocol,
                        char **out)
{
    *out = NULL;
    int proto = msb_flowrec_live_proto(protocol);
    if (proto < 0)
        return -3;
    if (!limit || limit > MSB_FLOW_LIVE_MAX)
        limit = MSB_FLOW_LIVE_MAX;
    struct msb_flow_page pg = {.offset = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset,
                               .limit = (uint32_t)limit,
                               .filtered = proto != MSB_FR__PROTOS,
                               .proto = (uint8_t)proto};
    if (!(pg.out = calloc(limit, sizeof *pg.out)))
        return -1;
    bool answered = true;
    pthread_mutex_lock(&net->live.callers);
    pthread_mutex_lock(&net->life); /* no stop while the stack works for us */
    if (net->stack)
        answered = ask_stack(net, &pg);
    pthread_mutex_unlock(&net->life);
    pthread_mutex_unlock(&net->live.callers);
    if (answered)
        *out = page_json(&pg);
    long n = pg.n;
    free(pg.out);
    return !answered ? -2 : *out ? n : -1;
}
