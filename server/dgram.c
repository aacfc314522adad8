/* SPDX-License-Identifier: Apache-2.0 */
/* The unix datagram transport (dgram.h): deciding who the VMM is (first
 * sender, VFKT, or --peer), and retrying sends while its queue is full. */
#include "dgram.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "counter.h"
#include "msbnet/msbnet.h"
#include "unix_sock.h"

#define RECV_TRIES 64 /* datagrams looked at per call, dropped ones included */

/* Atomic (counter.h): read live by the control plane. */
struct dgram_stats {
    msbd_counter handshakes; /* "VFKT" datagrams consumed */
    msbd_counter undersize;  /* below an Ethernet header */
    msbd_counter oversize;   /* above MSBNET_MAX_FRAME */
    msbd_counter foreign;    /* from another sender than the peer */
    msbd_counter unnamed;    /* from an unbound socket: no address to answer */
    msbd_counter no_peer;    /* frames for a peer not known (yet) */
    msbd_counter peer_lost;  /* sends found the peer's socket gone */
};

struct dgram {
    struct msbd_transport t; /* first: the pump's pointer is ours */
    char *path;              /* bound path, removed at close */
    bool connected;          /* send(): a connected --fd */
    bool fixed_peer;         /* --peer: never learn another */
    msbd_flag have_peer;     /* atomic: reported live as peer_known */
    struct sockaddr_un peer;
    socklen_t peer_len;
    bool verbose;
    struct dgram_stats st;
};

static struct dgram *D(struct msbd_transport *t) { return (struct dgram *)t; }

static bool worth_saying(uint64_t n) { return n <= 8 || (n & (n - 1)) == 0; }

#define SAY(d, counter, ...)                                                                   \
    do {                                                                                       \
        if (worth_saying((d)->st.counter)) {                                                   \
            fprintf(stderr, "msbnetd dgram: " __VA_ARGS__);                                    \
            fprintf(stderr, " (%llu so far)\n", (unsigned long long)(d)->st.counter);         \
        }                                                                                      \
    } while (0)

static bool same_peer(const struct dgram *d, const struct sockaddr_un *a, socklen_t len)
{
    return d->have_peer && len == d->peer_len && memcmp(a, &d->peer, len) == 0;
}

static void adopt(struct dgram *d, const struct sockaddr_un *a, socklen_t len)
{
    if (d->verbose && !same_peer(d, a, len))
        fprintf(stderr, "msbnetd dgram: VMM is %s\n", a->sun_path[0] ? a->sun_path : "(abstract)");
    memcpy(&d->peer, a, len);
    d->peer_len = len;
    d->have_peer = true;
}

/* Who sent it decides whether it counts: 1 keep, 0 consumed or dropped. */
static int check_sender(struct dgram *d, const uint8_t *buf, ssize_t n,
                        const struct sockaddr_un *from, socklen_t fl)
{
    bool magic = n == 4 && memcmp(buf, DGRAM_VFKIT_MAGIC, 4) == 0;
    if (d->connected) {
        if (magic)
            d->st.handshakes++;
        return !magic;
    }
    if (fl <= offsetof(struct sockaddr_un, sun_path)) {
        d->st.unnamed++;
        SAY(d, unnamed, "datagram from an unbound socket dropped: no address to answer");
        return 0;
    }
    if (magic && !d->fixed_peer) {
        d->st.handshakes++;
        adopt(d, from, fl);
        return 0;
    }
    if (!d->have_peer && !d->fixed_peer) {
        adopt(d, from, fl);
    } else if (!same_peer(d, from, fl)) {
        d->st.foreign++;
        SAY(d, foreign, "datagram from %s, not the VMM, dropped",
            from->sun_path[0] ? from->sun_path : "(abstract)");
        return 0;
    }
    if (magic)
        d->st.handshakes++;
    return !magic;
}

