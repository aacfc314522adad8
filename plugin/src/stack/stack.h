/*
 * The stack thread: one libevent loop per instance that drains guest
 * frames, answers the link layer, hands TCP to lwIP and runs every proxy
 * task.  Everything in here is touched only from that thread, except
 * `stop` and what msbnet (instance.h) already makes thread-safe.
 */
#ifndef MSB_STACK_H
#define MSB_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "model/addressing.h"
#include "lib/frame.h"
#include "api/instance.h"
#include "proto/ndp_ra.h"
#include "lib/pkt.h"

struct event_base;
struct event;
struct msb_tcp;
struct msb_udp;
struct msb_icmp;
struct msb_dns;
struct msb_udp_in;
struct msb_reasm;

struct msb_stack {
    struct msbnet *net;
    struct msb_addrs addrs;
    bool guest_mac_learned;
    struct event_base *base;
    struct event *tx_ev, *proxy_ev, *maint_ev;
    pthread_t thread;
    atomic_bool stop;
    struct msb_tcp *tcp;
    struct msb_udp *udp;
    struct msb_icmp *icmp;
    struct msb_dns *dns;
    struct msb_udp_in *udpin; /* published UDP ports' sessions */
    struct msb_ra_state ra;     /* router advertisements (ndp_ra.h) */
    struct msb_reasm *reasm;    /* guest fragments; NULL when reassembly is off */
    uint64_t activity;          /* guest frames handled: the busy-poll window restarts on each */
};

/* Creates the stack (lwIP included) and starts its thread.  One per
 * process: lwIP is a singleton.  NULL with a reason in err on failure. */
struct msb_stack *msb_stack_start(struct msbnet *net, char *err, size_t errlen);

/* Stops the thread, closes every flow, frees everything.  NULL ignored. */
void msb_stack_stop(struct msb_stack *s);

/* Stack thread, after a policy swap: every module re-evaluates its open
 * flows and resets those the new policy denies (counted as flows_reset). */
void msb_stack_policy_changed(struct msb_stack *s);

/* A frame for the guest carrying an IP packet of l3_len bytes: the
 * Ethernet header (gateway -> guest) is written, the packet goes at
 * frame->data + MSB_ETH_HLEN.  NULL when out of memory (counted). */
struct msb_frame *msb_stack_ip_frame(struct msb_stack *s, uint8_t ip_version, size_t l3_len);

/* Hands f to the guest.  False when rx is full: f is freed, the drop is
 * counted, and the proxy wake fires once the reader frees room. */
bool msb_stack_emit(struct msb_stack *s, struct msb_frame *f);

/* True while rx has room; when false, a later proxy wake announces room. */
bool msb_stack_rx_room(struct msb_stack *s);

/* Stack thread: one guest frame (still the caller's), as if popped from
 * tx; then msb_stack_batch_end once the batch is done (flushes TCP). */
void msb_stack_input(struct msb_stack *s, struct msb_frame *f);
void msb_stack_batch_end(struct msb_stack *s);

#endif
