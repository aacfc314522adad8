/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetctl: the command-line client of msbnetd's NetworkControl service,
 * over the daemon's unix socket (or its TCP listener, TLS off loopback)
 * with the gRPC C core.
 *
 * Exit status: 0 ok, 1 the daemon answered with an error (status printed),
 * 2 bad usage, 69 the daemon cannot be reached (UNAVAILABLE).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: msbnetctl [--socket PATH | --addr HOST:PORT [TLS OPTIONS]] [--deadline MS]\n"
            "                 [--json] COMMAND [ARGS]\n"
            "\n"
            "commands (each takes --help):\n"
            "  status                        version, uptime, addresses, flows\n"
            "  set-gateways [--ipv4 A] [--ipv6 B]\n"
            "                                activate the gateways (each family once)\n"
            "  hostnames (--all | --address IP | --hostname NAME) [--limit N] [--offset N]\n"
            "                                the resolved-hostname index\n"
            "  metrics [--follow] [--interval MS] [--count N]\n"
            "                                one metrics snapshot, or a stream of them\n"
            "  watch-termination [--client NAME]\n"
            "                                wait for the termination event\n"
            "  policy get | policy set (FILE | - | --rules TOKENS)\n"
            "                                the egress policy in force, or replace it\n"
            "  ca                            the sandbox CA's certificate (PEM) for trust stores\n"
            "  secrets [list]                secrets: names, hosts, counters (never values)\n"
            "  secrets set FILE|-            replace the secrets (a \"secrets\" JSON list)\n"
            "  limits [get | set KIND=RATE[/BURST]... | clear]\n"
            "                                the rate limits in force, or replace them\n"
            "  publish [--real-peer] SPEC    forward a host port: [ADDR:]HOSTPORT[:GUESTPORT][/udp]\n"
            "  unpublish SPEC                stop forwarding a host port\n"
            "  ports                         the published ports\n"
            "  flows [--follow] [--denied] [--protocol P] [--hostname SUFFIX]\n"
            "                                flow records: what the sandbox reached, decided how\n"
            "  flows --live [--protocol P]   the open flows now, their bytes so far\n"
            "\n"
            "options:\n"
            "  --socket PATH     msbnetd's control socket (default $RUNTIME_DIRECTORY/\n"
            "                    slot-0.sock, else /run/msbnet/slot-0.sock as root, else\n"
            "                    ($XDG_RUNTIME_DIR or /tmp)/msbnet-slot-0.sock)\n"
            "  --addr HOST:PORT  msbnetd's TCP listener (--control-addr) instead; [IPv6]:PORT\n"
            "  --tls             use TLS with grpc's default roots (implied by --tls-ca and\n"
            "                    --tls-cert)\n"
            "  --tls-ca FILE     PEM CA that signed the daemon's certificate\n"
            "  --tls-cert FILE, --tls-key FILE\n"
            "                    PEM client certificate and key (--tls-client-ca daemons)\n"
            "  --tls-server-name NAME  expect NAME in the daemon's certificate instead of HOST\n"
            "  --deadline MS     per-call deadline (default 5000 for one-shot calls, none\n"
            "                    for metrics --follow and watch-termination)\n"
            "  --json            JSON output instead of a table\n"
            "  -h, --help        this text\n"
            "\n"
            "exit status: 0 ok, 1 RPC error (status printed), 2 usage, 69 daemon unavailable\n");
}

bool ctl_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

int ctl_report(const char *cmd, const struct ctl_status *st)
{
    fprintf(stderr, "msbnetctl: %s: %s%s%s\n", cmd, ctl_status_name(st->code),
            st->details[0] ? ": " : "", st->details);
    return st->code == GRPC_STATUS_UNAVAILABLE ? EXIT_UNAVAILABLE : EXIT_RPC;
}

