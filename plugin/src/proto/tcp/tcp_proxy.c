/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proxy tasks: one host socket per guest flow, on the stack's event base.
 *
 * Connect: non-blocking, bounded by connect_timeout_ms; the guest SYN is
 * held meanwhile (tcp.c) and given to lwIP only once the host accepted.
 * Relay, with the TCP windows as the only buffers:
 *   guest -> host: lwIP's pbufs are queued in to_host and written with
 *     sendmsg; tcp_recved() reopens the guest's window only for bytes the
 *     socket took, so a slow host closes the window.
 *   host -> guest: read at most what tcp_sndbuf (and the segment queue)
 *     can take, and only while the guest's rx ring has room; sent_cb and
 *     the rx-room wake resume reading.
 * Half-close: guest FIN -> shutdown(SHUT_WR) once to_host is written;
 * host EOF -> tcp_shutdown(pcb, 0, 1).  Never tcp_close on a flow (with
 * Debian's lwIP 2.1.3 it RSTs late guest data and loses err_cb).
 * RST: host error -> tcp_abort (guest RST); guest RST (err_cb ERR_RST) ->
 * close with SO_LINGER {1,0} (host RST).
 * A flow is released exactly once, when both its pcb and its fd are gone.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "lib/clock.h"
#include "lib/hostsock.h"
#include "proto/dns_tcp.h"
#include "proto/tcp/tcp_int.h"


static void finish(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->state != FLOW_FREE && !f->pcb && f->fd < 0)
        msb_tcp_flow_release(t, f);
}

/* ---- host socket helpers ---------------------------------------------- */

/* Arms or disarms a host-socket event, tracking it in f->armed so
 * repeated calls cost nothing. */
static void ev_set(struct tcp_flow *f, struct event *ev, unsigned bit, bool on)
{
    if (!ev || msb_tcp_flow_armed(f, bit) == on)
        return;
    msb_tcp_flow_arm(f, bit, on);
    if (on)
        event_add(ev, NULL);
    else
        event_del(ev);
}

void msb_tcp_proxy_rd_set(struct tcp_flow *f, bool on)
{
    ev_set(f, f->rd, ARM_RD, on);
}

void msb_tcp_proxy_wr_set(struct tcp_flow *f, bool on)
{
    ev_set(f, f->wr, ARM_WR, on);
}

static void close_fd(struct msb_tcp *t, struct tcp_flow *f, bool reset)
{
    if (f->fd < 0)
        return;
    if (f->rd)
        event_free(f->rd);
    if (f->wr)
        event_free(f->wr);
    f->rd = f->wr = NULL;
    msb_tcp_flow_arm(f, ARM_RD | ARM_WR, false);
    if (reset) {
        /* An abortive close: the host peer sees ECONNRESET, as it would
         * had the guest's RST reached it directly. */
        const struct linger lg = {1, 0};
        setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        msb_count(&t->m->resets_to_host, 1);
        msb_tcp_flow_ended(f, MSB_FR_END_RST_GUEST);
    }
    close(f->fd);
    f->fd = -1;
}

/* Where to dial: the guest's destination, or host loopback when the guest
 * dialled an active gateway address (host.microsandbox.internal). */
static socklen_t target_of(struct msb_tcp *t, const struct tcp_flow *f,
                           struct sockaddr_storage *ss)
{
    return (socklen_t)msb_gateway_target(t->env->gw, &f->d, f->dp, ss);
}

/* ---- connect ------------------------------------------------------------ */

static void on_writable(evutil_socket_t fd, short what, void *arg);
static void on_readable(evutil_socket_t fd, short what, void *arg);
static void on_err(void *arg, err_t err);

static void arm_timer(struct msb_tcp *t, struct tcp_flow *f, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    (void)t;
    event_add(f->tmr, &tv);
}

void msb_tcp_proxy_connect_failed(struct msb_tcp *t, struct tcp_flow *f, int err)
{
    if (err == ECONNREFUSED)
        msb_count(&t->m->connects_refused, 1);
    else if (err == ETIMEDOUT)
        msb_count(&t->m->connects_timeout, 1);
    else
        msb_count(&t->m->connects_error, 1);
    struct msb_pkt p;
    enum msb_drop_reason why;
    if (msb_pkt_parse(f->syn, f->syn_len, &p, &why))
        msb_tcp_send_rst(t, &p);
    close_fd(t, f, false);
    msb_tcp_flow_release(t, f);
}

