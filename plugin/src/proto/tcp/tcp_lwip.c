/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lwIP singleton, driven from the stack thread with the raw API and no
 * lock, as measured on Debian's liblwip 2.1.3 (plugin/README.md, "lwIP as
 * Debian ships it"): never tcpip_init(), sys_mark_tcpip_thread() or
 * LOCK_TCPIP_CORE(), never sys_check_timeouts().
 *
 * lwIP, its L3 netif and its one dual-stack listener are set up once per
 * process and kept across stop/start (lwip_init() twice is untested); the
 * callbacks reach the running instance through `cur`.  Only tcp_tmr() is
 * driven, by a 250 ms libevent timer armed while pcbs exist, so an idle
 * stack never wakes up.
 */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "proto/tcp/tcp_int.h"

const uint8_t msb_tcp_lw_addr4[4] = {10, 0, 0, 1};
const uint8_t msb_tcp_lw_addr6[16] = {0xfd, 0x00, 0x6d, 0x73, [15] = 1};

static struct netif nif;
static struct tcp_pcb *listener;
static bool lwip_ready;
static struct msb_tcp *cur;

/* ---- output: lwIP -> guest -------------------------------------------- */

/* Returning ERR_MEM keeps a data segment on lwIP's unsent queue and makes
 * a pure ACK retry from the fast timer, so "no room" loses nothing. */
static err_t output(struct pbuf *p)
{
    struct msb_tcp *t = cur;
    const uint8_t *h = p->payload;
    uint8_t v = (uint8_t)(h[0] >> 4);
    size_t hl = v == 4 ? (size_t)(h[0] & 15) * 4 : 40;
    /* Only TCP is ever given to lwIP, so only TCP should come back; anything
     * else must not be mistaken for a flow's segment. */
    if (!t || p->len != p->tot_len || p->len < hl + 20 || h[v == 4 ? 9 : 6] != 6)
        return ERR_OK;
    struct tcp_flow *f = msb_tcp_nat_from_lwip(t, v, h + (v == 4 ? 16 : 24), msb_get16(h + hl + 2));
    if (!f) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_NAT_MISS);
        return ERR_OK;
    }
    if (msb_tcp_gro_merge(t, f, h, p->len))
        return ERR_OK;
    /* Whatever is staged goes first, into the slot it reserved: the room
     * check below is then about this segment alone. */
    msb_tcp_gro_flush(t);
    if (!msb_env_rx_room(t->env, 1)) {
        msb_tcp_flow_mark_room(t, f);
        return ERR_MEM;
    }
    if (msb_tcp_gro_stage(t, f, h, p->len))
        return ERR_OK;
    struct msb_frame *fr = msb_env_ip_frame(t->env, v, p->len);
    if (!fr)
        return ERR_MEM;
    memcpy(fr->data + MSB_ETH_HLEN, p->payload, p->len);
    msb_tcp_nat_to_guest(f, fr->data + MSB_ETH_HLEN);
    msb_env_emit(t->env, fr);
    return ERR_OK;
}

static err_t out4(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n;
    (void)a;
    return output(p);
}

static err_t out6(struct netif *n, struct pbuf *p, const ip6_addr_t *a)
{
    (void)n;
    (void)a;
    return output(p);
}

/* No ARP, broadcast, IGMP or MLD: a pure L3 interface. */
static err_t nif_init(struct netif *n)
{
    n->name[0] = 'm';
    n->name[1] = 's';
    n->mtu = 1500;
    n->output = out4;
    n->output_ip6 = out6;
    n->flags = 0;
    return ERR_OK;
}

/* ---- input: guest -> lwIP --------------------------------------------- */

void msb_tcp_lw_input(struct msb_tcp *t, const uint8_t *l3, size_t len)
{
    struct pbuf *p = len <= 0xffff ? pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM) : NULL;
    if (!p) {
        msb_drop(t->env->metrics, MSB_DROP_TCP_NO_MEMORY);
        return;
    }
    memcpy(p->payload, l3, len);
    if (nif.input(p, &nif) != ERR_OK)
        pbuf_free(p);
    msb_tcp_lw_timer_arm(t);
}

/* lwIP registers a new pcb at the head of tcp_active_pcbs, so this is one
 * comparison in practice. */
struct tcp_pcb *msb_tcp_lw_find_pcb(struct msb_tcp *t, const struct tcp_flow *f)
{
    uint8_t v = f->g.family, fake[16];
    msb_tcp_nat_fake_addr(v, msb_tcp_nat_slot(t, f), fake);
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->state != SYN_RCVD || pcb->remote_port != f->gp)
            continue;
        if (v == 4 && IP_IS_V4_VAL(pcb->remote_ip) &&
            memcmp(&ip_2_ip4(&pcb->remote_ip)->addr, fake, 4) == 0)
            return pcb;
        if (v == 6 && IP_IS_V6_VAL(pcb->remote_ip) &&
            memcmp(ip_2_ip6(&pcb->remote_ip)->addr, fake, 16) == 0)
            return pcb;
    }
    return NULL;
}

