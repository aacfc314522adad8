/* SPDX-License-Identifier: Apache-2.0 */
/* Flow records as the control plane sees them: drained as JSON lines
 * (drain_flow_records) and counted in the metrics JSON ("flow_records"). */
#ifndef MSB_FLOW_DRAIN_H
#define MSB_FLOW_DRAIN_H

#include <stddef.h>

struct msbnet;
struct json_t;

/* Takes up to max records (0 = all waiting, at most MSB_FLOWREC_CAP) off
 * the ring, oldest first, as JSON lines each ending in '\n' (malloc'd
 * text, "" when none waits).  Returns the number taken, or -1 when memory
 * is short (nothing taken). */
long msb_flow_records_drain(struct msbnet *net, size_t max, char **out);

/* {"dropped": N, "pending": N, "by_action": {"allow": {"tcp": N, ...}, ...}} */
struct json_t *msb_flow_records_section(struct msbnet *net);

#endif
