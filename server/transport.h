/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A frame transport: where guest frames come from and go to.  The pump only
 * sees this interface, so TAP, unix stream (length-prefixed) and unix
 * datagram transports plug in the same way.
 *
 * A transport may have no peer for a while (a listening socket waiting for
 * its VMM): fd is then -1, the pump drops the plugin's frames (counted) and
 * waits for link_up.  A peer that goes away or breaks the protocol makes a
 * call return MSBD_T_GONE; the pump stops watching fd and calls link_down,
 * after which the transport may connect a new peer and call link_up again.
 */
#ifndef MSBD_TRANSPORT_H
#define MSBD_TRANSPORT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The peer is gone (closed, reset) or was dropped for a protocol error. */
#define MSBD_T_GONE (-2)

struct msbd_transport {
    const char *name;
    int fd; /* non-blocking; the pump polls it; -1 while there is no peer */
    /* poll() may call fd writable while sends still fail with EAGAIN (an
     * unconnected datagram socket): the pump retries on a timer instead. */
    bool timed_write_wait;
    /* One whole frame: its length, 0 when none is ready now (would block),
     * -1 on error (errno set; the link stays), MSBD_T_GONE. */
    ssize_t (*recv_frame)(struct msbd_transport *t, uint8_t *buf, size_t cap);
    /* len if the frame was taken, 0 when it would block (keep the frame and
     * wait for the fd to become writable), -1 on error (errno set; the frame
     * is dropped), MSBD_T_GONE. */
    ssize_t (*send_frame)(struct msbd_transport *t, const uint8_t *buf, size_t len);
    void (*close)(struct msbd_transport *t);

    /* ---- optional (NULL = not needed) ---- */
    /* Writes output queued by send_frame: 0 all written, 1 some left (the
     * pump waits for EV_WRITE), MSBD_T_GONE.  Called after each batch. */
    int (*flush)(struct msbd_transport *t);
    /* True when a whole frame is already buffered: the pump reads again
     * without waiting for fd to become readable. */
    bool (*buffered)(const struct msbd_transport *t);
    /* Arms the transport's own events (a listening socket) on base;
     * 0 or -1.  unwatch frees them before the base goes. */
    int (*watch)(struct msbd_transport *t, struct event_base *base);
    void (*unwatch)(struct msbd_transport *t);
    /* The pump saw MSBD_T_GONE and no longer watches fd: close the peer. */
    void (*link_down)(struct msbd_transport *t);
    /* The transport's own counters (new reference), under "transport". */
    json_t *(*stats_json)(const struct msbd_transport *t);

    /* Set by the pump: the transport calls it once a new peer's fd is in t->fd. */
    void (*link_up)(void *arg);
    void *link_arg;
    /* Set by the command: the transport can never carry frames again (the
     * VMM closed a pre-connected --fd). */
    void (*ended)(void *arg, bool clean);
    void *ended_arg;
    /* The plugin reads and writes fd itself (set_frame_fds): the pump never
     * polls it; close() still closes it. */
    bool plugin_io;

    /* Frames both ways start with a virtio-net header (plugin config
     * "vnet_hdr"): the pump sizes its buffers for MSBNET_MAX_VNET_FRAME. */
    bool vnet_hdr;
};

#endif
