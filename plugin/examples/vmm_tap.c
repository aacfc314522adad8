/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnet-example-vmm — the network worker of a VMM, minus the VMM.
 *
 * It does with libmsbnet.so exactly what a VMM does, and nothing more:
 * dlopen the plugin by path, create an instance from a JSON config, set
 * the gateways the plugin proposes, start it, and move frames between a
 * frame device and the plugin.  Here the "device" is a TAP: whatever a
 * guest kernel would put in its virtio-net queue, the kernel of the TAP's
 * network namespace puts in the TAP, so curl, iperf3 and dig in that
 * namespace behave as if they ran in a guest.  With --vnet-hdr the TAP
 * speaks virtio_net_hdr_v1 and lets the kernel leave checksums and TCP
 * segmentation to the "device" (msbnet), like a virtio-net guest does.
 *
 * It configures nothing on the interface: addresses and routes are the
 * guest's business (the addresses JSON it prints says what to set).
 *
 *   msbnet-example-vmm --plugin PATH (--tap NAME [--tap-netns PATH] | --tap-fd FD)
 *                      [--config JSON | --config-file FILE] [--vnet-hdr] [--print-metrics]
 *
 * Build against the installed header: cc vmm_tap.c $(pkg-config --cflags msbnet) -ldl.
 * Only the standard C library, Linux headers and libdl are used, on purpose:
 * nothing here needs the plugin's own dependencies.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "msbnet/msbnet.h"

/* Frames moved per direction before looking at the other one, so neither
 * direction starves the other (a VMM bounds its worker's batches too). */
#define BATCH 64
/* Backoff while the plugin's tx ring is full: the ABI has no "room" wake
 * for writers, so a held frame is offered again on a short timer. */
#define RETRY_MIN_MS 1
#define RETRY_MAX_MS 32

struct options {
    const char *plugin, *tap, *tap_netns, *config, *config_file;
    int tap_fd;
    bool vnet_hdr, print_metrics;
};

struct pump_stats {
    unsigned long long to_plugin, to_tap, busy, refused, tap_write_drops, grown;
};

struct pump {
    const struct msbnet_api_v1 *api;
    msbnet_t *net;
    int tap, wake, sig;
    uint8_t *tx, *rx;       /* one frame each way, header included in vnet mode */
    size_t tx_len, rx_len, rx_cap;
    bool tx_held, rx_held;  /* a frame waits for the plugin / for the TAP */
    int retry_ms;
    struct pump_stats st;
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: msbnet-example-vmm --plugin PATH (--tap NAME [--tap-netns PATH] | --tap-fd FD)\n"
            "                          [--config JSON | --config-file FILE] [--vnet-hdr]\n"
            "                          [--print-metrics]\n"
            "  --plugin PATH        libmsbnet.so to dlopen\n"
            "  --tap NAME           create TAP NAME (in --tap-netns PATH if given)\n"
            "  --tap-fd FD          use an already opened TAP (with IFF_VNET_HDR for --vnet-hdr)\n"
            "  --config JSON        instance settings (default {})\n"
            "  --config-file FILE   the same, read from FILE\n"
            "  --vnet-hdr           virtio-net headers + checksum/TSO offloads on the TAP;\n"
            "                       adds \"vnet_hdr\": true to the config\n"
            "  --print-metrics      print the plugin's metrics JSON on exit\n"
            "Prints the plugin's addresses JSON on stdout once frames flow; SIGINT/SIGTERM stop it.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"plugin", required_argument, NULL, 'p'},    {"tap", required_argument, NULL, 't'},
        {"tap-netns", required_argument, NULL, 'n'}, {"tap-fd", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},    {"config-file", required_argument, NULL, 'C'},
        {"vnet-hdr", no_argument, NULL, 'v'},        {"print-metrics", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->tap_fd = -1;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'p': o->plugin = optarg; break;
        case 't': o->tap = optarg; break;
        case 'n': o->tap_netns = optarg; break;
        case 'f': o->tap_fd = atoi(optarg); break;
        case 'c': o->config = optarg; break;
        case 'C': o->config_file = optarg; break;
        case 'v': o->vnet_hdr = true; break;
        case 'm': o->print_metrics = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc || !o->plugin || (!o->tap) == (o->tap_fd < 0) ||
        (o->config && o->config_file) || (o->tap_netns && !o->tap)) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- configuration ------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *n = realloc(s, cap = len + 4096 + 1);
            if (!n)
                break;
            s = n;
        }
        size_t got = fread(s + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    if (s)
        s[len] = '\0';
    fclose(f);
    return s;
}

