/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetd's command line (options.h) and the plugin config assembled from
 * it, msbnetd's own TCP listeners added to "protected_ports". */
#include "options.h"
#include "options_int.h"
#include "limit_spec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (1u << 20) /* a config is a few hundred bytes; refuse megabytes */

enum {
    OPT_PLUGIN = 256, OPT_CONFIG, OPT_NETNS, OPT_SLOT, OPT_MTU, OPT_IPV4, OPT_GW4, OPT_IPV6,
    OPT_GW6, OPT_CONNECT_TIMEOUT, OPT_MAX_FLOWS, OPT_EGRESS, OPT_DNS, OPT_METRICS, OPT_CONTROL_SOCKET,
    OPT_NO_GATEWAYS, OPT_PUBLISH, OPT_NO_GUEST_CONFIG, OPT_HTTP, OPT_CONTROL_ADDR, OPT_TLS_CERT,
    OPT_TLS_KEY, OPT_TLS_CLIENT_CA, OPT_ON_TERM_SIGNAL,
    OPT_LISTEN, OPT_FD, OPT_PEER, OPT_NO_OFFLOAD,
    OPT_TAP_PUMP, OPT_BUSY_POLL, OPT_TLS_INTERCEPT, OPT_TLS_PORT, OPT_SECRET, OPT_SECRET_FILE,
    OPT_SECRET_ENV, OPT_ON_SECRET_VIOLATION, OPT_LIMIT, OPT_PROFILE, OPT_PROXY, OPT_PROXY_BYPASS,
    OPT_FLOW_LOG, OPT_FLOW_LOG_MAX,
};

static const struct option long_opts[] = {
    {"plugin", required_argument, NULL, OPT_PLUGIN},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"netns", required_argument, NULL, OPT_NETNS},
    {"slot", required_argument, NULL, OPT_SLOT},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"ipv4", required_argument, NULL, OPT_IPV4},
    {"gateway4", required_argument, NULL, OPT_GW4},
    {"ipv6", required_argument, NULL, OPT_IPV6},
    {"gateway6", required_argument, NULL, OPT_GW6},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"egress", required_argument, NULL, OPT_EGRESS},
    {"dns", required_argument, NULL, OPT_DNS},
    {"metrics-json", no_argument, NULL, OPT_METRICS},
    {"print-metrics", no_argument, NULL, OPT_METRICS},
    {"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
    {"no-gateways", no_argument, NULL, OPT_NO_GATEWAYS},
    {"publish", required_argument, NULL, OPT_PUBLISH},
    {"no-guest-config", no_argument, NULL, OPT_NO_GUEST_CONFIG},
    {"http", required_argument, NULL, OPT_HTTP},
    {"control-addr", required_argument, NULL, OPT_CONTROL_ADDR},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
    {"on-terminate-signal", required_argument, NULL, OPT_ON_TERM_SIGNAL},
    {"verbose", no_argument, NULL, 'v'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"fd", required_argument, NULL, OPT_FD},
    {"peer", required_argument, NULL, OPT_PEER},
    {"tap-pump", no_argument, NULL, OPT_TAP_PUMP},
    {"busy-poll", required_argument, NULL, OPT_BUSY_POLL},
    {"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
    {"tls-intercept", no_argument, NULL, OPT_TLS_INTERCEPT},
    {"tls-port", required_argument, NULL, OPT_TLS_PORT},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"secret-env", required_argument, NULL, OPT_SECRET_ENV},
    {"on-secret-violation", required_argument, NULL, OPT_ON_SECRET_VIOLATION},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"proxy-bypass", required_argument, NULL, OPT_PROXY_BYPASS},
    {"flow-log", required_argument, NULL, OPT_FLOW_LOG},
    {"flow-log-max-bytes", required_argument, NULL, OPT_FLOW_LOG_MAX},
    {NULL, 0, NULL, 0},
};

int msbd_opt_bad(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "msbnetd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return MSBD_EXIT_USAGE;
}

