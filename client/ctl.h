/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl's shared options, exit codes and subcommands. */
#ifndef MSBCTL_CTL_H
#define MSBCTL_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "rpc.h"

#define EXIT_RPC 1          /* the daemon answered with an error status */
#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: no daemon to talk to */

struct ctl_opts {
    struct ctl_endpoint ep;
    uint32_t deadline_ms; /* 0 = none (streams); unary calls default to 5 s */
    bool deadline_set;
    bool json;
};

/* Each returns an exit status; argv[0] is the subcommand's name. */
int ctl_set_gateways(const struct ctl_opts *o, int argc, char **argv);
int ctl_hostnames(const struct ctl_opts *o, int argc, char **argv);
int ctl_status(const struct ctl_opts *o, int argc, char **argv);
int ctl_metrics(const struct ctl_opts *o, int argc, char **argv);
int ctl_watch_termination(const struct ctl_opts *o, int argc, char **argv);
int ctl_policy(const struct ctl_opts *o, int argc, char **argv);
int ctl_ca(const struct ctl_opts *o, int argc, char **argv);      /* tls.c */
int ctl_secrets(const struct ctl_opts *o, int argc, char **argv); /* tls.c */
int ctl_limits(const struct ctl_opts *o, int argc, char **argv);  /* limits.c */
int ctl_publish(const struct ctl_opts *o, int argc, char **argv);   /* publish.c */
int ctl_unpublish(const struct ctl_opts *o, int argc, char **argv); /* publish.c */
int ctl_ports(const struct ctl_opts *o, int argc, char **argv);     /* publish.c */
int ctl_flows(const struct ctl_opts *o, int argc, char **argv);     /* flows.c */
/* flows --live: every open flow of protocol ("" = all), paged (flows_live.c). */
int ctl_flows_live(const struct ctl_opts *o, const char *protocol);
/* The records' table (flows.c): its header (DNS: with the column dns
 * records fill), and one record's row with the time taken from the member
 * time_key. */
void ctl_flow_header(bool dns);
void ctl_flow_row(const char *line, const char *time_key);

/* One unary call with the global deadline (default 5 s); *resp is set only
 * on success (exit status 0). */
/* Prints J as one compact line (keys in insertion order) and frees it. */
void ctl_print_json(json_t *j);
int ctl_call(const struct ctl_opts *o, const char *cmd, const char *method,
             const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
             ProtobufCMessage **resp);

/* Prints "msbnetctl: CMD: STATUS: details" and maps it to an exit status. */
int ctl_report(const char *cmd, const struct ctl_status *st);

/* Decimal in lo..hi; false on anything else. */
bool ctl_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

#endif
