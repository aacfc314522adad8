/* SPDX-License-Identifier: Apache-2.0 */
/* Direct TAP mode (direct.h): tap0 goes to the plugin's stack thread unless
 * --tap-pump is given, the plugin lacks set_frame_fds or msbnetd emulates
 * the TAP's virtio-net header (then the pump carries the frames). */
#include "direct.h"

#include <stddef.h>
#include <stdio.h>

#include "msbnet/msbnet.h"
#include "tap.h"

static bool plugin_has_frame_fds(const struct msbnet_api_v1 *api)
{
    return api->struct_size >= offsetof(struct msbnet_api_v1, set_frame_fds) +
                                   sizeof api->set_frame_fds &&
           api->set_frame_fds;
}

bool msbd_direct_attach(struct msbd_host *h, int tap_fd, const struct msbd_opts *o)
{
    h->direct_tap = false;
    if (o->tap_pump)
        return false;
    /* The plugin reads the device as it is: when the kernel refused the
     * header and msbnetd emulates it, only the pump can add and strip it. */
    if (msbd_tap_device_header(tap_fd) != (msbd_opts_vnet_hdr(o) ? 1 : 0)) {
        if (o->verbose)
            fprintf(stderr, "msbnetd: %s lacks the virtio-net header: pumping the TAP\n",
                    MSBD_TAP_NAME);
        return false;
    }
    if (!plugin_has_frame_fds(h->api)) {
        if (o->verbose)
            fprintf(stderr, "msbnetd: plugin %s has no set_frame_fds: pumping the TAP\n",
                    h->api->version());
        return false;
    }
    int rc = h->api->set_frame_fds(h->net, tap_fd, tap_fd);
    if (rc != MSBNET_OK) {
        fprintf(stderr, "msbnetd: set_frame_fds failed (%d): pumping the TAP\n", rc);
        return false;
    }
    if (o->verbose)
        fprintf(stderr, "msbnetd: the stack thread reads and writes the TAP itself\n");
    h->direct_tap = true;
    return true;
}
