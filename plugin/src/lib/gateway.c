/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway addresses (gateway.h): set once per family under a mutex,
 * read lock-free; a gateway destination is dialled on the host's loopback. */
#include "lib/gateway.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int msb_gateways_init(struct msb_gateways *g)
{
    atomic_init(&g->v4_set, false);
    atomic_init(&g->v6_set, false);
    return pthread_mutex_init(&g->writers, NULL) == 0 ? 0 : -1;
}

void msb_gateways_destroy(struct msb_gateways *g)
{
    pthread_mutex_destroy(&g->writers);
}

static bool conflicts(const atomic_bool *set, const struct msb_ip *cur, const struct msb_ip *want)
{
    return want && atomic_load_explicit(set, memory_order_relaxed) && !msb_ip_equal(cur, want);
}

static void publish(atomic_bool *set, struct msb_ip *slot, const struct msb_ip *want)
{
    if (!want || atomic_load_explicit(set, memory_order_relaxed))
        return;
    *slot = *want;
    /* Readers acquire the flag, so they see the address written above. */
    atomic_store_explicit(set, true, memory_order_release);
}

int msb_gateways_set(struct msb_gateways *g, const struct msb_ip *v4, const struct msb_ip *v6)
{
    pthread_mutex_lock(&g->writers);
    if (conflicts(&g->v4_set, &g->v4, v4) || conflicts(&g->v6_set, &g->v6, v6)) {
        pthread_mutex_unlock(&g->writers);
        return -1;
    }
    publish(&g->v4_set, &g->v4, v4);
    publish(&g->v6_set, &g->v6, v6);
    pthread_mutex_unlock(&g->writers);
    return 0;
}

bool msb_gateway_get(const struct msb_gateways *g, enum msb_family fam, struct msb_ip *out)
{
    if (fam != MSB_FAMILY_V4 && fam != MSB_FAMILY_V6)
        return false;
    const atomic_bool *set = fam == MSB_FAMILY_V4 ? &g->v4_set : &g->v6_set;
    if (!atomic_load_explicit(set, memory_order_acquire))
        return false;
    *out = fam == MSB_FAMILY_V4 ? g->v4 : g->v6;
    return true;
}

bool msb_gateway_is(const struct msb_gateways *g, const struct msb_ip *ip)
{
    struct msb_ip gw;
    return msb_gateway_get(g, (enum msb_family)ip->family, &gw) && msb_ip_equal(&gw, ip);
}

unsigned msb_gateway_target(const struct msb_gateways *g, const struct msb_ip *dst, uint16_t port,
                            struct sockaddr_storage *ss)
{
    unsigned len = msb_ip_to_sockaddr(dst, port, ss);
    if (!msb_gateway_is(g, dst))
        return len;
    if (dst->family == MSB_FAMILY_V4)
        ((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
    return len;
}
