/* TAP devices: Ethernet frames in and out of a kernel interface, one frame
 * per read()/write(). */
#ifndef MSBD_TAP_H
#define MSBD_TAP_H

#include "transport.h"

#define MSBD_TAP_NAME "tap0"

/* Creates the TAP interface `name` in the calling thread's current network
 * namespace (IFF_TAP | IFF_NO_PI, non-blocking, close-on-exec).  The fd keeps
 * working after the thread moves to another namespace.  Returns the fd, or
 * -errno. */
int msbd_tap_open(const char *name);

/* A transport over an open TAP fd (takes ownership of it). */
void msbd_tap_transport(struct msbd_transport *t, int fd);

#endif
