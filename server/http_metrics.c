/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetd's HTTP endpoint (http_metrics.h) on the loop thread.  A scrape is
 * one short GET, so a client may send little and hold a connection briefly. */
#include "http_metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prometheus.h"

/* A scrape is one short GET: bound what a client may send and how long an
 * idle or slow connection may hold its descriptor. */
#define MAX_HEADERS_BYTES 8192
#define MAX_BODY_BYTES 1024
#define CONN_TIMEOUT_S 10

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct msbd_http {
    struct evhttp *http;
    struct msbd_host *host;
};

static uint64_t uptime_ms(const struct msbd_host *h)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - h->opened_ms;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                  const char *body, size_t len)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", type);
    evhttp_add_header(out, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    reply(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* Both forms carry the plugin's snapshot and msbnetd's own counters (the
 * pump's and its transport's) under "msbnetd". */
static void serve_metrics(struct msbd_http *s, struct evhttp_request *req, bool prometheus)
{
    const struct msbd_host *h = s->host;
    char *json = msbd_host_metrics_text(h);
    if (!json) {
        reply_text(req, 503, "Service Unavailable", "no metrics from the plugin\n");
        return;
    }
    if (!prometheus) {
        reply(req, 200, "OK", "application/json", json, strlen(json));
        free(json);
        return;
    }
    struct msbd_prom_info info = {.version = MSBNET_VERSION_STRING,
                                  .plugin_version = h->api->version(),
                                  .uptime_ms = uptime_ms(h)};
    size_t len;
    char *text = msbd_prom_render(json, &info, &len);
    free(json);
    if (text)
        reply(req, 200, "OK", PROM_TYPE, text, len);
    else
        reply_text(req, 500, "Internal Server Error", "cannot render the metrics\n");
    free(text);
}

/* Healthy = the plugin still answers a snapshot. */
static void serve_health(struct msbd_http *s, struct evhttp_request *req)
{
    char *json = s->host->api->metrics_json(s->host->net);
    if (json)
        reply_text(req, 200, "OK", "ok\n");
    else
        reply_text(req, 503, "Service Unavailable", "plugin not answering\n");
    s->host->api->free_string(json);
}

enum route { R_NONE, R_METRICS, R_JSON, R_HEALTH };

static enum route route_of(const char *path)
{
    if (!path)
        return R_NONE;
    if (strcmp(path, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(path, "/metrics.json") == 0)
        return R_JSON;
    if (strcmp(path, "/healthz") == 0)
        return R_HEALTH;
    return R_NONE;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct msbd_http *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    enum route r = route_of(uri ? evhttp_uri_get_path(uri) : NULL);
    if (r == R_NONE) {
        reply_text(req, 404, "Not Found", "not found (try /metrics, /metrics.json, /healthz)\n");
        return;
    }
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
        return;
    }
    if (r == R_HEALTH)
        serve_health(s, req);
    else
        serve_metrics(s, req, r == R_METRICS);
}

struct msbd_http *msbd_http_start(struct event_base *base, struct msbd_host *h,
                                  const char *host, unsigned port, bool verbose)
{
    struct msbd_http *s = calloc(1, sizeof *s);
    if (!s || !(s->http = evhttp_new(base))) {
        fprintf(stderr, "msbnetd: cannot set up the HTTP server\n");
        free(s);
        return NULL;
    }
    s->host = h;
    /* Every method reaches on_request, which answers 405 itself (evhttp
     * would answer a disallowed method with 501). */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_max_headers_size(s->http, MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(s->http, MAX_BODY_BYTES);
    evhttp_set_timeout(s->http, CONN_TIMEOUT_S);
    evhttp_set_gencb(s->http, on_request, s);
    if (!evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port)) {
        fprintf(stderr, "msbnetd: --http: cannot listen on %s port %u: %s\n", host, port,
                strerror(errno));
        msbd_http_stop(s);
        return NULL;
    }
    if (verbose)
        fprintf(stderr, "msbnetd: HTTP metrics on %s port %u\n", host, port);
    return s;
}

void msbd_http_stop(struct msbd_http *s)
{
    if (!s)
        return;
    if (s->http)
        evhttp_free(s->http);
    free(s);
}
