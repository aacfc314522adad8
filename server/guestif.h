/* SPDX-License-Identifier: Apache-2.0 */
/* Configures the guest's side inside its network namespace: lo up, tap0
 * with the guest MAC, MTU, addresses and default routes via the gateways. */
#ifndef MSBD_GUESTIF_H
#define MSBD_GUESTIF_H

#include <stdbool.h>
#include <stddef.h>

#include "addresses.h"

/* Runs in the namespace that holds `ifname`.  prefix4/prefix6 < 0 = the
 * plugin's.  Returns 0, or -1 with a reason in err. */
int msbd_guestif_configure(const char *ifname, const struct msbd_addrs *a, int prefix4,
                           int prefix6, bool verbose, char *err, size_t errlen);

/* The same without addresses and routes (--no-guest-config): lo up, tap0
 * with the guest MAC and MTU, up, for a guest that runs DHCP and SLAAC. */
int msbd_guestif_link_only(const char *ifname, const struct msbd_addrs *a, char *err,
                           size_t errlen);

#endif