/* Decimal only, no sign, no trailing junk: "1e3" or "-1" are typos, not numbers. */
int msbd_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int set_uint(struct msbd_opts *o, const char *cmd, const char *opt, const char *key,
                    const char *val, unsigned long lo, unsigned long hi)
{
    unsigned long v;
    if (msbd_parse_uint(val, hi, &v) || v < lo) {
        char range[64];
        snprintf(range, sizeof range, "%lu..%lu", lo, hi);
        fprintf(stderr, "msbnetd %s: %s: \"%s\" is not a number in %s\n", cmd, opt, val, range);
        return MSBD_EXIT_USAGE;
    }
    json_object_set_new(o->overrides, key, json_integer((json_int_t)v));
    return 0;
}

bool msbd_is_ip(int family, const char *s)
{
    unsigned char buf[16];
    return inet_pton(family, s, buf) == 1;
}

/* GUEST[/PREFIX]: the address goes to the plugin, the prefix (a property of
 * the guest's interface, not of the plugin) stays with msbnetd. */
static int set_guest(struct msbd_opts *o, const char *cmd, int family, const char *val)
{
    const char *opt = family == AF_INET ? "--ipv4" : "--ipv6";
    unsigned long max = family == AF_INET ? 32 : 128;
    char addr[64];
    const char *slash = strchr(val, '/');
    size_t n = slash ? (size_t)(slash - val) : strlen(val);
    if (n >= sizeof addr)
        return msbd_opt_bad(cmd, "%s: \"%s\" is not an address", opt, val);
    memcpy(addr, val, n);
    addr[n] = '\0';
    if (!msbd_is_ip(family, addr))
        return msbd_opt_bad(cmd, "%s: \"%s\" is not an address[/prefix]", opt, val);
    unsigned long prefix = 0;
    if (slash && (msbd_parse_uint(slash + 1, max, &prefix) || prefix == 0))
        return msbd_opt_bad(cmd, "%s: \"%s\" has a bad prefix length", opt, val);
    if (slash)
        *(family == AF_INET ? &o->prefix4 : &o->prefix6) = (int)prefix;
    json_object_set_new(o->overrides, family == AF_INET ? "guest_ipv4" : "guest_ipv6",
                        json_string(addr));
    return 0;
}

static int set_gateway(struct msbd_opts *o, const char *cmd, int family, const char *val)
{
    if (!msbd_is_ip(family, val))
        return msbd_opt_bad(cmd, "%s: \"%s\" is not an address", family == AF_INET ? "--gateway4"
                                                                          : "--gateway6", val);
    json_object_set_new(o->overrides, family == AF_INET ? "gateway_ipv4" : "gateway_ipv6",
                        json_string(val));
    return 0;
}

static int add_dns(struct msbd_opts *o, const char *cmd, const char *val)
{
    if (!msbd_is_ip(AF_INET, val) && !msbd_is_ip(AF_INET6, val))
        return msbd_opt_bad(cmd, "--dns: \"%s\" is not an IP address", val);
    json_t *list = json_object_get(o->overrides, "dns_upstreams");
    if (!list) {
        list = json_array();
        json_object_set_new(o->overrides, "dns_upstreams", list);
    }
    json_array_append_new(list, json_string(val));
    o->has_dns = true;
    return 0;
}

static int set_egress(struct msbd_opts *o, const char *cmd, const char *val)
{
    if (strcmp(val, "allow") != 0 && strcmp(val, "deny") != 0 && strcmp(val, "public_only") != 0)
        return msbd_opt_bad(cmd, "--egress: \"%s\" must be allow, deny or public_only", val);
    json_object_set_new(o->overrides, "egress", json_string(val));
    return 0;
}

/* sun_path holds 108 bytes; grpc would fail later with a vaguer message. */
static int set_control_socket(struct msbd_opts *o, const char *cmd, const char *val)
{
    if (!*val || strlen(val) >= 100)
        return msbd_opt_bad(cmd, "--control-socket: \"%s\" must be a path of 1..99 bytes", val);
    o->control_socket = val;
    return 0;
}

