/* SPDX-License-Identifier: Apache-2.0 */
/* The stack thread: guest frame dispatch, the protocols' life cycle, and
 * the msb_env calls (proto/env.h) the protocols send frames through. */
#include "stack/stack.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/ip_reasm.h"
#include "lib/pkt_build.h"
#include "lib/vnet_hdr.h"
#include "proto/dhcp4.h"
#include "proto/dns_forward.h"
#include "proto/icmp_echo.h"
#include "proto/l2.h"
#include "proto/ndp_ra.h"
#include "proto/tcp/tcp.h"
#include "proto/udp_inbound.h"
#include "proto/udp_relay.h"

/* Frames handled per tx wake before yielding to host-socket events, so a
 * guest flooding frames cannot starve the relays. */
#define TX_BUDGET 256

/* lwIP is a process-wide singleton: one running stack per process. */
static atomic_bool stack_in_use;

/* ---- anti-spoofing ---------------------------------------------------- */

static bool is_link_local6(const struct msb_ip *ip)
{
    return ip->family == MSB_FAMILY_V6 && ip->b[0] == 0xfe && (ip->b[1] & 0xc0) == 0x80;
}

static bool is_unspecified(const struct msb_ip *ip)
{
    static const uint8_t zero[16];
    return memcmp(ip->b, zero, 16) == 0;
}

/* The guest's /64 is its own: with router advertisements it forms its
 * address there by SLAAC (EUI-64, stable-privacy or temporary), which
 * msbnet cannot predict. */
static bool in_guest_prefix6(const struct msb_stack *s, const struct msb_ip *ip)
{
    unsigned bits = s->env.addrs.prefix6;
    const uint8_t *a = ip->b, *g = s->env.addrs.guest6.b;
    if (ip->family != MSB_FAMILY_V6 || bits > 128 || memcmp(a, g, bits / 8) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff00u >> (bits % 8));
    return bits % 8 == 0 || ((a[bits / 8] ^ g[bits / 8]) & mask) == 0;
}

/* The gateway's IPv6 addresses sit inside the guest's /64 (and fe80::/10)
 * but are never the guest's: a packet from them is the guest posing as
 * the gateway, relayed as if msbnet had sent it. */
static bool is_gateway6(const struct msb_stack *s, const struct msb_ip *ip)
{
    struct msb_ip ll;
    msb_ipv6_link_local(s->env.addrs.gateway_mac, &ll);
    return msb_ip_equal(ip, &s->env.addrs.gateway6) || msb_ip_equal(ip, &ll) ||
           msb_gateway_is(s->env.gw, ip);
}

/* The source address a guest frame may carry: its own, plus link-local and
 * unspecified sources for neighbour discovery; never the gateway's. */
static bool src_ip_ok(const struct msb_stack *s, const struct msb_pkt *p)
{
    if (p->ip_version == 4)
        return msb_ip_equal(&p->src, &s->env.addrs.guest4);
    if (is_gateway6(s, &p->src))
        return false;
    if (msb_ip_equal(&p->src, &s->env.addrs.guest6) || in_guest_prefix6(s, &p->src))
        return true;
    return p->l4_proto == MSB_IPPROTO_ICMPV6 && (is_link_local6(&p->src) || is_unspecified(&p->src));
}

/* The guest's own IP as carried by p (ARP sender or IP source), if it is. */
static bool from_guest_ip(const struct msb_stack *s, const struct msb_pkt *p)
{
    if (p->ethertype == MSB_ETHERTYPE_ARP) {
        struct msb_ip sender;
        msb_ip_from_v4(&sender, p->l3 + 14);
        return msb_ip_equal(&sender, &s->env.addrs.guest4);
    }
    return msb_ip_equal(&p->src, p->ip_version == 4 ? &s->env.addrs.guest4 : &s->env.addrs.guest6);
}

/* Frames must come from the guest's MAC.  A VMM may give the guest another
 * MAC than the derived one: the first frame that carries the guest's own IP
 * teaches it, and from then on the MAC is enforced. */
static bool src_mac_ok(struct msb_stack *s, const struct msb_pkt *p)
{
    if (memcmp(p->src_mac, s->env.addrs.guest_mac, 6) == 0) {
        s->env.guest_mac_learned = true;
        return true;
    }
    if (s->env.guest_mac_learned || !from_guest_ip(s, p) || (p->src_mac[0] & 1))
        return false;
    memcpy(s->env.addrs.guest_mac, p->src_mac, 6);
    s->env.guest_mac_learned = true;
    return true;
}