/* The same search as msbnetd's default for slot 0. */
static const char *default_socket(char *buf, size_t len)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (dir && *dir) {
        snprintf(buf, len, "%s/slot-0.sock", dir);
        return buf;
    }
    if (geteuid() == 0)
        return "/run/msbnet/slot-0.sock";
    dir = getenv("XDG_RUNTIME_DIR");
    snprintf(buf, len, "%s/msbnet-slot-0.sock", dir && *dir ? dir : "/tmp");
    return buf;
}

static const struct {
    const char *name;
    int (*fn)(const struct ctl_opts *, int, char **);
} commands[] = {
    {"status", ctl_status},
    {"set-gateways", ctl_set_gateways},
    {"hostnames", ctl_hostnames},
    {"metrics", ctl_metrics},
    {"watch-termination", ctl_watch_termination},
    {"policy", ctl_policy},
    {"ca", ctl_ca},
    {"secrets", ctl_secrets},
    {"limits", ctl_limits},
    {"publish", ctl_publish},
    {"unpublish", ctl_unpublish},
    {"ports", ctl_ports},
    {"flows", ctl_flows},
};

static int dispatch(const struct ctl_opts *o, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            return commands[i].fn(o, argc, argv);
    fprintf(stderr, "msbnetctl: unknown command \"%s\"\n", argv[0]);
    usage(stderr);
    return EXIT_USAGE;
}

/* TLS only makes sense over TCP, and a key without its certificate (or the
 * reverse) is a mistake worth stopping at. */
static int check_endpoint(const struct ctl_endpoint *e, bool socket_set)
{
    bool tls_flags = e->tls || e->tls_ca || e->tls_cert || e->tls_key || e->tls_server_name;
    const char *why = NULL;
    if (e->addr && socket_set)
        why = "give --socket or --addr, not both";
    else if (tls_flags && !e->addr)
        why = "TLS options need --addr (the unix socket is protected by its file mode)";
    else if (!e->tls_cert != !e->tls_key)
        why = "--tls-cert and --tls-key go together";
    if (!why)
        return 0;
    fprintf(stderr, "msbnetctl: %s\n", why);
    return EXIT_USAGE;
}

enum { O_ADDR = 256, O_TLS, O_TLS_CA, O_TLS_CERT, O_TLS_KEY, O_TLS_NAME };

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'}, {"deadline", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {"addr", required_argument, NULL, O_ADDR},
        {"tls", no_argument, NULL, O_TLS},        {"tls-ca", required_argument, NULL, O_TLS_CA},
        {"tls-cert", required_argument, NULL, O_TLS_CERT},
        {"tls-key", required_argument, NULL, O_TLS_KEY},
        {"tls-server-name", required_argument, NULL, O_TLS_NAME},
        {NULL, 0, NULL, 0},
    };
    char buf[256];
    struct ctl_opts o = {.ep.socket = default_socket(buf, sizeof buf)};
    bool socket_set = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.ep.socket = optarg, socket_set = true; break;
        case O_ADDR: o.ep.addr = optarg; break;
        case O_TLS: o.ep.tls = true; break;
        case O_TLS_CA: o.ep.tls_ca = optarg; break;
        case O_TLS_CERT: o.ep.tls_cert = optarg; break;
        case O_TLS_KEY: o.ep.tls_key = optarg; break;
        case O_TLS_NAME: o.ep.tls_server_name = optarg; break;
        case 'j': o.json = true; break;
        case 'h': usage(stdout); return 0;
        case 'V':
            printf("msbnetctl %s (API %s)\n", MSBNET_VERSION_STRING,
                   msbnet__v1__network_control__descriptor.name);
            return 0;
        case 'd':
            if (!ctl_parse_u32(optarg, 1, 86400000, &o.deadline_ms)) {
                fprintf(stderr, "msbnetctl: --deadline: \"%s\" is not 1..86400000\n", optarg);
                return EXIT_USAGE;
            }
            o.deadline_set = true;
            break;
        default:
            fprintf(stderr, "msbnetctl: unknown option or missing value: %s\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (check_endpoint(&o.ep, socket_set))
        return EXIT_USAGE;
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return dispatch(&o, argc - optind, argv + optind);
}
