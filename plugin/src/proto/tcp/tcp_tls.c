/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest TLS on an intercepted port (config "tls": intercept, ports,
 * bypass) through the engine of tls/tls_relay.h.  A flow to such a port is
 * admitted and connected as any other (the policy and connect-before-
 * SYN-ACK unchanged) with PEND_TLS: the host is not read and the guest's
 * first bytes are held until its ClientHello is whole.  Then:
 *   not TLS, or an SNI matching tls.bypass: relayed raw, as without
 *     interception (counted tls.not_tls, tls.bypassed);
 *   otherwise: a msb_tls_conn takes the guest's ciphertext (lwIP's window
 *     reopens only for what it took), its upstream ciphertext goes to the
 *     host socket, the host's is peeked and only what the engine takes is
 *     read, and its guest-bound ciphertext goes to lwIP within the send
 *     room.  Each side's FIN follows the engine's done flags.  A violation
 *     (a secret for a host it may not go to) or a failure resets both
 *     sides, after any alert the engine has for the guest.
 *   with tls.max_connections intercepted already (or no memory): reset,
 *     never relayed raw (tls.refused_cap, tls.alloc_failed).
 * Counters: tls.* from the engine, per-secret substitutions and
 * violations into the owner's arrays.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"

#include "lib/clock.h"
#include "lib/hook.h"
#include "lib/tls_sni.h"
#include "model/tls_config.h"
#include "proto/tcp/tcp_int.h"
#include "tls/secret_mem.h"
#include "tls/tls_relay.h"
#include "msbnet/msbnet.h"

#define HOST_PEEK 16384 /* host ciphertext offered to the engine per read */

bool msb_tcp_tls_port(const struct msb_tcp *t, uint16_t port)
{
    const struct msb_tls_settings *s = t->env->tls_settings;
    if (!t->env->tls || !s || port == 53)
        return false;
    for (uint32_t i = 0; i < s->n_ports; i++)
        if (s->ports[i] == port)
            return true;
    return false;
}

void msb_tcp_tls_free(struct tcp_flow *f)
{
    if (f->tls) {
        msb_tls_conn_free(f->tls);
        f->tls = NULL;
    }
}

/* ---- the decision ---------------------------------------------------------- */

/* 1 raw, 0 intercepted, -1 hold, -2 end the flow. */
static int decide(struct msb_tcp *t, struct tcp_flow *f)
{
    static uint8_t buf[MSB_SNI_MAX_BYTES]; /* the stack thread's alone */
    char name[MSB_SNI_NAME_MAX + 1] = "";
    enum msb_sni_result r = msb_tls_sni(buf, msb_tcp_peek_to_host(f, buf, sizeof buf), name);
    struct msb_tls_metrics *m = &t->env->metrics->tls;
    if (r == MSB_SNI_NEED_MORE && !msb_tcp_flow_saw(f, EVT_GUEST_FIN))
        return -1;
    if (r == MSB_SNI_NOT_TLS || r == MSB_SNI_NEED_MORE) {
        msb_count(&m->not_tls, 1);
        return 1;
    }
    if (r == MSB_SNI_FOUND && msb_host_patterns_match(&t->env->tls_settings->bypass, name)) {
        msb_count(&m->bypassed, 1);
        return 1;
    }
    /* Never spliced raw instead when over the cap or out of memory: an
     * eligible connection left unintercepted could carry a secret out. */
    f->tls = msb_tls_conn_new(t->env->tls, &f->d, msb_now_ms());
    if (!f->tls)
        return -2;
    msb_count(&m->open, 1);
    return 0;
}

/* ---- moving bytes ------------------------------------------------------------ */

/* Guest ciphertext into the engine, as much as it takes. */
static bool feed_guest(struct msb_tcp *t, struct tcp_flow *f)
{
    bool moved = false;
    while (f->to_host) {
        struct pbuf *q = f->to_host;
        size_t len = q->len; /* q may be freed by the consume below */
        size_t k = msb_tls_conn_guest_in(f->tls, q->payload, len);
        if (k) {
            msb_tcp_proxy_consume(t, f, k);
            moved = true;
        }
        if (k < len || !k)
            break;
    }
    if (!f->to_host && msb_tcp_flow_saw(f, EVT_GUEST_FIN) &&
        !msb_tcp_flow_saw(f, EVT_TLS_GUEST_EOF)) {
        msb_tls_conn_guest_eof(f->tls);
        msb_tcp_flow_event(f, EVT_TLS_GUEST_EOF);
        moved = true;
    }
    return moved;
}

