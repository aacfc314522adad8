/*
 * A frame transport: where guest frames come from and go to.  The pump only
 * sees this interface, so TAP, unix stream (length-prefixed) and unix
 * datagram transports plug in the same way.
 */
#ifndef MSBD_TRANSPORT_H
#define MSBD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct msbd_transport {
    const char *name;
    int fd; /* non-blocking; the pump polls it */
    /* One whole frame: its length, 0 when none is ready now (would block),
     * -1 on error (errno set). */
    ssize_t (*recv_frame)(struct msbd_transport *t, uint8_t *buf, size_t cap);
    /* len if the frame was taken, 0 when it would block (keep the frame and
     * wait for the fd to become writable), -1 on error (errno set). */
    ssize_t (*send_frame)(struct msbd_transport *t, const uint8_t *buf, size_t len);
    void (*close)(struct msbd_transport *t);
};

#endif
