/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the TCP files (tcp.h is the public side):
 *   tcp.c       guest segments in: SYN admission, dispatch, batch end, life cycle
 *   tcp_nat.c   flow slots on lib/flowtab (tuple index, FIFO reuse), edge rewrite
 *   tcp_lwip.c  the lwIP singleton: netif, listener, input/output, tcp_tmr timer
 *   tcp_gro.c   coalescing of lwIP's segments toward the guest
 *   tcp_proxy.c host sockets, lwIP callbacks, relay, half-close, RST, timeouts
 *   tcp_state.c the flow state machine: legal moves, gauges, debug trace
 *   tcp_throttle.c  byte rate limits: paused flows and their resume timers
 * Everything runs on the stack thread (or after it has been joined).
 */
#ifndef MSB_TCP_INT_H
#define MSB_TCP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/flowtab.h"
#include "proto/env.h"
#include "proto/flow_emit.h"
#include "proto/tcp/tcp.h"

struct tcp_pcb;
struct msb_flow_ref;
struct pbuf;
struct event;

#define FLOW_NONE UINT32_MAX
/* Out-of-order guest segments lwIP may hold per flow (tcp.c). */
#define OOSEQ_MAX 64
/* Guest segments up to MERGE_SMALL bytes are copied into MERGE_CAP-byte
 * buffers while a host peer is slow (tcp_proxy.c). */
#define MERGE_SMALL 512
#define MERGE_CAP 4096
/* A held guest SYN, Ethernet header included so it can be re-parsed to
 * answer RST: 14 + 60 (IPv4 with options) + 60 (TCP with options). */
#define FLOW_SYN_CAP 136

/* A flow's states, in the order it goes through them, with their names
 * for the trace.  The legal moves (the table in tcp_state.c, checked by
 * msb_tcp_flow_set_state, the one place that changes f->state):
 *   FREE       -> CONNECTING  guest SYN admitted
 *              -> SYN_FED     published port accepted (lwIP dials the guest)
 *   CONNECTING -> SYN_FED     host connected, SYN given to lwIP
 *              -> FREE        refused, timed out, guest RST, aborted
 *   SYN_FED    -> OPEN        lwIP finished the guest handshake
 *              -> FREE        reset, handshake timeout, aborted
 *   OPEN       -> CLOSING     a FIN one way (guest or host), or lwIP closed
 *              -> FREE        reset either way, idle, policy, aborted
 *   CLOSING    -> CLOSING     the other direction's FIN, or lwIP's close (err_cb
 *                            ERR_CLSD): traced, gauges untouched
 *              -> FREE        both sides done, or reset
 * Half-closes are not states of their own: which FIN went where is in
 * the events set below, and CLOSING covers every mix of them. */
#define MSB_TCP_FLOW_STATES(X)                                                                     \
    X(FREE, "free")             /* slot unused */                                                 \
    X(CONNECTING, "connecting") /* host connect pending, guest SYN held: lwIP knows nothing */    \
    X(SYN_FED, "syn_fed")       /* connected; SYN given to lwIP, guest handshake pending */       \
    X(OPEN, "open")             /* accepted by lwIP, relaying both ways */                        \
    X(CLOSING, "closing")       /* a FIN went one way, or the flow is draining */

enum flow_state {
#define MSB_TCP_STATE_ENUM(id, name) FLOW_##id,
    MSB_TCP_FLOW_STATES(MSB_TCP_STATE_ENUM)
#undef MSB_TCP_STATE_ENUM
    FLOW__COUNT
};

/* What else is known about a flow, in three bit sets.  They are grouped by
 * how their bits change, because that is what a reader has to know to
 * trust a test of one:
 *   events   what has happened to the flow.  Only ever added while the
 *            flow lives (a FIN cannot be unseen); cleared only when the
 *            slot starts a new flow (msb_tcp_flow_reset).
 *   pending  work the flow waits for: set by whoever finds it, cleared by
 *            whoever does it (batch end, the rx-room walk, the SNI gate).
 *   armed    what is registered right now: the host socket's events, and
 *            the slot's places on the work lists.  List places belong to
 *            the slot, not the flow: a released slot stays listed until the
 *            walk unlinks it, and a new flow in it keeps them.
 * Each set has one function that changes it (msb_tcp_flow_event, _pend,
 * _arm, below): a watchpoint or a log line there sees every change.
 * inbound is no bit: it is the flow's kind, fixed when the table hands out
 * the slot (tcp_nat.c sets it with lw_port), not something that happens. */