static int set_transport_fd(struct msbd_opts *o, const char *cmd, const char *val)
{
    unsigned long v;
    if (msbd_parse_uint(val, 0x7fffffff, &v))
        return msbd_opt_bad(cmd, "--fd: \"%s\" is not a descriptor number", val);
    o->transport_fd = (int)v;
    return 0;
}

/* The TLS and secret options (options_secrets.c); 1 when c is none of them. */
static int apply_tls(struct msbd_opts *o, const char *cmd, int c, char *arg)
{
    switch (c) {
    case OPT_TLS_INTERCEPT: return msbd_opts_tls_intercept(o);
    case OPT_TLS_PORT: return msbd_opts_tls_port(o, cmd, arg);
    case OPT_SECRET: return msbd_opts_add_secret(o, cmd, MSBD_SECRET_VALUE, arg);
    case OPT_SECRET_FILE: return msbd_opts_add_secret(o, cmd, MSBD_SECRET_FILE, arg);
    case OPT_SECRET_ENV: return msbd_opts_add_secret(o, cmd, MSBD_SECRET_ENV, arg);
    case OPT_ON_SECRET_VIOLATION: return msbd_opts_on_violation(o, cmd, arg);
    default: return 1;
    }
}

/* --limit KIND=RATE[/BURST], repeatable: one "limits" entry each. */
static int add_limit(struct msbd_opts *o, const char *cmd, const char *arg)
{
    json_t *limits = json_object_get(o->overrides, "limits");
    if (!limits) {
        limits = json_object();
        json_object_set_new(o->overrides, "limits", limits);
    }
    char err[256];
    if (msbd_limit_spec_add(limits, arg, err, sizeof err))
        return msbd_opt_bad(cmd, "--limit: %s", err);
    return 0;
}

static json_t *proxy_object(struct msbd_opts *o)
{
    json_t *p = json_object_get(o->overrides, "proxy");
    if (!p) {
        p = json_object();
        json_object_set_new(o->overrides, "proxy", p);
    }
    return p;
}

/* --proxy URL: the plugin checks it.  Credentials in it are overwritten
 * in argv once copied, so they leave /proc/PID/cmdline. */
static int set_proxy(struct msbd_opts *o, char *arg)
{
    json_object_set_new(proxy_object(o), "url", json_string(arg));
    char *at = strchr(arg, '@'), *creds = strstr(arg, "://");
    if (at && creds && creds + 3 < at)
        memset(creds + 3, '*', (size_t)(at - creds - 3));
    return 0;
}

/* --proxy-bypass NAME (repeatable): names dialled directly. */
static int add_proxy_bypass(struct msbd_opts *o, const char *arg)
{
    json_t *p = proxy_object(o), *list = json_object_get(p, "bypass");
    if (!list) {
        list = json_array();
        json_object_set_new(p, "bypass", list);
    }
    json_array_append_new(list, json_string(arg));
    return 0;
}