/* Broadcast and multicast are link-level traffic the gateway does not
 * route.  Unspecified destinations pass: the transports refuse them at
 * once (RST, ICMP unreachable), as they would any loopback address. */
static bool dst_ok(const struct msb_pkt *p)
{
    if (p->ip_version == 4) {
        bool bcast = memcmp(p->dst.b, "\xff\xff\xff\xff", 4) == 0;
        return !bcast && (p->dst.b[0] & 0xf0) != 0xe0;
    }
    return p->dst.b[0] != 0xff;
}

/* ---- dispatch --------------------------------------------------------- */

static void drop(struct msb_stack *s, enum msb_drop_reason why)
{
    msb_drop(s->env.metrics, why);
}

static void dispatch(struct msb_stack *s, struct msb_frame *f, bool may_reassemble);

/* A fragment: only the guest's MAC may hold reassembly memory; the whole
 * datagram then takes the normal path (once: it cannot be a fragment). */
static void reassemble(struct msb_stack *s, struct msb_frame *f)
{
    if (!s->reasm) {
        drop(s, MSB_DROP_IP_FRAGMENT);
        return;
    }
    if (memcmp(f->data + 6, s->env.addrs.guest_mac, 6) != 0) {
        drop(s, MSB_DROP_ETH_SPOOFED_MAC);
        return;
    }
    struct msb_frame *whole = msb_reasm_input(s->reasm, f->data, f->len, msb_now_ms());
    if (whole) {
        dispatch(s, whole, false);
        msb_frame_free(whole);
    }
}

/* A valid IP packet from the guest, past the address checks: the
 * transport decides who takes it. */
static void deliver(struct msb_stack *s, struct msb_pkt *p)
{
    if (p->l4_proto == MSB_IPPROTO_TCP)
        msb_tcp_input(s->tcp, p);
    else if (p->l4_proto == MSB_IPPROTO_UDP && p->dport == 53)
        msb_dns_udp_input(s->dns, p); /* UDP/53 to any address is DNS interception's */
    else if (p->l4_proto == MSB_IPPROTO_UDP && msb_udp_inbound_input(s->udpin, p))
        ; /* a reply to a published UDP port's peer: that session's */
    else if (p->l4_proto == MSB_IPPROTO_UDP)
        msb_udp_input(s->udp, p);
    else if (p->l4_proto == MSB_IPPROTO_ICMP || p->l4_proto == MSB_IPPROTO_ICMPV6)
        msb_icmp_input(s->icmp, p);
    else
        drop(s, MSB_DROP_L4_UNSUPPORTED);
}

/* The link layer and the address checks: true when p goes on to
 * deliver(); false when it was answered here or dropped (counted). */
static bool link_checks(struct msb_stack *s, struct msb_pkt *p)
{
    enum msb_drop_reason why;
    if (!src_mac_ok(s, p)) {
        why = MSB_DROP_ETH_SPOOFED_MAC;
    } else if (p->ethertype == MSB_ETHERTYPE_ARP) {
        msb_l2_handle(&s->env, p);
        return false;
    } else if (!src_ip_ok(s, p)) {
        why = MSB_DROP_IP_SPOOFED_SRC;
    } else if (p->l4_proto == MSB_IPPROTO_ICMPV6 &&
               (msb_l2_handle(&s->env, p) || msb_ra_handle(&s->env, p, msb_now_ms()))) {
        return false;
    } else if (!dst_ok(p)) {
        why = MSB_DROP_IP_BAD_DST;
    } else if (!msb_pkt_l4_checksum_ok(p)) {
        why = MSB_DROP_L4_BAD_CHECKSUM;
    } else {
        return true;
    }
    drop(s, why);
    return false;
}

static void dispatch(struct msb_stack *s, struct msb_frame *f, bool may_reassemble)
{
    struct msb_pkt p;
    enum msb_drop_reason why;
    if (!msb_pkt_parse(f->data, f->len, &p, &why)) {
        if (may_reassemble && msb_reasm_is_fragment(f->data, f->len, why))
            reassemble(s, f);
        else
            drop(s, why);
        return;
    }
    /* Before the address checks: a client without a lease sends from
     * 0.0.0.0 to the broadcast address; DHCP checks its own client. */
    if (msb_dhcp4_wants(&p)) {
        msb_dhcp4_input(&s->env, &p);
        return;
    }
    if (link_checks(s, &p))
        deliver(s, &p);
}