/* The held SYN, rewritten, goes to lwIP now: its SYN-ACK is the guest's
 * first sign that the destination accepted. */
static void feed_syn(struct msb_tcp *t, struct tcp_flow *f)
{
    uint8_t pkt[FLOW_SYN_CAP];
    size_t len = (size_t)f->syn_len - MSB_ETH_HLEN;
    memcpy(pkt, f->syn + MSB_ETH_HLEN, len);
    msb_tcp_nat_to_lwip(t, f, pkt);
    msb_tcp_lw_input(t, pkt, len);
    struct tcp_pcb *pcb = msb_tcp_lw_find_pcb(t, f);
    if (pcb) {
        msb_tcp_proxy_watch(f, pcb);
        return;
    }
    /* lwIP made no connection of it (it answered RST itself, or had no
     * memory): end the flow on both sides. */
    struct msb_pkt p;
    enum msb_drop_reason why;
    if (msb_pkt_parse(f->syn, f->syn_len, &p, &why))
        msb_tcp_send_rst(t, &p);
    msb_tcp_proxy_abort(t, f, true);
}

void msb_tcp_proxy_connected(struct msb_tcp *t, struct tcp_flow *f)
{
    msb_count(&t->m->connects_ok, 1);
    event_free(f->wr);
    f->wr = event_new(t->env->base, f->fd, EV_WRITE | EV_PERSIST, on_writable, f);
    f->rd = event_new(t->env->base, f->fd, EV_READ | EV_PERSIST, on_readable, f);
    msb_tcp_flow_arm(f, ARM_RD | ARM_WR, false);
    if (!f->wr || !f->rd) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_NO_MEMORY);
        msb_tcp_proxy_abort(t, f, true);
        return;
    }
    msb_host_tcp_options(f->fd);
    msb_tcp_flow_set_state(t, f, FLOW_SYN_FED);
    f->last_active_ms = msb_now_ms();
    arm_timer(t, f, (uint64_t)t->env->cfg->tcp_idle_timeout_s * 1000u);
    feed_syn(t, f);
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct tcp_flow *f = arg;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EINTR) {
        event_add(f->wr, NULL);
        return;
    }
    if (err) {
        msb_tcp_upproxy_unreachable(f->t, f);
        msb_tcp_proxy_connect_failed(f->t, f, err);
        return;
    }
    if (f->pxy) { /* connected to the proxy: its handshake runs under the connect timer */
        msb_tcp_upproxy_begin(f->t, f);
        return;
    }
    event_del(f->tmr);
    msb_tcp_proxy_connected(f->t, f);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

void msb_tcp_proxy_start(struct msb_tcp *t, struct tcp_flow *f)
{
    struct sockaddr_storage ss;
    unsigned sl = (unsigned)target_of(t, f, &ss);
    /* TCP/53 to any address is msbnet's own DNS server (dns_tcp.c): the
     * "host socket" is a socketpair end, connected from the start. */
    bool dns = f->dp == 53;
    if (!dns && msb_tcp_upproxy_route(t, f, &ss, &sl) < 0) {
        msb_tcp_proxy_connect_failed(t, f, ENOMEM);
        return;
    }
    f->fd = dns ? msb_dns_tcp_open(t->dns, &f->g, f->gp, &f->d)
                : socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0) {
        msb_tcp_proxy_connect_failed(t, f, errno);
        return;
    }
    f->tmr = evtimer_new(t->env->base, on_timer, f);
    f->wr = event_new(t->env->base, f->fd, EV_WRITE, on_connect, f);
    if (!f->tmr || !f->wr) {
        msb_tcp_proxy_connect_failed(t, f, ENOMEM);
        return;
    }
    if (dns || connect(f->fd, (struct sockaddr *)&ss, (socklen_t)sl) == 0) {
        if (f->pxy)
            msb_tcp_upproxy_begin(t, f);
        else
            msb_tcp_proxy_connected(t, f);
        return;
    }
    if (errno != EINPROGRESS) {
        msb_tcp_upproxy_unreachable(t, f);
        msb_tcp_proxy_connect_failed(t, f, errno);
        return;
    }
    event_add(f->wr, NULL);
    arm_timer(t, f, t->env->cfg->connect_timeout_ms);
}

