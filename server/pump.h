/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frame pump: moves frames between a transport and the plugin on one
 * libevent base, without losing any.
 *
 *   transport readable -> up to PUMP_BATCH frames -> write_frame.  When the
 *     plugin's tx ring is full the frame is held, the transport is no longer
 *     read (the kernel queue / socket is the backpressure) and the write is
 *     retried on a timer, 1 ms doubling to 16 ms, until accepted.
 *   rx wake fd readable -> up to PUMP_BATCH read_frame calls -> transport,
 *     then the transport's queued output is flushed.  When the transport
 *     would block the frame is held and the pump waits for EV_WRITE (or a
 *     timer, for transports whose poll cannot be trusted) before reading the
 *     plugin again, so the frames wait in the plugin's bounded rx ring.  A
 *     transport error drops the frame, and the drop is counted here.
 *   link down (a socket peer left or broke the protocol): the transport's fd
 *     is no longer watched, a held outgoing frame is dropped (counted), and
 *     until the next link up the plugin's frames are drained and counted as
 *     no_peer_drops, so the stack never stalls on a missing VMM.
 *
 * Both directions are level-triggered and bounded per wakeup, so one busy
 * direction cannot starve the other or the signal events.
 */
#ifndef MSBD_PUMP_H
#define MSBD_PUMP_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "counter.h"
#include "msbnet/msbnet.h"
#include "transport.h"

#define PUMP_BATCH 64
#define PUMP_RETRY_MIN_MS 1
#define PUMP_RETRY_MAX_MS 16
/* A datagram peer's queue drains in microseconds when its VMM is alive:
 * the write retry starts short, doubling to the same 16 ms ceiling. */
#define PUMP_WRITE_RETRY_MIN_US 50
#define PUMP_WRITE_RETRY_MAX_US 16000

/* Atomic (counter.h): the control plane reads them live, on any thread. */
struct msbd_pump_stats {
    msbd_counter guest_frames_in;      /* read from the transport */
    msbd_counter plugin_accepted;      /* write_frame == MSBNET_WRITTEN */
    msbd_counter plugin_busy;          /* write_frame == MSBNET_NOTHING_WRITTEN (retried) */
    msbd_counter plugin_refused;       /* write_frame < 0: bad length, dropped */
    msbd_counter transport_read_errors;
    msbd_counter guest_frames_out;     /* written to the transport */
    msbd_counter transport_blocked;    /* writes that would block (frame held) */
    msbd_counter transport_write_drops; /* write errors: frame dropped */
    msbd_counter link_ups;             /* a peer connected (socket transports) */
    msbd_counter link_downs;           /* a peer left or was dropped */
    msbd_counter no_peer_drops;        /* plugin frames drained while no peer was connected */
};

struct msbd_pump {
    struct event_base *base;
    const struct msbnet_api_v1 *api;
    msbnet_t *net;
    struct msbd_transport *t;
    struct event *t_read, *t_write, *rx_wake, *retry, *write_retry;
    uint8_t *tx_buf; /* guest -> plugin; holds the refused frame */
    size_t tx_cap, tx_len;
    msbd_flag tx_held; /* atomic: reported live as tx_frame_held */
    unsigned retry_ms, write_retry_us;
    uint8_t *rx_buf; /* plugin -> guest; holds the blocked frame */
    size_t rx_cap, rx_len;
    msbd_flag rx_held; /* atomic: reported live as rx_frame_held */
    bool verbose;
    struct msbd_pump_stats st;
};

/* Arms the pump on base (and the transport's own events, if it has any).
 * Returns 0 or -1 (allocation / event failure). */
int msbd_pump_init(struct msbd_pump *p, struct event_base *base, const struct msbnet_api_v1 *api,
                   msbnet_t *net, struct msbd_transport *t, bool verbose);
void msbd_pump_free(struct msbd_pump *p);

/* The counters as a JSON object (new reference); callable from any thread
 * while the pump exists (atomic reads only). */
json_t *msbd_pump_stats_json(const struct msbd_pump *p);

#endif