bool msb_tcp_lw_pcb_alive(const struct tcp_pcb *pcb)
{
    for (const struct tcp_pcb *q = tcp_active_pcbs; q; q = q->next)
        if (q == pcb)
            return true;
    for (const struct tcp_pcb *q = tcp_tw_pcbs; q; q = q->next)
        if (q == pcb)
            return true;
    return false;
}

/* ---- accept ----------------------------------------------------------- */

static struct tcp_flow *flow_of_pcb(struct msb_tcp *t, const struct tcp_pcb *pcb)
{
    uint8_t a[16] = {0};
    uint8_t v = IP_IS_V6_VAL(pcb->remote_ip) ? 6 : 4;
    if (v == 4)
        memcpy(a, &ip_2_ip4(&pcb->remote_ip)->addr, 4);
    else
        memcpy(a, ip_2_ip6(&pcb->remote_ip)->addr, 16);
    return msb_tcp_nat_from_lwip(t, v, a, pcb->remote_port);
}

static err_t on_accept(void *arg, struct tcp_pcb *npcb, err_t err)
{
    (void)arg;
    struct msb_tcp *t = cur;
    if (err != ERR_OK || !npcb)
        return ERR_VAL;
    struct tcp_flow *f = t ? flow_of_pcb(t, npcb) : NULL;
    if (!f || !msb_tcp_proxy_accepted(t, f, npcb)) {
        tcp_abort(npcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/* ---- set-up ----------------------------------------------------------- */

static int add_netif(void)
{
    ip4_addr_t a, m, g;
    IP4_ADDR(&a, msb_tcp_lw_addr4[0], msb_tcp_lw_addr4[1], msb_tcp_lw_addr4[2], msb_tcp_lw_addr4[3]);
    IP4_ADDR(&m, 255, 0, 0, 0);
    ip4_addr_set_zero(&g);
    if (!netif_add(&nif, &a, &m, &g, NULL, nif_init, ip_input))
        return -1;
    ip6_addr_t a6;
    memset(&a6, 0, sizeof a6);
    memcpy(a6.addr, msb_tcp_lw_addr6, 16);
    s8_t idx = -1;
    if (netif_add_ip6_address(&nif, &a6, &idx) != ERR_OK || idx < 0)
        return -1;
    /* PREFERRED at once: no DAD, and the link-local slot stays invalid so
     * nothing (router solicitations) is ever sent on its own. */
    netif_ip6_addr_set_state(&nif, idx, IP6_ADDR_PREFERRED);
    netif_set_default(&nif);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
    return 0;
}

static int add_listener(void)
{
    struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (!l)
        return -1;
    tcp_bind_netif(l, &nif);
    if (tcp_bind(l, IP_ANY_TYPE, LW_PORT) != ERR_OK) {
        tcp_abort(l);
        return -1;
    }
    listener = tcp_listen(l);
    if (!listener)
        return -1;
    tcp_accept(listener, on_accept);
    return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg);

int msb_tcp_lw_setup(struct msb_tcp *t, char *err, size_t errlen)
{
    if (!lwip_ready) {
        lwip_init();
        if (add_netif() || add_listener()) {
            snprintf(err, errlen, "cannot set up lwIP's interface and listener");
            return -1;
        }
        lwip_ready = true;
    }
    t->tmr_ev = evtimer_new(t->env->base, on_tick, t);
    if (!t->tmr_ev) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* lwIP's MSS is min(TCP_MSS, netif MTU - headers): the guest's MTU
     * gives 1460 at 1500 and 65000 (TCP_MSS) at 65520 (lwipopts.h). */
    uint32_t mtu = t->env->addrs.mtu;
    nif.mtu = (u16_t)(mtu ? mtu : 1500);
    cur = t;
    return 0;
}

/* Anything lwIP still holds that no flow tracks (none should exist) is
 * dropped silently, so a next instance starts from empty lists. */
static void abort_list(struct tcp_pcb *list)
{
    while (list) {
        struct tcp_pcb *pcb = list;
        list = pcb->next;
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_abort(pcb);
    }
}

void msb_tcp_lw_teardown(struct msb_tcp *t)
{
    cur = NULL; /* no output for a stack that is going away */
    abort_list(tcp_active_pcbs);
    abort_list(tcp_tw_pcbs);
    if (t->tmr_ev)
        event_free(t->tmr_ev);
    t->tmr_ev = NULL;
}

/* ---- tcp_tmr ---------------------------------------------------------- */

static bool pcbs_exist(void)
{
    return tcp_active_pcbs != NULL || tcp_tw_pcbs != NULL;
}

void msb_tcp_lw_timer_arm(struct msb_tcp *t)
{
    if (t->tmr_armed || !pcbs_exist())
        return;
    const struct timeval iv = {0, TCP_TMR_INTERVAL * 1000};
    if (event_add(t->tmr_ev, &iv) == 0)
        t->tmr_armed = true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct msb_tcp *t = arg;
    t->tmr_armed = false;
    tcp_tmr();
    msb_tcp_gro_flush(t);
    msb_tcp_lw_timer_arm(t);
}
