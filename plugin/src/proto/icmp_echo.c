/* SPDX-License-Identifier: Apache-2.0 */
/* Guest ping (icmp_echo.h): echoes to the gateway answered here, others
 * sent on one ping (or raw) socket per echo, each holding a flow-table slot. */
#include "proto/icmp_echo.h"
#include "proto/flow_emit.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/csum.h"
#include "lib/flowtab.h"
#include "lib/pkt_build.h"
#include "proto/enforce.h"
#include "proto/env.h"

#define ECHO_TIMEOUT_S 5
#define READ_BUDGET 64
#define HOP_LIMIT 64
#define ECHO_REQ4 8
#define ECHO_REP4 0
#define ECHO_REQ6 128
#define ECHO_REP6 129

enum echo_mode { MODE_NONE, MODE_PING, MODE_RAW };

struct echo {
    struct msb_icmp *ic;
    bool raw;
    int fd;
    struct event *rd, *tmr;
    struct msb_ip g, d;
    uint16_t ident, seq; /* the guest's */
    uint16_t raw_ident;  /* ours, on a raw socket (the kernel's on a ping socket) */
    struct msb_flowrec rec; /* one flow record per echo (flow_emit.h) */
};

struct msb_icmp {
    struct msb_env *env;
    struct msb_icmp_metrics *m;
    uint32_t max;
    struct echo *e;
    struct msb_flowtab *ft; /* outstanding echoes: slots only, no keys */
    enum echo_mode mode4, mode6;
    uint16_t next_raw_ident;
    uint8_t buf[65536];
};

/* ---- replies to the guest ----------------------------------------------------- */

/* An echo reply to the guest from `from` (the address it pinged), carrying
 * ident, seq and data.  The ICMPv6 checksum covers the guest's view of the
 * addresses, not the host's (the original got this wrong). */
static void reply(struct msb_icmp *ic, const struct msb_ip *from, const struct msb_ip *to,
                  uint16_t ident, uint16_t seq, const uint8_t *data, size_t n)
{
    bool v4 = from->family == MSB_FAMILY_V4;
    size_t hl = v4 ? MSB_IPV4_HLEN : MSB_IPV6_HLEN, l4 = MSB_ICMP_HLEN + n;
    if (hl + l4 > ic->env->cfg->mtu || l4 > 65535 - hl) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_REPLY_TOO_BIG);
        return;
    }
    struct msb_frame *f = msb_env_ip_frame(ic->env, v4 ? 4 : 6, hl + l4);
    if (!f)
        return;
    uint8_t *ip = f->data + MSB_ETH_HLEN, *icmp = ip + hl;
    if (v4)
        msb_ip4_write(ip, hl + l4, 0, 0, HOP_LIMIT, MSB_IPPROTO_ICMP, from->b, to->b);
    else
        msb_ip6_write(ip, l4, HOP_LIMIT, MSB_IPPROTO_ICMPV6, from->b, to->b);
    icmp[0] = v4 ? ECHO_REP4 : ECHO_REP6;
    icmp[1] = 0;
    msb_put16(icmp + 2, 0);
    msb_put16(icmp + 4, ident);
    msb_put16(icmp + 6, seq);
    memcpy(icmp + MSB_ICMP_HLEN, data, n);
    uint16_t ck = v4 ? msb_csum_finish(msb_csum_add(0, icmp, l4))
                     : msb_csum_l4(from, to, MSB_IPPROTO_ICMPV6, icmp, l4);
    msb_put16(icmp + 2, ck);
    msb_env_emit(ic->env, f);
}

/* ---- outstanding echoes ----------------------------------------------------------- */

