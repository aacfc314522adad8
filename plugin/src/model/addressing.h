/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox's addresses, derived from its slot s unless the config
 * overrides them: MACs 02:6d:73:SH:SL:01 (gateway) and :02 (guest),
 * 100.96.0.0 + 4s + 1 / + 2 in a /30, fd42:6d73:62:s::1 / ::2 in a /64. */
#ifndef MSB_ADDRESSING_H
#define MSB_ADDRESSING_H

#include <stdint.h>

#include "lib/addr.h"
#include "model/config.h"

struct msb_addrs {
    uint8_t gateway_mac[6], guest_mac[6];
    struct msb_ip gateway4, guest4, gateway6, guest6;
    uint8_t prefix4, prefix6;
    uint32_t mtu;
};

void msb_addrs_derive(const struct msb_config *cfg, struct msb_addrs *out);

/* The addresses as JSON (for the VMM / msbnetd to configure the guest). */
char *msb_addrs_json(const struct msb_addrs *a);

#endif
