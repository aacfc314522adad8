/* SPDX-License-Identifier: Apache-2.0 */
/* The frame pump (pump.h): both directions bounded per wakeup, and a frame
 * held rather than lost while the other side is full. */
#include "pump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_transport_readable(evutil_socket_t fd, short what, void *arg);
static void on_transport_writable(evutil_socket_t fd, short what, void *arg);

static void arm_timer_us(struct event *ev, unsigned us)
{
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = (long)(us % 1000000)};
    evtimer_add(ev, &tv);
}

static void arm_timer(struct event *ev, unsigned ms)
{
    arm_timer_us(ev, ms * 1000);
}

static unsigned backoff(unsigned ms)
{
    return ms * 2 > PUMP_RETRY_MAX_MS ? PUMP_RETRY_MAX_MS : ms * 2;
}

/* Reads again; a transport that already holds a whole frame gets its turn
 * now, since its fd may never become readable again for it. */
static void resume_read(struct msbd_pump *p)
{
    event_add(p->t_read, NULL);
    if (p->t->buffered && p->t->buffered(p->t))
        event_active(p->t_read, EV_READ, 0);
}

/* ---- the link: a transport fd to watch, or none ------------------------ */

static void disarm_link(struct msbd_pump *p)
{
    if (p->t_read)
        event_free(p->t_read);
    if (p->t_write)
        event_free(p->t_write);
    p->t_read = p->t_write = NULL;
    evtimer_del(p->write_retry);
}

static int arm_link(struct msbd_pump *p)
{
    disarm_link(p);
    p->t_read = event_new(p->base, p->t->fd, EV_READ | EV_PERSIST, on_transport_readable, p);
    p->t_write = event_new(p->base, p->t->fd, EV_WRITE | EV_PERSIST, on_transport_writable, p);
    if (!p->t_read || !p->t_write) {
        disarm_link(p);
        return -1;
    }
    if (!p->tx_held)
        resume_read(p);
    return 0;
}

/* The peer left or broke the protocol.  A frame held for it is lost
 * (counted); the plugin's next frames are drained as no_peer_drops. */
static void link_lost(struct msbd_pump *p)
{
    disarm_link(p);
    if (p->rx_held) {
        p->rx_held = false;
        p->st.transport_write_drops++;
        event_add(p->rx_wake, NULL);
    }
    p->st.link_downs++;
    if (p->t->link_down)
        p->t->link_down(p->t);
}

static void on_link_up(void *arg)
{
    struct msbd_pump *p = arg;
    p->st.link_ups++;
    if (arm_link(p)) {
        fprintf(stderr, "msbnetd: %s: cannot watch the new peer (out of memory)\n", p->t->name);
        link_lost(p);
    }
}

/* ---- guest -> plugin ------------------------------------------------- */

/* Offers the frame in tx_buf.  True when the plugin is done with it
 * (accepted or refused for good); false = hold it and retry. */
static bool offer(struct msbd_pump *p)
{
    int rc = p->api->write_frame(p->net, p->tx_buf, p->tx_len);
    if (rc == MSBNET_WRITTEN) {
        p->st.plugin_accepted++;
        return true;
    }
    if (rc == MSBNET_NOTHING_WRITTEN) {
        p->st.plugin_busy++;
        return false;
    }
    p->st.plugin_refused++; /* the plugin counts it as a drop as well */
    if (p->verbose)
        fprintf(stderr, "msbnetd: plugin refused a %zu-byte frame (%d)\n", p->tx_len, rc);
    return true;
}

/* Ring full: stop reading the transport until the held frame is taken. */
static void hold_tx(struct msbd_pump *p)
{
    p->tx_held = true;
    p->retry_ms = PUMP_RETRY_MIN_MS;
    event_del(p->t_read);
    arm_timer(p->retry, p->retry_ms);
}