/* end: how the echo's flow record says it ended. */
static void echo_close(struct msb_icmp *ic, struct echo *e, uint8_t end)
{
    msb_flow_finish(ic->env, &e->rec, end);
    if (e->rd)
        event_free(e->rd);
    if (e->tmr)
        event_free(e->tmr);
    if (e->fd >= 0)
        close(e->fd);
    msb_flowtab_release(ic->ft, (uint32_t)(e - ic->e));
    memset(e, 0, sizeof *e);
    e->fd = -1;
    msb_count(&ic->m->echoes_outstanding, (uint64_t)-1);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct echo *e = arg;
    msb_count(&e->ic->m->echo_timeouts, 1);
    echo_close(e->ic, e, MSB_FR_END_IDLE);
}

/* The ICMP message in what a socket returned: a raw IPv4 socket hands over
 * the IP header too, ping sockets and raw IPv6 sockets do not. */
static const uint8_t *icmp_of(const struct echo *e, const uint8_t *b, size_t *n)
{
    if (e->raw && e->d.family == MSB_FAMILY_V4) {
        if (*n < MSB_IPV4_HLEN || (b[0] >> 4) != 4 || (size_t)(b[0] & 15) * 4 > *n)
            return NULL;
        size_t hl = (size_t)(b[0] & 15) * 4;
        *n -= hl;
        b += hl;
    }
    return *n >= MSB_ICMP_HLEN ? b : NULL;
}

/* Ours: an echo reply with our sequence number (a raw socket also sees
 * every other ICMP message from this peer, so its ident is checked too). */
static bool is_our_reply(const struct echo *e, const uint8_t *icmp)
{
    uint8_t want = e->d.family == MSB_FAMILY_V4 ? ECHO_REP4 : ECHO_REP6;
    if (icmp[0] != want || icmp[1] != 0 || msb_get16(icmp + 6) != e->seq)
        return false;
    return !e->raw || msb_get16(icmp + 4) == e->raw_ident;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct echo *e = arg;
    struct msb_icmp *ic = e->ic;
    /* A raw socket sees ICMP from anyone: a flood of it must not hold the
     * stack thread; what is left fires the (level-triggered) event again. */
    for (int i = 0; i < READ_BUDGET; i++) {
        ssize_t got = recv(fd, ic->buf, sizeof ic->buf, 0);
        if (got < 0)
            return; /* EAGAIN, or an ICMP error for the echo: wait for the timeout */
        size_t n = (size_t)got;
        const uint8_t *icmp = icmp_of(e, ic->buf, &n);
        if (!icmp || !is_our_reply(e, icmp))
            continue;
        msb_count(&ic->m->echo_replies, 1);
        reply(ic, &e->d, &e->g, e->ident, e->seq, icmp + MSB_ICMP_HLEN, n - MSB_ICMP_HLEN);
        e->rec.bytes_in = n - MSB_ICMP_HLEN;
        e->rec.pkts_in = 1;
        echo_close(ic, e, MSB_FR_END_CLOSED);
        return;
    }
}

/* ---- sending ------------------------------------------------------------------------ */

/* A raw socket gets a copy of every ICMP message the host receives: let
 * the kernel keep only echo replies, the one type an echo waits for. */
static void only_echo_replies(int fd, enum msb_family fam)
{
    if (fam == MSB_FAMILY_V4) {
        struct icmp_filter f = {.data = ~(1u << ECHO_REP4)};
        setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof f);
    } else {
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ECHO_REP6, &f);
        setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    }
}

static int open_echo_socket(enum msb_family fam, enum echo_mode mode)
{
    int domain = fam == MSB_FAMILY_V4 ? AF_INET : AF_INET6;
    int proto = fam == MSB_FAMILY_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    int type = mode == MODE_RAW ? SOCK_RAW : SOCK_DGRAM;
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd >= 0 && mode == MODE_RAW)
        only_echo_replies(fd, fam);
    return fd;
}

static int connect_to(int fd, const struct msb_ip *d)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (d->family == MSB_FAMILY_V4) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, d->b, 4);
        return connect(fd, (struct sockaddr *)a, sizeof *a);
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_addr, d->b, 16);
    return connect(fd, (struct sockaddr *)a, sizeof *a);
}

