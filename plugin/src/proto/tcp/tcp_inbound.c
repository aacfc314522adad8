/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Published TCP ports: a connection accepted on a host listener becomes a
 * connection from msbnet to the guest, opened by lwIP (tcp_connect) through
 * the same edge NAT as guest flows (tcp_nat.c).
 *
 * lwIP sees the flow in slot i as (lw_addr, ephemeral port) -> (FAKE(i),
 * guest port); the guest sees (source -> guest, guest port), where source
 * is the gateway and lwIP's ephemeral port, or with real_peer the host
 * peer's own address and port.  The guest's replies carry that tuple, so
 * the flow table finds them before any egress admission: a real peer's
 * address never reaches the egress policy for this flow.  Guest RST to the
 * SYN, or no answer within connect_timeout_ms -> the host peer is reset.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/ip_addr.h"
#include "lwip/tcp.h"

#include "proto/enforce.h"
#include "model/publish_spec.h"
#include "proto/tcp/tcp_int.h"

/* Refused before any flow exists: the peer sees ECONNRESET at once. */
static void reset_close(int fd)
{
    const struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tcp_flow *f = arg;
    (void)err; /* always ERR_OK: failures arrive through the err callback */
    if (!f || !msb_tcp_proxy_accepted(f->t, f, pcb)) {
        if (f)
            msb_tcp_proxy_abort(f->t, f, true);
        else
            tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/* A fresh pcb bound to an ephemeral port, which names the flow on lwIP's
 * side (LW_PORT is the listener's). */
static struct tcp_pcb *new_pcb(uint8_t v)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(v == 4 ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6);
    if (!pcb)
        return NULL;
    if (tcp_bind(pcb, v == 4 ? IP4_ADDR_ANY : IP6_ADDR_ANY, 0) != ERR_OK) {
        tcp_close(pcb); /* never connected: freed at once */
        return NULL;
    }
    return pcb;
}

static struct tcp_flow *new_flow(struct msb_tcp *t, const struct msb_publish_spec *sp,
                                 const struct msb_ip *peer, uint16_t pport, uint16_t lw_port)
{
    bool v4 = peer->family == MSB_FAMILY_V4;
    const struct msb_ip *g = v4 ? &t->env->addrs.guest4 : &t->env->addrs.guest6;
    const struct msb_ip *src = sp->real_peer ? peer : v4 ? &t->env->addrs.gateway4
                                                         : &t->env->addrs.gateway6;
    uint16_t sport = sp->real_peer ? pport : lw_port;
    /* The guest already has a connection with this exact tuple (its own
     * flow to that address and port, from the published port): refuse
     * rather than mix the two. */
    if (msb_tcp_nat_find(t, g, sp->guest_port, src, sport))
        return NULL;
    struct tcp_flow *f = msb_tcp_nat_alloc_tuple(t, g, sp->guest_port, src, sport);
    if (!f)
        return NULL;
    msb_tcp_flow_reset(f); /* no SNI check: the guest is the server here */
    const struct msb_flow_ref ref = {MSB_IPPROTO_TCP, true, g, sp->guest_port, peer, pport};
    msb_tcp_flow_record(t, f, &ref); /* the verdict the caller just got */
    f->inbound = true;
    f->lw_port = lw_port;
    f->peer = *peer;
    f->peer_port = pport;
    return f;
}

static void fake_ip(struct msb_tcp *t, const struct tcp_flow *f, ip_addr_t *out)
{
    uint8_t a[16];
    msb_tcp_nat_fake_addr(f->g.family, msb_tcp_nat_slot(t, f), a);
    memset(out, 0, sizeof *out);
    if (f->g.family == MSB_FAMILY_V4) {
        IP_SET_TYPE_VAL(*out, IPADDR_TYPE_V4);
        memcpy(&ip_2_ip4(out)->addr, a, 4);
    } else {
        IP_SET_TYPE_VAL(*out, IPADDR_TYPE_V6);
        memcpy(ip_2_ip6(out)->addr, a, 16);
    }
}

/* lwIP's SYN goes out from inside tcp_connect, through the NAT: the flow
 * must be complete before. */
static void open_towards_guest(struct msb_tcp *t, struct tcp_flow *f, struct tcp_pcb *pcb)
{
    ip_addr_t dst;
    fake_ip(t, f, &dst);
    msb_tcp_proxy_watch(f, pcb);
    if (tcp_connect(pcb, &dst, f->gp, on_connected) != ERR_OK) {
        msb_count(&t->env->metrics->inbound.tcp_errors, 1);
        msb_tcp_proxy_abort(t, f, true);
        return;
    }
    msb_tcp_lw_timer_arm(t);
}

void msb_tcp_inbound(struct msb_tcp *t, int fd, const struct sockaddr_storage *ss,
                     const struct msb_publish_spec *sp)
{
    struct msb_inbound_metrics *m = &t->env->metrics->inbound;
    struct msb_ip peer;
    uint16_t pport;
    msb_ip_from_sockaddr(ss, &peer, &pport);
    const struct msb_ip *guest = peer.family == MSB_FAMILY_V4 ? &t->env->addrs.guest4
                                                              : &t->env->addrs.guest6;
    const struct msb_flow_ref ref = {MSB_IPPROTO_TCP, true, guest, sp->guest_port, &peer, pport};
    if (!msb_policy_allow(t->env, &ref)) {
        msb_count(&m->tcp_denied, 1);
        reset_close(fd);
        return;
    }
    if (msb_read(&m->tcp_open) >= t->env->cfg->max_inbound_flows) {
        msb_count(&m->tcp_cap, 1);
        reset_close(fd);
        return;
    }
    struct tcp_pcb *pcb = new_pcb(peer.family);
    struct tcp_flow *f = pcb ? new_flow(t, sp, &peer, pport, pcb->local_port) : NULL;
    if (!f) {
        if (pcb)
            tcp_close(pcb);
        msb_count(&m->tcp_errors, 1);
        reset_close(fd);
        return;
    }
    msb_tcp_flow_set_state(t, f, FLOW_SYN_FED);
    msb_count(&m->tcp_open, 1);
    msb_count(&m->tcp_accepted, 1);
    if (msb_tcp_proxy_adopt(t, f, fd))
        open_towards_guest(t, f, pcb);
    else
        tcp_close(pcb);
}
