/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetd: hosts libmsbnet.so for one sandbox.
 *
 * `run -- CMD` and `tap --netns` serve one sandbox over a TAP device,
 * `stream` and `dgram` over a VMM's unix socket (transport_cmd.c), with
 * the gRPC control server (grpc_server.c) on a unix socket; `check-config`
 * and `version` only load the plugin.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "commands.h"
#include "host.h"
#include "options.h"
#include "plugin_loader.h"
#include "sandbox_init.h"

#define EXIT_USAGE MSBD_EXIT_USAGE

/* The help text, in two pieces (ISO C caps a string literal at 4095). */
static const char usage_commands[] =
    "usage: msbnetd [--plugin PATH] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "commands:\n"
    "  run [OPTIONS] -- CMD [ARGS]  run CMD in a new network namespace whose only\n"
    "                               link (tap0) leads to msbnet; exits with CMD's\n"
    "                               status (128+N when killed by signal N)\n"
    "  tap --netns PATH [OPTIONS]   create and configure tap0 in an existing network\n"
    "                               namespace (e.g. /var/run/netns/G) and serve it\n"
    "                               until SIGINT/SIGTERM\n"
    "  stream --listen PATH | --fd N [OPTIONS]\n"
    "                               serve a VMM over a unix stream socket, each\n"
    "                               frame after a 4-byte big-endian length (QEMU\n"
    "                               -netdev stream, libkrun unixstream, passt's\n"
    "                               protocol); one VMM at a time\n"
    "  dgram --listen PATH [--peer PATH] | --fd N [OPTIONS]\n"
    "                               serve a VMM over a unix datagram socket, one\n"
    "                               frame per datagram (vfkit, libkrun unixgram,\n"
    "                               QEMU -netdev dgram)\n"
    "  check-config [FILE|-]        validate a JSON config with the plugin (default: stdin)\n"
    "  version                      print msbnetd's and the plugin's versions\n"
    "\n";

static const char usage_options[] =
    "options of run, tap, stream and dgram (each overrides its key in the\n"
    "--config file):\n"
    "  --plugin PATH             libmsbnet.so to load (default: next to msbnetd,\n"
    "                            then the install library directory)\n"
    "  --config FILE             plugin config (JSON object; keys: plugin/README.md)\n"
    "  --slot N                  sandbox slot 0..65535 (derives MACs and addresses)\n"
    "  --mtu N                   576..65520 (IPv6 needs 1280 or more)\n"
    "  --ipv4 ADDR[/PREFIX]      guest IPv4 address (and interface prefix)\n"
    "  --gateway4 ADDR           gateway IPv4 address\n"
    "  --ipv6 ADDR[/PREFIX]      guest IPv6 address (and interface prefix)\n"
    "  --gateway6 ADDR           gateway IPv6 address\n"
    "  --connect-timeout MS      host-side TCP connect timeout\n"
    "  --max-flows N             cap on concurrent flows\n"
    "  --egress allow|deny|public_only  preset policy (default public_only:\n"
    "                            DNS to the gateway + public addresses)\n"
    "  --dns ADDR                upstream DNS server (repeatable; needs a plugin\n"
    "                            with the \"dns_upstreams\" key)\n"
    "  --metrics-json            on exit, print the metrics JSON to stderr\n"
    "                            (--print-metrics is the same)\n"
    "  --control-socket PATH     gRPC control socket, mode 0600 (default:\n"
    "                            $RUNTIME_DIRECTORY/slot-N.sock, else\n"
    "                            /run/msbnet/slot-N.sock as root, else\n"
    "                            ($XDG_RUNTIME_DIR or /tmp)/msbnet-slot-N.sock)\n"
    "  --no-gateways             do not activate the gateways at start; a\n"
    "                            controller sets them with SetGateways\n"
    "  --publish [ADDR:]HOSTPORT[:GUESTPORT][/udp]  forward a host port (ADDR default\n"
    "                            127.0.0.1, IPv6 as [::1]) to the guest (repeatable)\n"
    "  --no-guest-config         tap0 gets MAC, MTU and link up only; the guest\n"
    "                            configures itself by DHCP and router adverts\n"
    "  --http ADDR:PORT          serve /metrics (Prometheus), /metrics.json and\n"
    "                            /healthz over HTTP (off by default; [IPv6]:PORT)\n"
    "  --control-addr ADDR:PORT  also serve gRPC over TCP; plain only on loopback,\n"
    "                            any other address needs --tls-cert and --tls-key\n"
    "  --tls-cert FILE, --tls-key FILE  PEM server certificate chain and key\n"
    "  --tls-client-ca FILE      require client certificates signed by this CA\n"
    "  --on-terminate-signal PID:SIG  send SIG (number or name, e.g. TERM) to PID\n"
    "                            once when the termination hook fires\n"
    "  --listen PATH             stream/dgram: socket to bind (mode 0600)\n"
    "  --fd N                    stream/dgram: a socket the VMM passed, already\n"
    "                            connected; msbnetd exits when the VMM closes it\n"
    "  --peer PATH               dgram: the VMM's own bound socket to send to\n"
    "  --busy-poll US            after each guest frame the stack thread polls\n"
    "                            for US microseconds (0..1000) before sleeping:\n"
    "                            lower latency for CPU (config busy_poll_us)\n"
    "  --tap-pump                run/tap: move tap0's frames through msbnetd's\n"
    "                            own loop (two threads) instead of letting the\n"
    "                            plugin's stack thread read and write tap0\n"
    "  --no-offload              run/tap: plain frames on tap0 (default: virtio-net\n"
    "                            headers with checksum and TSO offloads)\n"
    "  -v, --verbose             say what is happening on stderr\n"
    "  -h, --help                this text\n";

