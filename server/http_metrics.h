/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnetd's HTTP endpoint on libevent's evhttp, on the loop thread:
 *   GET /metrics       Prometheus text format (prometheus.c)
 *   GET /metrics.json  the plugin's metrics JSON as is
 *   GET /healthz       "ok" while the plugin answers
 * Other paths 404, other methods on these paths 405 (HEAD is GET without a
 * body).  Off unless --http ADDR:PORT is given.
 */
#ifndef MSBD_HTTP_METRICS_H
#define MSBD_HTTP_METRICS_H

#include <event2/event.h>

#include "host.h"

struct msbd_http;

/* Binds host:port.  Returns NULL with a message printed. */
struct msbd_http *msbd_http_start(struct event_base *base, struct msbd_host *h,
                                  const char *host, unsigned port, bool verbose);

/* Closes the listener and every connection.  NULL is ignored. */
void msbd_http_stop(struct msbd_http *s);

#endif
