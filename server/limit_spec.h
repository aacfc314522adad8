/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command-line form of a rate limit, shared by msbnetd's --limit and
 * msbnetctl's "limits set": KIND=RATE[/BURST], KIND one of egress, ingress,
 * connections, dns_queries.  It becomes one entry of the plugin's "limits"
 * object; the plugin checks the quantities ("50mbit", "2MiB", 100).
 */
#ifndef MSBD_LIMIT_SPEC_H
#define MSBD_LIMIT_SPEC_H

#include <stddef.h>

/* Adds TOKEN to LIMITS (a json_t object).  0, or -1 with a reason in err. */
int msbd_limit_spec_add(void *limits, const char *token, char *err, size_t errlen);

#endif