#define MSB_TCP_FLOW_EVENTS(X)                                                                     \
    X(GUEST_FIN, "guest_fin")       /* recv_cb(NULL): the guest's FIN */                          \
    X(HOST_EOF, "host_eof")         /* host read 0; tcp_shutdown(TX) done */                      \
    X(HOST_SHUT_WR, "host_shut_wr") /* shutdown(SHUT_WR) done after the guest FIN */              \
    X(ABORTED, "aborted")           /* our own tcp_abort: err_cb leaves the fd to us */           \
    X(SNI_WAITED, "sni_waited")     /* the flow timer was armed for the rest of a ClientHello */  \
    X(SNI_EXPIRED, "sni_expired")   /* ... and ran out: what arrived is judged as it is */          \
    X(TLS_GUEST_EOF, "tls_guest_eof") /* intercepted: the guest's FIN given to the engine */      \
    X(TLS_GUEST_SHUT, "tls_guest_shut") /* intercepted: our FIN toward the guest sent */

#define MSB_TCP_FLOW_PENDING(X)                                                                    \
    X(ACK, "ack")   /* got data this batch: flush a delayed ACK at batch end */                   \
    X(REAP, "reap") /* pcb reached TIME_WAIT: abort it (silently) at batch end */                  \
    X(ROOM, "room") /* stopped for lack of rx room: resume when it comes back */                  \
    X(SNI, "sni")   /* TLS SNI check (tcp_sni.c) not done: guest bytes are held */             \
    X(EGRESS, "egress")   /* paused for egress tokens: writes resume on the timer */          \
    X(INGRESS, "ingress") /* paused for ingress tokens: reads resume on the timer */          \
    X(TLS, "tls")         /* on an intercepted port: the ClientHello decides (tcp_tls.c) */

#define MSB_TCP_FLOW_ARMED(X)                                                                      \
    X(RD, "rd")                 /* host socket read event added */                                \
    X(WR, "wr")                 /* host socket write event added */                               \
    X(BATCH_LIST, "batch_list") /* slot on the batch-end list (t->batch_head) */                  \
    X(ROOM_LIST, "room_list")   /* slot on the rx-room list (t->room_head) */                     \
    X(EGRESS_LIST, "egress_list")   /* slot on the egress throttle list */                        \
    X(INGRESS_LIST, "ingress_list") /* slot on the ingress throttle list */                       \
    X(ACK_LIST, "ack_list")         /* slot on the held-ACK list (t->ack_head, tcp_ack.c) */

/* Each set: bit indexes (for the name tables), then the bits. */
#define MSB_TCP_EV_INDEX(id, name) EVT_##id##_I,
#define MSB_TCP_PEND_INDEX(id, name) PEND_##id##_I,
#define MSB_TCP_ARM_INDEX(id, name) ARM_##id##_I,
#define MSB_TCP_EV_BIT(id, name) EVT_##id = 1u << EVT_##id##_I,
#define MSB_TCP_PEND_BIT(id, name) PEND_##id = 1u << PEND_##id##_I,
#define MSB_TCP_ARM_BIT(id, name) ARM_##id = 1u << ARM_##id##_I,
enum { MSB_TCP_FLOW_EVENTS(MSB_TCP_EV_INDEX) EVT__COUNT };
enum { MSB_TCP_FLOW_PENDING(MSB_TCP_PEND_INDEX) PEND__COUNT };
enum { MSB_TCP_FLOW_ARMED(MSB_TCP_ARM_INDEX) ARM__COUNT };
enum flow_event { MSB_TCP_FLOW_EVENTS(MSB_TCP_EV_BIT) };
enum flow_pending { MSB_TCP_FLOW_PENDING(MSB_TCP_PEND_BIT) };
enum flow_armed { MSB_TCP_FLOW_ARMED(MSB_TCP_ARM_BIT) };
#undef MSB_TCP_EV_INDEX
#undef MSB_TCP_PEND_INDEX
#undef MSB_TCP_ARM_INDEX
#undef MSB_TCP_EV_BIT
#undef MSB_TCP_PEND_BIT
#undef MSB_TCP_ARM_BIT
_Static_assert(FLOW__COUNT <= 8 && EVT__COUNT <= 8 && PEND__COUNT <= 8 && ARM__COUNT <= 8,
               "states and bit sets are kept in uint8_t");

