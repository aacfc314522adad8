/* SPDX-License-Identifier: Apache-2.0 */
/* Wake fds (wake.h): an eventfd or a non-blocking pipe, coalesced by a flag
 * so a burst of signals costs one write. */
#define _GNU_SOURCE
#include "lib/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int msb_wake_init(struct msb_wake *w, enum msb_wake_kind kind)
{
    atomic_init(&w->pending, 0);
    if (kind == MSB_WAKE_AUTO) {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd >= 0) {
            w->rfd = w->wfd = fd;
            return 0;
        }
    }
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        w->rfd = w->wfd = -1;
        return -1;
    }
    w->rfd = p[0];
    w->wfd = p[1];
    return 0;
}

void msb_wake_close(struct msb_wake *w)
{
    if (w->wfd >= 0 && w->wfd != w->rfd)
        close(w->wfd);
    if (w->rfd >= 0)
        close(w->rfd);
    w->rfd = w->wfd = -1;
}

bool msb_wake_is_eventfd(const struct msb_wake *w)
{
    return w->rfd >= 0 && w->rfd == w->wfd;
}

void msb_wake_signal(struct msb_wake *w)
{
    /* Only the signal that flips pending 0 -> 1 writes; the rest ride on it.
     * Invariant: pending == 1 means a write is in the fd or on its way. */
    if (atomic_exchange(&w->pending, 1) != 0)
        return;
    ssize_t n;
    if (msb_wake_is_eventfd(w)) {
        uint64_t one = 1;
        do
            n = write(w->wfd, &one, sizeof one);
        while (n < 0 && errno == EINTR);
    } else {
        char one = 1;
        do
            n = write(w->wfd, &one, 1);
        while (n < 0 && errno == EINTR);
    }
    /* EAGAIN means the fd is already readable: the wake is not lost. */
    (void)n;
}

void msb_wake_drain(struct msb_wake *w)
{
    char buf[512];
    for (;;) {
        ssize_t n = read(w->rfd, buf, msb_wake_is_eventfd(w) ? sizeof(uint64_t) : sizeof buf);
        if (n > 0 && !msb_wake_is_eventfd(w))
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break; /* eventfd: one read resets it; pipe: EAGAIN = empty */
    }
    /* Clear pending only after emptying the fd: clearing first would let a
     * signal set pending and have its byte swallowed by our read, leaving
     * pending == 1 over an empty fd and every later signal silent.  The
     * exchange (a read-modify-write) also acquires the producers' pushes
     * made before their own exchange, so the caller's pops that follow see
     * them. */
    atomic_exchange(&w->pending, 0);
}

int msb_wake_fd(const struct msb_wake *w)
{
    return w->rfd;
}