/* The config with "vnet_hdr": true spliced in after its opening brace (the
 * example has no JSON library; the plugin validates the result). */
static char *with_vnet_hdr(const char *cfg)
{
    const char *brace = strchr(cfg, '{');
    if (!brace)
        return NULL;
    const char *rest = brace + 1;
    while (*rest == ' ' || *rest == '\n' || *rest == '\t' || *rest == '\r')
        rest++;
    const char *sep = *rest == '}' ? "" : ",";
    size_t n = strlen(cfg) + 32;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s\"vnet_hdr\": true%s%s", (int)(brace + 1 - cfg), cfg, sep,
                 brace + 1);
    return out;
}

static char *load_config(const struct options *o)
{
    char *cfg = o->config_file ? read_file(o->config_file) : strdup(o->config ? o->config : "{}");
    if (!cfg) {
        fprintf(stderr, "msbnet-example-vmm: cannot read config %s: %s\n",
                o->config_file ? o->config_file : "(argument)", strerror(errno));
        return NULL;
    }
    /* The TAP's framing must match the plugin's: one switch sets both. */
    if (strstr(cfg, "\"vnet_hdr\"")) {
        fprintf(stderr, "msbnet-example-vmm: use --vnet-hdr rather than the vnet_hdr key "
                        "(the TAP must be opened to match)\n");
        free(cfg);
        return NULL;
    }
    if (!o->vnet_hdr)
        return cfg;
    char *v = with_vnet_hdr(cfg);
    free(cfg);
    if (!v)
        fprintf(stderr, "msbnet-example-vmm: the config is not a JSON object\n");
    return v;
}

/* The string value of "key" in the plugin's own compact JSON, or false. */
static bool json_string_field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return false;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p++ != '"')
        return false;
    const char *end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

/* ---- the TAP ------------------------------------------------------------------ */

static int tap_create(const char *name, bool vnet_hdr)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The TAP in another network namespace: enter it on this (still the only)
 * thread, create the device there, come back.  The fd keeps the device
 * where it was made. */
static int tap_create_in(const char *name, const char *netns, bool vnet_hdr)
{
    if (!netns)
        return tap_create(name, vnet_hdr);
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int there = open(netns, O_RDONLY | O_CLOEXEC);
    int fd = -1, e = 0;
    if (home >= 0 && there >= 0 && setns(there, CLONE_NEWNET) == 0) {
        fd = tap_create(name, vnet_hdr);
        e = errno;
        if (setns(home, CLONE_NEWNET) != 0) {
            perror("msbnet-example-vmm: cannot return to the original namespace");
            exit(1);
        }
    } else {
        e = errno;
    }
    if (home >= 0)
        close(home);
    if (there >= 0)
        close(there);
    errno = e;
    return fd;
}

/* What a virtio-net guest negotiates: 12-byte headers, partial checksums
 * and TCP segmentation (with ECN) left to the device. */
static int tap_offloads(int fd)
{
    int hdr = MSBNET_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
        return -1;
    unsigned long off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    return ioctl(fd, TUNSETOFFLOAD, off);
}

/* ---- the pump --------------------------------------------------------------- */

/* Guest -> plugin.  True when the frame is done with (taken, or refused for
 * good and counted by the plugin); false = hold it and offer it again. */
static bool offer(struct pump *p)
{
    int rc = p->api->write_frame(p->net, p->tx, p->tx_len);
    if (rc == MSBNET_NOTHING_WRITTEN) {
        p->st.busy++;
        return false;
    }
    if (rc == MSBNET_WRITTEN)
        p->st.to_plugin++;
    else
        p->st.refused++;
    return true;
}

