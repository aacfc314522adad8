/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's gateway addresses, one per family.  Each is written at most
 * once (first write wins) and read without locks on every packet that needs
 * it.
 */
#ifndef MSB_GATEWAY_H
#define MSB_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lib/addr.h"

struct msb_gateways {
    pthread_mutex_t writers; /* makes a two-family set all-or-nothing */
    atomic_bool v4_set, v6_set;
    struct msb_ip v4, v6;
};

int msb_gateways_init(struct msb_gateways *g);
void msb_gateways_destroy(struct msb_gateways *g);

/* Either may be NULL.  Returns 0, or -1 when a family is already set to a
 * different address (then nothing changes).  Families must match. */
int msb_gateways_set(struct msb_gateways *g, const struct msb_ip *v4, const struct msb_ip *v6);

/* True and *out filled when the family's gateway is set. */
bool msb_gateway_get(const struct msb_gateways *g, enum msb_family fam, struct msb_ip *out);

struct sockaddr_storage;

/* Where a host socket dials for guest destination dst:port: dst itself, or
 * host loopback (127.0.0.1 / ::1) when dst is the family's active gateway
 * (host.microsandbox.internal).  Returns the sockaddr length. */
unsigned msb_gateway_target(const struct msb_gateways *g, const struct msb_ip *dst, uint16_t port,
                            struct sockaddr_storage *ss);

/* True when ip is its family's active gateway address. */
bool msb_gateway_is(const struct msb_gateways *g, const struct msb_ip *ip);

#endif
