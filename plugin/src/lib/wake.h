/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wake pipes: a pollable fd that one side signals and the other drains.
 * An eventfd when the kernel has one, else a non-blocking pipe.  Wakes are
 * coalesced with a flag so a burst of N signals costs one syscall, and the
 * fd can never fill up.
 *
 * Protocol that never loses a wake: the producer publishes its work, then
 * calls msb_wake_signal; the consumer calls msb_wake_drain, then consumes
 * everything published.
 */
#ifndef MSB_WAKE_H
#define MSB_WAKE_H

#include <stdatomic.h>
#include <stdbool.h>

struct msb_wake {
    int rfd;
    int wfd; /* == rfd for eventfd */
    atomic_int pending;
};

enum msb_wake_kind { MSB_WAKE_AUTO, MSB_WAKE_PIPE };

/* Returns 0, or -1 with errno set. */
int msb_wake_init(struct msb_wake *w, enum msb_wake_kind kind);
void msb_wake_close(struct msb_wake *w);

/* Never blocks; safe from any thread and from signal handlers. */
void msb_wake_signal(struct msb_wake *w);

/* Empties the fd; call before consuming the work it announced. */
void msb_wake_drain(struct msb_wake *w);

int msb_wake_fd(const struct msb_wake *w);

bool msb_wake_is_eventfd(const struct msb_wake *w);

#endif