static int apply(struct msbd_opts *o, const char *cmd, int c, char *arg)
{
    int tls = apply_tls(o, cmd, c, arg);
    if (tls != 1)
        return tls;
    switch (c) {
    case OPT_PLUGIN: o->plugin_path = arg; return 0;
    case OPT_CONFIG: o->config_path = arg; return 0;
    case OPT_NETNS: o->netns_path = arg; return 0;
    case OPT_SLOT: return set_uint(o, cmd, "--slot", "slot", arg, 0, 65535);
    case OPT_MTU: return set_uint(o, cmd, "--mtu", "mtu", arg, 576, 65520);
    case OPT_IPV4: return set_guest(o, cmd, AF_INET, arg);
    case OPT_IPV6: return set_guest(o, cmd, AF_INET6, arg);
    case OPT_GW4: return set_gateway(o, cmd, AF_INET, arg);
    case OPT_GW6: return set_gateway(o, cmd, AF_INET6, arg);
    case OPT_CONNECT_TIMEOUT:
        return set_uint(o, cmd, "--connect-timeout", "connect_timeout_ms", arg, 1, 0xffffffffu);
    case OPT_MAX_FLOWS: return set_uint(o, cmd, "--max-flows", "max_flows", arg, 1, 0xffffffffu);
    case OPT_BUSY_POLL: return set_uint(o, cmd, "--busy-poll", "busy_poll_us", arg, 0, 1000);
    case OPT_EGRESS: return set_egress(o, cmd, arg);
    case OPT_DNS: return add_dns(o, cmd, arg);
    case OPT_METRICS: o->print_metrics = true; return 0;
    case OPT_CONTROL_SOCKET: return set_control_socket(o, cmd, arg);
    case OPT_NO_GATEWAYS: o->no_gateways = true; return 0;
    case OPT_PUBLISH: return msbd_opts_add_publish(o, cmd, arg);
    case OPT_LIMIT: return add_limit(o, cmd, arg);
    case OPT_PROXY: return set_proxy(o, arg);
    case OPT_PROXY_BYPASS: return add_proxy_bypass(o, arg);
    case OPT_PROFILE: /* the plugin checks the name, and what the profile forbids */
        json_object_set_new(o->overrides, "profile", json_string(arg));
        return 0;
    case OPT_NO_GUEST_CONFIG: o->no_guest_config = true; return 0;
    case OPT_TAP_PUMP: o->tap_pump = true; return 0;
    case OPT_HTTP:
        o->http = true;
        return msbd_opts_set_endpoint(cmd, "--http", arg, o->http_host, sizeof o->http_host, &o->http_port);
    case OPT_CONTROL_ADDR:
        o->control_tcp = true;
        return msbd_opts_set_endpoint(cmd, "--control-addr", arg, o->control_host, sizeof o->control_host,
                            &o->control_port);
    case OPT_TLS_CERT: return msbd_opts_set_file(cmd, "--tls-cert", arg, &o->tls_cert);
    case OPT_TLS_KEY: return msbd_opts_set_file(cmd, "--tls-key", arg, &o->tls_key);
    case OPT_TLS_CLIENT_CA: return msbd_opts_set_file(cmd, "--tls-client-ca", arg, &o->tls_client_ca);
    case OPT_ON_TERM_SIGNAL: return msbd_opts_set_term_signal(o, cmd, arg);
    case 'v': o->verbose = true; return 0;
    case OPT_LISTEN: o->listen_path = arg; return 0;
    case OPT_FD: return set_transport_fd(o, cmd, arg);
    case OPT_PEER: o->peer_path = arg; return 0;
    case OPT_NO_OFFLOAD: o->no_offload = true; return 0;
    case OPT_FLOW_LOG: return msbd_opts_set_flow_log(o, cmd, arg, false);
    case OPT_FLOW_LOG_MAX: return msbd_opts_set_flow_log(o, cmd, arg, true);
    default: return MSBD_EXIT_USAGE;
    }
}

/* stream: --listen or --fd; dgram: --fd, or --listen and/or --peer; the
 * TAP commands take none of them. */
static int check_transport(const struct msbd_opts *o, enum msbd_command c, const char *cmd)
{
    bool listen = o->listen_path, fd = o->transport_fd >= 0, peer = o->peer_path;
    if (c == MSBD_CMD_TAP || c == MSBD_CMD_RUN) {
        if (listen || fd || peer)
            return msbd_opt_bad(cmd, "--listen, --fd and --peer are for the stream and dgram commands");
        return 0;
    }
    if (o->netns_path)
        return msbd_opt_bad(cmd, "--netns is for the tap command; the VMM owns the guest's interface");
    if (o->no_offload)
        return msbd_opt_bad(cmd, "--no-offload is for run and tap; stream and dgram carry plain frames");
    if (c == MSBD_CMD_STREAM && peer)
        return msbd_opt_bad(cmd, "--peer is for dgram; a stream VMM connects to --listen");
    if (fd && (listen || peer))
        return msbd_opt_bad(cmd, "--fd excludes --listen and --peer");
    if (!fd && !listen && !peer)
        return msbd_opt_bad(cmd, c == MSBD_CMD_STREAM ? "--listen PATH or --fd N is required"
                                             : "--listen PATH, --peer PATH or --fd N is required");
    return 0;
}

