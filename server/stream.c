/* SPDX-License-Identifier: Apache-2.0 */
/* The unix stream transport (stream.h): 4-byte length framing through fixed
 * buffers, one VMM at a time. */
#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "counter.h"
#include "msbnet/msbnet.h"
#include "unix_sock.h"

/* Atomic (counter.h): read live by the control plane. */
struct stream_stats {
    msbd_counter accepted;       /* VMM connections taken (listen mode) */
    msbd_counter refused_busy;   /* connections closed because one was active */
    msbd_counter bad_length;     /* connections dropped for a length out of range */
    msbd_counter truncated;      /* peer left in the middle of a frame */
    msbd_counter peer_closed;    /* orderly or reset close by the peer */
    msbd_counter out_discarded;  /* bytes queued for a peer that left */
};

struct stream {
    struct msbd_transport t; /* first: the pump's pointer is ours */
    int listen_fd;           /* -1 in --fd mode */
    char *path;              /* bound path, removed at close */
    struct event *accept_ev;
    uint8_t *in, *out;
    size_t in_off, in_len, out_off, out_len;
    bool verbose;
    msbd_flag connected;     /* a VMM is on fd (t.fd itself is the loop's) */
    struct stream_stats st;
};

static struct stream *S(struct msbd_transport *t) { return (struct stream *)t; }
static const struct stream *CS(const struct msbd_transport *t) { return (const struct stream *)t; }

/* A hostile VMM can reconnect in a loop: say the first few, then powers of two. */
static bool worth_saying(uint64_t n) { return n <= 8 || (n & (n - 1)) == 0; }

/* ---- receive ---------------------------------------------------------- */

/* A whole frame from the input buffer into buf: its length, 0 when more
 * bytes are needed, MSBD_T_GONE for a length out of range. */
static ssize_t parse(struct stream *s, uint8_t *buf, size_t cap)
{
    size_t avail = s->in_len - s->in_off;
    if (avail < STREAM_HDR_BYTES)
        return 0;
    uint32_t be;
    memcpy(&be, s->in + s->in_off, sizeof be);
    uint32_t len = ntohl(be);
    if (len < MSBNET_MIN_FRAME || len > MSBNET_MAX_FRAME || len > cap) {
        s->st.bad_length++;
        if (worth_saying(s->st.bad_length))
            fprintf(stderr, "msbnetd stream: frame length %u outside %u..%u, dropping the "
                            "connection (%llu so far)\n", len, MSBNET_MIN_FRAME,
                    MSBNET_MAX_FRAME, (unsigned long long)s->st.bad_length);
        return MSBD_T_GONE;
    }
    if (avail < STREAM_HDR_BYTES + len)
        return 0;
    memcpy(buf, s->in + s->in_off + STREAM_HDR_BYTES, len);
    s->in_off += STREAM_HDR_BYTES + len;
    if (s->in_off == s->in_len)
        s->in_off = s->in_len = 0;
    return (ssize_t)len;
}

static ssize_t peer_left(struct stream *s, int err)
{
    bool mid_frame = s->in_len > s->in_off;
    if (mid_frame)
        s->st.truncated++;
    s->st.peer_closed++;
    if (s->verbose || (mid_frame && worth_saying(s->st.truncated)))
        fprintf(stderr, "msbnetd stream: VMM %s%s%s\n", err ? "connection error: " : "closed",
                err ? strerror(err) : "", s->in_len > s->in_off ? " in the middle of a frame" : "");
    return MSBD_T_GONE;
}

static ssize_t stream_recv(struct msbd_transport *t, uint8_t *buf, size_t cap)
{
    struct stream *s = S(t);
    for (;;) {
        ssize_t r = parse(s, buf, cap);
        if (r != 0)
            return r;
        if (s->in_off) { /* room for the rest of a maximum frame */
            memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
            s->in_len -= s->in_off;
            s->in_off = 0;
        }
        ssize_t n = recv(t->fd, s->in + s->in_len, STREAM_BUF_BYTES - s->in_len, 0);
        if (n > 0) {
            s->in_len += (size_t)n;
            continue;
        }
        if (n == 0)
            return peer_left(s, 0);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return peer_left(s, errno);
    }
}

static bool stream_buffered(const struct msbd_transport *t)
{
    const struct stream *s = CS(t);
    size_t avail = s->in_len - s->in_off;
    if (avail < STREAM_HDR_BYTES)
        return false;
    uint32_t be;
    memcpy(&be, s->in + s->in_off, sizeof be);
    uint32_t len = ntohl(be);
    /* A bad length counts as ready: the next recv drops the connection. */
    return len < MSBNET_MIN_FRAME || len > MSBNET_MAX_FRAME ||
           avail >= STREAM_HDR_BYTES + (size_t)len;
}

/* ---- send ------------------------------------------------------------- */

