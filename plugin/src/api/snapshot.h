/* SPDX-License-Identifier: Apache-2.0 */
/* JSON documents the plugin hands out: metrics snapshots and hostname
 * queries.  Field names are stable (listed in plugin/README.md). */
#ifndef MSB_SNAPSHOT_H
#define MSB_SNAPSHOT_H

#include <stddef.h>

#include "lib/hostindex.h"
#include "api/instance.h"

/* Schema version of the metrics document; bumped when a field changes
 * meaning or disappears (additions keep it). */
#define MSB_METRICS_SCHEMA 1

char *msb_metrics_json(struct msbnet *net);

/* Returns 0 and *out, or -1 for a bad key / allocation failure. */
int msb_hostnames_json(struct msbnet *net, enum msb_hidx_select sel, const void *key,
                       size_t offset, size_t limit, char **out);

#endif
