/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow table and the edge NAT between the guest and lwIP.
 *
 * Slot i of a fixed array (max_flows) is flow i.  lwIP sees flow i as the
 * remote (FAKE(i), guest port) talking to (lw_addr, LW_PORT), so the lwIP
 * 4-tuple is unique per slot and the reverse lookup (lwIP output -> flow)
 * is O(1): decode the slot from the destination address.  The forward
 * lookup (guest 5-tuple -> slot) is the flow table's (lib/flowtab.h),
 * keyed with SipHash, so a guest choosing its ports cannot aim at one
 * bucket.  Free slots leave its FIFO: a slot just freed is reused last,
 * which keeps a tuple's lwIP twin from coming back while anything of the
 * old flow could still be around.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "proto/tcp/tcp_int.h"

/* FAKE4(i) = 10.128.0.0 + i (10.128.0.0/9: 8 M slots, never a broadcast
 * address on a netif without broadcast flags); FAKE6(i) = fd00:6d73:0:1::i. */
void msb_tcp_nat_fake_addr(uint8_t ip_version, uint32_t slot, uint8_t out[16])
{
    memset(out, 0, 16);
    if (ip_version == 4) {
        out[0] = 10;
        out[1] = (uint8_t)(0x80 | ((slot >> 16) & 0x7f));
        out[2] = (uint8_t)(slot >> 8);
        out[3] = (uint8_t)slot;
        return;
    }
    static const uint8_t prefix[8] = {0xfd, 0x00, 0x6d, 0x73, 0, 0, 0, 1};
    memcpy(out, prefix, 8);
    msb_put32(out + 12, slot);
}

static bool fake_slot(uint8_t ip_version, const uint8_t *a, uint32_t *slot)
{
    uint8_t want[16];
    if (ip_version == 4) {
        if (a[0] != 10 || !(a[1] & 0x80))
            return false;
        *slot = (uint32_t)(a[1] & 0x7f) << 16 | (uint32_t)a[2] << 8 | a[3];
        return true;
    }
    *slot = msb_get32(a + 12);
    msb_tcp_nat_fake_addr(6, *slot, want);
    return memcmp(a, want, 16) == 0;
}

uint32_t msb_tcp_nat_slot(const struct msb_tcp *t, const struct tcp_flow *f)
{
    return (uint32_t)(f - t->flows);
}

/* ---- table ------------------------------------------------------------ */


int msb_tcp_nat_init(struct msb_tcp *t)
{
    const struct msb_flowtab_spec spec = {.cap = t->max_flows, .key_len = {MSB_FLOWTAB_TUPLE_LEN, 0}};
    /* Zeroed and never walked here: the pages of slots no flow has used
     * stay untouched, so an idle stack does not hold the whole array (5 MiB
     * at the default cap).  A slot is set up when a flow takes it. */
    t->flows = calloc(t->max_flows, sizeof *t->flows);
    t->ft = msb_flowtab_new(&spec);
    return t->flows && t->ft ? 0 : -1;
}

void msb_tcp_nat_free(struct msb_tcp *t)
{
    free(t->flows);
    msb_flowtab_free(t->ft);
}

struct tcp_flow *msb_tcp_nat_find(struct msb_tcp *t, const struct msb_ip *g, uint16_t gp,
                          const struct msb_ip *d, uint16_t dp)
{
    uint8_t k[MSB_FLOWTAB_TUPLE_LEN];
    msb_flowtab_tuple_key(k, g, gp, d, dp);
    uint32_t slot = msb_flowtab_find(t->ft, 0, k);
    return slot == MSB_FLOWTAB_NONE ? NULL : &t->flows[slot];
}

struct tcp_flow *msb_tcp_nat_lookup(struct msb_tcp *t, const struct msb_pkt *p)
{
    return msb_tcp_nat_find(t, &p->src, p->sport, &p->dst, p->dport);
}

