/*
 * Doubles for the two stack functions the packet-level modules call
 * (l2.c, ndp_ra.c, dhcp4.c), so their suites run without a stack thread:
 * frames are built like the stack builds them and what is emitted is
 * collected in out[] for the test to inspect; drops() reads the counters.  Include once per suite,
 * after the plugin headers; define STACK_DOUBLES_MAX_OUT first to keep more
 * than 8 frames.
 */
#ifndef MSB_TEST_STACK_DOUBLES_H
#define MSB_TEST_STACK_DOUBLES_H

#include <CUnit/CUnit.h>

#include "lib/frame.h"
#include "api/instance.h"
#include "lib/pkt_build.h"
#include "stack/stack.h"

#ifndef STACK_DOUBLES_MAX_OUT
#define STACK_DOUBLES_MAX_OUT 8
#endif

static struct msbnet net;
static struct msb_stack stack;
static struct msb_frame *out[STACK_DOUBLES_MAX_OUT];
static size_t nout;

struct msb_frame *msb_stack_ip_frame(struct msb_stack *s, uint8_t ip_version, size_t l3_len)
{
    struct msb_frame *f = msb_frame_alloc(MSB_ETH_HLEN + l3_len);
    if (f)
        msb_eth_write(f->data, s->addrs.guest_mac, s->addrs.gateway_mac,
                      ip_version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    return f;
}

bool msb_stack_emit(struct msb_stack *s, struct msb_frame *f)
{
    CU_ASSERT_PTR_EQUAL(s, &stack);
    if (nout == sizeof out / sizeof out[0]) {
        msb_frame_free(f);
        CU_FAIL("too many frames emitted");
        return false;
    }
    out[nout++] = f;
    return true;
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
