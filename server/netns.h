/* SPDX-License-Identifier: Apache-2.0 */
/* Network (and user/mount) namespaces: entering an existing one for a
 * moment, and making fresh ones for `run`. */
#ifndef MSBD_NETNS_H
#define MSBD_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Moves the calling thread into the netns at path (e.g. /var/run/netns/G);
 * *orig receives an fd of the namespace it was in.  Returns 0 or -1 with a
 * reason in err. */
int msbd_netns_enter(const char *path, int *orig, char *err, size_t errlen);

/* Back to orig (and closes it).  Failing here would leave the process in the
 * guest's namespace where host sockets must never be opened: callers abort
 * the whole run on error. */
int msbd_netns_leave(int orig, char *err, size_t errlen);

/*
 * `run` builds CMD's namespaces in two steps, so that what it must not see
 * is hidden by mounts it cannot take away:
 *   1. msbd_ns_outer: a mount namespace (with a user namespace mapping
 *      outer_uid/gid to root when not root, to be allowed to mount), where
 *      the caller hides msbnetd's sockets and fixes resolv.conf;
 *   2. msbd_ns_sandbox: user, network, mount, pid, UTS and IPC namespaces,
 *      root inside mapped to one id outside: nobody when msbnetd runs as
 *      root (as_root), else the daemon's own uid.  Mounts made in step 1
 *      are locked in step 2's mount namespace (mount_namespaces(7)): CMD,
 *      root only of its own user namespace, can cover them but never
 *      remove them, and holds no capability over any namespace of the host.
 * Each returns 0 or -1 with a reason in err.
 */
int msbd_ns_outer(uid_t outer_uid, gid_t outer_gid, char *err, size_t errlen);
int msbd_ns_sandbox(bool as_root, char *err, size_t errlen);

/* Who CMD is on the host when msbnetd runs as root (nobody, nogroup). */
#define MSBD_SANDBOX_UID 65534
#define MSBD_SANDBOX_GID 65534

#endif
