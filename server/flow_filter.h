/* SPDX-License-Identifier: Apache-2.0 */
/* StreamFlowRecords' filter: action (or "denied" = anything but allow),
 * protocol and hostname suffix over one flow record's JSON line. */
#ifndef MSBD_FLOW_FILTER_H
#define MSBD_FLOW_FILTER_H

#include <stdbool.h>

/* True when the record passes every filter; empty filters match
 * everything.  A suffix matches the name itself or a subdomain of it
 * (label boundary), case-insensitively, in "hostname" or "sni"; a line
 * that is not a record matches only when no filter is set. */
bool msbd_flow_match(const char *line, const char *action, const char *protocol,
                     const char *suffix);

#endif