/* Rate limits, upstream proxies and the multi-tenant profile (issue 16). */
static const char usage_limits[] =
    "\n"
    "Limits, proxies, profiles:\n"
    "  --limit KIND=RATE[/BURST] a rate limit (repeatable): egress or ingress\n"
    "                            bytes/s (50mbit, 2MiB), connections or\n"
    "                            dns_queries per second\n"
    "  --proxy URL               dial allowed TCP through socks5://[USER:PASS@]IP:PORT\n"
    "                            or http://[USER:PASS@]IP:PORT (CONNECT)\n"
    "  --proxy-bypass NAME       a name (or *.suffix) dialled directly (repeatable)\n"
    "  --profile multi-tenant    untrusted tenants: rebind protection, the guest\n"
    "                            cannot pick its resolver, no published ports,\n"
    "                            conservative caps and connection/DNS limits\n"
;

/* TLS interception and secrets (issue 14; ISO C bounds one literal). */
static const char usage_tls[] =
    "\n"
    "TLS interception and secrets:\n"
    "  --tls-intercept           TLS interception on (config tls.intercept): the\n"
    "                            plugin makes a sandbox CA; run puts it in CMD's\n"
    "                            trust store; secrets are injected on the way out\n"
    "  --tls-port N              an intercepted port (repeatable; default 443)\n"
    "  --secret ENV=VALUE@HOST[,HOST]  CMD gets ENV=<placeholder>; VALUE may go to\n"
    "                            HOST only (shows in ps until parsed: prefer the\n"
    "                            two below)\n"
    "  --secret-file ENV=PATH@HOST[,HOST]  the value read from PATH\n"
    "  --secret-env ENV@HOST[,HOST]  the value from msbnetd's own $ENV\n"
    "  --on-secret-violation block|block-and-log|block-and-terminate\n"
    "                            for the secrets above (default block)\n"
    "  --flow-log FILE           flow records as JSON lines, FILE renamed to FILE.N\n"
    "  --flow-log-max-bytes N    past N bytes (4096.., default 64 MiB)\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or config; run: CMD's status\n";

static void usage(FILE *out)
{
    fputs(usage_commands, out);
    fputs(usage_options, out);
    fputs(usage_limits, out);
    fputs(usage_tls, out);
}

static int cmd_check_config(const struct msbnet_api_v1 *api, int argc, char **argv)
{
    if (argc > 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    char *json = msbd_read_config(argc == 1 ? argv[0] : "-");
    if (!json)
        return EXIT_USAGE;
    char err[512];
    msbnet_t *net = api->create(json, err, sizeof err);
    free(json);
    if (!net) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return EXIT_USAGE;
    }
    api->destroy(net);
    printf("config ok\n");
    return 0;
}

/* run / tap: argv[0] is the command; --help anywhere before "--" helps. */
static int data_plane(const char *cmd, const char *plugin_path, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    /* A peer that vanishes mid-reply (HTTP scrape, gRPC client) must cost
     * one EPIPE, not the daemon; `run` restores the default for CMD. */
    signal(SIGPIPE, SIG_IGN);
    struct msbd_opts o = {.plugin_path = plugin_path};
    enum msbd_command c = strcmp(cmd, "run") == 0      ? MSBD_CMD_RUN
                          : strcmp(cmd, "stream") == 0 ? MSBD_CMD_STREAM
                          : strcmp(cmd, "dgram") == 0  ? MSBD_CMD_DGRAM
                                                       : MSBD_CMD_TAP;
    int rc = msbd_opts_parse(&o, c, argc, argv);
    if (rc == 0)
        rc = c == MSBD_CMD_RUN      ? msbd_cmd_run(&o)
             : c == MSBD_CMD_STREAM ? msbd_cmd_stream(&o)
             : c == MSBD_CMD_DGRAM  ? msbd_cmd_dgram(&o)
                                    : msbd_cmd_tap(&o);
    msbd_opts_free(&o);
    return rc;
}

int main(int argc, char **argv)
{
    /* The init of a `run` sandbox's pid namespace (sandbox_init.c). */
    const char *base = argc ? strrchr(argv[0], '/') : NULL;
    if (argc && strcmp(base ? base + 1 : argv[0], MSBD_INIT_NAME) == 0)
        return msbd_sandbox_init_main(argv + 1);
    /* Same-uid processes (a sandboxed command among them) may not ptrace
     * msbnetd, read its memory or take a core dump of it. */
    prctl(PR_SET_DUMPABLE, 0);
    msbd_fd_limit_raise();
    static const struct option opts[] = {
        {"plugin", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *plugin_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'p') {
            plugin_path = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "tap") == 0 || strcmp(cmd, "stream") == 0 ||
        strcmp(cmd, "dgram") == 0)
        return data_plane(cmd, plugin_path, argc - optind, argv + optind);
    if (strcmp(cmd, "check-config") != 0 && strcmp(cmd, "version") != 0) {
        fprintf(stderr, "msbnetd: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }

    struct msbd_plugin plugin;
    char err[512];
    if (msbd_plugin_load(&plugin, plugin_path, err, sizeof err)) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(cmd, "version") == 0) {
        printf("msbnetd %s, plugin %s (%s), ABI %u, data plane %s, built with lwIP from "
               "Debian's lwip %s source package\n",
               MSBNET_VERSION_STRING, plugin.api->version(), plugin.path, plugin.api->abi_version,
               msbd_api_has_data_plane(plugin.api) ? "yes" : "no", MSBNET_LWIP_PACKAGE_VERSION);
        rc = 0;
    } else {
        rc = cmd_check_config(plugin.api, argc - optind - 1, argv + optind + 1);
    }
    msbd_plugin_unload(&plugin);
    return rc;
}