bool msb_tcp_proxy_adopt(struct msb_tcp *t, struct tcp_flow *f, int fd)
{
    f->fd = fd;
    f->tmr = evtimer_new(t->env->base, on_timer, f);
    f->rd = event_new(t->env->base, fd, EV_READ | EV_PERSIST, on_readable, f);
    f->wr = event_new(t->env->base, fd, EV_WRITE | EV_PERSIST, on_writable, f);
    msb_tcp_flow_arm(f, ARM_RD | ARM_WR, false);
    if (!f->tmr || !f->rd || !f->wr) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_NO_MEMORY);
        close_fd(t, f, true);
        msb_tcp_flow_release(t, f);
        return false;
    }
    msb_host_tcp_options(fd);
    f->last_active_ms = msb_now_ms();
    /* The guest's handshake is bounded like a host connect. */
    arm_timer(t, f, t->env->cfg->connect_timeout_ms);
    return true;
}

void msb_tcp_proxy_cancel_connect(struct msb_tcp *t, struct tcp_flow *f)
{
    close_fd(t, f, false);
    msb_tcp_flow_release(t, f);
}

/* ---- guest -> host ------------------------------------------------------ */

/* Drops n written bytes from the head of to_host and reopens the guest's
 * window by as much. */
void msb_tcp_proxy_consume(struct msb_tcp *t, struct tcp_flow *f, size_t n)
{
    f->to_host_len -= (uint32_t)n;
    atomic_fetch_sub_explicit(&t->m->buffered_bytes, n, memory_order_relaxed);
    while (n) {
        u16_t c = (u16_t)(n > 0xffff ? 0xffff : n);
        f->to_host = pbuf_free_header(f->to_host, c);
        if (f->pcb)
            tcp_recved(f->pcb, c);
        n -= c;
    }
    if (!f->to_host) {
        f->to_host_tail = NULL;
        f->tail_room = 0;
    }
}

static void close_if_done(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->fd >= 0 && msb_tcp_flow_saw(f, EVT_HOST_SHUT_WR | EVT_HOST_EOF))
        close_fd(t, f, false);
}

static void shut_if_drained(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->tls)
        return; /* the engine says when each side is done (tcp_tls.c) */
    if (msb_tcp_flow_saw(f, EVT_GUEST_FIN) && !f->to_host_len &&
        !msb_tcp_flow_saw(f, EVT_HOST_SHUT_WR) && f->fd >= 0) {
        shutdown(f->fd, SHUT_WR);
        msb_tcp_flow_event(f, EVT_HOST_SHUT_WR);
    }
    close_if_done(t, f);
}

/* The head of to_host as at most 64 iovecs holding at most ALLOW bytes. */
static int gather(const struct tcp_flow *f, struct iovec *iov, size_t allow)
{
    int n = 0;
    for (struct pbuf *q = f->to_host; q && n < 64 && allow; q = q->next) {
        size_t len = q->len < allow ? q->len : allow;
        iov[n++] = (struct iovec){q->payload, len};
        allow -= len;
    }
    return n;
}

/* Writes as much of to_host as the socket (and the egress limit) takes.
 * -1 on a host error. */
static int flush(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_tcp_flow_pending(f, PEND_SNI) && f->to_host_len) {
        enum msb_tcp_sni_gate g = msb_tcp_sni_gate(t, f);
        if (g != SNI_PASS)
            return g == SNI_HOLD ? 0 : -1;
    }
    if (f->tls || msb_tcp_flow_pending(f, PEND_TLS)) {
        int r = msb_tcp_tls_flush(t, f); /* intercepted (tcp_tls.c), or decided raw */
        if (r <= 0)
            return r;
    }
    while (f->to_host_len && f->fd >= 0) {
        size_t allow = msb_tcp_thr_grant(t, f, DIR_EGRESS, f->to_host_len);
        if (!allow) { /* paused: the throttle timer resumes the writes */
            msb_tcp_proxy_wr_set(f, false);
            return 0;
        }
        struct iovec iov[64];
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)gather(f, iov, allow)};
        ssize_t w = sendmsg(f->fd, &mh, MSG_NOSIGNAL);
        msb_tcp_thr_refund(t, DIR_EGRESS, allow - (w > 0 ? (size_t)w : 0));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            msb_tcp_proxy_wr_set(f, true);
            return 0;
        }
        if (w < 0)
            return -1;
        msb_tcp_proxy_consume(t, f, (size_t)w);
        msb_count(&t->m->bytes_to_host, (uint64_t)w);
        msb_tcp_flow_bytes(f, (uint64_t)w, 0);
        f->last_active_ms = msb_now_ms();
    }
    msb_tcp_proxy_wr_set(f, false);
    shut_if_drained(t, f);
    return 0;
}

