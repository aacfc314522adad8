/* The sandboxed command's private view of the filesystem: its own
 * /etc/resolv.conf and a /sys that shows its own network namespace. */
#ifndef MSBD_MOUNT_H
#define MSBD_MOUNT_H

#include <stddef.h>

#include "addresses.h"

/* Must run in a private mount namespace (after msbd_netns_unshare): makes
 * every mount private first so nothing propagates back to the host, then
 * bind-mounts a resolv.conf naming the gateways over /etc/resolv.conf and
 * mounts a fresh sysfs on /sys.  The host's files are never written.
 * Returns 0 or -1 with a reason in err. */
int msbd_mount_private_view(const struct msbd_addrs *a, char *err, size_t errlen);

#endif