struct tcp_flow {
    struct msb_tcp *t;
    uint32_t gen; /* bumped on release: stale references are detectable */
    uint8_t state;                  /* enum flow_state; FLOW_FREE (0) in a calloc'd table */
    uint8_t events, pending, armed; /* bit sets (above), each changed by its one function */
    struct msb_ip g, d; /* guest and destination, as the guest sees them */
    uint16_t gp, dp;
    struct tcp_pcb *pcb; /* NULL once lwIP freed it (err_cb) or we aborted/reaped it */
    int fd;              /* host socket, -1 once closed */
    struct event *rd, *wr, *tmr;
    uint64_t last_active_ms;
    /* Guest bytes lwIP gave us that the host socket has not taken yet: the
     * window is reopened (tcp_recved) only as they are written. */
    struct pbuf *to_host, *to_host_tail;
    uint32_t to_host_len;
    /* Guest bytes lwIP holds for the flow (out of order, refused) as last
     * read: its share of tcp.lwip_held_bytes (tcp_held.c). */
    uint32_t lw_held;
    uint16_t tail_room; /* free bytes at the end of to_host_tail, when it is ours (merged) */
    /* Host bytes given to lwIP and not yet acknowledged by the guest. */
    uint32_t unacked;
    /* Host bytes went to the guest since its last data was acknowledged:
     * the flow answers requests, so its next ACK may wait for the answer
     * (tcp_ack.c). */
    bool answered;
    uint8_t syn[FLOW_SYN_CAP];
    uint8_t syn_len;
    uint32_t isn; /* of the held SYN: a SYN with another one is a new connection */
    /* List links outlive a release: a slot still linked is unlinked only by
     * the walk, never by a new flow in the same slot. */
    uint32_t batch_next, room_next, ack_next;
    uint32_t thr_next[2]; /* throttle lists: [0] egress, [1] ingress */
    struct tcp_pxy *pxy;  /* upstream proxy handshake in progress (tcp_upproxy.c), else NULL */
    struct msb_tls_conn *tls; /* intercepted: the engine between guest and host (tcp_tls.c) */
    struct msb_tcp_pscan *pscan; /* scan_plaintext: the placeholder scanner (tcp_pscan.c) */
    /* Published-port flows (tcp_inbound.c): opened by lwIP towards the
     * guest; lw_port is lwIP's local port (LW_PORT for guest flows); peer
     * is the host-side client, which the ingress policy judges (d is only
     * what the guest sees: the gateway unless real_peer). */
    bool inbound;
    uint16_t lw_port;
    struct msb_ip peer;
    uint16_t peer_port;
    /* The flow record (proto/flow_emit.h) filled as the flow goes and
     * pushed at release; end is MSB_FR__ENDS until a cause is known (the
     * first one wins: an idle timeout's abort is not "rst_host").  On the
     * heap while the flow lives (NULL when out of memory: no record): the
     * table reuses slots FIFO, so a record in every slot would make a
     * flood touch max_flows x 616 bytes. */
    struct msb_flowrec *rec;
};

static inline void msb_tcp_flow_ended(struct tcp_flow *f, uint8_t end)
{
    if (f->rec && f->rec->end == MSB_FR__ENDS)
        f->rec->end = end;
}

/* The segments `in` bytes handed to lwIP at once make at the flow's MSS
 * (tcp_proxy.c): the record's packets_in, counted where bytes are, with
 * no hook in lwIP's output path (retransmissions are not counted). */
uint64_t msb_tcp_segs_for(const struct tcp_flow *f, uint64_t in);

/* Bytes relayed, for the record, and the segments they fill toward the
 * guest. */
static inline void msb_tcp_flow_bytes(struct tcp_flow *f, uint64_t out, uint64_t in)
{
    if (f->rec) {
        f->rec->bytes_out += out;
        f->rec->bytes_in += in;
        if (in)
            f->rec->pkts_in += msb_tcp_segs_for(f, in);
    }
}

/* Data segments from the guest that lwIP delivered (one pbuf each: a
 * frame becomes one pbuf), for the record's packets_out. */