static int stream_flush(struct msbd_transport *t)
{
    struct stream *s = S(t);
    while (s->out_off < s->out_len) {
        ssize_t n = send(t->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return (int)peer_left(s, n < 0 ? errno : 0);
    }
    s->out_off = s->out_len = 0;
    return 0;
}

/* Queues header + frame; the pump flushes after its batch, so a burst of
 * small frames leaves in one write. */
static ssize_t stream_send(struct msbd_transport *t, const uint8_t *buf, size_t len)
{
    struct stream *s = S(t);
    if (len < MSBNET_MIN_FRAME || len > MSBNET_MAX_FRAME) {
        errno = EMSGSIZE;
        return -1;
    }
    if (s->out_len + STREAM_HDR_BYTES + len > STREAM_BUF_BYTES) {
        int f = stream_flush(t);
        if (f == MSBD_T_GONE)
            return MSBD_T_GONE;
        if (s->out_off) {
            memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
            s->out_len -= s->out_off;
            s->out_off = 0;
        }
        if (s->out_len + STREAM_HDR_BYTES + len > STREAM_BUF_BYTES)
            return 0; /* the VMM is not reading: the frame stays with the pump */
    }
    uint32_t be = htonl((uint32_t)len);
    memcpy(s->out + s->out_len, &be, sizeof be);
    memcpy(s->out + s->out_len + STREAM_HDR_BYTES, buf, len);
    s->out_len += STREAM_HDR_BYTES + len;
    return (ssize_t)len;
}

/* ---- the link --------------------------------------------------------- */

static void stream_link_down(struct msbd_transport *t)
{
    struct stream *s = S(t);
    s->st.out_discarded += s->out_len - s->out_off;
    s->in_off = s->in_len = s->out_off = s->out_len = 0;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    s->connected = false;
    if (s->listen_fd < 0 && t->ended) /* --fd: nobody can come back */
        t->ended(t->ended_arg, s->st.bad_length == 0 && s->st.truncated == 0);
}

/* One VMM at a time: extra connections are closed at once (the VMM sees
 * EOF), counted, and said on stderr. */
static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct stream *s = arg;
    for (int i = 0; i < 16; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                fprintf(stderr, "msbnetd stream: accept: %s\n", strerror(errno));
            return;
        }
        if (s->t.fd >= 0) {
            close(c);
            s->st.refused_busy++;
            if (worth_saying(s->st.refused_busy))
                fprintf(stderr, "msbnetd stream: refused a second VMM connection while one is "
                                "active (%llu so far)\n", (unsigned long long)s->st.refused_busy);
            continue;
        }
        s->t.fd = c;
        s->connected = true;
        s->st.accepted++;
        if (s->verbose)
            fprintf(stderr, "msbnetd stream: VMM connected on %s\n", s->path);
        s->t.link_up(s->t.link_arg);
    }
}

static int stream_watch(struct msbd_transport *t, struct event_base *base)
{
    struct stream *s = S(t);
    if (s->listen_fd < 0)
        return 0;
    s->accept_ev = event_new(base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
    return s->accept_ev && event_add(s->accept_ev, NULL) == 0 ? 0 : -1;
}

static void stream_unwatch(struct msbd_transport *t)
{
    struct stream *s = S(t);
    if (s->accept_ev)
        event_free(s->accept_ev);
    s->accept_ev = NULL;
}

static json_t *stream_stats_json(const struct msbd_transport *t)
{
    const struct stream *s = CS(t);
    const struct stream_stats *st = &s->st;
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "kind", "stream",
                     "connections_accepted", (json_int_t)msbd_counter_get(&st->accepted),
                     "connections_refused_busy", (json_int_t)msbd_counter_get(&st->refused_busy),
                     "bad_length_drops", (json_int_t)msbd_counter_get(&st->bad_length),
                     "truncated_frames", (json_int_t)msbd_counter_get(&st->truncated),
                     "peer_closed", (json_int_t)msbd_counter_get(&st->peer_closed),
                     "out_bytes_discarded", (json_int_t)msbd_counter_get(&st->out_discarded),
                     "connected", msbd_flag_get(&s->connected));
}

static void stream_close(struct msbd_transport *t)
{
    struct stream *s = S(t);
    stream_unwatch(t);
    if (t->fd >= 0)
        close(t->fd);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    free(s->path);
    free(s->in);
    free(s->out);
    free(s);
}

static struct stream *stream_new(bool verbose)
{
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->in = malloc(STREAM_BUF_BYTES);
    s->out = malloc(STREAM_BUF_BYTES);
    s->t.name = "stream";
    s->t.fd = s->listen_fd = -1;
    s->t.recv_frame = stream_recv;
    s->t.send_frame = stream_send;
    s->t.close = stream_close;
    s->t.flush = stream_flush;
    s->t.buffered = stream_buffered;
    s->t.watch = stream_watch;
    s->t.unwatch = stream_unwatch;
    s->t.link_down = stream_link_down;
    s->t.stats_json = stream_stats_json;
    s->verbose = verbose;
    if (!s->in || !s->out) {
        stream_close(&s->t);
        return NULL;
    }
    return s;
}

struct msbd_transport *msbd_stream_listen(const char *path, bool verbose, char *err,
                                          size_t errlen)
{
    struct stream *s = stream_new(verbose);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->path = strdup(path);
    int fd = s->path ? msbd_unix_bind(SOCK_STREAM, path, err, errlen) : -1;
    if (fd < 0) {
        stream_close(&s->t);
        return NULL;
    }
    s->listen_fd = fd;
    return &s->t;
}

struct msbd_transport *msbd_stream_fd(int fd, bool verbose, char *err, size_t errlen)
{
    if (msbd_unix_adopt(fd, SOCK_STREAM, err, errlen))
        return NULL;
    struct stream *s = stream_new(verbose);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->t.fd = fd;
    s->connected = true;
    return &s->t;
}
