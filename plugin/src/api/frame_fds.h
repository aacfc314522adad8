/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct frame descriptors (set_frame_fds in msbnet.h): the stack thread
 * reads guest frames from tx_fd and writes the guest's frames to rx_fd
 * itself, so a host with a TAP (msbnetd) needs no pump thread and no wake-up
 * per frame: one thread carries a frame from the guest to the host socket
 * and the reply back, as slirp4netns and pasta do.
 *
 * rx ordering: a frame goes straight to rx_fd only when nothing waits in
 * the rx ring; when rx_fd would block, frames queue in the ring (its
 * capacity bounds them, and a full ring blocks the stack's senders exactly
 * as a slow read_frame reader does) and an EV_WRITE event sends them, in
 * order, once the fd is writable.
 */
#ifndef MSB_FRAME_FDS_H
#define MSB_FRAME_FDS_H

#include <stdbool.h>

#include "lib/frame.h"

struct msb_stack;
struct msbnet;

/* Stack start: arms the events on s for the fds set on net (none: nothing
 * to do).  0, or -1 when out of memory / events fail. */
int msb_frame_fds_start(struct msbnet *net, struct msb_stack *s);

/* Stack teardown (its thread is gone).  Frames still queued stay in rx. */
void msb_frame_fds_stop(struct msbnet *net);

/* Stack thread, rx_fd set: hands f (owned) to the guest.  False when the
 * rx ring is full: f is freed, the drop counted, and proxy_wake fires once
 * queued frames went out (msb_instance_emit's contract). */
bool msb_frame_fds_emit(struct msbnet *net, struct msb_frame *f);

#endif
