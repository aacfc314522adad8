/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ICMP errors msbnet sends the guest about its own packets (port
 * unreachable, administratively prohibited), quoting the offending packet
 * so the guest's stack can match them to a socket and fail fast.
 */
#ifndef MSB_ICMP_ERR_H
#define MSB_ICMP_ERR_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

struct msb_env;

enum msb_icmp_err {
    MSB_ICMP_PORT_UNREACH, /* v4 3/3, v6 1/4 */
    MSB_ICMP_ADMIN_PROHIB, /* v4 3/13, v6 1/1 */
};

/* Sends the error about orig (a guest IP packet of orig_len bytes, whose
 * source is the guest) from address `from`.  The quote is cut so the error
 * fits the minimum MTU of its family (576 / 1280).  Returns true when the
 * frame went to the guest. */
bool msb_icmp_err_send(struct msb_env *e, enum msb_icmp_err kind, const struct msb_ip *from,
                       const uint8_t *orig, size_t orig_len);

#endif