static inline void msb_tcp_flow_segs_out(struct tcp_flow *f, uint64_t segs)
{
    if (f->rec)
        f->rec->pkts_out += segs;
}

/* The record of a flow that starts now (tcp.c). */
void msb_tcp_flow_record(struct msb_tcp *t, struct tcp_flow *f, const struct msb_flow_ref *ref);

/* The bit sets' changers and tests.  A test is true when every bit asked
 * for is set.  Events are only ever added. */
static inline void msb_tcp_flow_event(struct tcp_flow *f, unsigned ev)
{
    f->events = (uint8_t)(f->events | ev);
}

static inline bool msb_tcp_flow_saw(const struct tcp_flow *f, unsigned ev)
{
    return (f->events & ev) == ev;
}

static inline void msb_tcp_flow_pend(struct tcp_flow *f, unsigned p, bool on)
{
    f->pending = (uint8_t)(on ? f->pending | p : f->pending & ~p);
}

static inline bool msb_tcp_flow_pending(const struct tcp_flow *f, unsigned p)
{
    return (f->pending & p) == p;
}

static inline void msb_tcp_flow_arm(struct tcp_flow *f, unsigned a, bool on)
{
    f->armed = (uint8_t)(on ? f->armed | a : f->armed & ~a);
}

static inline bool msb_tcp_flow_armed(const struct tcp_flow *f, unsigned a)
{
    return (f->armed & a) == a;
}

/* The one segment being grown toward the guest (tcp_gro.c). */
struct tcp_gro {
    struct msb_frame *fr; /* NULL: nothing staged */
    const struct tcp_flow *f;
    uint32_t gen;         /* f's, when staged: a reused slot never merges */
    uint8_t v;
    size_t hl, thl;       /* IP and TCP header lengths */
    size_t l3_len, cap;   /* IP packet length so far, and its limit */
    uint32_t next_seq;    /* the sequence number a merged segment must carry */
    uint32_t segs;
    size_t mss;           /* largest merged payload: a super-frame's gso_size */
};

/* Flows paused by one byte bucket (egress or ingress), and the timer that
 * resumes them once it holds tokens again (tcp_throttle.c). */
struct tcp_throttle {
    uint32_t head;         /* slots, linked by thr_next[dir] */
    struct event *ev;
    uint64_t since_ns;     /* when the list last went from empty to not */
};

struct msb_tcp {
    struct msb_env *env;
    struct msb_dns *dns;    /* serves the guest's TCP/53 flows */
    struct msb_tcp_metrics *m;
    uint32_t max_flows;
    struct tcp_flow *flows;
    /* guest 5-tuple -> slot; its FIFO reuses a freed slot as late as possible */
    struct msb_flowtab *ft;
    uint32_t batch_head, room_head;
    uint32_t ack_head;   /* flows whose ACK waits for a reply to carry it */
    struct event *ack_ev; /* sends the ACKs no reply carried (tcp_ack.c) */
    struct event *tmr_ev; /* tcp_tmr, armed only while lwIP has pcbs */
    bool tmr_armed;
    struct tcp_gro gro;
    bool send_budget_freed; /* unacked_bytes fell below the limit: resume at batch end */
    struct event *gro_ev; /* flushes the staged segment at the end of a loop pass */
    struct tcp_throttle thr[2]; /* [0] egress, [1] ingress */
    uint8_t buf[65536]; /* host read buffer (one thread) */
};

/* ---- tcp_nat.c ---- */
int msb_tcp_nat_init(struct msb_tcp *t);
void msb_tcp_nat_free(struct msb_tcp *t);
uint32_t msb_tcp_nat_slot(const struct msb_tcp *t, const struct tcp_flow *f);
struct tcp_flow *msb_tcp_nat_lookup(struct msb_tcp *t, const struct msb_pkt *p);
/* A new flow for p's tuple, or NULL when every slot is in use. */
struct tcp_flow *msb_tcp_nat_alloc(struct msb_tcp *t, const struct msb_pkt *p);
void msb_tcp_nat_release(struct msb_tcp *t, struct tcp_flow *f);
/* The same by explicit tuple (published ports: the guest is g:gp). */
struct tcp_flow *msb_tcp_nat_find(struct msb_tcp *t, const struct msb_ip *g, uint16_t gp,
                          const struct msb_ip *d, uint16_t dp);
