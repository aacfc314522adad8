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

bool msbd_is_ip(int family, const char *s);

/* options_publish.c: --publish appended to the overrides' "publish" list. */
int msbd_opts_add_publish(struct msbd_opts *o, const char *cmd, const char *val);

/* options_control.c */
int msbd_opts_set_endpoint(const char *cmd, const char *opt, const char *val, char *host,
                           size_t hostlen, unsigned *port);
int msbd_opts_set_file(const char *cmd, const char *opt, const char *val, const char **out);
int msbd_opts_set_term_signal(struct msbd_opts *o, const char *cmd, const char *val);
int msbd_opts_check_control_tls(const struct msbd_opts *o, const char *cmd);

#endif