static ssize_t dgram_recv(struct msbd_transport *t, uint8_t *buf, size_t cap)
{
    struct dgram *d = D(t);
    for (int i = 0; i < RECV_TRIES; i++) {
        struct sockaddr_un from;
        socklen_t fl = sizeof from;
        /* MSG_TRUNC: the real length, so an oversize datagram is seen as one. */
        ssize_t n = recvfrom(t->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        if (!check_sender(d, buf, n, &from, fl))
            continue;
        if ((size_t)n > cap || (size_t)n > MSBNET_MAX_FRAME) {
            d->st.oversize++;
            SAY(d, oversize, "%zd-byte datagram above %u dropped", n, MSBNET_MAX_FRAME);
            continue;
        }
        if ((size_t)n < MSBNET_MIN_FRAME) {
            d->st.undersize++;
            SAY(d, undersize, "%zd-byte datagram below an Ethernet header dropped", n);
            continue;
        }
        return n;
    }
    return 0; /* all dropped; level-triggered: more come at the next call */
}

/* The peer's socket is gone (VMM stopped).  A connected --fd has ended;
 * otherwise wait for it (or a new VMM) to speak again. */
static ssize_t peer_gone(struct dgram *d, int err)
{
    d->st.peer_lost++;
    SAY(d, peer_lost, "VMM socket gone (%s)", strerror(err));
    if (d->connected)
        return MSBD_T_GONE;
    if (!d->fixed_peer)
        d->have_peer = false;
    errno = err;
    return -1;
}

static ssize_t dgram_send(struct msbd_transport *t, const uint8_t *buf, size_t len)
{
    struct dgram *d = D(t);
    if (!d->connected && !d->have_peer) {
        d->st.no_peer++;
        errno = ENOTCONN;
        return -1;
    }
    for (;;) {
        ssize_t n = d->connected ? send(t->fd, buf, len, MSG_NOSIGNAL)
                                 : sendto(t->fd, buf, len, MSG_NOSIGNAL,
                                          (struct sockaddr *)&d->peer, d->peer_len);
        if (n >= 0)
            return (ssize_t)len;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return 0;
        if (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTCONN || errno == EPIPE)
            return peer_gone(d, errno);
        return -1;
    }
}

static void dgram_link_down(struct msbd_transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    if (t->ended)
        t->ended(t->ended_arg, true);
}

static json_t *dgram_stats_json(const struct msbd_transport *t)
{
    const struct dgram *d = (const struct dgram *)t;
    const struct dgram_stats *st = &d->st;
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "kind", "dgram",
                     "vfkit_handshakes", (json_int_t)msbd_counter_get(&st->handshakes),
                     "undersize_drops", (json_int_t)msbd_counter_get(&st->undersize),
                     "oversize_drops", (json_int_t)msbd_counter_get(&st->oversize),
                     "foreign_drops", (json_int_t)msbd_counter_get(&st->foreign),
                     "unnamed_sender_drops", (json_int_t)msbd_counter_get(&st->unnamed),
                     "no_peer_drops", (json_int_t)msbd_counter_get(&st->no_peer),
                     "peer_lost", (json_int_t)msbd_counter_get(&st->peer_lost),
                     "peer_known", d->connected || msbd_flag_get(&d->have_peer));
}

static void dgram_close(struct msbd_transport *t)
{
    struct dgram *d = D(t);
    if (t->fd >= 0)
        close(t->fd);
    if (d->path)
        unlink(d->path);
    free(d->path);
    free(d);
}

static void set_buffers(int fd)
{
    int snd = DGRAM_SNDBUF_BYTES, rcv = DGRAM_RCVBUF_BYTES;
    /* Best effort: the kernel caps them at wmem_max/rmem_max. */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
}

/* A socket of our own: bound to listen_path, or autobound (an abstract
 * name the VMM can answer) when only --peer is given. */
static int own_socket(struct dgram *d, const char *listen_path, char *err, size_t errlen)
{
    if (listen_path) {
        int fd = msbd_unix_bind(SOCK_DGRAM, listen_path, err, errlen);
        /* Remembered only once bound: close() must never remove a path
         * another process serves. */
        d->path = fd >= 0 ? strdup(listen_path) : NULL;
        return fd;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sa_family_t fam = AF_UNIX;
    if (fd < 0 || bind(fd, (struct sockaddr *)&fam, sizeof fam) != 0) {
        snprintf(err, errlen, "datagram socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int setup(struct dgram *d, const char *listen_path, const char *peer_path, int fd,
                 char *err, size_t errlen)
{
    if (fd >= 0) {
        if (msbd_unix_adopt(fd, SOCK_DGRAM, err, errlen))
            return -1;
        struct sockaddr_un a;
        socklen_t al = sizeof a;
        d->connected = getpeername(fd, (struct sockaddr *)&a, &al) == 0;
        d->t.fd = fd;
    } else {
        if (peer_path && msbd_unix_addr(&d->peer, peer_path, err, errlen))
            return -1;
        d->t.fd = own_socket(d, listen_path, err, errlen);
        if (d->t.fd < 0)
            return -1;
        if (peer_path) {
            /* As recvfrom() reports it, so the peer's frames match. */
            d->peer_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                      strlen(d->peer.sun_path) + 1);
            d->have_peer = d->fixed_peer = true;
        }
    }
    set_buffers(d->t.fd);
    /* sendto() on an unconnected socket can fail with EAGAIN while poll
     * calls it writable: retry on a timer rather than spin. */
    d->t.timed_write_wait = !d->connected;
    return 0;
}

struct msbd_transport *msbd_dgram_open(const char *listen_path, const char *peer_path, int fd,
                                       bool verbose, char *err, size_t errlen)
{
    struct dgram *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->t.name = "dgram";
    d->t.fd = -1;
    d->t.recv_frame = dgram_recv;
    d->t.send_frame = dgram_send;
    d->t.close = dgram_close;
    d->t.link_down = dgram_link_down;
    d->t.stats_json = dgram_stats_json;
    d->verbose = verbose;
    if (setup(d, listen_path, peer_path, fd, err, errlen)) {
        if (fd >= 0)
            d->t.fd = -1; /* not ours to close on failure: the caller reports it */
        dgram_close(&d->t);
        return NULL;
    }
    return &d->t;
}
