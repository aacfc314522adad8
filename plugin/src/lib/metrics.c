/* SPDX-License-Identifier: Apache-2.0 */
/* The counters' initial state and the drop reasons' stable names
 * (metrics.h). */
#include "lib/metrics.h"

static const char *const drop_names[MSB_DROP__COUNT] = {
#define MSB_DROP_NAME(id, name) [MSB_DROP_##id] = name,
    MSB_DROP_REASONS(MSB_DROP_NAME)
#undef MSB_DROP_NAME
};

void msb_metrics_init(struct msb_metrics *m)
{
#define MSB_TCP_INIT(name) atomic_init(&m->tcp.name, 0);
    MSB_TCP_METRICS(MSB_TCP_INIT)
#undef MSB_TCP_INIT
#define MSB_POLICY_INIT(name) atomic_init(&m->policy.name, 0);
    MSB_POLICY_METRICS(MSB_POLICY_INIT)
#undef MSB_POLICY_INIT
#define MSB_DNS_INIT(name) atomic_init(&m->dns.name, 0);
    MSB_DNS_METRICS(MSB_DNS_INIT)
#undef MSB_DNS_INIT
#define MSB_AUTOCONF_INIT(name) atomic_init(&m->dhcp.name, 0);
    MSB_DHCP_METRICS(MSB_AUTOCONF_INIT)
#undef MSB_AUTOCONF_INIT
#define MSB_AUTOCONF_INIT(name) atomic_init(&m->ra.name, 0);
    MSB_RA_METRICS(MSB_AUTOCONF_INIT)
#undef MSB_AUTOCONF_INIT
#define MSB_AUTOCONF_INIT(name) atomic_init(&m->reasm.name, 0);
    MSB_REASM_METRICS(MSB_AUTOCONF_INIT)
#undef MSB_AUTOCONF_INIT
#define MSB_VNET_INIT(name) atomic_init(&m->vnet.name, 0);
    MSB_VNET_METRICS(MSB_VNET_INIT)
#undef MSB_VNET_INIT
    atomic_init(&m->tx_bytes, 0);
    atomic_init(&m->tx_frames, 0);
    atomic_init(&m->tx_ring_full, 0);
    atomic_init(&m->rx_bytes, 0);
    atomic_init(&m->rx_frames, 0);
    for (int i = 0; i < MSB_DROP__COUNT; i++)
        atomic_init(&m->drops[i], 0);
}

const char *msb_drop_name(enum msb_drop_reason r)
{
    return (unsigned)r < MSB_DROP__COUNT ? drop_names[r] : "unknown";
}