static void from_tap(struct pump *p)
{
    for (int i = 0; i < BATCH && !p->tx_held; i++) {
        ssize_t n = read(p->tap, p->tx, MSBNET_MAX_VNET_FRAME);
        if (n <= 0)
            return; /* EAGAIN: drained (a TAP read error is transient too) */
        p->tx_len = (size_t)n;
        if (!offer(p)) {
            p->tx_held = true;
            p->retry_ms = RETRY_MIN_MS;
        }
    }
}

static void retry_held(struct pump *p)
{
    if (offer(p))
        p->tx_held = false;
    else if ((p->retry_ms *= 2) > RETRY_MAX_MS)
        p->retry_ms = RETRY_MAX_MS;
}

/* Plugin -> guest: the next frame into rx.  1 = got one, 0 = none waiting. */
static int take(struct pump *p)
{
    size_t needed = 0;
    long n = p->api->read_frame(p->net, p->rx, p->rx_cap, &needed);
    if (n == MSBNET_ENOSPC) {
        /* Not with a MSBNET_MAX_VNET_FRAME buffer; grow rather than wedge. */
        uint8_t *b = realloc(p->rx, needed);
        if (!b)
            return 0;
        p->rx = b;
        p->rx_cap = needed;
        p->st.grown++;
        n = p->api->read_frame(p->net, p->rx, p->rx_cap, &needed);
    }
    if (n <= 0)
        return 0;
    p->rx_len = (size_t)n;
    return 1;
}

/* False when the TAP would block: keep the frame, wait for POLLOUT. */
static bool deliver(struct pump *p)
{
    ssize_t n = write(p->tap, p->rx, p->rx_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (n < 0)
        p->st.tap_write_drops++; /* e.g. the interface is down: the frame is lost */
    else
        p->st.to_tap++;
    return true;
}

/* Pops until the plugin has nothing (read_frame returning 0 re-arms the
 * wake fd) or the batch is spent (the fd stays readable: poll comes back). */
static void to_tap(struct pump *p)
{
    if (p->rx_held) {
        if (!deliver(p))
            return;
        p->rx_held = false;
    }
    for (int i = 0; i < BATCH && take(p); i++) {
        if (!deliver(p)) {
            p->rx_held = true;
            return;
        }
    }
}

static int run(struct pump *p)
{
    for (;;) {
        struct pollfd fds[3] = {
            {.fd = p->sig, .events = POLLIN},
            {.fd = p->tap, .events = (short)((p->tx_held ? 0 : POLLIN) |
                                             (p->rx_held ? POLLOUT : 0))},
            {.fd = p->wake, .events = p->rx_held ? 0 : POLLIN},
        };
        int r = poll(fds, 3, p->tx_held ? p->retry_ms : -1);
        if (r < 0 && errno != EINTR) {
            perror("msbnet-example-vmm: poll");
            return 1;
        }
        if (fds[0].revents)
            return 0;
        if (p->tx_held)
            retry_held(p);
        if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "msbnet-example-vmm: the TAP went away\n");
            return 1;
        }
        if (fds[1].revents & POLLIN)
            from_tap(p);
        if ((fds[1].revents & POLLOUT) || (fds[2].revents & POLLIN))
            to_tap(p);
    }
}

/* ---- set-up ----------------------------------------------------------------- */

static const struct msbnet_api_v1 *load_plugin(const char *path, void **so)
{
    /* NODELETE: the plugin keeps process-wide lwIP state for a later
     * start; unmapping it would orphan that memory (msbnet.h). */
    *so = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!*so) {
        fprintf(stderr, "msbnet-example-vmm: %s\n", dlerror());
        return NULL;
    }
    /* ISO C has no object-to-function pointer cast; POSIX guarantees the
     * representations match, so copy the bits. */
    msbnet_get_api_fn get;
    void *sym = dlsym(*so, MSBNET_ENTRY_POINT);
    memcpy(&get, &sym, sizeof get);
    char err[256] = "";
    const struct msbnet_api_v1 *api = get ? get(MSBNET_ABI_VERSION, err, sizeof err) : NULL;
    if (!api)
        fprintf(stderr, "msbnet-example-vmm: %s\n", get ? err : "no msbnet_get_api symbol");
    return api;
}

