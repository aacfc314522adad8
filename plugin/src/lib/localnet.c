/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's locally delivered destinations, from rtnetlink (localnet.h). */
#include "lib/localnet.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Route messages read per readable event: a host changing thousands of
 * routes cannot hold the stack thread for long. */
#define EVENT_BUDGET 64

/* The route types the kernel answers itself (never forwarded). */
static bool local_type(uint8_t t)
{
    return t == RTN_LOCAL || t == RTN_BROADCAST || t == RTN_ANYCAST || t == RTN_MULTICAST;
}

static int nl_socket(unsigned groups)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- the set ------------------------------------------------------------- */

static bool prefix_equal(const struct msb_localnet_prefix *a, const struct msb_localnet_prefix *b)
{
    return a->len == b->len && msb_ip_equal(&a->net, &b->net);
}

static bool prefix_contains(const struct msb_localnet_prefix *p, const struct msb_ip *ip)
{
    if (p->net.family != ip->family)
        return false;
    unsigned full = p->len / 8, rest = p->len % 8;
    if (memcmp(p->net.b, ip->b, full) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return rest == 0 || ((p->net.b[full] ^ ip->b[full]) & mask) == 0;
}

static void add(struct msb_localnet *l, const struct msb_localnet_prefix *p)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (prefix_equal(&l->p[i], p))
            return;
    if (l->n == MSB_LOCALNET_MAX) {
        l->overflow = true;
        return;
    }
    l->p[l->n++] = *p;
}

static void del(struct msb_localnet *l, const struct msb_localnet_prefix *p)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (prefix_equal(&l->p[i], p)) {
            l->p[i] = l->p[--l->n];
            return;
        }
    }
}

/* ---- route messages ------------------------------------------------------ */

/* The destination prefix of a route message; false when it is not a
 * locally delivered route of a family we know. */
static bool route_prefix(const struct nlmsghdr *h, struct msb_localnet_prefix *out)
{
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
        return false;
    const struct rtmsg *r = NLMSG_DATA(h);
    size_t alen = r->rtm_family == AF_INET ? 4 : r->rtm_family == AF_INET6 ? 16 : 0;
    if (!alen || !local_type(r->rtm_type) || r->rtm_dst_len > alen * 8)
        return false;
    memset(out, 0, sizeof *out);
    out->net.family = alen == 4 ? MSB_FAMILY_V4 : MSB_FAMILY_V6;
    out->len = r->rtm_dst_len;
    int left = (int)RTM_PAYLOAD(h);
    for (const struct rtattr *a = RTM_RTA(r); RTA_OK(a, left); a = RTA_NEXT(a, left))
        if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == alen)
            memcpy(out->net.b, RTA_DATA(a), alen);
    return true; /* no RTA_DST: the default route of that type, len 0 */
}

static void apply(struct msb_localnet *l, const struct nlmsghdr *h)
{
    struct msb_localnet_prefix p;
    if ((h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) && route_prefix(h, &p)) {
        if (h->nlmsg_type == RTM_NEWROUTE)
            add(l, &p);
        else
            del(l, &p);
    }
}

/* NLMSG_OK and NLMSG_NEXT on a size_t: the macros compare nlmsg_len (u32)
 * with an int, which clang's -Wsign-compare refuses, and an unsigned
 * length would wrap past a last message shorter than its alignment. */
static bool nl_ok(const struct nlmsghdr *h, size_t left)
{
    return left >= sizeof *h && h->nlmsg_len >= sizeof *h && h->nlmsg_len <= left;
}

static const struct nlmsghdr *nl_next(const struct nlmsghdr *h, size_t *left)
{
    size_t step = NLMSG_ALIGN(h->nlmsg_len);
    if (step >= *left) {
        *left = 0;
        return h;
    }
    *left -= step;
    return (const struct nlmsghdr *)((const char *)h + step);
}

/* Applies every message in buf; 1 at NLMSG_DONE, -1 on an error reply. */
static int apply_all(struct msb_localnet *l, const char *buf, size_t n)
{
    size_t left = n;
    for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; nl_ok(h, left);
         h = nl_next(h, &left)) {
        if (h->nlmsg_type == NLMSG_DONE)
            return 1;
        if (h->nlmsg_type == NLMSG_ERROR)
            return -1;
        apply(l, h);
    }
    return 0;
}

