/* SPDX-License-Identifier: Apache-2.0 */
/* Passing a file descriptor (SCM_RIGHTS) between the `run` child, which
 * creates tap0 inside the sandbox's namespace, and msbnetd, which pumps it
 * from the host's namespace. */
#ifndef MSBD_FDPASS_H
#define MSBD_FDPASS_H

/* Returns 0 or -1 (errno set). */
int msbd_fd_send(int sock, int fd);

/* Blocks until an fd arrives.  Returns it, or -1: errno set, or 0 when the
 * peer closed the socket without sending one (it failed). */
int msbd_fd_recv(int sock);

#endif
