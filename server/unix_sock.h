/* SPDX-License-Identifier: Apache-2.0 */
/* Unix sockets for the VMM transports: a path msbnetd binds (mode 0600,
 * never stealing a live one) or a descriptor the VMM hands over. */
#ifndef MSBD_UNIX_SOCK_H
#define MSBD_UNIX_SOCK_H

#include <stddef.h>
#include <sys/un.h>

/* Fills a with path; -1 (message in err) when it does not fit sun_path. */
int msbd_unix_addr(struct sockaddr_un *a, const char *path, char *err, size_t errlen);

/* A non-blocking, close-on-exec socket of `type` (SOCK_STREAM listening,
 * or SOCK_DGRAM) bound to path with mode 0600.  A stale socket file is
 * replaced; a live one (something accepts or receives there) or a file that
 * is not a socket is refused.  Returns the fd, or -1 with err set. */
int msbd_unix_bind(int type, const char *path, char *err, size_t errlen);

/* Takes over fd N from the VMM: it must be an open socket of `type`; it is
 * made non-blocking and close-on-exec.  0, or -1 with err set. */
int msbd_unix_adopt(int fd, int type, char *err, size_t errlen);

#endif
