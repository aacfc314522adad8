/* SPDX-License-Identifier: Apache-2.0 */
/* tap0's guest side, configured with rtnetlink inside its namespace
 * (guestif.h); router adverts are refused where addresses are static. */
#include "guestif.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink.h"

struct step {
    const char *what;
    int rc; /* -errno */
};

static int fail(char *err, size_t errlen, const char *ifname, struct step s)
{
    snprintf(err, errlen, "%s: %s: %s", ifname, s.what, strerror(-s.rc));
    return -1;
}

static struct step do_link(struct msbd_nl *nl, int lo, int tap, const struct msbd_addrs *a)
{
    int rc = msbd_nl_link_up(nl, lo);
    if (rc)
        return (struct step){"bringing lo up", rc};
    /* MAC before the link is up: the plugin's anti-spoofing expects frames
     * from exactly the guest MAC, and the first frames leave at link-up. */
    rc = msbd_nl_link_set(nl, tap, a->guest_mac, a->mtu);
    if (rc)
        return (struct step){"setting MAC and MTU", rc};
    return (struct step){NULL, 0};
}

static struct step do_ipv4(struct msbd_nl *nl, int tap, const struct msbd_addrs *a, int prefix)
{
    int rc = msbd_nl_addr_add(nl, tap, AF_INET, &a->guest4, prefix, false);
    if (rc)
        return (struct step){"adding the IPv4 address", rc};
    rc = msbd_nl_default_route(nl, tap, AF_INET, &a->gateway4);
    if (rc)
        return (struct step){"adding the IPv4 default route", rc};
    return (struct step){NULL, 0};
}

static struct step do_ipv6(struct msbd_nl *nl, int tap, const struct msbd_addrs *a, int prefix)
{
    /* NODAD: no 1-2 s wait in "tentative" state; nobody else is on this link. */
    int rc = msbd_nl_addr_add(nl, tap, AF_INET6, &a->guest6, prefix, true);
    if (rc)
        return (struct step){"adding the IPv6 address", rc};
    rc = msbd_nl_default_route(nl, tap, AF_INET6, &a->gateway6);
    if (rc)
        return (struct step){"adding the IPv6 default route", rc};
    return (struct step){NULL, 0};
}

/* An interface msbnetd configures statically must not also take router
 * adverts: SLAAC would add a second address in the guest's /64 that the
 * kernel may pick as a source, and flows keyed by the configured address
 * (published UDP ports, for one) would miss its replies.  Best effort: a
 * read-only /proc/sys (containers) only costs that robustness. */
static void refuse_router_adverts(const char *ifname)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_ra", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
        fprintf(stderr, "msbnetd: warning: cannot turn off router adverts on %s: %s\n", ifname,
                strerror(errno));
    if (fd >= 0)
        close(fd);
}

static struct step configure(struct msbd_nl *nl, const char *ifname, int lo, int tap,
                             const struct msbd_addrs *a, int p4, int p6, bool verbose)
{
    if (p4 >= 0)
        refuse_router_adverts(ifname);
    struct step s = do_link(nl, lo, tap, a);
    /* Up before the routes: an on-link route needs a running device. */
    if (!s.rc && (s.rc = msbd_nl_link_up(nl, tap)) != 0)
        s.what = "bringing the link up";
    if (p4 < 0) /* link only */
        return s;
    if (!s.rc)
        s = do_ipv4(nl, tap, a, p4);
    if (!s.rc && a->mtu >= MSBD_IPV6_MIN_MTU)
        s = do_ipv6(nl, tap, a, p6);
    else if (!s.rc && verbose)
        fprintf(stderr, "msbnetd: MTU %u < %d: the guest gets no IPv6\n", a->mtu, MSBD_IPV6_MIN_MTU);
    return s;
}

/* p4 < 0 = link only (no addresses, no routes). */
static int setup(const char *ifname, const struct msbd_addrs *a, int p4, int p6, bool verbose,
                 char *err, size_t errlen)
{
    int lo = (int)if_nametoindex("lo"), tap = (int)if_nametoindex(ifname);
    if (!lo || !tap) {
        snprintf(err, errlen, "%s: interface not found in the namespace", lo ? ifname : "lo");
        return -1;
    }
    struct msbd_nl nl;
    int rc = msbd_nl_open(&nl);
    if (rc)
        return fail(err, errlen, ifname, (struct step){"opening rtnetlink", rc});
    struct step s = configure(&nl, ifname, lo, tap, a, p4, p6, verbose);
    msbd_nl_close(&nl);
    return s.rc ? fail(err, errlen, ifname, s) : 0;
}

int msbd_guestif_configure(const char *ifname, const struct msbd_addrs *a, int prefix4,
                           int prefix6, bool verbose, char *err, size_t errlen)
{
    return setup(ifname, a, prefix4 < 0 ? a->prefix4 : prefix4, prefix6 < 0 ? a->prefix6 : prefix6,
                 verbose, err, errlen);
}

int msbd_guestif_link_only(const char *ifname, const struct msbd_addrs *a, char *err,
                           size_t errlen)
{
    return setup(ifname, a, -1, -1, false, err, errlen);
}