/* After a policy swap every module re-evaluates its open flows and resets
 * those the new policy denies (counted as flows_reset). */
static void policy_changed(struct msb_stack *s)
{
    uint64_t n = msb_tcp_policy_recheck(s->tcp);
    n += msb_udp_policy_recheck(s->udp);
    n += msb_icmp_policy_recheck(s->icmp);
    n += msb_udp_inbound_policy_recheck(s->udpin);
    msb_count(&s->env.metrics->policy.flows_reset, n);
}

/* A policy set through the ABI takes effect between two frames, so every
 * frame read after set_policy returned is judged by it. */
static void take_policy(struct msb_stack *s)
{
    if (s->own.take_policy(s->own.ctx))
        policy_changed(s);
}

/* Limits set through the ABI: new rates from the next decision on, and
 * flows paused by a byte bucket get a turn under them at once. */
static void take_limits(struct msb_stack *s)
{
    struct msb_limits l;
    if (!s->own.take_limits(s->own.ctx, &l, false))
        return;
    msb_limiter_set(&s->env.limiter, &l, msb_now_ns());
    msb_tcp_limits_changed(s->tcp);
}

/* A virtio-net GSO super-frame reaches the stack as one big TCP segment
 * ("vnet_gso": "whole") or as the segments a NIC would have put on the
 * wire (vnet_hdr.h). */
static void dispatch_segment(void *ctx, struct msb_frame *seg)
{
    struct msb_stack *s = ctx;
    msb_count(&s->env.metrics->vnet.gso_segments, 1);
    dispatch(s, seg, true);
}

static void dispatch_frame(struct msb_stack *s, struct msb_frame *f)
{
    enum msb_drop_reason why;
    if (!msb_vnet_is_gso(f)) {
        dispatch(s, f, true);
    } else if (s->env.cfg->vnet_gso == MSB_VNET_GSO_MODE_WHOLE && msb_vnet_whole(f)) {
        msb_count(&s->env.metrics->vnet.gso_whole, 1);
        dispatch(s, f, true);
    } else if (!msb_vnet_segment(f, dispatch_segment, s, &why)) {
        drop(s, why);
    }
}

static void on_tx(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_stack *s = arg;
    /* Drain before popping: a frame pushed after the drain re-wakes us. */
    msb_wake_drain(s->own.tx_wake);
    int n = 0;
    struct msb_frame *f;
    while (n < TX_BUDGET && (f = msb_ring_pop(s->own.tx)) != NULL) {
        msb_stack_input(s, f);
        msb_frame_free(f);
        n++;
    }
    msb_stack_batch_end(s);
    /* Budget spent with frames left: the wake is already drained, so come
     * back after the other ready events have had their turn. */
    if (n == TX_BUDGET)
        event_active(s->tx_ev, EV_READ, 0);
}

void msb_stack_input(struct msb_stack *s, struct msb_frame *f)
{
    s->activity++;
    take_policy(s);
    dispatch_frame(s, f);
}

void msb_stack_batch_end(struct msb_stack *s)
{
    msb_tcp_batch_end(s->tcp);
}

static void on_proxy(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_stack *s = arg;
    msb_wake_drain(s->own.proxy_wake);
    if (atomic_load(&s->stop)) {
        event_base_loopbreak(s->env.base);
        return;
    }
    take_policy(s);
    take_limits(s);
    msb_tcp_rx_room(s->tcp);
    s->own.sync(s->own.ctx, s);
}

void msb_stack_live(struct msb_stack *s, struct msb_flow_page *pg)
{
    if (s->tcp)
        msb_tcp_live(s->tcp, pg);
    if (s->udp)
        msb_udp_live(s->udp, pg);
    msb_udp_inbound_live(s->udpin, pg);
    if (s->icmp)
        msb_icmp_live(s->icmp, pg);
}

