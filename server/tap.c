#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int msbd_tap_open(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    /* No packet-info header: frames are plain Ethernet, as the plugin wants. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static ssize_t tap_recv(struct msbd_transport *t, uint8_t *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(t->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

static ssize_t tap_send(struct msbd_transport *t, const uint8_t *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(t->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

static void tap_close(struct msbd_transport *t)
{
    /* The device is not persistent: closing the last fd deletes tap0. */
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

void msbd_tap_transport(struct msbd_transport *t, int fd)
{
    memset(t, 0, sizeof *t); /* no optional hooks: a TAP never loses its peer */
    t->name = "tap";
    t->fd = fd;
    t->recv_frame = tap_recv;
    t->send_frame = tap_send;
    t->close = tap_close;
}