static ssize_t recv_wait(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n >= 0 || (errno != EAGAIN && errno != EINTR))
            return n;
        /* The kernel answers at once; bounded anyway. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (errno == EAGAIN && poll(&p, 1, 1000) <= 0)
            return -1;
    }
}

/* Reads every route of both families afresh (synchronous, on query_fd). */
static int dump(struct msb_localnet *l)
{
    struct {
        struct nlmsghdr n;
        struct rtmsg r;
    } req = {.n = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
                   .nlmsg_type = RTM_GETROUTE,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                   .nlmsg_seq = ++l->seq},
             .r = {.rtm_family = AF_UNSPEC}};
    if (send(l->query_fd, &req, req.n.nlmsg_len, 0) < 0)
        return -1;
    l->n = 0;
    l->overflow = false;
    for (;;) {
        ssize_t n = recv_wait(l->query_fd, l->buf, sizeof l->buf);
        if (n <= 0)
            return -1;
        int rc = apply_all(l, l->buf, (size_t)n);
        if (rc)
            return rc < 0 ? -1 : 0;
    }
}

/* ---- life cycle ---------------------------------------------------------- */

int msb_localnet_open(struct msb_localnet *l)
{
    memset(l, 0, sizeof *l);
    l->fd = nl_socket(RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE);
    l->query_fd = l->fd < 0 ? -1 : nl_socket(0);
    if (l->query_fd < 0 || dump(l) < 0) {
        int e = errno;
        msb_localnet_close(l);
        errno = e;
        return -1;
    }
    return 0;
}

void msb_localnet_close(struct msb_localnet *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->query_fd >= 0)
        close(l->query_fd);
    l->fd = l->query_fd = -1;
}

int msb_localnet_fd(const struct msb_localnet *l)
{
    return l->fd;
}

void msb_localnet_readable(struct msb_localnet *l)
{
    for (int i = 0; i < EVENT_BUDGET; i++) {
        ssize_t n = recv(l->fd, l->buf, sizeof l->buf, MSG_DONTWAIT);
        if (n < 0 && errno == ENOBUFS) {
            l->stale = true; /* the kernel dropped events for us */
            continue;
        }
        if (n <= 0)
            break;
        apply_all(l, l->buf, (size_t)n);
    }
    if (l->stale || l->overflow)
        l->stale = dump(l) < 0;
}

/* ---- questions ----------------------------------------------------------- */

/* The kernel's own answer for one destination: its route's type. */
static bool ask_kernel(struct msb_localnet *l, const struct msb_ip *ip)
{
    size_t alen = ip->family == MSB_FAMILY_V4 ? 4 : 16;
    struct {
        struct nlmsghdr n;
        struct rtmsg r;
        struct rtattr a;
        uint8_t addr[16];
    } req = {.n = {.nlmsg_len = sizeof req - 16 + (uint32_t)alen,
                   .nlmsg_type = RTM_GETROUTE,
                   .nlmsg_flags = NLM_F_REQUEST,
                   .nlmsg_seq = ++l->seq},
             .r = {.rtm_family = (uint8_t)(alen == 4 ? AF_INET : AF_INET6),
                   .rtm_dst_len = (uint8_t)(alen * 8)},
             .a = {.rta_len = (unsigned short)RTA_LENGTH(alen), .rta_type = RTA_DST}};
    memcpy(req.addr, ip->b, alen);
    if (send(l->query_fd, &req, req.n.nlmsg_len, 0) < 0)
        return true; /* cannot tell: treat as local (fail closed) */
    char buf[1024];
    ssize_t n = recv_wait(l->query_fd, buf, sizeof buf);
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct rtmsg)) || !nl_ok(h, (size_t)n))
        return true;
    if (h->nlmsg_type == NLMSG_ERROR)
        return false; /* no route at all: nothing local either */
    const struct rtmsg *r = NLMSG_DATA(h);
    return local_type(r->rtm_type);
}

bool msb_localnet_contains(struct msb_localnet *l, const struct msb_ip *ip)
{
    if (ip->family != MSB_FAMILY_V4 && ip->family != MSB_FAMILY_V6)
        return false;
    if (l->overflow || l->stale)
        return ask_kernel(l, ip);
    for (uint32_t i = 0; i < l->n; i++)
        if (prefix_contains(&l->p[i], ip))
            return true;
    return false;
}