/* Links q (a chain) after what is queued.  The pbufs are linked by hand,
 * not with pbuf_cat: only q->len is ever read, so the u16 tot_len never
 * matters. */
static void link_tail(struct tcp_flow *f, struct pbuf *q)
{
    struct pbuf *last = q;
    while (last->next)
        last = last->next;
    if (f->to_host_tail)
        f->to_host_tail->next = q;
    else
        f->to_host = q;
    f->to_host_tail = last;
}

/* While a host peer is slow, small guest segments are copied together:
 * a pbuf costs far more than one byte, and a guest sending one byte per
 * segment into a full window would otherwise hold a pbuf per byte. */
static bool merge_small(struct msb_tcp *t, struct tcp_flow *f, struct pbuf *p)
{
    if (!f->to_host || p->tot_len > MERGE_SMALL)
        return false;
    if (f->tail_room < p->tot_len) {
        struct pbuf *m = pbuf_alloc(PBUF_RAW, MERGE_CAP, PBUF_RAM);
        if (!m)
            return false;
        m->len = m->tot_len = 0;
        link_tail(f, m);
        f->tail_room = MERGE_CAP;
    }
    struct pbuf *tail = f->to_host_tail;
    pbuf_copy_partial(p, (uint8_t *)tail->payload + tail->len, p->tot_len, 0);
    tail->len = tail->tot_len = (u16_t)(tail->len + p->tot_len);
    f->tail_room = (uint16_t)(f->tail_room - p->tot_len);
    msb_count(&t->m->small_segments_merged, 1);
    pbuf_free(p);
    return true;
}

static void append(struct msb_tcp *t, struct tcp_flow *f, struct pbuf *p)
{
    u16_t n = p->tot_len;
    if (!merge_small(t, f, p)) {
        link_tail(f, p);
        f->tail_room = 0;
    }
    f->to_host_len += n;
    msb_count(&t->m->buffered_bytes, n);
}

/* Guest bytes waiting for host peers are bounded for all flows together:
 * data that would take them past tcp_buffer_max_bytes stays with lwIP (one
 * refused delivery per flow, which it offers again on its timer) and the
 * guest's window stays closed, so thousands of flows cannot each fill a
 * window.  The delivery's own size counts: after a lost segment lwIP hands
 * over the gap and its out-of-order queue at once (up to 64 KiB).  A flow
 * holding nothing may still take one segment (one stalled peer must not
 * stop the others' requests), never such a chain: each flow that then
 * stalls adds at most one segment beyond the bound. */
static bool over_budget(struct msb_tcp *t, const struct tcp_flow *f,
                        const struct tcp_pcb *pcb, uint32_t n)
{
    uint64_t held = msb_read(&t->m->buffered_bytes);
    if (held + n <= t->env->cfg->tcp_buffer_max_bytes)
        return false;
    return f->to_host_len || n > pcb->mss;
}

static err_t guest_fin(struct msb_tcp *t, struct tcp_flow *f, struct tcp_pcb *pcb)
{
    msb_tcp_flow_event(f, EVT_GUEST_FIN);
    msb_tcp_flow_set_state(t, f, FLOW_CLOSING);
    /* TIME_WAIT already (we had sent our FIN): reap it after tcp_input has
     * sent the ACK for this FIN, i.e. at batch end. */
    if (pcb->state == TIME_WAIT) {
        msb_tcp_flow_pend(f, PEND_REAP, true);
        msb_tcp_flow_mark_batch(t, f);
    }
    shut_if_drained(t, f);
    return ERR_OK;
}

