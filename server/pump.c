#include "pump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- guest -> plugin ------------------------------------------------- */

static void arm_retry(struct msbd_pump *p)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (long)p->retry_ms * 1000};
    evtimer_add(p->retry, &tv);
}

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
    arm_retry(p);
}

static void on_transport_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    for (int i = 0; i < PUMP_BATCH && !p->tx_held; i++) {
        ssize_t n = p->t->recv_frame(p->t, p->tx_buf, MSBNET_MAX_FRAME);
        if (n == 0)
            return;
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
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    if (!offer(p)) {
        p->retry_ms = p->retry_ms * 2 > PUMP_RETRY_MAX_MS ? PUMP_RETRY_MAX_MS : p->retry_ms * 2;
        arm_retry(p);
        return;
    }
    p->tx_held = false;
    event_add(p->t_read, NULL);
}

/* ---- plugin -> guest ------------------------------------------------- */

/* Sends the frame in rx_buf.  False when the transport would block. */
static bool deliver(struct msbd_pump *p)
{
    ssize_t n = p->t->send_frame(p->t, p->rx_buf, p->rx_len);
    if (n == 0) {
        p->st.transport_blocked++;
        return false;
    }
    if (n < 0) {
        p->st.transport_write_drops++; /* e.g. the guest took its link down */
        if (p->verbose)
            fprintf(stderr, "msbnetd: %s write: %s (frame dropped)\n", p->t->name,
                    strerror(errno));
    } else {
        p->st.guest_frames_out++;
    }
    return true;
}

/* Next frame from the plugin into rx_buf: 1 got one, 0 none waiting. */
static int take(struct msbd_pump *p)
{
    size_t needed = 0;
    long n = p->api->read_frame(p->net, p->rx_buf, p->rx_cap, &needed);
    if (n == MSBNET_ENOSPC && needed > p->rx_cap) {
        /* Cannot happen with a MSBNET_MAX_FRAME buffer; grow rather than wedge. */
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

static void on_rx_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    for (int i = 0; i < PUMP_BATCH && take(p); i++) {
        if (!deliver(p)) {
            p->rx_held = true;
            event_del(p->rx_wake);
            event_add(p->t_write, NULL);
            return;
        }
    }
}

static void on_transport_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msbd_pump *p = arg;
    if (!deliver(p))
        return;
    p->rx_held = false;
    event_del(p->t_write);
    event_add(p->rx_wake, NULL);
    /* The wake fd was not drained (read_frame never returned 0), so it is
     * still readable and the level-triggered event fires again. */
}

/* ---- setup ----------------------------------------------------------- */

int msbd_pump_init(struct msbd_pump *p, struct event_base *base, const struct msbnet_api_v1 *api,
                   msbnet_t *net, struct msbd_transport *t, bool verbose)
{
    memset(p, 0, sizeof *p);
    p->base = base;
    p->api = api;
    p->net = net;
    p->t = t;
    p->verbose = verbose;
    p->rx_cap = MSBNET_MAX_FRAME;
    p->tx_buf = malloc(MSBNET_MAX_FRAME);
    p->rx_buf = malloc(p->rx_cap);
    p->t_read = event_new(base, t->fd, EV_READ | EV_PERSIST, on_transport_readable, p);
    p->t_write = event_new(base, t->fd, EV_WRITE | EV_PERSIST, on_transport_writable, p);
    p->rx_wake = event_new(base, api->rx_wake_fd(net), EV_READ | EV_PERSIST, on_rx_wake, p);
    p->retry = evtimer_new(base, on_retry, p);
    if (!p->tx_buf || !p->rx_buf || !p->t_read || !p->t_write || !p->rx_wake || !p->retry ||
        api->rx_wake_fd(net) < 0 || event_add(p->t_read, NULL) || event_add(p->rx_wake, NULL)) {
        msbd_pump_free(p);
        return -1;
    }
    return 0;
}

void msbd_pump_free(struct msbd_pump *p)
{
    struct event *evs[] = {p->t_read, p->t_write, p->rx_wake, p->retry};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    p->t_read = p->t_write = p->rx_wake = p->retry = NULL;
    free(p->tx_buf);
    free(p->rx_buf);
    p->tx_buf = p->rx_buf = NULL;
}

json_t *msbd_pump_stats_json(const struct msbd_pump *p)
{
    const struct msbd_pump_stats *s = &p->st;
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b}",
                     "guest_frames_in", (json_int_t)s->guest_frames_in,
                     "plugin_accepted", (json_int_t)s->plugin_accepted,
                     "plugin_busy", (json_int_t)s->plugin_busy,
                     "plugin_refused", (json_int_t)s->plugin_refused,
                     "transport_read_errors", (json_int_t)s->transport_read_errors,
                     "guest_frames_out", (json_int_t)s->guest_frames_out,
                     "transport_blocked", (json_int_t)s->transport_blocked,
                     "transport_write_drops", (json_int_t)s->transport_write_drops,
                     "tx_frame_held", p->tx_held, "rx_frame_held", p->rx_held);
}
