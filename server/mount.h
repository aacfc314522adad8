/* SPDX-License-Identifier: Apache-2.0 */
/* The sandboxed command's private view of the filesystem: its own
 * /etc/resolv.conf, msbnetd's socket directories hidden, and /sys and
 * /proc that show its own network and pid namespaces (netns.h has the
 * order of the namespaces these run in). */
#ifndef MSBD_MOUNT_H
#define MSBD_MOUNT_H

#include <stddef.h>

#include "addresses.h"

/* In step 1's mount namespace (msbd_ns_outer): makes every mount private
 * first so nothing propagates back to the host, bind-mounts a resolv.conf
 * naming the gateways over /etc/resolv.conf, and covers each directory in
 * hide with an empty read-only tmpfs.  The host's files are never written.
 * Returns 0 or -1 with a reason in err. */
int msbd_mount_outer(const struct msbd_addrs *a, const char *const *hide, size_t nhide,
                     char *err, size_t errlen);

/* In step 2's namespaces (msbd_ns_sandbox): a fresh sysfs on /sys. */
int msbd_mount_sandbox(char *err, size_t errlen);

/* Where CMD finds its trust store: the system bundle, which a bind mount
 * replaces by the system's certificates plus the sandbox CA. */
#define MSBD_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* In step 2's namespaces, before CMD starts: MSBD_CA_BUNDLE (which must
 * exist) covered by a copy of itself with the PEM appended last, written
 * on a staging tmpfs as resolv.conf is (the host's file is never
 * changed).  Only a certificate ever comes here, never a key.  0 or -1. */
int msbd_mount_ca_bundle(const char *pem, size_t len, char *err, size_t errlen);

/* By pid 1 of the new pid namespace: a fresh /proc that shows only it. */
int msbd_mount_proc(char *err, size_t errlen);

#endif
