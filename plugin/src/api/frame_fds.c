/* SPDX-License-Identifier: Apache-2.0 */
/* Direct frame fds (frame_fds.h): the stack thread reads guest frames from
 * tx_fd and writes the guest's to rx_fd itself, in order, so a TAP host
 * needs no pump thread and no wake-up per frame. */
#define _GNU_SOURCE
#include "api/frame_fds.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/instance.h"
#include "msbnet/msbnet.h"
#include "stack/stack.h"
#include "lib/vnet_hdr.h"

/* Frames read per readable event before the loop serves other events,
 * as the tx ring's budget does. */
#define FDS_TX_BUDGET 256

struct msb_frame_fds {
    struct msbnet *net;
    struct msb_stack *s;
    struct event *tx_ev; /* tx_fd readable */
    struct event *rx_ev; /* rx_fd writable, armed while frames wait in rx */
    bool rx_armed;
    bool rx_socket;      /* rx_fd is a socket: sendmsg, so a gone peer is EPIPE, not SIGPIPE */
    bool tx_dgram;       /* tx_fd is a datagram socket: a 0-byte read is an empty datagram */
    size_t cap;          /* one byte more than any valid frame: longer is refused */
    uint8_t buf[];
};

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- plugin -> guest ---------------------------------------------------- */

static ssize_t put(const struct msb_frame_fds *d, int fd, struct iovec *iov, int n)
{
    if (!d->rx_socket)
        return writev(fd, iov, n);
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* 1: done with f (written, or lost to an fd error and counted);
 * 0: the fd would block, keep f. */
static int send_one(const struct msb_frame_fds *d, struct msbnet *net, struct msb_frame *f)
{
    /* The header read_frame would give a VMM: zeroed, or a TSO super-frame's. */
    uint8_t hdr[MSBNET_VNET_HDR_LEN];
    struct iovec iov[2];
    int n = 0;
    if (net->cfg.vnet_hdr) {
        msb_vnet_rx_hdr(f, hdr);
        iov[n++] = (struct iovec){hdr, sizeof hdr};
    }
    iov[n++] = (struct iovec){f->data, f->len};
    for (;;) {
        ssize_t w = put(d, net->rx_fd, iov, n);
        if (w >= 0) {
            msb_instance_count_rx(net, f);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        msb_drop(&net->metrics, MSB_DROP_RX_FD_ERROR);
        return 1;
    }
}

static void arm_rx(struct msb_frame_fds *d)
{
    if (!d->rx_armed && event_add(d->rx_ev, NULL) == 0)
        d->rx_armed = true;
}

/* rx_fd writable: send what waits, in order, until it would block again. */
static void on_rx_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct msb_frame_fds *d = arg;
    struct msbnet *net = d->net;
    struct msb_frame *f;
    while ((f = msb_ring_peek(&net->rx)) != NULL) {
        if (!send_one(d, net, f))
            return; /* still armed: the next writable event goes on */
        msb_ring_pop(&net->rx);
        msb_frame_free(f);
    }
    event_del(d->rx_ev);
    d->rx_armed = false;
    /* A sender that found the ring full waits for this (on_proxy). */
    if (atomic_exchange(&net->rx_blocked, false))
        msb_wake_signal(&net->proxy_wake);
}

bool msb_frame_fds_emit(struct msbnet *net, struct msb_frame *f)
{
    struct msb_frame_fds *d = net->frame_fds;
    if (!d) { /* frames of a stack being set up or torn down: queue them */
        if (msb_ring_push(&net->rx, f))
            return true;
        msb_frame_free(f);
        msb_drop(&net->metrics, MSB_DROP_RX_RING_FULL);
        return false;
    }
    /* Only the stack thread pushes and pops rx here, so the count is exact. */
    if (msb_ring_count(&net->rx) == 0 && send_one(d, net, f)) {
        msb_frame_free(f);
        return true;
    }
    if (msb_ring_push(&net->rx, f)) {
        arm_rx(d);
        return true;
    }
    msb_frame_free(f);
    msb_drop(&net->metrics, MSB_DROP_RX_RING_FULL);
    /* The ring is full, so rx_ev is armed and will announce room. */
    atomic_store(&net->rx_blocked, true);
    arm_rx(d);
    return false;
}

/* ---- guest -> plugin ---------------------------------------------------- */

/* tx_fd readable: up to a budget of frames, each handled at once (no ring,
 * no wake); the fd is level-triggered, so what is left fires again. */
static void on_tx_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct msb_frame_fds *d = arg;
    struct msbnet *net = d->net;
    for (int i = 0; i < FDS_TX_BUDGET; i++) {
        ssize_t n = read(fd, d->buf, d->cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* A datagram socket has no end of file: 0 bytes is an empty
         * datagram, refused below as too short. */
        if (n < 0 || (n == 0 && !d->tx_dgram)) {
            /* End of file or a broken fd: polling it again would spin. */
            msb_drop(&net->metrics, MSB_DROP_TX_FD_ERROR);
            event_del(d->tx_ev);
            break;
        }
        struct msb_frame *f = msb_instance_take_direct(net, d->buf, (size_t)n);
        if (f) {
            msb_stack_input(d->s, f);
            msb_frame_free(f);
        }
    }
    msb_stack_batch_end(d->s);
}

/* ---- life cycle ---------------------------------------------------------- */

int msb_frame_fds_start(struct msbnet *net, struct msb_stack *s)
{
    if (net->tx_fd < 0 && net->rx_fd < 0)
        return 0;
    size_t cap = (net->cfg.vnet_hdr ? MSBNET_MAX_VNET_FRAME : MSBNET_MAX_FRAME) + 1;
    struct msb_frame_fds *d = calloc(1, sizeof *d + (net->tx_fd >= 0 ? cap : 0));
    if (!d)
        return -1;
    d->net = net;
    d->s = s;
    d->cap = cap;
    net->frame_fds = d;
    if (net->tx_fd >= 0) {
        d->tx_ev = event_new(s->env.base, net->tx_fd, EV_READ | EV_PERSIST, on_tx_readable, d);
        if (!d->tx_ev || set_nonblock(net->tx_fd) || event_add(d->tx_ev, NULL))
            return -1;
        int type = 0;
        socklen_t tl = sizeof type;
        d->tx_dgram = getsockopt(net->tx_fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
                      type == SOCK_DGRAM;
    }
    if (net->rx_fd >= 0) {
        d->rx_ev = event_new(s->env.base, net->rx_fd, EV_WRITE | EV_PERSIST, on_rx_writable, d);
        struct stat st;
        if (!d->rx_ev || set_nonblock(net->rx_fd) || fstat(net->rx_fd, &st))
            return -1;
        d->rx_socket = S_ISSOCK(st.st_mode);
        /* Frames queued while stopped go out at the first loop turn. */
        if (msb_ring_count(&net->rx))
            arm_rx(d);
    }
    return 0;
}

void msb_frame_fds_stop(struct msbnet *net)
{
    struct msb_frame_fds *d = net->frame_fds;
    if (!d)
        return;
    if (d->tx_ev)
        event_free(d->tx_ev);
    if (d->rx_ev)
        event_free(d->rx_ev);
    free(d);
    net->frame_fds = NULL;
}