/* Upstream ciphertext to the host socket.  -1 on a host error. */
static int drain_host(struct tcp_flow *f, bool *moved)
{
    const uint8_t *p;
    size_t n;
    while ((n = msb_tls_conn_host_out(f->tls, &p)) > 0) {
        ssize_t w = send(f->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            msb_tcp_proxy_wr_set(f, true);
            return 0;
        }
        if (w < 0)
            return -1;
        msb_tls_conn_host_sent(f->tls, (size_t)w);
        msb_tcp_flow_bytes(f, (uint64_t)w, 0);
        *moved = true;
    }
    msb_tcp_proxy_wr_set(f, false);
    if (msb_tls_conn_host_done(f->tls) && !msb_tcp_flow_saw(f, EVT_HOST_SHUT_WR)) {
        shutdown(f->fd, SHUT_WR);
        msb_tcp_flow_event(f, EVT_HOST_SHUT_WR);
    }
    return 0;
}

/* Guest-bound ciphertext to lwIP within its send room. */
static void drain_guest(struct msb_tcp *t, struct tcp_flow *f, bool *moved)
{
    const uint8_t *p;
    size_t n;
    while (f->pcb && (n = msb_tls_conn_guest_out(f->tls, &p)) > 0) {
        size_t room = msb_tcp_proxy_send_room(f->pcb);
        size_t k = n < room ? n : room;
        if (k > 0xffff)
            k = 0xffff;
        if (!k || tcp_write(f->pcb, p, (u16_t)k, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        msb_tls_conn_guest_sent(f->tls, k);
        f->unacked += (uint32_t)k;
        msb_count(&t->m->unacked_bytes, k);
        msb_count(&t->m->bytes_to_guest, k);
        f->answered = true;
        *moved = true;
    }
    if (!f->pcb)
        return;
    msb_tcp_proxy_output(t, f);
    if (msb_tls_conn_guest_done(f->tls) && !msb_tls_conn_guest_out(f->tls, &p) &&
        !msb_tcp_flow_saw(f, EVT_TLS_GUEST_SHUT)) {
        tcp_shutdown(f->pcb, 0, 1);
        msb_tcp_flow_event(f, EVT_TLS_GUEST_SHUT);
    }
}

/* block-and-terminate: the hook fires once per instance, naming the
 * secret (never its value), the SNI or address and the flow. */
static void terminate_once(struct msb_tcp *t, const struct tcp_flow *f, const char *secret,
                           const char *name)
{
    if (atomic_exchange(t->env->terminated, true))
        return;
    char g[MSB_IP_STRLEN], d[MSB_IP_STRLEN], flow[2 * MSB_IP_STRLEN + 40];
    msb_ip_format(&f->g, g, sizeof g);
    msb_ip_format(&f->d, d, sizeof d);
    bool v6 = f->d.family == MSB_FAMILY_V6;
    snprintf(flow, sizeof flow, v6 ? "tcp [%s]:%u -> [%s]:%u" : "tcp %s:%u -> %s:%u", g, f->gp,
             d, f->dp);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", MSBNET_REASON_KIND, "secret_violation",
                          MSBNET_REASON_SECRET, secret, MSBNET_REASON_NAME, name,
                          MSBNET_REASON_PROTOCOL, "tcp", MSBNET_REASON_FLOW, flow);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    msb_hook_trigger(t->env->hook, text ? text : "{\"reason\":\"secret_violation\"}");
    free(text);
    json_decref(o);
}

void msb_tcp_tls_violation(struct msb_tcp *t, const struct tcp_flow *f,
                           const struct msb_secret_cfg *s, const char *name)
{
    if (s->on_violation != MSB_VIOLATION_BLOCK)
        fprintf(stderr, "msbnet: secret %s sent toward \"%s\" (port %u%s), not one of its "
                "hosts: connection reset\n", s->env, name, f->dp, f->tls ? "" : ", plaintext");
    if (s->on_violation == MSB_VIOLATION_BLOCK_TERMINATE)
        terminate_once(t, f, s->env, name);
}

/* The secret behind an engine's VIOLATION, from the connection's own
 * generation: secrets replaced since it opened do not renumber it. */
static void on_violation(struct msb_tcp *t, const struct tcp_flow *f)
{
    const struct msb_secret_cfg *s = msb_tls_conn_secret(f->tls, msb_tls_conn_violation(f->tls));
    if (s)
        msb_tcp_tls_violation(t, f, s, msb_tls_conn_sni(f->tls));
}

/* A violation or a failure: the guest gets the engine's alert, if lwIP
 * can take it now, then both sides are reset by the caller. */
static int stop(struct msb_tcp *t, struct tcp_flow *f, enum msb_tls_status st)
{
    bool moved = false;
    drain_guest(t, f, &moved);
    if (st == MSB_TLS_VIOLATION)
        on_violation(t, f);
    if (t->env->cfg->log_level >= MSB_LOG_INFO)
        fprintf(stderr, "msbnet: tls: %s on a flow to port %u (sni \"%s\"): %s\n",
                st == MSB_TLS_VIOLATION ? "secret violation" : "interception failed", f->dp,
                msb_tls_conn_sni(f->tls), msb_tls_conn_reason(f->tls));
    msb_tcp_tls_publish(t);
    return -1;
}

int msb_tcp_tls_step(struct msb_tcp *t, struct tcp_flow *f)
{
    if (!f->tls || f->fd < 0)
        return 0;
    bool moved = false;
    for (int round = 0; round < 16; round++) {
        moved = feed_guest(t, f);
        enum msb_tls_status st = msb_tls_conn_pump(f->tls, msb_now_ms());
        if (drain_host(f, &moved) < 0)
            return -1;
        drain_guest(t, f, &moved);
        if (st == MSB_TLS_VIOLATION || st == MSB_TLS_FAILED)
            return stop(t, f, st);
        if (!moved)
            break;
        f->last_active_ms = msb_now_ms();
        if (!msb_tcp_flow_saw(f, EVT_HOST_EOF) && f->state >= FLOW_OPEN)
            msb_tcp_proxy_rd_set(f, true); /* the engine may take host bytes again */
    }
    /* Still moving after its rounds (other flows get their turn): nothing
     * else may come to wake the flow (its guest bytes are queued already),
     * so the host socket's write event, due at once, brings it back. */
    if (moved && f->fd >= 0)
        msb_tcp_proxy_wr_set(f, true);
    msb_tcp_tls_publish(t);
    return 0;
}

int msb_tcp_tls_flush(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_tcp_flow_pending(f, PEND_TLS)) {
        int d = decide(t, f);
        if (d == -1)
            return 0; /* the rest of the ClientHello */
        if (d == -2) { /* refused_cap or alloc_failed, counted by the engine */
            msb_tcp_tls_publish(t);
            return -1;
        }
        msb_tcp_flow_pend(f, PEND_TLS, false);
        if (f->state >= FLOW_OPEN && !msb_tcp_flow_saw(f, EVT_HOST_EOF))
            msb_tcp_proxy_rd_set(f, true); /* held while undecided */
        if (d == 1)
            return 1;
    }
    return msb_tcp_tls_step(t, f);
}

