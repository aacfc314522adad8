/* SPDX-License-Identifier: Apache-2.0 */
/* The stack's rate-limit buckets and the per-event decisions (limits.h). */
#include "proto/limits.h"

#include "lib/clock.h"
#include "proto/env.h"

static void apply(struct msb_limiter *l, const struct msb_limits *cfg, uint64_t now_ns, bool init)
{
    for (int k = 0; k < MSB_LIMIT_KINDS; k++) {
        /* A kind that was unlimited starts full, as at create. */
        if (init || l->b[k].rate == 0)
            msb_tb_init(&l->b[k], cfg->k[k].rate, cfg->k[k].burst, now_ns);
        else
            msb_tb_set(&l->b[k], cfg->k[k].rate, cfg->k[k].burst, now_ns);
    }
}

void msb_limiter_init(struct msb_limiter *l, const struct msb_limits *cfg, uint64_t now_ns)
{
    apply(l, cfg, now_ns, true);
}

void msb_limiter_set(struct msb_limiter *l, const struct msb_limits *cfg, uint64_t now_ns)
{
    apply(l, cfg, now_ns, false);
}

bool msb_limit_new_flow(struct msb_env *e, bool udp)
{
    struct msb_tbucket *b = &e->limiter.b[MSB_LIMIT_CONNECTIONS];
    if (!b->rate || msb_tb_take(b, 1, msb_now_ns()))
        return true;
    msb_count(udp ? &e->metrics->limits.udp_refused : &e->metrics->limits.tcp_refused, 1);
    return false;
}

bool msb_limit_dns_query(struct msb_env *e)
{
    struct msb_tbucket *b = &e->limiter.b[MSB_LIMIT_DNS];
    if (!b->rate || msb_tb_take(b, 1, msb_now_ns()))
        return true;
    msb_count(&e->metrics->limits.dns_refused, 1);
    return false;
}

bool msb_limit_datagram(struct msb_env *e, enum msb_limit_kind k, size_t bytes)
{
    struct msb_tbucket *b = &e->limiter.b[k];
    /* A datagram larger than the burst costs the whole burst: it could
     * never pass otherwise. */
    uint64_t n = bytes < b->burst ? bytes : b->burst;
    if (!b->rate || msb_tb_take(b, n ? n : 1, msb_now_ns()))
        return true;
    struct msb_limits_metrics *m = &e->metrics->limits;
    msb_count(k == MSB_LIMIT_EGRESS ? &m->udp_egress_dropped : &m->udp_ingress_dropped, 1);
    return false;
}
