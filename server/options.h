/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line options shared by `msbnetd tap` and `msbnetd run`, and the
 * plugin config JSON assembled from them (--config FILE, then each option
 * overriding its key).  Values are only checked for syntax here; ranges are
 * the plugin's business (create() names the bad key).
 */
#ifndef MSBD_OPTIONS_H
#define MSBD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define MSBD_EXIT_USAGE 2

enum msbd_command { MSBD_CMD_TAP, MSBD_CMD_RUN, MSBD_CMD_STREAM, MSBD_CMD_DGRAM };

struct msbd_opts {
    const char *plugin_path; /* NULL = default search */
    const char *config_path; /* NULL = no file */
    const char *netns_path;  /* tap: the namespace to put tap0 in */
    void *overrides;         /* json_t object of config keys set by options */
    int prefix4, prefix6;    /* -1 = the plugin's prefix */
    bool has_dns;            /* --dns given: needs the plugin's "dns_upstreams" */
    bool verbose;
    bool print_metrics;
    bool no_gateways;           /* leave both gateways to a controller (SetGateways) */
    bool no_guest_config;       /* tap0 gets MAC, MTU and link only: the guest uses DHCP/RA */
    const char *control_socket; /* NULL = the per-slot default path */
    /* --http ADDR:PORT: Prometheus/JSON metrics over HTTP (off when !http). */
    bool http;
    char http_host[48];
    unsigned http_port;
    /* --control-addr HOST:PORT: a TCP gRPC listener besides the socket;
     * loopback may be plain, anything else needs tls_cert + tls_key. */
    bool control_tcp;
    char control_host[48];
    unsigned control_port;
    const char *tls_cert, *tls_key, *tls_client_ca;
    /* --on-terminate-signal PID:SIG: sent once when the hook fires (0 = off). */
    int term_pid, term_sig;
    char **cmd; /* run: NULL-terminated argv of CMD */
    /* stream / dgram: where the VMM's frames come from */
    const char *listen_path; /* --listen: socket msbnetd binds */
    const char *peer_path;   /* dgram --peer: the VMM's own socket */
    int transport_fd;        /* --fd: pre-connected socket from the VMM, -1 = none */
    bool tap_pump; /* --tap-pump: TAP frames through msbnetd's loop, not the stack thread */
    enum msbd_command command; /* the command these options are for */
    bool no_offload;           /* run / tap --no-offload: plain frames on the TAP */
    /* --on-secret-violation: for the secrets given as options (NULL = the
     * plugin's default, block).  --tls-intercept, --tls-port and the
     * --secret options live in overrides ("tls", "secrets"). */
    const char *on_secret_violation;
    /* --flow-log FILE (NULL = off), rotated past flow_log_max bytes (0 =
     * flow_log.h's default). */
    const char *flow_log;
    unsigned long flow_log_max;
};

/* True when the plugin gets "vnet_hdr": true: the TAP commands exchange
 * virtio-net headers with the kernel (offloads) unless --no-offload; the
 * stream and dgram transports carry plain frames.  msbnetd owns the key: a
 * config file may repeat this value but never contradict it. */
bool msbd_opts_vnet_hdr(const struct msbd_opts *o);

/* Parses argv (argv[0] = the command name) into o.  Returns 0, or
 * MSBD_EXIT_USAGE after printing a one-line reason. */
int msbd_opts_parse(struct msbd_opts *o, enum msbd_command cmd, int argc, char **argv);
void msbd_opts_free(struct msbd_opts *o);

/* --publish [ADDR:]HOSTPORT[:GUESTPORT][/udp|/tcp] (IPv6 ADDR in brackets;
 * GUESTPORT defaults to HOSTPORT when there is no ADDR) as the plugin's "publish" object (a
 * json_t *, owned by the caller), or NULL with a reason in why. */
void *msbd_publish_arg(const char *arg, char *why, size_t whylen);

/* The config JSON for create(): the --config file (if any) with the
 * options' keys on top.  NULL (message printed) when the file is unusable. */
char *msbd_opts_config_json(const struct msbd_opts *o);

/* Zeroes a config text (it may hold secret values) before it is freed. */
void msbd_wipe_text(char *s);

/* Reads a whole config file ("-" = stdin) of at most 1 MiB; NULL with a
 * message printed on error.  Shared with check-config. */
char *msbd_read_config(const char *path);

#endif