struct tcp_flow *msb_tcp_nat_alloc(struct msb_tcp *t, const struct msb_pkt *p)
{
    return msb_tcp_nat_alloc_tuple(t, &p->src, p->sport, &p->dst, p->dport);
}

/* The table hands out the slot free the longest, which keeps a tuple's
 * lwIP twin from coming back while anything of the old flow could still
 * be around. */
struct tcp_flow *msb_tcp_nat_alloc_tuple(struct msb_tcp *t, const struct msb_ip *g, uint16_t gp,
                                 const struct msb_ip *d, uint16_t dp)
{
    uint8_t k[MSB_FLOWTAB_TUPLE_LEN];
    msb_flowtab_tuple_key(k, g, gp, d, dp);
    uint32_t slot = msb_flowtab_add(t->ft, k);
    if (slot == MSB_FLOWTAB_NONE)
        return NULL;
    struct tcp_flow *f = &t->flows[slot];
    f->t = t;
    f->fd = -1; /* a slot's last flow closed its socket before it was freed */
    f->g = *g;
    f->d = *d;
    f->gp = gp;
    f->dp = dp;
    f->inbound = false;
    f->lw_port = LW_PORT;
    return f;
}

void msb_tcp_nat_release(struct msb_tcp *t, struct tcp_flow *f)
{
    msb_flowtab_release(t->ft, msb_tcp_nat_slot(t, f));
    f->gen++;
}

struct tcp_flow *msb_tcp_nat_from_lwip(struct msb_tcp *t, uint8_t ip_version, const uint8_t *addr,
                               uint16_t port)
{
    uint32_t slot;
    if (!fake_slot(ip_version, addr, &slot) || slot >= t->max_flows)
        return NULL;
    struct tcp_flow *f = &t->flows[slot];
    if (f->state == FLOW_FREE || f->gp != port || f->g.family != ip_version)
        return NULL;
    return f;
}

/* ---- rewrite ---------------------------------------------------------- */

/* Replaces an address in place: the TCP checksum covers it through the
 * pseudo-header, the IPv4 header checksum directly. */
static void put_addr(uint8_t *l3, uint8_t *field, const uint8_t *val, uint8_t *tcp_ck)
{
    size_t n = (l3[0] >> 4) == 4 ? 4 : 16;
    if (n == 4) {
        uint8_t old[4];
        memcpy(old, field, 4); /* scratch: keeps the field for the TCP update */
        msb_csum_replace(l3 + 10, old, val, 4);
    }
    msb_csum_replace(tcp_ck, field, val, n);
}

static void put_port(uint8_t *field, uint16_t port, uint8_t *tcp_ck)
{
    uint8_t v[2];
    msb_put16(v, port);
    msb_csum_replace(tcp_ck, field, v, 2);
}

static void rewrite(uint8_t *l3, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                    uint16_t dport)
{
    bool v4 = (l3[0] >> 4) == 4;
    uint8_t *tcp = l3 + (v4 ? (size_t)(l3[0] & 15) * 4 : MSB_IPV6_HLEN);
    uint8_t *ck = tcp + 16;
    put_addr(l3, l3 + (v4 ? 12 : 8), src, ck);
    put_addr(l3, l3 + (v4 ? 16 : 24), dst, ck);
    put_port(tcp, sport, ck);
    put_port(tcp + 2, dport, ck);
}

void msb_tcp_nat_to_lwip(struct msb_tcp *t, const struct tcp_flow *f, uint8_t *l3)
{
    uint8_t v = (uint8_t)(l3[0] >> 4), fake[16];
    msb_tcp_nat_fake_addr(v, msb_tcp_nat_slot(t, f), fake);
    rewrite(l3, fake, v == 4 ? msb_tcp_lw_addr4 : msb_tcp_lw_addr6, f->gp, f->lw_port);
}

void msb_tcp_nat_to_guest(const struct tcp_flow *f, uint8_t *l3)
{
    rewrite(l3, f->d.b, f->g.b, f->dp, f->gp);
}
