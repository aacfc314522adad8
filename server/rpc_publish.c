/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PublishPort / UnpublishPort / ListPublishedPorts over the plugin's
 * publish_port, unpublish_port and published_ports_json.  Specs come in
 * msbnetd's --publish syntax (options_publish.c), so an operator types the
 * same thing on the command line and to msbnetctl; the daemon parses it,
 * so every client gets the same reasons.
 */
#include "rpc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

/* The longest spec the syntax allows is "[v6]:65535:65535/udp", far below. */
#define MAX_SPEC 128

/* Unpublish names a listener, [ADDR:]HOSTPORT[/udp]; with an address the
 * --publish syntax wants a GUESTPORT too, so a placeholder one (ignored by
 * unpublish_port) is added. */
static json_t *listener_only(const char *spec)
{
    char buf[MAX_SPEC + 8], why[160];
    const char *slash = strrchr(spec, '/');
    size_t body = slash ? (size_t)(slash - spec) : strlen(spec);
    snprintf(buf, sizeof buf, "%.*s:1%s", (int)body, spec, slash ? slash : "");
    return msbd_publish_arg(buf, why, sizeof why);
}

/* The spec as the plugin's JSON object text (free()), or NULL with the
 * call finished as INVALID_ARGUMENT. */
static char *spec_json(struct msbd_call *c, const char *spec, bool unpublish, bool real_peer)
{
    char why[160];
    if (!spec || !*spec || strnlen(spec, MAX_SPEC + 1) > MAX_SPEC) {
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                         "spec: expected [ADDR:]HOSTPORT[:GUESTPORT][/udp]");
        return NULL;
    }
    json_t *obj = msbd_publish_arg(spec, why, sizeof why);
    if (!obj && unpublish)
        obj = listener_only(spec);
    if (!obj) {
        char msg[sizeof why + 16];
        snprintf(msg, sizeof msg, "spec: %s", why);
        msbd_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, msg);
        return NULL;
    }
    if (real_peer)
        json_object_set_new(obj, "real_peer", json_true());
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return text;
}

static void fill_port(Msbnet__V1__PublishedPort *p, const json_t *o)
{
    msbnet__v1__published_port__init(p);
    const char *proto = json_string_value(json_object_get(o, "protocol"));
    const char *addr = json_string_value(json_object_get(o, "host_address"));
    p->protocol = (char *)(proto ? proto : "tcp");
    p->host_address = (char *)(addr ? addr : "127.0.0.1");
    p->host_port = (uint32_t)json_integer_value(json_object_get(o, "host_port"));
    p->guest_port = (uint32_t)json_integer_value(json_object_get(o, "guest_port"));
    p->real_peer = json_is_true(json_object_get(o, "real_peer"));
}

static grpc_status_code status_of(int rc)
{
    switch (rc) {
    case MSBNET_EINVAL: return GRPC_STATUS_INVALID_ARGUMENT;
    case MSBNET_EEXIST:
    case MSBNET_ESYS: return GRPC_STATUS_FAILED_PRECONDITION;
    case MSBNET_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default: return GRPC_STATUS_INTERNAL;
    }
}

void msbd_rpc_publish_port(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__PublishPortRequest *r = (const void *)req;
    const struct msbd_host *h = c->g->host;
    char *text = spec_json(c, r->spec, false, r->real_peer);
    if (!text)
        return;
    char err[256] = "";
    int rc = h->api->publish_port(h->net, text, err, sizeof err);
    json_t *obj = rc == MSBNET_OK ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (rc != MSBNET_OK) {
        msbd_call_finish(c, status_of(rc), *err ? err : "publish_port failed");
        return;
    }
    /* The parser writes the defaults the plugin applies but the address. */
    if (obj && !json_object_get(obj, "host_address"))
        json_object_set_new(obj, "host_address", json_string("127.0.0.1"));
    Msbnet__V1__PublishPortResponse resp = MSBNET__V1__PUBLISH_PORT_RESPONSE__INIT;
    Msbnet__V1__PublishedPort port;
    fill_port(&port, obj);
    resp.port = &port;
    msbd_call_reply(c, &resp.base);
    json_decref(obj);
}

void msbd_rpc_unpublish_port(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__UnpublishPortRequest *r = (const void *)req;
    const struct msbd_host *h = c->g->host;
    char *text = spec_json(c, r->spec, true, false);
    if (!text)
        return;
    char err[256] = "";
    int rc = h->api->unpublish_port(h->net, text, err, sizeof err);
    free(text);
    if (rc == MSBNET_EINVAL) /* the spec parsed here, so the port is unknown */
        msbd_call_finish(c, GRPC_STATUS_NOT_FOUND, *err ? err : "no such published port");
    else if (rc != MSBNET_OK)
        msbd_call_finish(c, status_of(rc), *err ? err : "unpublish_port failed");
    else {
        Msbnet__V1__UnpublishPortResponse resp = MSBNET__V1__UNPUBLISH_PORT_RESPONSE__INIT;
        msbd_call_reply(c, &resp.base);
    }
}

static void reply_ports(struct msbd_call *c, const json_t *arr)
{
    size_t n = json_array_size(arr);
    Msbnet__V1__PublishedPort *ps = calloc(n + 1, sizeof *ps);
    Msbnet__V1__PublishedPort **ptrs = calloc(n + 1, sizeof *ptrs);
    if (!ps || !ptrs) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            fill_port(&ps[i], json_array_get(arr, i));
            ptrs[i] = &ps[i];
        }
        Msbnet__V1__ListPublishedPortsResponse resp =
            MSBNET__V1__LIST_PUBLISHED_PORTS_RESPONSE__INIT;
        resp.n_ports = n;
        resp.ports = ptrs;
        msbd_call_reply(c, &resp.base);
    }
    free(ps);
    free(ptrs);
}

void msbd_rpc_list_published_ports(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    const struct msbd_host *h = c->g->host;
    if (!HAS_FIELD(h->api, published_ports_json)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin cannot list published ports");
        return;
    }
    char *js = h->api->published_ports_json(h->net);
    json_t *arr = js ? json_loads(js, 0, NULL) : NULL;
    h->api->free_string(js);
    if (!json_is_array(arr))
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        reply_ports(c, arr);
    json_decref(arr);
}
