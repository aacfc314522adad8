/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live flow table (flows_json, issue 15): another thread asks, the
 * stack thread answers.  The stack owns its flows, so the caller parks a
 * page request and wakes the stack (as set_policy does); the stack fills
 * it on its next proxy wake while holding the request's mutex, and the
 * caller waits at most MSB_FLOW_LIVE_WAIT_MS (a timeout withdraws the
 * request under that mutex: the stack never writes into a page the caller
 * has given up).  The work per call is bounded: the stack walks each
 * module's slots once (the caps) and copies at most MSB_FLOW_LIVE_MAX
 * records.
 */
#ifndef MSB_FLOW_LIVE_H
#define MSB_FLOW_LIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define MSB_FLOW_LIVE_MAX 1000     /* records per call; limit 0 asks for this many */
#define MSB_FLOW_LIVE_WAIT_MS 2000 /* how long a caller waits for the stack */

struct msbnet;
struct msb_stack;
struct msb_flow_page;

struct msb_flow_live {
    pthread_mutex_t callers; /* one request at a time */
    pthread_mutex_t mu;      /* req and done, between the caller and the stack */
    pthread_cond_t cv;
    struct msb_flow_page *req; /* parked, NULL when none */
    bool done;
};

/* 0, or -1 (nothing to destroy). */
int msb_flow_live_init(struct msb_flow_live *l);
void msb_flow_live_destroy(struct msb_flow_live *l);

/* Stack thread, on every proxy wake: answers a parked request. */
void msb_flow_live_serve(struct msb_flow_live *l, struct msb_stack *s);

/* {"total": N, "offset": O, "flows": [record, ...]} (malloc'd) with the
 * open flows offset .. offset+limit-1 (flow record objects, "end" "open",
 * "closed_unix_ms" 0, counts so far) of the protocol named (NULL or "":
 * every one; msb_flowrec_live_proto).  Returns the number of flows in it,
 * -1 when memory is short, -2 when the stack did not answer in time, -3
 * for an unknown protocol.  Any thread but the stack's. */
long msb_flow_live_json(struct msbnet *net, size_t offset, size_t limit, const char *protocol,
                        char **out);

#endif
