/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One plugin instance: the state shared by the VMM's threads, the stack
 * thread and the control plane.  Everything here is safe to touch from any
 * thread; the comments on each member say how.
 */
#ifndef MSB_INSTANCE_H
#define MSB_INSTANCE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "model/addressing.h"
#include "model/config.h"
#include "lib/flow_records.h"
#include "lib/frame.h"
#include "lib/gateway.h"
#include "lib/hook.h"
#include "lib/hostindex.h"
#include "lib/metrics.h"
#include "api/flow_live.h"
#include "api/publish.h"
#include "lib/ring.h"
#include "lib/wake.h"

struct msb_stack;
struct msb_frame_fds;
struct msb_tls_state;

struct msbnet {
    struct msb_config cfg;
    struct msb_addrs addrs;        /* derived at create, read-only after */
    struct msb_ring tx;            /* guest -> stack: many producers, the stack consumes */
    struct msb_ring rx;            /* stack -> guest: the stack produces, one reader */
    struct msb_wake tx_wake;       /* "tx has frames", drained by the stack */
    struct msb_wake rx_wake;       /* "rx has frames", drained by the reader */
    struct msb_wake proxy_wake;    /* commands and "rx has room again" for the stack */
    atomic_bool rx_blocked;        /* the stack found rx full and waits for room */
    struct msb_hook hook;
    struct msb_hidx hidx;
    struct msb_flowrec_log flows; /* flow records: the stack produces, drain_flow_records reads */
    struct msb_gateways gw;
    struct msb_metrics metrics;
    /* Each policy is immutable.  While the stack runs only its thread
     * swaps this pointer (policy_replace.h); other threads read it under
     * policy_lock, which also guards the pending slot and the live flag. */
    struct msb_policy *policy;
    struct msb_policy *policy_pending;
    atomic_bool policy_has_pending; /* cheap per-frame check for the stack */
    bool policy_stack_live;
    pthread_mutex_t policy_lock;
    atomic_bool terminated;        /* the policy's terminate fired the hook */
    pthread_mutex_t life;          /* serialises start/stop */
    struct msb_stack *stack;       /* non-NULL while started */
    struct msb_publish pub;        /* published ports (publish.h has the locking) */
    /* set_frame_fds: the stack thread reads guest frames from tx_fd and
     * writes the guest's frames to rx_fd itself (-1: the ring path).  Set
     * only while stopped, so the stack thread reads them without a lock. */
    int tx_fd, rx_fd;
    struct msb_frame_fds *frame_fds; /* the stack thread's, while started with fds */
    /* TLS interception and secrets (tls_state.h has the locking); never
     * NULL once created.  cfg.tls and cfg.secrets are NULL: this owns them. */
    struct msb_tls_state *tls;
    /* Rate limits (limits_replace.h): cfg.limits is written under
     * limits_lock; the flag tells the stack a new set waits. */
    pthread_mutex_t limits_lock;
    atomic_bool limits_has_pending;
    struct msb_flow_live live; /* flows_json's requests to the stack (flow_live.h) */
};

/* Takes over cfg->policy, cfg->publish, cfg->tls, cfg->secrets and cfg->proxy (also
 * when it fails); without a
 * policy, the "egress" switch picks the allow_all or none preset.  Every
 * published port is bound here: a bind error fails create. */
struct msbnet *msb_instance_create(const struct msb_config *cfg, char *err, size_t errlen);
void msb_instance_destroy(struct msbnet *net);

/* Starts / stops the stack thread (msbnet.h start/stop contracts). */
int msb_instance_start(struct msbnet *net, char *err, size_t errlen);
void msb_instance_stop(struct msbnet *net);

/* VMM side.  See msbnet.h for the contracts. */
int msb_instance_write_frame(struct msbnet *net, const uint8_t *frame, size_t len);
long msb_instance_read_frame(struct msbnet *net, uint8_t *buf, size_t cap, size_t *needed);

/* set_frame_fds (msbnet.h): MSBNET_OK, or MSBNET_ESTATE while started. */
int msb_instance_set_frame_fds(struct msbnet *net, int tx_fd, int rx_fd);

/* Stack side, tx_fd: a guest frame read from the fd, checked, converted
 * (vnet_hdr) and counted as accepted like write_frame's; NULL when refused
 * (the drop is counted). */
struct msb_frame *msb_instance_take_direct(struct msbnet *net, const uint8_t *frame, size_t len);

/* Stack side, rx_fd: the frame written to the guest, counted. */
void msb_instance_count_rx(struct msbnet *net, const struct msb_frame *f);

/* Stack side: hands f (owned) to the guest.  False when rx is full: f is
 * freed, the drop counted, and proxy_wake fires once the reader frees room. */
bool msb_instance_emit(struct msbnet *net, struct msb_frame *f);

/* Stack side: true while rx has room for `frames` more; when false, proxy_wake
 * fires once the reader frees room. */
bool msb_instance_rx_has_room(struct msbnet *net, size_t frames);

#endif