static void on_transport_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    for (int i = 0; i < PUMP_BATCH && !p->tx_held; i++) {
        ssize_t n = p->t->recv_frame(p->t, p->tx_buf, p->tx_cap);
        if (n == 0)
            return;
        if (n == MSBD_T_GONE) {
            link_lost(p);
            return;
        }
        if (n < 0) {
            p->st.transport_read_errors++;
            if (p->verbose)
                fprintf(stderr, "msbnetd: %s read: %s\n", p->t->name, strerror(errno));
            return;
        }
        p->st.guest_frames_in++;
        p->tx_len = (size_t)n;
        if (!offer(p))
            hold_tx(p);
    }
    if (!p->tx_held && p->t->buffered && p->t->buffered(p->t))
        event_active(p->t_read, EV_READ, 0);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    if (!offer(p)) {
        p->retry_ms = backoff(p->retry_ms);
        arm_timer(p->retry, p->retry_ms);
        return;
    }
    p->tx_held = false;
    if (p->t_read) /* else the next link up starts reading */
        resume_read(p);
}

/* ---- plugin -> guest ------------------------------------------------- */

/* Sends the frame in rx_buf: 1 done with it (sent or dropped and counted),
 * 0 the transport would block, MSBD_T_GONE (frame dropped and counted). */
static int deliver(struct msbd_pump *p)
{
    ssize_t n = p->t->send_frame(p->t, p->rx_buf, p->rx_len);
    if (n == 0) {
        p->st.transport_blocked++;
        return 0;
    }
    if (n < 0) {
        p->st.transport_write_drops++; /* e.g. the guest took its link down */
        if (p->verbose && n != MSBD_T_GONE)
            fprintf(stderr, "msbnetd: %s write: %s (frame dropped)\n", p->t->name,
                    strerror(errno));
        return n == MSBD_T_GONE ? MSBD_T_GONE : 1;
    }
    p->st.guest_frames_out++;
    return 1;
}

/* Next frame from the plugin into rx_buf: 1 got one, 0 none waiting. */
static int take(struct msbd_pump *p)
{
    size_t needed = 0;
    long n = p->api->read_frame(p->net, p->rx_buf, p->rx_cap, &needed);
    if (n == MSBNET_ENOSPC && needed > p->rx_cap) {
        /* Cannot happen with a buffer of the transport's largest frame
         * (pump_frame_cap); grow rather than wedge. */
        uint8_t *b = realloc(p->rx_buf, needed);
        if (!b)
            return 0;
        p->rx_buf = b;
        p->rx_cap = needed;
        n = p->api->read_frame(p->net, p->rx_buf, p->rx_cap, &needed);
    }
    if (n <= 0)
        return 0;
    p->rx_len = (size_t)n;
    return 1;
}

/* Waits until the transport can take more: EV_WRITE (persistent, already
 * armed is fine), or a backoff timer when its poll cannot be trusted. */
static void wait_writable(struct msbd_pump *p, bool again)
{
    if (!p->t->timed_write_wait) {
        event_add(p->t_write, NULL);
        return;
    }
    unsigned us = again ? p->write_retry_us * 2 : PUMP_WRITE_RETRY_MIN_US;
    p->write_retry_us = us > PUMP_WRITE_RETRY_MAX_US ? PUMP_WRITE_RETRY_MAX_US : us;
    arm_timer_us(p->write_retry, p->write_retry_us);
}

static void stop_waiting(struct msbd_pump *p)
{
    event_del(p->t_write);
    evtimer_del(p->write_retry);
}

/* Output the transport queued (several frames in one write): 0 all out,
 * 1 some left, MSBD_T_GONE. */
static int flush(struct msbd_pump *p)
{
    return p->t->flush ? p->t->flush(p->t) : 0;
}

/* No peer: the frames have nowhere to go.  Draining them (bounded per
 * wakeup) keeps the stack from stalling on a VMM that may never return. */
static void drain_no_peer(struct msbd_pump *p)
{
    for (int i = 0; i < PUMP_BATCH && take(p); i++)
        p->st.no_peer_drops++;
}

static void on_rx_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    if (!p->t_read) {
        drain_no_peer(p);
        return;
    }
    for (int i = 0; i < PUMP_BATCH && take(p); i++) {
        int r = deliver(p);
        if (r == MSBD_T_GONE) {
            link_lost(p);
            return;
        }
        if (r == 0) {
            p->rx_held = true;
            event_del(p->rx_wake);
            wait_writable(p, false);
            return;
        }
    }
    int f = flush(p);
    if (f == MSBD_T_GONE)
        link_lost(p);
    else if (f == 1)
        wait_writable(p, false);
}

