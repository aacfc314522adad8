/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct TAP mode: msbnetd hands the TAP fd to the plugin (set_frame_fds)
 * and its stack thread reads and writes tap0 itself.  A frame then crosses
 * one thread instead of two (no ring hand-off, no eventfd wake-up, no
 * context switch per frame each way), which is what per-packet latency
 * through msbnet was paying for.  The default for `run` and `tap`;
 * --tap-pump, or a plugin without set_frame_fds, keeps the pump.
 */
#ifndef MSBD_DIRECT_H
#define MSBD_DIRECT_H

#include <stdbool.h>

#include "host.h"
#include "options.h"

/* Before start(): gives tap_fd to the plugin for both directions unless
 * --tap-pump was given or the plugin cannot take it.  Sets and returns
 * h->direct_tap; when false the pump carries the frames as before. */
bool msbd_direct_attach(struct msbd_host *h, int tap_fd, const struct msbd_opts *o);

#endif
