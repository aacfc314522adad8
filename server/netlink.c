/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal rtnetlink client (netlink.h): link, address and route requests,
 * each waiting for the kernel's ACK so a failure names its cause. */
#include "netlink.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One request: header, family-specific struct, attributes. 1 KiB is far
 * more than the largest message built here. */
struct nl_req {
    struct nlmsghdr h;
    char body[1024];
};

/* Where the next attribute goes.  Computed from the whole request (not
 * &r->h) so the compiler sees the body as part of the object. */
static void *nl_tail(struct nl_req *r)
{
    return (char *)r + NLMSG_ALIGN(r->h.nlmsg_len);
}

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, const void *hdr,
                    size_t hdrlen)
{
    memset(r, 0, sizeof *r);
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
    memcpy(NLMSG_DATA(&r->h), hdr, hdrlen);
}

static void nl_attr(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
    /* Requests are built from fixed, small attributes: overflowing the body
     * would be a programming error, so refuse rather than write past it. */
    if (NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len) > sizeof *r)
        return;
    struct rtattr *a = nl_tail(r);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

int msbd_nl_open(struct msbd_nl *nl)
{
    nl->seq = 1;
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl->fd < 0)
        return -errno;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(nl->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        msbd_nl_close(nl);
        return -e;
    }
    return 0;
}

void msbd_nl_close(struct msbd_nl *nl)
{
    if (nl->fd >= 0)
        close(nl->fd);
    nl->fd = -1;
}

/* Sends r and waits for the ACK (an NLMSG_ERROR with error 0) of its seq. */
static int nl_talk(struct msbd_nl *nl, struct nl_req *r)
{
    r->h.nlmsg_seq = ++nl->seq;
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    if (sendto(nl->fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
        return -errno;
    char buf[8192];
    for (;;) {
        ssize_t n = recv(nl->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != nl->seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        }
    }
}

int msbd_nl_link_set(struct msbd_nl *nl, int ifindex, const uint8_t *mac, unsigned mtu)
{
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct nl_req r;
    nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    if (mac)
        nl_attr(&r, IFLA_ADDRESS, mac, 6);
    if (mtu) {
        uint32_t m = mtu;
        nl_attr(&r, IFLA_MTU, &m, sizeof m);
    }
    return nl_talk(nl, &r);
}

int msbd_nl_link_up(struct msbd_nl *nl, int ifindex)
{
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
    struct nl_req r;
    nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    return nl_talk(nl, &r);
}

static size_t addr_len(int family)
{
    return family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

int msbd_nl_addr_add(struct msbd_nl *nl, int ifindex, int family, const void *addr, int prefix,
                     bool nodad)
{
    struct ifaddrmsg ifa = {
        .ifa_family = (uint8_t)family,
        .ifa_prefixlen = (uint8_t)prefix,
        .ifa_flags = nodad ? IFA_F_NODAD : 0,
        .ifa_scope = RT_SCOPE_UNIVERSE,
        .ifa_index = (uint32_t)ifindex,
    };
    struct nl_req r;
    nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    nl_attr(&r, IFA_LOCAL, addr, addr_len(family));
    nl_attr(&r, IFA_ADDRESS, addr, addr_len(family));
    uint32_t flags = nodad ? IFA_F_NODAD : 0; /* the 32-bit copy wins when present */
    nl_attr(&r, IFA_FLAGS, &flags, sizeof flags);
    return nl_talk(nl, &r);
}

int msbd_nl_default_route(struct msbd_nl *nl, int ifindex, int family, const void *gw)
{
    struct rtmsg rtm = {
        .rtm_family = (uint8_t)family,
        .rtm_table = RT_TABLE_MAIN,
        .rtm_protocol = RTPROT_BOOT,
        .rtm_scope = RT_SCOPE_UNIVERSE,
        .rtm_type = RTN_UNICAST,
        .rtm_flags = RTNH_F_ONLINK,
    };
    struct nl_req r;
    nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtm, sizeof rtm);
    nl_attr(&r, RTA_GATEWAY, gw, addr_len(family));
    uint32_t oif = (uint32_t)ifindex;
    nl_attr(&r, RTA_OIF, &oif, sizeof oif);
    return nl_talk(nl, &r);
}