/* The request as the host sends it: the guest's seq and data; the ident is
 * the kernel's on a ping socket (it overwrites it) and ours on a raw one.
 * The kernel sums ping sockets and raw ICMPv6; raw ICMPv4 is summed here. */
static ssize_t send_request(struct msb_icmp *ic, struct echo *e, const struct msb_pkt *p)
{
    size_t n = p->l4_len;
    memcpy(ic->buf, p->l4, n);
    msb_put16(ic->buf + 2, 0);
    msb_put16(ic->buf + 4, e->raw ? e->raw_ident : 0);
    if (e->raw && e->d.family == MSB_FAMILY_V4)
        msb_put16(ic->buf + 2, msb_csum_finish(msb_csum_add(0, ic->buf, n)));
    return send(e->fd, ic->buf, n, 0);
}

static int echo_open(struct msb_icmp *ic, struct echo *e, enum echo_mode mode)
{
    e->fd = open_echo_socket((enum msb_family)e->d.family, mode);
    if (e->fd < 0 || connect_to(e->fd, &e->d) != 0)
        return -1;
    e->rd = event_new(ic->env->base, e->fd, EV_READ | EV_PERSIST, on_readable, e);
    e->tmr = evtimer_new(ic->env->base, on_timeout, e);
    const struct timeval tv = {ECHO_TIMEOUT_S, 0};
    if (!e->rd || !e->tmr || event_add(e->rd, NULL) != 0 || event_add(e->tmr, &tv) != 0)
        return -1;
    return 0;
}

static void relay(struct msb_icmp *ic, const struct msb_pkt *p, enum echo_mode mode)
{
    uint32_t slot = msb_flowtab_alloc(ic->ft);
    if (slot == MSB_FLOWTAB_NONE) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_ECHO_CAP);
        return;
    }
    struct echo *e = &ic->e[slot];
    *e = (struct echo){.ic = ic, .raw = mode == MODE_RAW, .fd = -1, .g = p->src,
                       .d = p->dst, .ident = msb_get16(p->l4 + 4), .seq = msb_get16(p->l4 + 6),
                       .raw_ident = ic->next_raw_ident++};
    msb_count(&ic->m->echoes_outstanding, 1);
    uint8_t proto = p->ip_version == 4 ? MSB_IPPROTO_ICMP : MSB_IPPROTO_ICMPV6;
    const struct msb_flow_ref ref = {proto, false, &p->src, 0, &p->dst, 0};
    msb_flow_begin(ic->env, &ref, MSB_FR_ICMP, &e->rec); /* the verdict just given */
    e->rec.bytes_out = p->l4_len - MSB_ICMP_HLEN;
    e->rec.pkts_out = 1;
    if (echo_open(ic, e, mode) != 0) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_NO_SOCKET);
        echo_close(ic, e, MSB_FR_END_CLOSED);
        return;
    }
    if (send_request(ic, e, p) < 0) {
        /* Unreachable from here (no route, ICMP error pending): the guest
         * sees the same silence a lost echo gives it. */
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_NO_SOCKET);
        echo_close(ic, e, MSB_FR_END_CLOSED);
        return;
    }
    msb_count(&ic->m->echo_sent, 1);
    if (e->raw)
        msb_count(&ic->m->echo_raw, 1);
}

/* ---- guest side ---------------------------------------------------------------------- */

static bool is_echo_request(const struct msb_pkt *p)
{
    if (p->l4_hdr_len < MSB_ICMP_HLEN || p->l4[1] != 0)
        return false;
    return p->l4[0] == (p->ip_version == 4 ? ECHO_REQ4 : ECHO_REQ6);
}

