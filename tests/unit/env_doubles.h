/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Doubles for the calls the packet-level modules make to their stack
 * (proto/env.h), so their suites run without a stack thread: frames are
 * built like the stack builds them and what is emitted is collected in out[]
 * for the test to inspect; drops() reads the counters.  `net` holds what a
 * real instance would lend the env (counters, gateways, settings); call
 * env_bind() after clearing them.  Include once per suite, after the plugin
 * headers; define ENV_DOUBLES_MAX_OUT first to keep more than 8 frames.
 */
#ifndef MSB_TEST_ENV_DOUBLES_H
#define MSB_TEST_ENV_DOUBLES_H

#include <CUnit/CUnit.h>

#include "lib/frame.h"
#include "lib/pkt_build.h"
#include "proto/env.h"

#ifndef ENV_DOUBLES_MAX_OUT
#define ENV_DOUBLES_MAX_OUT 8
#endif

static struct {
    struct msb_metrics metrics;
    struct msb_gateways gw;
    struct msb_config cfg;
} net;
static struct msb_env env;
static struct msb_frame *out[ENV_DOUBLES_MAX_OUT];
static size_t nout;

/* Points env at net's parts (env's addresses are the test's to set). */
static void env_bind(void)
{
    env.metrics = &net.metrics;
    env.gw = &net.gw;
    env.cfg = &net.cfg;
}

struct msb_frame *msb_env_ip_frame(struct msb_env *e, uint8_t ip_version, size_t l3_len)
{
    struct msb_frame *f = msb_frame_alloc(MSB_ETH_HLEN + l3_len);
    if (f)
        msb_eth_write(f->data, e->addrs.guest_mac, e->addrs.gateway_mac,
                      ip_version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    return f;
}

bool msb_env_emit(struct msb_env *e, struct msb_frame *f)
{
    CU_ASSERT_PTR_EQUAL(e, &env);
    if (nout == sizeof out / sizeof out[0]) {
        msb_frame_free(f);
        CU_FAIL("too many frames emitted");
        return false;
    }
    out[nout++] = f;
    return true;
}

bool msb_env_rx_room(struct msb_env *e, size_t frames)
{
    (void)e;
    return nout + frames <= sizeof out / sizeof out[0];
}

/* Drops the module under test counted, by reason and in all. */
__attribute__((unused)) static uint64_t drops(enum msb_drop_reason r)
{
    return msb_read(&net.metrics.drops[r]);
}

__attribute__((unused)) static uint64_t total_drops(void)
{
    uint64_t n = 0;
    for (int i = 0; i < MSB_DROP__COUNT; i++)
        n += drops((enum msb_drop_reason)i);
    return n;
}

#endif
