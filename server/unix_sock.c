/* SPDX-License-Identifier: Apache-2.0 */
/* Unix sockets for the VMM transports (unix_sock.h): bound with mode 0600,
 * replacing a stale socket file, refusing a live one or any other file. */
#include "unix_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4 /* one VMM at a time; a few queued reconnects */

int msbd_unix_addr(struct sockaddr_un *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path) {
        snprintf(err, errlen, "socket path \"%s\" must be 1..%zu bytes", path,
                 sizeof a->sun_path - 1);
        return -1;
    }
    memcpy(a->sun_path, path, n);
    return 0;
}

/* Something is bound there and answers: connecting to it succeeds. */
static bool in_use(int type, const struct sockaddr_un *a)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    bool live = fd >= 0 && connect(fd, (const struct sockaddr *)a, sizeof *a) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

/* Only a socket file nobody serves may be removed: never a regular file
 * a typo pointed at, never another process's live socket. */
static int clear_path(int type, const struct sockaddr_un *a, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(a->sun_path, &st) != 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", a->sun_path,
                                               strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", a->sun_path);
        return -1;
    }
    if (in_use(type, a)) {
        snprintf(err, errlen, "%s is in use by another process", a->sun_path);
        return -1;
    }
    if (unlink(a->sun_path) != 0) {
        snprintf(err, errlen, "cannot remove the stale socket %s: %s", a->sun_path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int msbd_unix_bind(int type, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a;
    if (msbd_unix_addr(&a, path, err, errlen) || clear_path(type, &a, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* umask: 0600 from the bind on, no window for another user; chmod is
     * the belt to it. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc == 0)
        rc = chmod(path, 0600);
    if (rc == 0 && type == SOCK_STREAM)
        rc = listen(fd, LISTEN_BACKLOG);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int msbd_unix_adopt(int fd, int type, char *err, size_t errlen)
{
    int t = 0;
    socklen_t len = sizeof t;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) != 0) {
        snprintf(err, errlen, "--fd %d: %s", fd,
                 errno == ENOTSOCK ? "not a socket" : strerror(errno));
        return -1;
    }
    if (t != type) {
        snprintf(err, errlen, "--fd %d: a %s socket is needed", fd,
                 type == SOCK_STREAM ? "stream" : "datagram");
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "--fd %d: %s", fd, strerror(errno));
        return -1;
    }
    return 0;
}