void msb_icmp_input(struct msb_icmp *ic, const struct msb_pkt *p)
{
    if (!is_echo_request(p)) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_UNSUPPORTED);
        return;
    }
    const uint8_t *h = p->l4;
    /* The gateway is msbnet itself: always answered, no policy. */
    if (msb_gateway_is(ic->env->gw, &p->dst)) {
        msb_count(&ic->m->echo_local, 1);
        reply(ic, &p->dst, &p->src, msb_get16(h + 4), msb_get16(h + 6), h + MSB_ICMP_HLEN,
              p->l4_len - MSB_ICMP_HLEN);
        return;
    }
    uint8_t proto = p->ip_version == 4 ? MSB_IPPROTO_ICMP : MSB_IPPROTO_ICMPV6;
    const struct msb_flow_ref ref = {proto, false, &p->src, 0, &p->dst, 0};
    if (!msb_policy_allow(ic->env, &ref)) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_DENIED);
        return;
    }
    enum echo_mode mode = p->ip_version == 4 ? ic->mode4 : ic->mode6;
    if (mode == MODE_NONE) {
        msb_drop(ic->env->metrics, MSB_DROP_ICMP_NO_SOCKET);
        return;
    }
    relay(ic, p, mode);
}

/* ---- life cycle ------------------------------------------------------------------------ */

/* Ping sockets when the kernel allows them (net.ipv4.ping_group_range),
 * else a raw socket when we may open one (root / CAP_NET_RAW). */
static enum echo_mode probe(enum msb_family fam)
{
    for (enum echo_mode m = MODE_PING; m <= MODE_RAW; m++) {
        int fd = open_echo_socket(fam, m);
        if (fd >= 0) {
            close(fd);
            return m;
        }
    }
    return MODE_NONE;
}

struct msb_icmp *msb_icmp_create(struct msb_env *env, char *err, size_t errlen)
{
    struct msb_icmp *ic = calloc(1, sizeof *ic);
    if (!ic) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ic->env = env;
    ic->m = &env->metrics->icmp;
    ic->max = env->cfg->max_icmp_echoes;
    const struct msb_flowtab_spec spec = {.cap = ic->max};
    ic->e = calloc(ic->max, sizeof *ic->e);
    ic->ft = msb_flowtab_new(&spec);
    if (!ic->e || !ic->ft) {
        msb_icmp_destroy(ic);
        snprintf(err, errlen, "out of memory for %u ICMP echoes", env->cfg->max_icmp_echoes);
        return NULL;
    }
    /* Slots are zeroed, not walked: unused pages stay untouched. */
    ic->mode4 = probe(MSB_FAMILY_V4);
    ic->mode6 = probe(MSB_FAMILY_V6);
    ic->next_raw_ident = (uint16_t)getpid();
    return ic;
}

uint32_t msb_icmp_policy_recheck(struct msb_icmp *ic)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < ic->max; i++) {
        struct echo *e = &ic->e[i];
        uint8_t proto = e->d.family == MSB_FAMILY_V4 ? MSB_IPPROTO_ICMP : MSB_IPPROTO_ICMPV6;
        const struct msb_flow_ref ref = {proto, false, &e->g, 0, &e->d, 0};
        if (msb_flowtab_in_use(ic->ft, i) && !msb_policy_still_allowed(ic->env, &ref)) {
            echo_close(ic, e, MSB_FR_END_POLICY_REPLACE);
            n++;
        }
    }
    return n;
}

void msb_icmp_live(struct msb_icmp *ic, struct msb_flow_page *pg)
{
    for (uint32_t i = 0; i < ic->max; i++)
        if (msb_flowtab_in_use(ic->ft, i))
            msb_flow_page_add(pg, &ic->e[i].rec);
}

void msb_icmp_destroy(struct msb_icmp *ic)
{
    if (!ic)
        return;
    for (uint32_t i = 0; ic->e && ic->ft && i < ic->max; i++)
        if (msb_flowtab_in_use(ic->ft, i))
            echo_close(ic, &ic->e[i], MSB_FR_END_STOP);
    free(ic->e);
    msb_flowtab_free(ic->ft);
    free(ic);
}
