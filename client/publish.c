/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl publish | unpublish | ports: published ports at run time.  The
 * SPEC goes to the daemon as typed (msbnetd's --publish syntax): the daemon
 * parses it, so its reasons are the same for every client. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"

static int usage_of(const char *cmd, bool help)
{
    static const char *const text[][2] = {
        {"publish", "publish [--real-peer] [ADDR:]HOSTPORT[:GUESTPORT][/udp]\n"
                    "  forward a host port to the guest (ADDR default 127.0.0.1, IPv6 in\n"
                    "  brackets); --real-peer: the guest sees the peer's address"},
        {"unpublish", "unpublish [ADDR:]HOSTPORT[/udp]\n"
                      "  stop forwarding that host port (new peers are refused)"},
        {"ports", "ports\n  list the published ports"},
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (strcmp(cmd, text[i][0]) == 0)
            fprintf(help ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] %s\n",
                    text[i][1]);
    return help ? 0 : EXIT_USAGE;
}

/* Parses [--real-peer] and the positional SPEC (nspec 0 or 1): -1 to go on,
 * else the exit status. */
static int parse(const char *cmd, int argc, char **argv, int nspec, bool *real_peer,
                 const char **spec)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"real-peer", no_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == 'h')
            return usage_of(cmd, true);
        if (ch != 'r' || !real_peer)
            return usage_of(cmd, false);
        *real_peer = true;
    }
    if (argc - optind != nspec)
        return usage_of(cmd, false);
    if (nspec)
        *spec = argv[optind];
    return -1;
}

static json_t *port_json(const Msbnet__V1__PublishedPort *p)
{
    return json_pack("{s:s,s:s,s:i,s:i,s:b}", "protocol", p->protocol, "host_address",
                     p->host_address, "host_port", (int)p->host_port, "guest_port",
                     (int)p->guest_port, "real_peer", (int)p->real_peer);
}

/* "tcp 127.0.0.1:8080 -> 80" as the daemon's messages write it. */
static void print_port(const Msbnet__V1__PublishedPort *p)
{
    bool v6 = strchr(p->host_address, ':') != NULL;
    printf("%s %s%s%s:%u -> %u%s\n", p->protocol, v6 ? "[" : "", p->host_address,
           v6 ? "]" : "", p->host_port, p->guest_port, p->real_peer ? " (real peer)" : "");
}

int ctl_publish(const struct ctl_opts *o, int argc, char **argv)
{
    bool real_peer = false;
    const char *spec = NULL;
    int rc = parse("publish", argc, argv, 1, &real_peer, &spec);
    if (rc >= 0)
        return rc;
    Msbnet__V1__PublishPortRequest req = MSBNET__V1__PUBLISH_PORT_REQUEST__INIT;
    req.spec = (char *)spec;
    req.real_peer = real_peer;
    ProtobufCMessage *resp;
    if ((rc = ctl_call(o, "publish", SVC "PublishPort", &req.base,
                       &msbnet__v1__publish_port_response__descriptor, &resp)) != 0)
        return rc;
    const Msbnet__V1__PublishPortResponse *r = (const void *)resp;
    if (!r->port)
        printf(o->json ? "{}\n" : "ok\n");
    else if (o->json)
        ctl_print_json(port_json(r->port));
    else
        print_port(r->port);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int ctl_unpublish(const struct ctl_opts *o, int argc, char **argv)
{
    const char *spec = NULL;
    int rc = parse("unpublish", argc, argv, 1, NULL, &spec);
    if (rc >= 0)
        return rc;
    Msbnet__V1__UnpublishPortRequest req = MSBNET__V1__UNPUBLISH_PORT_REQUEST__INIT;
    req.spec = (char *)spec;
    ProtobufCMessage *resp;
    if ((rc = ctl_call(o, "unpublish", SVC "UnpublishPort", &req.base,
                       &msbnet__v1__unpublish_port_response__descriptor, &resp)) != 0)
        return rc;
    printf(o->json ? "{}\n" : "ok\n");
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int ctl_ports(const struct ctl_opts *o, int argc, char **argv)
{
    int rc = parse("ports", argc, argv, 0, NULL, NULL);
    if (rc >= 0)
        return rc;
    Msbnet__V1__ListPublishedPortsRequest req = MSBNET__V1__LIST_PUBLISHED_PORTS_REQUEST__INIT;
    ProtobufCMessage *resp;
    if ((rc = ctl_call(o, "ports", SVC "ListPublishedPorts", &req.base,
                       &msbnet__v1__list_published_ports_response__descriptor, &resp)) != 0)
        return rc;
    const Msbnet__V1__ListPublishedPortsResponse *r = (const void *)resp;
    json_t *list = o->json ? json_array() : NULL;
    for (size_t i = 0; i < r->n_ports; i++) {
        if (list)
            json_array_append_new(list, port_json(r->ports[i]));
        else
            print_port(r->ports[i]);
    }
    if (list)
        ctl_print_json(json_pack("{s:o}", "ports", list));
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