/* Host ciphertext: peeked, and only what the engine takes is read. */
int msb_tcp_tls_host_read(struct msb_tcp *t, struct tcp_flow *f)
{
    if (!f->tls) { /* undecided: the host waits for the guest's hello */
        msb_tcp_proxy_rd_set(f, false);
        return 0;
    }
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(f->fd, t->buf, HOST_PEEK, MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0)
            return -1;
        if (n == 0) {
            msb_tls_conn_host_eof(f->tls);
            msb_tcp_flow_event(f, EVT_HOST_EOF);
            msb_tcp_flow_set_state(t, f, FLOW_CLOSING);
            msb_tcp_proxy_rd_set(f, false);
            break;
        }
        size_t k = msb_tls_conn_host_in(f->tls, t->buf, (size_t)n);
        if (!k) {
            msb_tcp_proxy_rd_set(f, false); /* full: the next step that moves re-arms */
            break;
        }
        if (recv(f->fd, t->buf, k, 0) != (ssize_t)k)
            return -1;
        msb_tcp_flow_bytes(f, 0, k);
        f->last_active_ms = msb_now_ms();
        if (msb_tcp_tls_step(t, f) < 0)
            return -1;
    }
    return msb_tcp_tls_step(t, f);
}

/* ---- counters -------------------------------------------------------------- */

static void put(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

void msb_tcp_tls_publish(struct msb_tcp *t)
{
    if (!t->env->tls)
        return;
    const struct msb_tls_stats *s = msb_tls_ctx_stats(t->env->tls);
    struct msb_tls_metrics *m = &t->env->metrics->tls;
#define COPY(name) put(&m->name, s->name);
    COPY(intercepted) COPY(handshakes_ok) COPY(guest_hs_failed) COPY(upstream_hs_failed)
    COPY(upstream_verify_failed) COPY(bad_sni) COPY(handshake_timeouts) COPY(alpn_h2)
    COPY(alpn_http1) COPY(alpn_other) COPY(alpn_none) COPY(h2_withheld) COPY(http_malformed)
    COPY(bytes_to_upstream) COPY(bytes_to_guest) COPY(alloc_failed) COPY(tls_io_failed)
    COPY(refused_cap)
#undef COPY
    for (int i = 0; i < MSB_SECRETS_MAX; i++) {
        if (t->env->secret_substitutions)
            put(&t->env->secret_substitutions[i], s->substitutions[i]);
        if (t->env->secret_violations)
            put(&t->env->secret_violations[i], s->violations[i]);
    }
    put(&m->secret_mem_unlocked, msb_secret_mem_lock_failed());
    put(&m->substitutions, s->substitutions_total);
    put(&m->violations, s->violations_total);
}
