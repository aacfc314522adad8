/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unix datagram transport: one frame per datagram, no prefix (vfkit
 * `virtio-net,unixSocketPath=`, libkrun unixgram, QEMU `-netdev dgram`).
 *
 * --listen PATH binds PATH; the VMM binds its own socket and sends to it,
 * and msbnetd answers the address the frames come from.  An optional first
 * datagram "VFKT" (vfkit, libkrun's NET_FLAG_VFKIT) announces the VMM: it
 * is consumed, never passed on as a frame, and makes its sender the peer
 * (a restarted VMM takes over this way).  Datagrams from anyone else while
 * a peer is known are dropped and counted, as are datagrams below an
 * Ethernet header or above MSBNET_MAX_FRAME.  --peer PATH fixes the peer
 * (QEMU `-netdev dgram` with local and remote paths).  --fd N takes a
 * socket from the VMM: connected (a socketpair) or bound.
 */
#ifndef MSBD_DGRAM_H
#define MSBD_DGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

#define DGRAM_VFKIT_MAGIC "VFKT"
#define DGRAM_SNDBUF_BYTES (1 << 20) /* as gvproxy: a burst of frames fits */
#define DGRAM_RCVBUF_BYTES (4 << 20)

/* listen_path and/or peer_path (NULL = none; at least one), or fd >= 0
 * alone.  Returns a transport whose close() frees it, or NULL with err. */
struct msbd_transport *msbd_dgram_open(const char *listen_path, const char *peer_path, int fd,
                                       bool verbose, char *err, size_t errlen);

#endif
