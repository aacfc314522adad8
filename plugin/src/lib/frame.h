/* SPDX-License-Identifier: Apache-2.0 */
/* Owned Ethernet frames: the unit that travels through the rings. */
#ifndef MSB_FRAME_H
#define MSB_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct msb_frame {
    uint32_t len;
    /* Non-zero only for a GSO super-frame written with a virtio-net
     * header, resolved on the stack thread (vnet_hdr.h). */
    uint16_t gso_size;
    uint8_t gso_type;
    uint8_t pad_; /* keeps data 8-byte aligned, as it was before the gso fields */
    uint8_t data[];
};

/* Copies len bytes into a new frame; NULL when allocation fails. */
struct msb_frame *msb_frame_new(const uint8_t *data, size_t len);

/* Allocates a frame of len bytes whose contents the caller fills. */
struct msb_frame *msb_frame_alloc(size_t len);

/* Cuts f to len bytes (len <= f->len) and gives the rest back to the
 * allocator; the frame may move.  Never fails: on a failed realloc the old
 * block is kept, with the new length. */
struct msb_frame *msb_frame_shrink(struct msb_frame *f, size_t len);

void msb_frame_free(struct msb_frame *f);

#endif
