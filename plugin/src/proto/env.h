/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one boundary between the protocol modules and the stack that runs
 * them: what a protocol may read (settings, addresses, counters, the
 * policy in force, the hostname index) and the three calls it makes to send
 * frames to the guest.  The stack (stack/stack.c) embeds a struct msb_env
 * and implements the calls directly, so they cost no indirection; a unit
 * test implements them itself and runs a protocol without a stack thread.
 * Everything here is used on the stack thread only.
 */
#ifndef MSB_PROTO_ENV_H
#define MSB_PROTO_ENV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/flow_records.h"
#include "lib/frame.h"
#include "lib/gateway.h"
#include "lib/hook.h"
#include "lib/hostindex.h"
#include "lib/localnet.h"
#include "lib/metrics.h"
#include "model/addressing.h"
#include "model/config.h"
#include "proto/limits.h"
#include "proto/ndp_ra.h"

struct event_base;
struct msb_policy;
struct msb_tls_ctx;
struct msb_tls_settings;

struct msb_env {
    struct event_base *base;        /* host sockets and timers of every flow */
    const struct msb_config *cfg;
    struct msb_addrs addrs;         /* guest_mac is learned once (guest_mac_learned) */
    bool guest_mac_learned;
    struct msb_metrics *metrics;
    struct msb_gateways *gw;
    struct msb_hidx *hidx;
    struct msb_localnet *local;     /* what this namespace's kernel delivers to itself */
    struct msb_hook *hook;
    atomic_bool *terminated;        /* the termination hook fired (once per instance) */
    /* The policy in force.  Swapped only on this thread, between frames,
     * so protocols read *policy without a lock. */
    struct msb_policy *const *policy;
    struct msb_ra_state ra;         /* router advertisements (ndp_ra.h) */
    struct msb_limiter limiter;     /* rate limits (limits.h); zeroed: none */
    /* TLS interception (tls/tls_relay.h): the engine's context and the
     * "tls" settings (ports, bypass), NULL when interception is off; the
     * owner's per-secret counters the flows add to. */
    struct msb_tls_ctx *tls;
    const struct msb_tls_settings *tls_settings;
    atomic_uint_fast64_t *secret_substitutions, *secret_violations;
    /* Flow records (issue 15; flow_emit.h): NULL when nobody collects
     * them.  verdict is the last decision msb_policy_allow made, for the
     * module that opens the flow to keep in its record. */
    struct msb_flowrec_log *flows;
    struct {
        int32_t rule;
        uint8_t action; /* enum msb_flowrec_action */
    } verdict;
};

/* A frame for the guest carrying an IP packet of l3_len bytes: the
 * Ethernet header (gateway -> guest) is written, the packet goes at
 * frame->data + MSB_ETH_HLEN.  NULL when out of memory (counted). */
struct msb_frame *msb_env_ip_frame(struct msb_env *e, uint8_t ip_version, size_t l3_len);

/* Hands f (owned) to the guest.  False when rx is full: f is freed, the
 * drop is counted, and the stack is woken once the reader frees room. */
bool msb_env_emit(struct msb_env *e, struct msb_frame *f);

/* True while rx has room for `frames` more; when false, a later wake
 * announces room (msb_tcp_rx_room and friends resume then). */
bool msb_env_rx_room(struct msb_env *e, size_t frames);

#endif
