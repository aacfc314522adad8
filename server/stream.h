/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unix stream transport: each frame preceded by its length as a 4-byte
 * big-endian integer (QEMU >= 7.2 `-netdev stream`, libkrun unixstream,
 * passt's protocol).
 *
 * Listen mode serves one VMM at a time: a second connection while one is
 * active is closed at once and counted; when the VMM goes, the next one is
 * accepted.  --fd mode uses the VMM's pre-connected socket; when it closes,
 * the transport has ended.  A length below an Ethernet header or above
 * MSBNET_MAX_FRAME drops that connection (counted, one stderr line).
 * Input and output buffers are fixed (STREAM_BUF_BYTES each): when the
 * output one is full the pump keeps frames in the plugin's rx ring.
 */
#ifndef MSBD_STREAM_H
#define MSBD_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

#define STREAM_HDR_BYTES 4
#define STREAM_BUF_BYTES (256u * 1024u) /* > 3 maximum frames with headers */

/* Both return a transport to hand to the pump (its close() frees it), or
 * NULL with err set. */
struct msbd_transport *msbd_stream_listen(const char *path, bool verbose, char *err,
                                          size_t errlen);
struct msbd_transport *msbd_stream_fd(int fd, bool verbose, char *err, size_t errlen);

#endif
