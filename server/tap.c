/* SPDX-License-Identifier: Apache-2.0 */
/* TAP devices (tap.h): opened with as many offloads as the kernel grants,
 * with a virtio-net header msbnetd emulates when the kernel refuses one. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "msbnet/msbnet.h"

#define HDR MSBNET_VNET_HDR_LEN

/* Most offloads first: each step drops what an older or stricter kernel
 * may refuse.  Without TSO the kernel still hands over partial checksums;
 * with none it segments and sums everything itself, as for a plain TAP. */
static const unsigned offload_steps[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
    TUN_F_CSUM | TUN_F_TSO4,
    TUN_F_CSUM,
    0,
};

static int attach(int fd, const char *name, bool vnet_hdr)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    /* No packet-info header: the frame (after any virtio-net header) is
     * plain Ethernet, as the plugin wants. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    return ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
}

static int open_attached(const char *name, bool vnet_hdr)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = attach(fd, name, vnet_hdr);
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

static unsigned set_offloads(int fd)
{
    for (size_t i = 0; i < sizeof offload_steps / sizeof offload_steps[0]; i++)
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload_steps[i]) == 0)
            return offload_steps[i];
    return 0;
}

/* A device with IFF_VNET_HDR and a 12-byte header, or -errno. */
static int open_vnet(const char *name)
{
    int fd = open_attached(name, true);
    if (fd < 0)
        return fd;
    int sz = HDR;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
        /* The default 10-byte header is not the plugin's: start over
         * without one (closing the last fd removes the device). */
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int msbd_tap_open(const char *name, bool vnet_hdr, struct msbd_tap_mode *mode)
{
    struct msbd_tap_mode m = {0};
    int fd = vnet_hdr ? open_vnet(name) : -EINVAL;
    if (fd >= 0) {
        m.vnet_hdr = true;
        m.offloads = set_offloads(fd);
    } else {
        fd = open_attached(name, false);
    }
    if (mode)
        *mode = m;
    return fd;
}

void msbd_tap_report(bool wanted, bool verbose, const struct msbd_tap_mode *m)
{
    if (!wanted) {
        if (verbose)
            fprintf(stderr, "msbnetd: %s: plain frames (--no-offload)\n", MSBD_TAP_NAME);
        return;
    }
    if (!m->vnet_hdr) {
        fprintf(stderr, "msbnetd: %s: the kernel refused virtio-net headers: plain frames, "
                        "no offloads (msbnetd adds and strips the header)\n", MSBD_TAP_NAME);
        return;
    }
    bool all = m->offloads == offload_steps[0];
    if (verbose || !all)
        fprintf(stderr, "msbnetd: %s: virtio-net headers, offloads:%s%s%s%s\n", MSBD_TAP_NAME,
                m->offloads & TUN_F_CSUM ? " csum" : "", m->offloads & TUN_F_TSO4 ? " tso4" : "",
                m->offloads & TUN_F_TSO6 ? " tso6" : "", m->offloads ? "" : " none");
}

/* ---- frames ------------------------------------------------------------ */

static ssize_t io_result(ssize_t n)
{
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

static ssize_t tap_recv(struct msbd_transport *t, uint8_t *buf, size_t cap)
{
    ssize_t n;
    while ((n = read(t->fd, buf, cap)) < 0 && errno == EINTR)
        ;
    return io_result(n);
}

static ssize_t tap_send(struct msbd_transport *t, const uint8_t *buf, size_t len)
{
    ssize_t n;
    while ((n = write(t->fd, buf, len)) < 0 && errno == EINTR)
        ;
    return io_result(n);
}

/* Emulated header: the plugin gets an all-zero one (no offload), as the
 * kernel would have written for a frame it had finished itself. */
static ssize_t tap_recv_emulated(struct msbd_transport *t, uint8_t *buf, size_t cap)
{
    if (cap <= HDR)
        return -1;
    ssize_t n = tap_recv(t, buf + HDR, cap - HDR);
    if (n <= 0)
        return n;
    memset(buf, 0, HDR);
    return n + HDR;
}

/* Ones'-complement sum of b[0..n), folded (RFC 1071). */
static uint16_t fold_sum(const uint8_t *b, size_t n, uint32_t sum)
{
    for (; n > 1; b += 2, n -= 2)
        sum += (uint32_t)b[0] << 8 | b[1];
    if (n)
        sum += (uint32_t)b[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The header goes; what it asked of a device is done here.  NEEDS_CSUM
 * (a TSO super-frame, "vnet_guest_tso") gets its checksum completed and
 * goes out as one segment above the MTU, which Linux receives as it would
 * from a NIC's LRO.  The frame stays const: the sum is written from a
 * separate buffer (writev). */
static ssize_t tap_send_emulated(struct msbd_transport *t, const uint8_t *buf, size_t len)
{
    if (len < HDR + 14) {
        errno = EINVAL;
        return -1;
    }
    const uint8_t *fr = buf + HDR;
    size_t flen = len - HDR;
    size_t start = (size_t)(buf[6] | buf[7] << 8), field = start + (size_t)(buf[8] | buf[9] << 8);
    if (!(buf[0] & 1) || start < 14 || field + 2 > flen) { /* nothing to finish */
        ssize_t n = tap_send(t, fr, flen);
        return n > 0 ? (ssize_t)len : n;
    }
    uint16_t ck = (uint16_t)~fold_sum(fr + start, flen - start, 0);
    uint8_t ckb[2] = {(uint8_t)(ck >> 8), (uint8_t)ck};
    struct iovec iov[3] = {{(void *)fr, field}, {ckb, 2}, {(void *)(fr + field + 2), flen - field - 2}};
    ssize_t n;
    while ((n = writev(t->fd, iov, 3)) < 0 && errno == EINTR)
        ;
    n = io_result(n);
    return n > 0 ? (ssize_t)len : n;
}

static void tap_close(struct msbd_transport *t)
{
    /* The device is not persistent: closing the last fd deletes tap0. */
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

const char *msbd_tap_vnet_name(const struct msbd_transport *t)
{
    return !t->vnet_hdr ? "off" : t->recv_frame == tap_recv_emulated ? "emulated" : "kernel";
}

static json_t *tap_stats(const struct msbd_transport *t)
{
    return json_pack("{s:s}", "vnet_hdr", msbd_tap_vnet_name(t));
}

/* Does the device put a 12-byte header in front of its frames?  1 yes,
 * 0 no, -1 it has one of another size. */
/* 1: the device has our 12-byte virtio-net header, 0: none, -1: another size. */
int msbd_tap_device_header(int fd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_VNET_HDR))
        return 0;
    int sz = 0;
    return ioctl(fd, TUNGETVNETHDRSZ, &sz) == 0 && sz == HDR ? 1 : -1;
}

int msbd_tap_transport(struct msbd_transport *t, int fd, bool vnet_hdr)
{
    memset(t, 0, sizeof *t); /* no link hooks: a TAP never loses its peer */
    t->name = "tap";
    t->fd = fd;
    t->vnet_hdr = vnet_hdr;
    t->recv_frame = tap_recv;
    t->send_frame = tap_send;
    t->close = tap_close;
    t->stats_json = tap_stats;
    int dev = msbd_tap_device_header(fd);
    if (dev < 0 || (dev && !vnet_hdr))
        return -1;
    if (vnet_hdr && !dev) {
        t->recv_frame = tap_recv_emulated;
        t->send_frame = tap_send_emulated;
    }
    return 0;
}