/* Creates the instance, sets the gateways it proposes, prints its
 * addresses.  The hook and the rest of the API are left alone. */
static msbnet_t *create_instance(const struct msbnet_api_v1 *api, const char *cfg)
{
    char err[256] = "";
    msbnet_t *net = api->create(cfg, err, sizeof err);
    if (!net) {
        fprintf(stderr, "msbnet-example-vmm: create: %s\n", err);
        return NULL;
    }
    char *addrs = api->addresses_json(net);
    char gw4[64], gw6[64];
    if (!addrs || !json_string_field(addrs, "gateway_ipv4", gw4, sizeof gw4) ||
        !json_string_field(addrs, "gateway_ipv6", gw6, sizeof gw6) ||
        api->set_gateways(net, gw4, gw6) != MSBNET_OK) {
        fprintf(stderr, "msbnet-example-vmm: cannot set the gateways from %s\n",
                addrs ? addrs : "(no addresses)");
        api->free_string(addrs);
        api->destroy(net);
        return NULL;
    }
    printf("%s\n", addrs);
    api->free_string(addrs);
    return net;
}

/* SIGINT/SIGTERM as an fd, blocked before the plugin's thread exists so
 * that thread inherits the mask and never takes them. */
static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int open_tap(const struct options *o)
{
    int fd = o->tap_fd >= 0 ? o->tap_fd : tap_create_in(o->tap, o->tap_netns, o->vnet_hdr);
    if (fd < 0) {
        fprintf(stderr, "msbnet-example-vmm: cannot create TAP %s: %s\n", o->tap, strerror(errno));
        return -1;
    }
    if (o->tap_fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        perror("msbnet-example-vmm: --tap-fd");
        return -1;
    }
    if (o->vnet_hdr && tap_offloads(fd) < 0) {
        perror("msbnet-example-vmm: TAP offloads (TUNSETVNETHDRSZ/TUNSETOFFLOAD)");
        close(fd);
        return -1;
    }
    return fd;
}

static void report(struct pump *p, bool metrics)
{
    fprintf(stderr,
            "msbnet-example-vmm: frames to plugin %llu, to tap %llu, busy %llu, refused %llu, "
            "tap write drops %llu\n",
            p->st.to_plugin, p->st.to_tap, p->st.busy, p->st.refused, p->st.tap_write_drops);
    if (!metrics)
        return;
    char *m = p->api->metrics_json(p->net);
    printf("%s\n", m ? m : "{}");
    fflush(stdout); /* before any exit-time handler can cut the process short */
    p->api->free_string(m);
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o))
        return 2;
    void *so;
    struct pump p = {.tap = -1};
    if (!(p.api = load_plugin(o.plugin, &so)))
        return 1;
    char *cfg = load_config(&o);
    if (!cfg)
        return 1;
    p.net = create_instance(p.api, cfg);
    free(cfg);
    p.rx_cap = MSBNET_MAX_VNET_FRAME;
    p.tx = malloc(MSBNET_MAX_VNET_FRAME);
    p.rx = malloc(p.rx_cap);
    int rc = 1;
    char err[256] = "";
    if (!p.net || !p.tx || !p.rx || (p.tap = open_tap(&o)) < 0 || (p.sig = signal_fd()) < 0)
        goto out;
    if (p.api->start(p.net, err, sizeof err) != MSBNET_OK) {
        fprintf(stderr, "msbnet-example-vmm: start: %s\n", err);
        goto out;
    }
    p.wake = p.api->rx_wake_fd(p.net);
    fprintf(stderr, "msbnet-example-vmm: running (%s)\n", o.vnet_hdr ? "vnet_hdr" : "plain frames");
    fflush(stdout);
    rc = run(&p);
    p.api->stop(p.net);
    report(&p, o.print_metrics);
out:
    if (p.net)
        p.api->destroy(p.net);
    if (p.tap >= 0)
        close(p.tap);
    free(p.tx);
    free(p.rx);
    /* The plugin's thread is gone (destroy joined it); with NODELETE this
     * only drops our reference. */
    dlclose(so);
    return rc;
}
