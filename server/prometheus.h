/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin's metrics JSON rendered in the Prometheus text exposition
 * format (version 0.0.4): msbnet_* families with HELP and TYPE, labels for
 * direction, protocol, outcome, reason and action.  Pure text in, text out,
 * so it is testable without a daemon.
 */
#ifndef MSBD_PROMETHEUS_H
#define MSBD_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

/* What msbnetd adds to the plugin's counters. */
struct msbd_prom_info {
    const char *version;        /* msbnetd's */
    const char *plugin_version; /* the plugin's version() */
    uint64_t uptime_ms;
};

/* Renders `metrics_json` (the plugin's snapshot, schema 1).  Returns a
 * malloc'd NUL-terminated text and its length, or NULL when the JSON does
 * not parse or memory runs out.  Known fields get curated names and types;
 * an integer field this file does not know yet (a newer plugin) is still
 * exported, as msbnet_<section>_<key> of type untyped. */
char *msbd_prom_render(const char *metrics_json, const struct msbd_prom_info *info,
                       size_t *len);

#endif
