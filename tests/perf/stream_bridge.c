/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_bridge TAP SOCKET: the VMM side of msbnetd's stream transport in C,
 * for benchmarks where the python bridge (tests/integration/stream_peer.py)
 * would be the bottleneck.  Attaches to an existing TAP device, connects to
 * SOCKET and moves frames both ways with the 4-byte big-endian length
 * prefix, one thread per direction, until either side closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FRAME 65538u
#define IN_BUF (1u << 20)

static int tap_fd, sock_fd;

static int open_tap(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        perror("tap");
        exit(1);
    }
    return fd;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++, n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static void *tap_to_socket(void *arg)
{
    (void)arg;
    static uint8_t frame[MAX_FRAME];
    for (;;) {
        ssize_t n = read(tap_fd, frame, sizeof frame);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        uint32_t be = htonl((uint32_t)n);
        struct iovec iov[2] = {{&be, 4}, {frame, (size_t)n}};
        if (write_all(sock_fd, iov, 2))
            break;
    }
    exit(0);
}

static void socket_to_tap(void)
{
    static uint8_t buf[IN_BUF];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(sock_fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            exit(0);
        len += (size_t)n;
        size_t off = 0;
        while (len - off >= 4) {
            uint32_t be;
            memcpy(&be, buf + off, 4);
            uint32_t f = ntohl(be);
            if (f < 14 || f > MAX_FRAME) {
                fprintf(stderr, "bad length %u from msbnetd\n", f);
                exit(1);
            }
            if (len - off < 4 + f)
                break;
            if (write(tap_fd, buf + off + 4, f) < 0) {
                /* the guest's link is down: its loss, like a real NIC */
            }
            off += 4 + f;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: stream_bridge TAP SOCKET\n");
        return 2;
    }
    tap_fd = open_tap(argv[1]);
    sock_fd = connect_unix(argv[2]);
    printf("connected\n");
    fflush(stdout);
    pthread_t t;
    if (pthread_create(&t, NULL, tap_to_socket, NULL)) {
        perror("pthread_create");
        return 1;
    }
    socket_to_tap();
    return 0;
}