struct tcp_flow *msb_tcp_nat_alloc_tuple(struct msb_tcp *t, const struct msb_ip *g, uint16_t gp,
                                 const struct msb_ip *d, uint16_t dp);
/* The flow behind an lwIP-side remote (fake address, guest port). */
struct tcp_flow *msb_tcp_nat_from_lwip(struct msb_tcp *t, uint8_t ip_version, const uint8_t *addr,
                               uint16_t port);
void msb_tcp_nat_fake_addr(uint8_t ip_version, uint32_t slot, uint8_t out[16]);
/* In-place rewrites of a whole IP packet (checksums updated incrementally). */
void msb_tcp_nat_to_lwip(struct msb_tcp *t, const struct tcp_flow *f, uint8_t *l3);
void msb_tcp_nat_to_guest(const struct tcp_flow *f, uint8_t *l3);

/* ---- tcp_lwip.c ---- */
#define LW_PORT 10000
extern const uint8_t msb_tcp_lw_addr4[4], msb_tcp_lw_addr6[16];
int msb_tcp_lw_setup(struct msb_tcp *t, char *err, size_t errlen);
void msb_tcp_lw_teardown(struct msb_tcp *t);
/* Gives one IP packet to lwIP (may call every callback synchronously). */
void msb_tcp_lw_input(struct msb_tcp *t, const uint8_t *l3, size_t len);
/* The SYN_RCVD pcb lwIP made for f's held SYN. */
struct tcp_pcb *msb_tcp_lw_find_pcb(struct msb_tcp *t, const struct tcp_flow *f);
void msb_tcp_lw_timer_arm(struct msb_tcp *t);
/* True while pcb is on one of lwIP's lists (a TIME_WAIT pcb may expire on
 * its own, silently). */
bool msb_tcp_lw_pcb_alive(const struct tcp_pcb *pcb);
/* f's pcb, or NULL when it has none or it was a TIME_WAIT pcb lwIP freed
 * on its own (only possible once both FINs were seen). */
static inline struct tcp_pcb *msb_tcp_flow_live_pcb(const struct tcp_flow *f)
{
    if (f->pcb && msb_tcp_flow_saw(f, EVT_GUEST_FIN | EVT_HOST_EOF) &&
        !msb_tcp_lw_pcb_alive(f->pcb))
        return NULL;
    return f->pcb;
}

/* ---- tcp_ack.c ---- */
int msb_tcp_ack_init(struct msb_tcp *t);
void msb_tcp_ack_free(struct msb_tcp *t);
/* f's delayed ACK: now, or for a flow that answers requests within a
 * millisecond unless the answer carries it. */
void msb_tcp_ack_send(struct msb_tcp *t, struct tcp_flow *f);

/* ---- tcp_held.c ---- */
/* Re-reads what lwIP holds for f into its share of tcp.lwip_held_bytes. */
void msb_tcp_held_sync(struct msb_tcp *t, struct tcp_flow *f);
/* f's share leaves the gauge (the flow is released). */
void msb_tcp_held_forget(struct msb_tcp *t, struct tcp_flow *f);
/* Guest bytes held, all flows: ours (buffered) and lwIP's. */
uint64_t msb_tcp_held_total(const struct msb_tcp *t);
/* Whether a guest segment of len data bytes at seq may go to lwIP now;
 * false: dropped, counted (the guest sends it again). */
bool msb_tcp_held_admit(struct msb_tcp *t, const struct tcp_flow *f, uint32_t seq, uint32_t len);

/* ---- tcp_gro.c ---- */
int msb_tcp_gro_init(struct msb_tcp *t);
void msb_tcp_gro_free(struct msb_tcp *t);
/* True when the guest MTU leaves room to merge anything. */
bool msb_tcp_gro_enabled(const struct msb_tcp *t);
/* Appends lwIP packet l3 (not yet rewritten) to f's staged segment when it
 * continues it; false when it does not (nothing done). */
bool msb_tcp_gro_merge(struct msb_tcp *t, struct tcp_flow *f, const uint8_t *l3, size_t len);
/* Starts a staged segment with l3 (rewritten for the guest); false when l3
 * cannot start one.  The caller has checked rx room, and nothing is staged. */
