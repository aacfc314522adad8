/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetd --flow-log FILE: flow records appended as JSON lines, whole
 * records per write (never a record split across writes), size-rotated without
 * loss or duplicates: when the next record would take FILE past the limit,
 * FILE is renamed to FILE.N (N the first unused number from 1, so older
 * files are never overwritten; pruning is the operator's) and a new FILE
 * is started.  Loop thread only.
 */
#ifndef MSBD_FLOW_LOG_H
#define MSBD_FLOW_LOG_H

#include <stddef.h>
#include <stdint.h>

#define MSBD_FLOW_LOG_DEFAULT_MAX (64u << 20)
#define MSBD_FLOW_LOG_MIN_MAX 4096u
#define MSBD_FLOW_LOG_MAX_ROTATIONS 100000u

struct msbd_flow_log;

/* Opens (creates 0600, appends) path; NULL with a reason in err. */
struct msbd_flow_log *msbd_flow_log_open(const char *path, uint64_t max_bytes, char *err,
                                         size_t errlen);
/* Appends line and '\n'; a write error is counted and the record lost. */
void msbd_flow_log_write(struct msbd_flow_log *l, const char *line, size_t len);
/* Appends text's whole lines ('\n'-terminated; a tail without one is left
 * out): one write while they fit before the rotation, else line by line so
 * the rotation falls between two records.  A write error is counted and
 * that write's records lost. */
void msbd_flow_log_write_lines(struct msbd_flow_log *l, const char *text, size_t len);
uint64_t msbd_flow_log_errors(const struct msbd_flow_log *l);
void msbd_flow_log_close(struct msbd_flow_log *l);

#endif