/* Positional arguments: run needs a command, tap takes none. */
static int check_rest(struct msbd_opts *o, enum msbd_command c, const char *cmd, int argc,
                      char **argv)
{
    if (c == MSBD_CMD_RUN) {
        if (optind >= argc)
            return msbd_opt_bad(cmd, "missing the command to run (msbnetd run [OPTIONS] -- CMD [ARGS])");
        o->cmd = argv + optind;
    } else if (optind < argc) {
        return msbd_opt_bad(cmd, "unexpected argument \"%s\"", argv[optind]);
    }
    if (c == MSBD_CMD_TAP && !o->netns_path)
        return msbd_opt_bad(cmd, "--netns PATH is required");
    if (c == MSBD_CMD_RUN && o->netns_path)
        return msbd_opt_bad(cmd, "--netns is for the tap command; run makes its own namespace");
    int rc = msbd_opts_check_control_tls(o, cmd);
    return rc ? rc : check_transport(o, c, cmd);
}

int msbd_opts_parse(struct msbd_opts *o, enum msbd_command c, int argc, char **argv)
{
    const char *cmd = argv[0];
    const char *keep_plugin = o->plugin_path; /* may come before the command */
    memset(o, 0, sizeof *o);
    o->plugin_path = keep_plugin;
    o->prefix4 = o->prefix6 = -1;
    o->transport_fd = -1;
    o->command = c;
    o->overrides = json_object();
    optind = 1;
    opterr = 0; /* our own one-line messages, naming the command */
    int ch;
    while ((ch = getopt_long(argc, argv, "+:v", long_opts, NULL)) != -1) {
        if (ch == '?')
            return msbd_opt_bad(cmd, "unknown option \"%s\"", argv[optind - 1]);
        if (ch == ':')
            return msbd_opt_bad(cmd, "option \"%s\" needs a value", argv[optind - 1]);
        int rc = apply(o, cmd, ch, optarg);
        if (rc)
            return rc;
    }
    return check_rest(o, c, cmd, argc, argv);
}

void msbd_opts_free(struct msbd_opts *o)
{
    msbd_wipe_values(json_object_get(o->overrides, "secrets"));
    json_decref(o->overrides);
    o->overrides = NULL;
}

char *msbd_read_config(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "msbnetd: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    bool unreadable = !buf || ferror(f) || n > CONFIG_MAX_BYTES;
    if (f != stdin)
        fclose(f);
    if (unreadable) {
        fprintf(stderr, "msbnetd: %s: unreadable or larger than %u bytes\n", path,
                CONFIG_MAX_BYTES);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The file's object, or an empty one.  Only the top level is merged; the
 * plugin checks every key, so nothing is interpreted here. */
static json_t *load_file(const char *path)
{
    if (!path)
        return json_object();
    char *text = msbd_read_config(path);
    if (!text)
        return NULL;
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    /* jansson quotes the text near a syntax error: it could be a secret. */
    char *near = strstr(je.text, " near ");
    if (!root && near && strstr(text, "secrets"))
        *near = '\0';
    msbd_wipe_text(text);
    free(text);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "msbnetd: %s: %s\n", path,
                root ? "expected a JSON object" : je.text);
        json_decref(root);
        return NULL;
    }
    return root;
}

bool msbd_opts_vnet_hdr(const struct msbd_opts *o)
{
    return (o->command == MSBD_CMD_TAP || o->command == MSBD_CMD_RUN) && !o->no_offload;
}

/* The file may say what msbnetd does anyway; anything else would garble
 * every frame (the plugin and the transport disagreeing on the header). */