bool msb_tcp_gro_stage(struct msb_tcp *t, struct tcp_flow *f, const uint8_t *l3, size_t len);
/* Emits the staged segment, if any, into the slot reserved for it. */
void msb_tcp_gro_flush(struct msb_tcp *t);

/* ---- tcp_proxy.c ---- */
/* Starts the host connect for a flow in FLOW_CONNECTING; may end the flow. */
void msb_tcp_proxy_start(struct msb_tcp *t, struct tcp_flow *f);
/* Ends the flow now: RST to the guest (if lwIP has it) and to the host. */
void msb_tcp_proxy_abort(struct msb_tcp *t, struct tcp_flow *f, bool reset_host);
/* Guest RST while the host connect is pending. */
void msb_tcp_proxy_cancel_connect(struct msb_tcp *t, struct tcp_flow *f);
/* The pcb reached TIME_WAIT: free it without a RST, finish the host side. */
void msb_tcp_proxy_reap(struct msb_tcp *t, struct tcp_flow *f);
/* Rx room came back: send what lwIP holds, read the host again. */
void msb_tcp_proxy_resume(struct msb_tcp *t, struct tcp_flow *f);
/* lwIP made pcb for f's held SYN: watch it for errors before accept. */
void msb_tcp_proxy_watch(struct tcp_flow *f, struct tcp_pcb *pcb);
/* lwIP finished the guest handshake on f->pcb: start relaying.  False
 * when the pcb is not f's (the caller aborts it). */
bool msb_tcp_proxy_accepted(struct msb_tcp *t, struct tcp_flow *f, struct tcp_pcb *pcb);
/* A published port's accepted host socket becomes f's (f in FLOW_SYN_FED,
 * lwIP's connect towards the guest about to start); false when it could
 * not (the socket is reset, f released). */
bool msb_tcp_proxy_adopt(struct msb_tcp *t, struct tcp_flow *f, int fd);

/* Guest bytes may go on to the host (egress) or host bytes be read for
 * the guest (ingress) while the send or receive path has tokens. */
