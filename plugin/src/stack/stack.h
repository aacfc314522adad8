/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stack thread: one libevent loop per instance that drains guest
 * frames, answers the link layer, hands TCP to lwIP and runs every proxy
 * task.  Everything in here is touched only from that thread, except
 * `stop` and what the owner (api/instance.c) already makes thread-safe.
 *
 * The stack sits between the protocols (proto/, below it) and the instance
 * that owns it (api/, above it).  Protocols see it through struct msb_env,
 * which the stack embeds; the stack reaches its owner only through the
 * struct msb_stack_owner the owner fills in at start.
 */
#ifndef MSB_STACK_H
#define MSB_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lib/frame.h"
#include "lib/localnet.h"
#include "lib/ring.h"
#include "lib/wake.h"
#include "proto/env.h"

struct event;
struct msb_stack;
struct msb_tcp;
struct msb_udp;
struct msb_icmp;
struct msb_dns;
struct msb_udp_in;
struct msb_reasm;

/* What the stack borrows from its owner, and the owner's part of the work.
 * Every callback runs on the stack thread with ctx as its first argument. */
struct msb_stack_owner {
    void *ctx;
    const struct msb_config *cfg;
    const struct msb_addrs *addrs;
    struct msb_metrics *metrics;
    struct msb_gateways *gw;
    struct msb_hidx *hidx;
    struct msb_flowrec_log *flows; /* flow records (lib/flow_records.h) */
    struct msb_hook *hook;
    atomic_bool *terminated;
    struct msb_policy *const *policy;
    struct msb_tls_ctx *tls;                     /* NULL: no interception */
    const struct msb_tls_settings *tls_settings;
    atomic_uint_fast64_t *secret_substitutions, *secret_violations; /* MSB_SECRETS_MAX each */
    struct msb_ring *tx;             /* guest frames pushed by the VMM */
    struct msb_wake *tx_wake;        /* "tx has frames" */
    struct msb_wake *proxy_wake;     /* commands, rx room, stop */
    /* A policy parked by another thread is swapped in; true when it was
     * (the stack then re-checks its open flows). */
    bool (*take_policy)(void *ctx);
    /* Rate limits set by another thread into *out (always at start); true
     * when *out was written (the stack then refills its buckets' rates). */
    bool (*take_limits)(void *ctx, struct msb_limits *out, bool always);
    /* Start (before the thread runs) and stop (after it is joined): the
     * owner's frame descriptors and published ports join or leave s. */
    int (*attach)(void *ctx, struct msb_stack *s);
    void (*detach)(void *ctx, struct msb_stack *s);
    /* Every proxy wake: published ports added or removed. */
    void (*sync)(void *ctx, struct msb_stack *s);
    /* msb_env_emit and msb_env_rx_room, past the TCP coalescer. */
    bool (*emit)(void *ctx, struct msb_frame *f);
    bool (*rx_room)(void *ctx, size_t frames);
};

struct msb_stack {
    struct msb_env env;              /* the protocols' view (proto/env.h) */
    struct msb_stack_owner own;
    struct event *tx_ev, *proxy_ev, *maint_ev, *local_ev;
    struct msb_localnet local;       /* what the kernel delivers locally (env.local) */
    pthread_t thread;
    atomic_bool stop;
    bool attached;                   /* own.attach ran: own.detach undoes it */
    struct msb_tcp *tcp;
    struct msb_udp *udp;
    struct msb_icmp *icmp;
    struct msb_dns *dns;
    struct msb_udp_in *udpin;        /* published UDP ports' sessions */
    struct msb_reasm *reasm;         /* guest fragments; NULL when reassembly is off */
    uint64_t activity;               /* guest frames handled: the busy-poll window restarts on each */
};

/* Creates the stack (lwIP included) and starts its thread.  One per
 * process: lwIP is a singleton.  NULL with a reason in err on failure. */
struct msb_stack *msb_stack_start(const struct msb_stack_owner *own, char *err, size_t errlen);

/* Stops the thread, closes every flow, frees everything.  NULL ignored. */
void msb_stack_stop(struct msb_stack *s);

/* The live flow table (issue 15): every module's open flows into pg
 * (proto/flow_emit.h), TCP, UDP, published UDP, ICMP in that order.  Stack
 * thread only. */
struct msb_flow_page;
void msb_stack_live(struct msb_stack *s, struct msb_flow_page *pg);

/* Stack thread: one guest frame (still the caller's), as if popped from
 * tx; then msb_stack_batch_end once the batch is done (flushes TCP). */
void msb_stack_input(struct msb_stack *s, struct msb_frame *f);
void msb_stack_batch_end(struct msb_stack *s);

/* Stack thread: the TCP segment being coalesced goes out now (before a
 * frame of another origin, e.g. a published port's event handler). */
void msb_stack_flush(struct msb_stack *s);

#endif