static int own_vnet_hdr(json_t *root, const struct msbd_opts *o)
{
    bool want = msbd_opts_vnet_hdr(o);
    json_t *v = json_object_get(root, "vnet_hdr");
    if (v && !(json_is_boolean(v) && json_boolean_value(v) == want)) {
        bool tap = o->command == MSBD_CMD_TAP || o->command == MSBD_CMD_RUN;
        fprintf(stderr, "msbnetd: config key \"vnet_hdr\" is set by msbnetd: %s\n",
                !tap ? "the stream and dgram transports carry plain Ethernet frames (false)"
                : want ? "the TAP uses virtio-net headers (true); --no-offload makes it false"
                       : "--no-offload makes it false");
        return -1;
    }
    /* Absent and false stays absent: a plugin without the key still works.
     * A TAP with IFF_VNET_HDR takes TSO super-frames too (a file may say
     * "vnet_guest_tso": false to keep frames to the guest within the MTU). */
    if (want) {
        json_object_set_new(root, "vnet_hdr", json_true());
        if (!json_object_get(root, "vnet_guest_tso"))
            json_object_set_new(root, "vnet_guest_tso", json_true());
    }
    return 0;
}

/* msbnetd's own TCP listeners join the plugin's "protected_ports": the
 * sandbox must never reach its own control plane, not even through the
 * gateway under a policy that allows the host. */
static void protect_own(json_t *root, const struct msbd_opts *o)
{
    json_t *list = json_object_get(root, "protected_ports");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(root, "protected_ports", list);
    }
    char ep[80];
    bool v6;
    if (o->http) {
        v6 = strchr(o->http_host, ':') != NULL;
        snprintf(ep, sizeof ep, v6 ? "[%s]:%u" : "%s:%u", o->http_host, o->http_port);
        json_array_append_new(list, json_string(ep));
    }
    if (o->control_tcp) {
        v6 = strchr(o->control_host, ':') != NULL;
        snprintf(ep, sizeof ep, v6 ? "[%s]:%u" : "%s:%u", o->control_host, o->control_port);
        json_array_append_new(list, json_string(ep));
    }
    if (json_array_size(list) == 0)
        json_object_del(root, "protected_ports");
}

/* The file's list KEY with the options' entries appended (a new
 * reference), or NULL when one of the two has none. */
static json_t *merge_list(json_t *root, json_t *ov, const char *key)
{
    json_t *mine = json_object_get(ov, key);
    json_t *theirs = json_object_get(root, key);
    if (!mine || !json_is_array(theirs))
        return NULL;
    json_t *all = json_copy(theirs);
    json_array_extend(all, mine);
    return all;
}

/* The file's "tls" object with the options' members set on it. */
static json_t *merge_tls(json_t *root, json_t *ov)
{
    json_t *mine = json_object_get(ov, "tls");
    json_t *theirs = json_object_get(root, "tls");
    if (!mine || !json_is_object(theirs))
        return NULL;
    json_t *all = json_copy(theirs);
    json_object_update(all, mine);
    return all;
}

char *msbd_opts_config_json(const struct msbd_opts *o)
{
    json_t *root = load_file(o->config_path);
    if (!root)
        return NULL;
    if (own_vnet_hdr(root, o)) {
        json_decref(root);
        return NULL;
    }
    /* --publish and the --secret options add to the file's lists instead of
     * replacing them; --tls-* set members of the file's "tls" object.  A
     * copy of the options, so every value in it can be wiped below. */
    json_t *ov = json_deep_copy(o->overrides);
    msbd_opts_apply_violation(o, json_object_get(ov, "secrets"));
    json_t *merged[2] = {merge_list(root, ov, "publish"), merge_list(root, ov, "secrets")};
    json_t *tls = merge_tls(root, ov);
    json_object_update(root, ov);
    if (merged[0])
        json_object_set_new(root, "publish", merged[0]);
    if (merged[1])
        json_object_set_new(root, "secrets", merged[1]);
    if (tls)
        json_object_set_new(root, "tls", tls);
    protect_own(root, o);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    /* Every entry, the file's and the options' copies, is in this list. */
    msbd_wipe_values(json_object_get(root, "secrets"));
    json_decref(root);
    json_decref(ov);
    return s;
}
