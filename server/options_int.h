/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the option parsers share (options.c, options_publish.c,
 * options_control.c); not for the rest of msbnetd.
 */
#ifndef MSBD_OPTIONS_INT_H
#define MSBD_OPTIONS_INT_H

#include <stdbool.h>

#include "options.h"

/* Prints "msbnetd CMD: message" and returns MSBD_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int msbd_opt_bad(const char *cmd, const char *fmt, ...);

/* Decimal only, no sign, no trailing junk; 0 or -1. */
int msbd_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* --flow-log FILE / --flow-log-max-bytes N (options_control.c). */
int msbd_opts_set_flow_log(struct msbd_opts *o, const char *cmd, const char *arg, bool max);

bool msbd_is_ip(int family, const char *s);

/* options_publish.c: --publish appended to the overrides' "publish" list. */
int msbd_opts_add_publish(struct msbd_opts *o, const char *cmd, const char *val);

/* options_control.c */
int msbd_opts_set_endpoint(const char *cmd, const char *opt, const char *val, char *host,
                           size_t hostlen, unsigned *port);
int msbd_opts_set_file(const char *cmd, const char *opt, const char *val, const char **out);
int msbd_opts_set_term_signal(struct msbd_opts *o, const char *cmd, const char *val);
int msbd_opts_check_control_tls(const struct msbd_opts *o, const char *cmd);

/* options_secrets.c */
enum msbd_secret_kind { MSBD_SECRET_VALUE = 0, MSBD_SECRET_FILE = 1, MSBD_SECRET_ENV = 2 };
int msbd_opts_tls_intercept(struct msbd_opts *o);
int msbd_opts_tls_port(struct msbd_opts *o, const char *cmd, const char *val);
int msbd_opts_on_violation(struct msbd_opts *o, const char *cmd, const char *val);
/* --secret ENV=VALUE@HOSTS (the VALUE in val is overwritten with '*' once
 * copied, so it leaves /proc/PID/cmdline), --secret-file ENV=PATH@HOSTS,
 * --secret-env ENV@HOSTS. */
int msbd_opts_add_secret(struct msbd_opts *o, const char *cmd, enum msbd_secret_kind kind,
                         char *val);
/* Zeroes the "value" strings of a "secrets" list (a json_t array) in
 * place, before it is freed. */
void msbd_wipe_values(void *secrets_list);
/* --on-secret-violation onto the options' own "secrets" entries. */
void msbd_opts_apply_violation(const struct msbd_opts *o, void *secrets_list);

#endif
