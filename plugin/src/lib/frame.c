/* SPDX-License-Identifier: Apache-2.0 */
/* Owned Ethernet frames (frame.h): header and bytes in one allocation, so a
 * frame crosses a ring as one pointer. */
#include "lib/frame.h"

#include <stdlib.h>
#include <string.h>

struct msb_frame *msb_frame_alloc(size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    struct msb_frame *f = malloc(sizeof *f + len);
    if (f) {
        f->len = (uint32_t)len;
        f->gso_size = 0;
        f->gso_type = 0;
    }
    return f;
}

struct msb_frame *msb_frame_new(const uint8_t *data, size_t len)
{
    struct msb_frame *f = msb_frame_alloc(len);
    if (f && len)
        memcpy(f->data, data, len);
    return f;
}

struct msb_frame *msb_frame_shrink(struct msb_frame *f, size_t len)
{
    f->len = (uint32_t)len;
    struct msb_frame *g = realloc(f, sizeof *f + len);
    return g ? g : f;
}

void msb_frame_free(struct msb_frame *f)
{
    free(f);
}