static void on_maintenance(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_stack *s = arg;
    uint64_t now = msb_now_ms();
    msb_hidx_cleanup(s->env.hidx, now);
    msb_ra_tick(&s->env, now);
    if (s->reasm)
        msb_reasm_expire(s->reasm, now);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "busy_poll_us": after each guest frame keep polling (epoll with no
 * timeout) for that long before sleeping, so the next request, or the
 * host's answer, is picked up without a wake-up and a context switch.
 * Bounded by the last guest frame: a quiet guest costs no CPU at all. */
static void run_busy_poll(struct msb_stack *s, unsigned window_us)
{
    while (!atomic_load(&s->stop)) {
        event_base_loop(s->env.base, EVLOOP_ONCE); /* sleeps until something happens */
        uint64_t seen = s->activity, until = now_us() + window_us;
        while (!atomic_load(&s->stop) && now_us() < until) {
            event_base_loop(s->env.base, EVLOOP_NONBLOCK);
            if (s->activity != seen) {
                seen = s->activity;
                until = now_us() + window_us;
            }
        }
    }
}

static void *run(void *arg)
{
    struct msb_stack *s = arg;
    if (s->env.cfg->busy_poll_us)
        run_busy_poll(s, s->env.cfg->busy_poll_us);
    else
        event_base_dispatch(s->env.base);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------- */

static void free_stack(struct msb_stack *s)
{
    msb_udp_inbound_destroy(s->udpin);
    msb_tcp_destroy(s->tcp);
    s->tcp = NULL; /* later emitters have nothing staged to flush */
    msb_udp_destroy(s->udp);
    msb_icmp_destroy(s->icmp);
    msb_dns_destroy(s->dns);
    msb_reasm_destroy(s->reasm);
    /* After the modules: closing their flows still sends RSTs to the guest
     * through the owner's frame descriptors. */
    if (s->attached)
        s->own.detach(s->own.ctx, s);
    if (s->tx_ev)
        event_free(s->tx_ev);
    if (s->proxy_ev)
        event_free(s->proxy_ev);
    if (s->maint_ev)
        event_free(s->maint_ev);
    if (s->local_ev)
        event_free(s->local_ev);
    if (s->env.local)
        msb_localnet_close(&s->local);
    if (s->env.base)
        event_base_free(s->env.base);
    free(s);
    atomic_store(&stack_in_use, false);
}

static int add_events(struct msb_stack *s)
{
    s->tx_ev = event_new(s->env.base, msb_wake_fd(s->own.tx_wake), EV_READ | EV_PERSIST, on_tx, s);
    s->proxy_ev =
        event_new(s->env.base, msb_wake_fd(s->own.proxy_wake), EV_READ | EV_PERSIST, on_proxy, s);
    s->maint_ev = event_new(s->env.base, -1, EV_PERSIST, on_maintenance, s);
    const struct timeval second = {1, 0};
    if (!s->tx_ev || !s->proxy_ev || !s->maint_ev || event_add(s->tx_ev, NULL) ||
        event_add(s->proxy_ev, NULL) || event_add(s->maint_ev, &second))
        return -1;
    /* Frames written before start are waiting with their wake consumed by
     * nobody; look at the ring once at the first loop turn. */
    event_active(s->tx_ev, EV_READ, 0);
    return 0;
}

static int attach_owner(struct msb_stack *s, char *err, size_t errlen)
{
    if (s->own.attach(s->own.ctx, s) == 0) {
        s->attached = true;
        return 0;
    }
    s->attached = true; /* a partial attach is undone by detach */
    snprintf(err, errlen, "cannot watch the frame descriptors: %s", strerror(errno));
    return -1;
}

/* Reassembly is off (fragments dropped) when its datagram cap is 0. */
static int create_reasm(struct msb_stack *s, char *err, size_t errlen)
{
    const struct msb_config *c = s->env.cfg;
    if (c->reasm_max_datagrams == 0)
        return 0;
    const struct msb_reasm_limits lim = {c->reasm_max_datagrams, c->reasm_max_bytes,
                                         c->reasm_timeout_s * 1000u};
    s->reasm = msb_reasm_create(&lim, s->env.metrics);
    if (!s->reasm)
        snprintf(err, errlen, "out of memory");
    return s->reasm ? 0 : -1;
}

/* The protocols' view of the stack: everything borrowed from the owner. */
static void init_env(struct msb_stack *s)
{
    const struct msb_stack_owner *o = &s->own;
    s->env = (struct msb_env){.cfg = o->cfg,
                              .addrs = *o->addrs,
                              .metrics = o->metrics,
                              .gw = o->gw,
                              .hidx = o->hidx,
                              .flows = o->flows,
                              .hook = o->hook,
                              .terminated = o->terminated,
                              .policy = o->policy,
                              .tls = o->tls,
                              .tls_settings = o->tls_settings,
                              .secret_substitutions = o->secret_substitutions,
                              .secret_violations = o->secret_violations};
    struct msb_limits l = {0};
    o->take_limits(o->ctx, &l, true);
    msb_limiter_init(&s->env.limiter, &l, msb_now_ns());
}

static void on_local(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_stack *s = arg;
    msb_localnet_readable(&s->local);
}

/* The host's own addresses, kept current: a sandbox must not reach the
 * host through them (policy_groups.c judges them as the host group). */
static int watch_local(struct msb_stack *s, char *err, size_t errlen)
{
    if (msb_localnet_open(&s->local) < 0) {
        snprintf(err, errlen, "cannot read this namespace's local routes: %s", strerror(errno));
        return -1;
    }
    s->env.local = &s->local;
    s->local_ev = event_new(s->env.base, msb_localnet_fd(&s->local), EV_READ | EV_PERSIST,
                            on_local, s);
    if (!s->local_ev || event_add(s->local_ev, NULL)) {
        snprintf(err, errlen, "cannot watch this namespace's local routes");
        return -1;
    }
    return 0;
}

static int create_protocols(struct msb_stack *s, char *err, size_t errlen)
{
    struct msb_env *e = &s->env;
    s->dns = msb_dns_create(e, err, errlen);
    if (s->dns)
        s->tcp = msb_tcp_create(e, s->dns, err, errlen);
    if (s->tcp)
        s->udp = msb_udp_create(e, err, errlen);
    if (s->udp)
        s->icmp = msb_icmp_create(e, err, errlen);
    if (s->icmp)
        s->udpin = msb_udp_inbound_create(e, err, errlen);
    return s->udpin ? 0 : -1;
}

struct msb_stack *msb_stack_start(const struct msb_stack_owner *own, char *err, size_t errlen)
{
    if (atomic_exchange(&stack_in_use, true)) {
        snprintf(err, errlen, "another msbnet instance is already started in this process "
                              "(lwIP is a process-wide singleton)");
        return NULL;
    }
    struct msb_stack *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_store(&stack_in_use, false);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->own = *own;
    init_env(s);
    atomic_init(&s->stop, false);
    s->env.base = event_base_new();
    if (!s->env.base || add_events(s)) {
        snprintf(err, errlen, "cannot create the stack's event loop");
        free_stack(s);
        return NULL;
    }
    if (watch_local(s, err, errlen) || create_protocols(s, err, errlen) ||
        attach_owner(s, err, errlen) ||
        create_reasm(s, err, errlen)) {
        free_stack(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        snprintf(err, errlen, "cannot start the stack thread");
        free_stack(s);
        return NULL;
    }
    return s;
}

void msb_stack_stop(struct msb_stack *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    msb_wake_signal(s->own.proxy_wake);
    pthread_join(s->thread, NULL);
    /* The thread is gone: tearing lwIP down from here touches nothing
     * another thread uses. */
    free_stack(s);
}

/* ---- output: the msb_env calls ------------------------------------------ */

static struct msb_stack *stack_of(struct msb_env *e)
{
    return (struct msb_stack *)((char *)e - offsetof(struct msb_stack, env));
}

struct msb_frame *msb_env_ip_frame(struct msb_env *e, uint8_t ip_version, size_t l3_len)
{
    struct msb_frame *f = msb_frame_alloc(MSB_ETH_HLEN + l3_len);
    if (!f) {
        msb_drop(e->metrics, MSB_DROP_RX_NO_MEMORY);
        return NULL;
    }
    msb_eth_write(f->data, e->addrs.guest_mac, e->addrs.gateway_mac,
                  ip_version == 4 ? MSB_ETHERTYPE_IPV4 : MSB_ETHERTYPE_IPV6);
    return f;
}

bool msb_env_emit(struct msb_env *e, struct msb_frame *f)
{
    struct msb_stack *s = stack_of(e);
    /* A staged TCP segment holds an rx slot: it goes first, so this frame
     * cannot take that slot, and stays ahead of it. */
    msb_tcp_flush(s->tcp);
    return s->own.emit(s->own.ctx, f);
}

bool msb_env_rx_room(struct msb_env *e, size_t frames)
{
    struct msb_stack *s = stack_of(e);
    return s->own.rx_room(s->own.ctx, frames);
}

void msb_stack_flush(struct msb_stack *s)
{
    msb_tcp_flush(s->tcp);
}