void msb_tcp_proxy_egress_resume(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_proxy_ingress_resume(struct msb_tcp *t, struct tcp_flow *f);

/* The host socket is connected (to the destination, or through the
 * proxy): the held SYN goes to lwIP.  Or it could not be: RST, release. */
void msb_tcp_proxy_connected(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_proxy_connect_failed(struct msb_tcp *t, struct tcp_flow *f, int err);

/* Shared with tcp_tls.c: the host socket's events, guest bytes the host
 * took (the window reopens), lwIP's send room, a flush toward the guest. */
void msb_tcp_proxy_rd_set(struct tcp_flow *f, bool on);
void msb_tcp_proxy_wr_set(struct tcp_flow *f, bool on);
void msb_tcp_proxy_consume(struct msb_tcp *t, struct tcp_flow *f, size_t n);
size_t msb_tcp_proxy_send_room(const struct tcp_pcb *pcb);
void msb_tcp_proxy_output(struct msb_tcp *t, struct tcp_flow *f);

/* ---- tcp_tls.c ---- */
/* True when a new flow to this port is to be intercepted (PEND_TLS). */
bool msb_tcp_tls_port(const struct msb_tcp *t, uint16_t port);
/* Guest bytes queued on an intercepted (or deciding) flow: 1 = decided
 * raw, relay as usual; 0 = handled (or held); -1 = end the flow. */
int msb_tcp_tls_flush(struct msb_tcp *t, struct tcp_flow *f);
/* The host socket is readable: 0, or -1 to end the flow. */
int msb_tcp_tls_host_read(struct msb_tcp *t, struct tcp_flow *f);
/* Moves whatever can move; 0, or -1 to end the flow (reset both). */
int msb_tcp_tls_step(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_tls_free(struct tcp_flow *f);
/* Copies the engine's counters into the metrics. */
void msb_tcp_tls_publish(struct msb_tcp *t);
/* What secret S's on_violation asks beyond the reset (a log line, the
 * termination hook), for a flow toward NAME (an SNI or an address). */
struct msb_secret_cfg;
void msb_tcp_tls_violation(struct msb_tcp *t, const struct tcp_flow *f,
                           const struct msb_secret_cfg *s, const char *name);

/* ---- tcp_pscan.c ---- */
/* scan_plaintext: guest bytes P of a flow that is not intercepted,
 * scanned before they are queued.  0, or -1 for a violation (handled and
 * counted; the caller resets the flow without queueing P). */
int msb_tcp_pscan(struct msb_tcp *t, struct tcp_flow *f, const struct pbuf *p);
void msb_tcp_pscan_free(struct tcp_flow *f);

/* ---- tcp_upproxy.c ---- */
struct sockaddr_storage;
/* With a "proxy": 1 when f is dialled through it (ss, sl replaced by the
 * proxy's address, f->pxy allocated), 0 when it goes direct (no proxy,
 * the host itself, a bypassed name), -1 out of memory. */
int msb_tcp_upproxy_route(struct msb_tcp *t, struct tcp_flow *f, struct sockaddr_storage *ss,
                          unsigned *sl);
/* The socket reached the proxy: run the handshake; it ends in
 * msb_tcp_proxy_connected or msb_tcp_proxy_connect_failed. */
void msb_tcp_upproxy_begin(struct msb_tcp *t, struct tcp_flow *f);
/* The connect to the proxy itself failed (counted when f was proxied). */
void msb_tcp_upproxy_unreachable(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_upproxy_free(struct tcp_flow *f);
/* True for the proxy's own endpoint: guests reach it only as the proxy. */
bool msb_tcp_upproxy_is_endpoint(const struct msb_tcp *t, const struct msb_ip *d, uint16_t dp);

/* ---- tcp_throttle.c ---- */
enum tcp_dir { DIR_EGRESS = 0, DIR_INGRESS = 1 };
int msb_tcp_thr_init(struct msb_tcp *t);
void msb_tcp_thr_free(struct msb_tcp *t);
/* Up to WANT bytes f may move in direction DIR now (WANT itself without a
 * limit).  0: the bucket is empty, f is paused and will be resumed. */
size_t msb_tcp_thr_grant(struct msb_tcp *t, struct tcp_flow *f, enum tcp_dir dir, size_t want);
/* Bytes granted but not moved (the socket took fewer). */
void msb_tcp_thr_refund(struct msb_tcp *t, enum tcp_dir dir, size_t n);

/* ---- tcp_sni.c ---- */
/* Copies the head of f's queued guest bytes (at most cap) into buf. */
size_t msb_tcp_peek_to_host(const struct tcp_flow *f, uint8_t *buf, size_t cap);
/* How long guest bytes wait for the rest of a ClientHello. */
#define SNI_WAIT_MS 2000
enum msb_tcp_sni_gate { SNI_PASS, SNI_HOLD, SNI_DENY };
/* Called before guest bytes go to the host while PEND_SNI: PASS (the
 * check is over, write), HOLD (wait for more bytes; the flow's timer is
 * armed to end the wait), DENY (the SNI misses the policy: the host socket
 * is set to reset on close and the caller aborts the flow). */
enum msb_tcp_sni_gate msb_tcp_sni_gate(struct msb_tcp *t, struct tcp_flow *f);

/* ---- tcp_state.c ---- */
/* Moves f to st: gauges, the legality check, the debug trace.  An illegal
 * move is counted in tcp.bad_transition and still applied, except out of
 * FREE (refused); true when st is f's state afterwards. */
bool msb_tcp_flow_set_state(struct msb_tcp *t, struct tcp_flow *f, enum flow_state st);
/* The table itself, and names for traces and tests. */
bool msb_tcp_flow_legal(enum flow_state from, enum flow_state to);
const char *msb_tcp_flow_state_name(enum flow_state st);
/* "a,b" for the bits of a set (events, pending, armed), "-" for none. */
const char *msb_tcp_flow_event_names(unsigned events, char *buf, size_t cap);
const char *msb_tcp_flow_pending_names(unsigned pending, char *buf, size_t cap);
const char *msb_tcp_flow_armed_names(unsigned armed, char *buf, size_t cap);

/* ---- tcp.c ---- */
/* A slot the table just handed out starts a flow: no pcb, no socket,
 * nothing seen or pending, nothing armed but its list places. */
void msb_tcp_flow_reset(struct tcp_flow *f);
void msb_tcp_flow_release(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_flow_mark_batch(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_flow_mark_room(struct msb_tcp *t, struct tcp_flow *f);
/* RST answering guest segment p (our own, lwIP never saw p). */
void msb_tcp_send_rst(struct msb_tcp *t, const struct msb_pkt *p);

#endif
