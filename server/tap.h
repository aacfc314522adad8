/* SPDX-License-Identifier: Apache-2.0 */
/* TAP devices: Ethernet frames in and out of a kernel interface, one frame
 * per read()/write(), each behind a virtio-net header when offloads are on. */
#ifndef MSBD_TAP_H
#define MSBD_TAP_H

#include <stdbool.h>

#include "transport.h"

#define MSBD_TAP_NAME "tap0"

/* What the kernel agreed to (msbd_tap_open). */
struct msbd_tap_mode {
    bool vnet_hdr;     /* frames carry a 12-byte virtio-net header */
    unsigned offloads; /* TUN_F_* the kernel may hand over (partial sums, TSO) */
};

/*
 * Creates the TAP interface `name` in the calling thread's current network
 * namespace (IFF_TAP | IFF_NO_PI, non-blocking, close-on-exec).  The fd
 * keeps working after the thread moves to another namespace.
 *
 * With vnet_hdr, asks for IFF_VNET_HDR, a 12-byte header
 * (TUNSETVNETHDRSZ) and TUN_F_CSUM | TSO4 | TSO6, retrying with fewer
 * offloads, and without the header at all, when the kernel refuses: a
 * device without them still works, only slower.  mode (may be NULL) says
 * what was granted.  Returns the fd, or -errno.
 */
int msbd_tap_open(const char *name, bool vnet_hdr, struct msbd_tap_mode *mode);

/* Says on stderr what the kernel refused of what was wanted (always: the
 * data path is slower without it), and with verbose what it granted. */
void msbd_tap_report(bool wanted, bool verbose, const struct msbd_tap_mode *m);

/* 1 when tap fd carries msbnet's 12-byte virtio-net header, 0 when it
 * carries none, -1 when it carries a header of another size. */
int msbd_tap_device_header(int fd);

/*
 * A transport over an open TAP fd (takes ownership of it).  vnet_hdr: the
 * plugin exchanges frames with a virtio-net header.  When the device has
 * none (the kernel refused it, or the fd came from elsewhere) the transport
 * adds a zeroed header to what it reads and strips it from what it writes,
 * so the plugin's mode never depends on what the kernel granted.  Returns
 * 0, or -1 when the device's header is not the 12 bytes the plugin uses.
 */
int msbd_tap_transport(struct msbd_transport *t, int fd, bool vnet_hdr);

/* "kernel", "emulated" or "off": how t carries the virtio-net header. */
const char *msbd_tap_vnet_name(const struct msbd_transport *t);

#endif