/* EV_WRITE, or the write_retry timer. */
static void on_transport_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    if (!p->t_read)
        return; /* the link went down while the timer was pending */
    if (p->rx_held) {
        int r = deliver(p);
        if (r == 0) {
            if (p->t->timed_write_wait)
                wait_writable(p, true);
            return;
        }
        p->rx_held = false;
        if (r == MSBD_T_GONE) {
            link_lost(p);
            return;
        }
        event_add(p->rx_wake, NULL);
        /* The wake fd was not drained (read_frame never returned 0), so it
         * is still readable and the level-triggered event fires again. */
    }
    int f = flush(p);
    if (f == MSBD_T_GONE) {
        link_lost(p);
    } else if (f == 1) {
        if (p->t->timed_write_wait)
            wait_writable(p, true);
    } else {
        stop_waiting(p);
    }
}

/* ---- setup ----------------------------------------------------------- */

/* Both buffers hold the largest frame either side may produce: with a
 * virtio-net header that is a 64 KiB GSO super-frame plus the header. */
static size_t pump_frame_cap(const struct msbd_transport *t)
{
    return t->vnet_hdr ? MSBNET_MAX_VNET_FRAME : MSBNET_MAX_FRAME;
}

int msbd_pump_init(struct msbd_pump *p, struct event_base *base, const struct msbnet_api_v1 *api,
                   msbnet_t *net, struct msbd_transport *t, bool verbose)
{
    memset(p, 0, sizeof *p);
    p->base = base;
    p->api = api;
    p->net = net;
    p->t = t;
    p->verbose = verbose;
    p->tx_cap = p->rx_cap = pump_frame_cap(t);
    p->tx_buf = malloc(p->tx_cap);
    p->rx_buf = malloc(p->rx_cap);
    p->rx_wake = event_new(base, api->rx_wake_fd(net), EV_READ | EV_PERSIST, on_rx_wake, p);
    p->retry = evtimer_new(base, on_retry, p);
    p->write_retry = evtimer_new(base, on_transport_writable, p);
    t->link_up = on_link_up;
    t->link_arg = p;
    if (!p->tx_buf || !p->rx_buf || !p->rx_wake || !p->retry || !p->write_retry ||
        api->rx_wake_fd(net) < 0 || event_add(p->rx_wake, NULL) ||
        (t->fd >= 0 && !t->plugin_io && arm_link(p)) || (t->watch && t->watch(t, base))) {
        msbd_pump_free(p);
        return -1;
    }
    return 0;
}

void msbd_pump_free(struct msbd_pump *p)
{
    if (p->t && p->t->unwatch)
        p->t->unwatch(p->t);
    if (p->write_retry)
        disarm_link(p);
    struct event *evs[] = {p->rx_wake, p->retry, p->write_retry};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    p->rx_wake = p->retry = p->write_retry = NULL;
    free(p->tx_buf);
    free(p->rx_buf);
    p->tx_buf = p->rx_buf = NULL;
}

json_t *msbd_pump_stats_json(const struct msbd_pump *p)
{
    const struct msbd_pump_stats *s = &p->st;
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:I}",
                          "guest_frames_in", (json_int_t)s->guest_frames_in,
                          "plugin_accepted", (json_int_t)s->plugin_accepted,
                          "plugin_busy", (json_int_t)s->plugin_busy,
                          "plugin_refused", (json_int_t)s->plugin_refused,
                          "transport_read_errors", (json_int_t)s->transport_read_errors,
                          "guest_frames_out", (json_int_t)s->guest_frames_out,
                          "transport_blocked", (json_int_t)s->transport_blocked,
                          "transport_write_drops", (json_int_t)s->transport_write_drops,
                          "tx_frame_held", p->tx_held, "rx_frame_held", p->rx_held,
                          "link_ups", (json_int_t)s->link_ups,
                          "link_downs", (json_int_t)s->link_downs,
                          "no_peer_drops", (json_int_t)s->no_peer_drops);
    if (j && p->t && p->t->stats_json)
        json_object_set_new(j, "transport", p->t->stats_json(p->t));
    return j;
}
