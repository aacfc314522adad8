/*
 * Internals shared by the TCP files (tcp.h is the public side):
 *   tcp.c       guest segments in: SYN admission, dispatch, batch end, life cycle
 *   tcp_nat.c   flow table (slots, hash, FIFO free list) and the edge rewrite
 *   tcp_lwip.c  the lwIP singleton: netif, listener, input/output, tcp_tmr timer
 *   tcp_gro.c   coalescing of lwIP's segments toward the guest
 *   tcp_proxy.c host sockets, lwIP callbacks, relay, half-close, RST, timeouts
 * Everything runs on the stack thread (or after it has been joined).
 */
#ifndef MSB_TCP_INT_H
#define MSB_TCP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/flowtab.h"
#include "proto/env.h"
#include "proto/tcp/tcp.h"

struct tcp_pcb;
struct pbuf;
struct event;

#define FLOW_NONE UINT32_MAX
/* A held guest SYN, Ethernet header included so it can be re-parsed to
 * answer RST: 14 + 60 (IPv4 with options) + 60 (TCP with options). */
#define FLOW_SYN_CAP 136

enum flow_state {
    FLOW_FREE = 0,
    FLOW_CONNECTING, /* host connect pending, guest SYN held: lwIP knows nothing */
    FLOW_SYN_FED,    /* connected; SYN given to lwIP, guest handshake pending */
    FLOW_OPEN,       /* accepted by lwIP, relaying both ways */
    FLOW_CLOSING,    /* a FIN went one way, or the flow is draining */
};

struct tcp_flow {
    struct msb_tcp *t;
    uint32_t gen; /* bumped on release: stale references are detectable */
    uint8_t state;
    struct msb_ip g, d; /* guest and destination, as the guest sees them */
    uint16_t gp, dp;
    struct tcp_pcb *pcb; /* NULL once lwIP freed it (err_cb) or we aborted/reaped it */
    int fd;              /* host socket, -1 once closed */
    struct event *rd, *wr, *tmr;
    bool rd_on, wr_on;
    uint64_t last_active_ms;
    /* Guest bytes lwIP gave us that the host socket has not taken yet: the
     * window is reopened (tcp_recved) only as they are written. */
    struct pbuf *to_host, *to_host_tail;
    uint32_t to_host_len;
    uint8_t syn[FLOW_SYN_CAP];
    uint8_t syn_len;
    uint32_t isn; /* of the held SYN: a SYN with another one is a new connection */
    bool guest_fin;    /* recv_cb(NULL) seen */
    bool host_shut_wr; /* shutdown(SHUT_WR) done after the guest FIN */
    bool host_eof;     /* host read 0; tcp_shutdown(TX) done */
    bool aborting;     /* our own tcp_abort is running: err_cb leaves the fd to us */
    bool want_ack;     /* got data this batch: flush a delayed ACK at batch end */
    bool want_reap;    /* pcb reached TIME_WAIT: abort it (silently) at batch end */
    bool want_room;    /* stopped for lack of rx room */
    /* TLS SNI check (tcp_sni.c): guest bytes are held until the first
     * flight shows whether it is a ClientHello, and what name it claims. */
    bool sni_wait, sni_expired, sni_timer;
    /* List links outlive a release: a slot still linked is unlinked only by
     * the walk, never by a new flow in the same slot. */
    bool batch_linked, room_linked;
    uint32_t batch_next, room_next;
    /* Published-port flows (tcp_inbound.c): opened by lwIP towards the
     * guest; lw_port is lwIP's local port (LW_PORT for guest flows). */
    bool inbound;
    uint16_t lw_port;
};

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

struct msb_tcp {
    struct msb_env *env;
    struct msb_dns *dns;    /* serves the guest's TCP/53 flows */
    struct msb_tcp_metrics *m;
    uint32_t max_flows;
    struct tcp_flow *flows;
    /* guest 5-tuple -> slot; its FIFO reuses a freed slot as late as possible */
    struct msb_flowtab *ft;
    uint32_t batch_head, room_head;
    struct event *tmr_ev; /* tcp_tmr, armed only while lwIP has pcbs */
    bool tmr_armed;
    struct tcp_gro gro;
    struct event *gro_ev; /* flushes the staged segment at the end of a loop pass */
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

/* ---- tcp_sni.c ---- */
/* How long guest bytes wait for the rest of a ClientHello. */
#define SNI_WAIT_MS 2000
enum msb_tcp_sni_gate { SNI_PASS, SNI_HOLD, SNI_DENY };
/* Called before guest bytes go to the host while f->sni_wait: PASS (the
 * check is over, write), HOLD (wait for more bytes; the flow's timer is
 * armed to end the wait), DENY (the SNI misses the policy: the host socket
 * is set to reset on close and the caller aborts the flow). */
enum msb_tcp_sni_gate msb_tcp_sni_gate(struct msb_tcp *t, struct tcp_flow *f);

/* ---- tcp.c ---- */
void msb_tcp_flow_set_state(struct msb_tcp *t, struct tcp_flow *f, enum flow_state st);
void msb_tcp_flow_release(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_flow_mark_batch(struct msb_tcp *t, struct tcp_flow *f);
void msb_tcp_flow_mark_room(struct msb_tcp *t, struct tcp_flow *f);
/* RST answering guest segment p (our own, lwIP never saw p). */
void msb_tcp_send_rst(struct msb_tcp *t, const struct msb_pkt *p);

#endif