uint64_t msb_tcp_segs_for(const struct tcp_flow *f, uint64_t in)
{
    uint64_t mss = f->pcb && f->pcb->mss ? f->pcb->mss : 536; /* RFC 9293's default */
    return (in + mss - 1) / mss;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct tcp_flow *f = arg;
    struct msb_tcp *t = f->t;
    (void)err;
    if (!p) {
        err_t e = guest_fin(t, f, pcb);
        if (f->tls && msb_tcp_tls_step(t, f) < 0) { /* the engine sends close_notify */
            msb_tcp_proxy_abort(t, f, true);
            return ERR_ABRT;
        }
        return e;
    }
    if (over_budget(t, f, pcb, p->tot_len)) {
        msb_count(&t->m->recv_deferred, 1);
        return ERR_MEM; /* lwIP keeps p and offers it again */
    }
    if (msb_tcp_pscan(t, f, p) < 0) { /* a placeholder in plaintext: none of it leaves */
        pbuf_free(p); /* ERR_ABRT: the callback owns p */
        msb_tcp_proxy_abort(t, f, true);
        return ERR_ABRT;
    }
    f->last_active_ms = msb_now_ms();
    msb_tcp_flow_segs_out(f, pbuf_clen(p)); /* after ERR_MEM: counted once */
    msb_tcp_flow_pend(f, PEND_ACK, true);
    msb_tcp_flow_mark_batch(t, f);
    if (f->fd < 0 || msb_tcp_flow_saw(f, EVT_HOST_SHUT_WR)) {
        /* No one to give it to (cannot happen after a FIN, but be safe). */
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    append(t, f, p);
    msb_tcp_held_sync(t, f); /* p may have been lwIP's refused delivery */
    if (flush(t, f) < 0) {
        msb_tcp_proxy_abort(t, f, false);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tcp_flow *f = arg;
    struct msb_tcp *t = f->t;
    if (flush(t, f) < 0) {
        msb_tcp_proxy_abort(t, f, false);
        return;
    }
    finish(t, f);
}

/* ---- host -> guest ------------------------------------------------------ */

/* What tcp_write can take now without failing: the send buffer, and the
 * segment queue (a guest announcing a tiny MSS would otherwise fill
 * TCP_SND_QUEUELEN long before the buffer). */
size_t msb_tcp_proxy_send_room(const struct tcp_pcb *pcb)
{
    size_t sb = tcp_sndbuf(pcb);
    int segs = (int)TCP_SND_QUEUELEN - (int)tcp_sndqueuelen(pcb) - 2;
    if (segs <= 0)
        return 0;
    size_t by_segs = (size_t)segs * pcb->mss;
    return sb < by_segs ? sb : by_segs;
}

void msb_tcp_proxy_output(struct msb_tcp *t, struct tcp_flow *f)
{
    if (msb_env_rx_room(t->env, 1))
        tcp_output(f->pcb);
    else
        msb_tcp_flow_mark_room(t, f);
}

static void host_eof(struct msb_tcp *t, struct tcp_flow *f)
{
    msb_tcp_flow_event(f, EVT_HOST_EOF);
    msb_tcp_proxy_rd_set(f, false);
    msb_tcp_flow_set_state(t, f, FLOW_CLOSING);
    tcp_shutdown(f->pcb, 0, 1); /* FIN after the queued data */
    close_if_done(t, f);
}

/* Host bytes waiting for the guest are bounded for all flows together, as
 * guest bytes are the other way: a guest that stops acknowledging (a zero
 * window) on thousands of flows cannot make each hold a send buffer. */
static bool send_over_budget(const struct msb_tcp *t)
{
    return msb_read(&t->m->unacked_bytes) >= t->env->cfg->tcp_buffer_max_bytes;
}

/* Reads per readable event: a fast host peer fills lwIP's send buffer in
 * one pass (each read is at most 64 KiB), others' events still get turns. */
#define READS_PER_EVENT 16

/* One read into lwIP: 1 when the read filled what lwIP could take (more
 * may wait), 0 when nothing more is to be read now, -1 when the flow ended. */
static int read_once(struct msb_tcp *t, struct tcp_flow *f)
{
    size_t room = msb_tcp_proxy_send_room(f->pcb);
    if (!room)
        return 0; /* on_sent resumes */
    size_t cap = msb_tcp_thr_grant(t, f, DIR_INGRESS, room < sizeof t->buf ? room : sizeof t->buf);
    if (!cap) {
        msb_tcp_proxy_rd_set(f, false); /* paused: the throttle timer resumes the reads */
        return 0;
    }
    ssize_t n = recv(f->fd, t->buf, cap, 0);
    msb_tcp_thr_refund(t, DIR_INGRESS, cap - (n > 0 ? (size_t)n : 0));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n < 0) {
        msb_tcp_proxy_abort(t, f, false); /* host reset: the guest gets RST */
        return -1;
    }
    if (n == 0) {
        host_eof(t, f);
        return 0;
    }
    if (tcp_write(f->pcb, t->buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_NO_MEMORY);
        msb_tcp_proxy_abort(t, f, true);
        return -1;
    }
    f->unacked += (uint32_t)n;
    msb_count(&t->m->unacked_bytes, (uint64_t)n);
    msb_count(&t->m->bytes_to_guest, (uint64_t)n);
    f->answered = true;
    msb_tcp_flow_bytes(f, 0, (uint64_t)n);
    f->last_active_ms = msb_now_ms();
    return (size_t)n == cap ? 1 : 0;
}

static void host_read(struct msb_tcp *t, struct tcp_flow *f)
{
    if (!f->pcb || msb_tcp_flow_saw(f, EVT_HOST_EOF) || f->state < FLOW_OPEN) {
        msb_tcp_proxy_rd_set(f, false);
        return;
    }
    if (f->tls || msb_tcp_flow_pending(f, PEND_TLS)) {
        if (msb_tcp_tls_host_read(t, f) < 0)
            msb_tcp_proxy_abort(t, f, true);
        return;
    }
    bool budget = send_over_budget(t);
    if (budget || !msb_env_rx_room(t->env, 1)) {
        if (budget)
            msb_count(&t->m->send_deferred, 1);
        msb_tcp_proxy_rd_set(f, false);
        msb_tcp_flow_mark_room(t, f);
        return;
    }
    int r = 1;
    for (int i = 0; i < READS_PER_EVENT && r > 0 && !send_over_budget(t); i++)
        r = read_once(t, f);
    if (r < 0)
        return;
    if (!msb_tcp_proxy_send_room(f->pcb))
        msb_tcp_proxy_rd_set(f, false); /* on_sent resumes */
    msb_tcp_proxy_output(t, f); /* the data, and the FIN after it if the host ended */
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tcp_flow *f = arg;
    struct msb_tcp *t = f->t;
    host_read(t, f);
    msb_tcp_gro_flush(t); /* what this read's tcp_output staged */
    if (f->state != FLOW_FREE)
        finish(t, f);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct tcp_flow *f = arg;
    struct msb_tcp *t = f->t;
    (void)pcb;
    uint32_t acked = len < f->unacked ? len : f->unacked;
    bool was_over = send_over_budget(t);
    f->unacked -= acked;
    atomic_fetch_sub_explicit(&t->m->unacked_bytes, acked, memory_order_relaxed);
    if (was_over && !send_over_budget(t))
        t->send_budget_freed = true;
    f->last_active_ms = msb_now_ms();
    if (!msb_tcp_flow_saw(f, EVT_HOST_EOF) && f->fd >= 0)
        msb_tcp_proxy_rd_set(f, true);
    if (f->tls && msb_tcp_tls_step(t, f) < 0) { /* room for what the engine holds */
        msb_tcp_proxy_abort(t, f, true);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/* ---- lwIP life cycle ---------------------------------------------------- */

void msb_tcp_proxy_watch(struct tcp_flow *f, struct tcp_pcb *pcb)
{
    f->pcb = pcb;
    tcp_arg(pcb, f);
    tcp_err(pcb, on_err);
}

bool msb_tcp_proxy_accepted(struct msb_tcp *t, struct tcp_flow *f, struct tcp_pcb *pcb)
{
    if (f->pcb != pcb || f->state != FLOW_SYN_FED)
        return false;
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_nagle_disable(pcb);
    msb_tcp_flow_set_state(t, f, FLOW_OPEN);
    msb_tcp_proxy_rd_set(f, true);
    return true;
}

/* lwIP has freed the pcb already. */
static void on_err(void *arg, err_t err)
{
    struct tcp_flow *f = arg;
    if (!f)
        return;
    f->pcb = NULL;
    if (msb_tcp_flow_saw(f, EVT_ABORTED))
        return; /* msb_tcp_proxy_abort does the rest */
    struct msb_tcp *t = f->t;
    if (err == ERR_CLSD) {
        /* Both FINs done and acknowledged: finish writing, then close. */
        msb_tcp_flow_set_state(t, f, FLOW_CLOSING);
        shut_if_drained(t, f);
    } else {
        if (f->inbound && f->state == FLOW_SYN_FED && err == ERR_RST) /* guest port closed */
            msb_count(&t->env->metrics->inbound.tcp_guest_refused, 1);
        /* ERR_RST (guest reset) or ERR_ABRT (lwIP gave up: retransmissions,
         * handshake timeout): the host gets a RST. */
        close_fd(t, f, true);
    }
    finish(t, f);
}

void msb_tcp_proxy_abort(struct msb_tcp *t, struct tcp_flow *f, bool reset_host)
{
    struct tcp_pcb *pcb = msb_tcp_flow_live_pcb(f);
    if (pcb) {
        if (pcb->state != TIME_WAIT) {
            msb_count(&t->m->resets_to_guest, 1);
            msb_tcp_flow_ended(f, MSB_FR_END_RST_HOST);
        }
        /* Never cleared: the flow is released below, before any other
         * callback could see it. */
        msb_tcp_flow_event(f, EVT_ABORTED);
        tcp_abort(pcb); /* RST, then on_err(ERR_ABRT), inside this call */
    } else if (f->state == FLOW_CONNECTING) {
        struct msb_pkt p;
        enum msb_drop_reason why;
        if (msb_pkt_parse(f->syn, f->syn_len, &p, &why))
            msb_tcp_send_rst(t, &p);
    }
    f->pcb = NULL;
    close_fd(t, f, reset_host);
    msb_tcp_flow_release(t, f);
}

void msb_tcp_proxy_reap(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->pcb && msb_tcp_lw_pcb_alive(f->pcb) && f->pcb->state == TIME_WAIT) {
        tcp_abort(f->pcb); /* TIME_WAIT: freed silently, no RST, no err_cb */
        f->pcb = NULL;
    }
    close_if_done(t, f);
    finish(t, f);
}

void msb_tcp_proxy_resume(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->pcb)
        msb_tcp_proxy_output(t, f);
    if (f->state >= FLOW_OPEN && !msb_tcp_flow_saw(f, EVT_HOST_EOF) && f->fd >= 0)
        msb_tcp_proxy_rd_set(f, true);
}

void msb_tcp_proxy_egress_resume(struct msb_tcp *t, struct tcp_flow *f)
{
    if (flush(t, f) < 0) {
        msb_tcp_proxy_abort(t, f, false);
        return;
    }
    finish(t, f);
}

void msb_tcp_proxy_ingress_resume(struct msb_tcp *t, struct tcp_flow *f)
{
    (void)t;
    if (f->state >= FLOW_OPEN && !msb_tcp_flow_saw(f, EVT_HOST_EOF) && f->fd >= 0)
        msb_tcp_proxy_rd_set(f, true);
}

/* ---- timers ------------------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tcp_flow *f = arg;
    struct msb_tcp *t = f->t;
    if (f->state == FLOW_CONNECTING) {
        msb_tcp_proxy_connect_failed(t, f, ETIMEDOUT);
        return;
    }
    if (f->inbound && f->state == FLOW_SYN_FED) { /* the guest never answered */
        msb_count(&t->env->metrics->inbound.tcp_guest_timeout, 1);
        msb_tcp_proxy_abort(t, f, true);
        return;
    }
    if (msb_tcp_flow_pending(f, PEND_SNI) && msb_tcp_flow_saw(f, EVT_SNI_WAITED)) {
        /* the ClientHello did not complete in time */
        msb_tcp_flow_event(f, EVT_SNI_EXPIRED);
        if (flush(t, f) < 0) {
            msb_tcp_proxy_abort(t, f, false);
            return;
        }
        finish(t, f);
        if (f->state == FLOW_FREE)
            return;
    }
    if (f->tls && msb_tcp_tls_step(t, f) < 0) { /* the handshake deadline */
        msb_tcp_proxy_abort(t, f, true);
        return;
    }
    uint64_t idle = (uint64_t)t->env->cfg->tcp_idle_timeout_s * 1000u;
    uint64_t quiet = msb_now_ms() - f->last_active_ms;
    if (quiet < idle) {
        arm_timer(t, f, idle - quiet);
        return;
    }
    msb_count(&t->m->idle_timeouts, 1);
    msb_tcp_flow_ended(f, MSB_FR_END_IDLE);
    msb_tcp_proxy_abort(t, f, true);
}
