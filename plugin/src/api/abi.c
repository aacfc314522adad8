/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exported entry point and the version-1 function table.  Each wrapper
 * checks its arguments and turns them into calls on the instance; nothing
 * here aborts on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"
#include "model/policy_engine.h"
#include "api/instance.h"
#include "api/flow_drain.h"
#include "api/flow_live.h"
#include "api/publish.h"
#include "msbnet/msbnet.h"
#include "api/limits_replace.h"
#include "api/policy_replace.h"
#include "api/snapshot.h"
#include "api/secrets_replace.h"
#include "api/tls_state.h"

#ifndef MSBNET_VERSION_STRING
#define MSBNET_VERSION_STRING "0.0.0-dev"
#endif

/* Callers may pass no error buffer; the internals always write one. */
static void use_local_if_none(char **err, size_t *errlen, char *local, size_t len)
{
    if (!*err || !*errlen) {
        *err = local;
        *errlen = len;
    }
    (*err)[0] = '\0';
}

static const char *api_version(void)
{
    return MSBNET_VERSION_STRING;
}

static msbnet_t *api_create(const char *config_json, char *err, size_t errlen)
{
    char local[256];
    use_local_if_none(&err, &errlen, local, sizeof local);
    struct msb_config cfg;
    if (msb_config_parse(config_json, &cfg, err, errlen))
        return NULL;
    return msb_instance_create(&cfg, err, errlen);
}

static void api_destroy(msbnet_t *net)
{
    msb_instance_destroy(net);
}

static int api_write_frame(msbnet_t *net, const uint8_t *frame, size_t len)
{
    if (!net || !frame)
        return MSBNET_EINVAL;
    return msb_instance_write_frame(net, frame, len);
}

static long api_read_frame(msbnet_t *net, uint8_t *buf, size_t cap, size_t *needed)
{
    if (!net || (!buf && cap))
        return MSBNET_EINVAL;
    return msb_instance_read_frame(net, buf, cap, needed);
}

static int api_rx_wake_fd(msbnet_t *net)
{
    return net ? msb_wake_fd(&net->rx_wake) : MSBNET_EINVAL;
}

/* A gateway is a unicast address of its own family that the guest can
 * route through: not loopback or unspecified, multicast, broadcast or
 * reserved, nor an IPv6 spelling of an IPv4 address. */
static bool usable_gateway(const struct msb_ip *ip)
{
    struct msb_ip v4;
    msb_pol_unwrap(ip, &v4);
    enum msb_pol_group g = msb_pol_classify(ip, NULL, NULL);
    bool bcast = ip->family == MSB_FAMILY_V4 && memcmp(ip->b, "\xff\xff\xff\xff", 4) == 0;
    return v4.family == ip->family && !bcast && g != MSB_GRP_LOOPBACK &&
           g != MSB_GRP_MULTICAST && g != MSB_GRP_RESERVED;
}

/* NULL = leave the family alone; otherwise it must parse as that family. */
static int parse_family(const char *s, enum msb_family fam, struct msb_ip *out,
                        const struct msb_ip **ptr)
{
    *ptr = NULL;
    if (!s)
        return 0;
    if (msb_ip_parse(s, out) || out->family != fam || !usable_gateway(out))
        return -1;
    *ptr = out;
    return 0;
}

static int api_set_gateways(msbnet_t *net, const char *ipv4, const char *ipv6)
{
    struct msb_ip a4, a6;
    const struct msb_ip *p4, *p6;
    if (!net || parse_family(ipv4, MSB_FAMILY_V4, &a4, &p4) ||
        parse_family(ipv6, MSB_FAMILY_V6, &a6, &p6))
        return MSBNET_EINVAL;
    return msb_gateways_set(&net->gw, p4, p6) ? MSBNET_EEXIST : MSBNET_OK;
}

static int api_set_termination_hook(msbnet_t *net, msbnet_termination_fn fn, void *user)
{
    if (!net)
        return MSBNET_EINVAL;
    msb_hook_set(&net->hook, fn, user);
    return MSBNET_OK;
}

static int api_query_hostnames(msbnet_t *net, enum msbnet_query_kind kind, const char *key,
                               size_t offset, size_t limit, char **out)
{
    if (!net || !out)
        return MSBNET_EINVAL;
    *out = NULL;
    struct msb_ip ip;
    const void *k = NULL;
    enum msb_hidx_select sel;
    switch (kind) {
    case MSBNET_QUERY_ALL:
        sel = MSB_HIDX_ALL;
        break;
    case MSBNET_QUERY_ADDRESS:
        if (msb_ip_parse(key, &ip))
            return MSBNET_EINVAL;
        sel = MSB_HIDX_BY_ADDRESS;
        k = &ip;
        break;
    case MSBNET_QUERY_HOSTNAME:
        if (!key)
            return MSBNET_EINVAL;
        sel = MSB_HIDX_BY_HOSTNAME;
        k = key;
        break;
    default:
        return MSBNET_EINVAL;
    }
    return msb_hostnames_json(net, sel, k, offset, limit, out) ? MSBNET_ENOMEM : MSBNET_OK;
}

static char *api_metrics_json(msbnet_t *net)
{
    return net ? msb_metrics_json(net) : NULL;
}

static void api_free_string(char *s)
{
    free(s);
}

static uint64_t api_termination_count(msbnet_t *net)
{
    return net ? msb_hook_count(&net->hook) : 0;
}

static int api_start(msbnet_t *net, char *err, size_t errlen)
{
    char local[256];
    use_local_if_none(&err, &errlen, local, sizeof local);
    if (!net) {
        snprintf(err, errlen, "no instance");
        return MSBNET_EINVAL;
    }
    return msb_instance_start(net, err, errlen);
}

static void api_stop(msbnet_t *net)
{
    if (net)
        msb_instance_stop(net);
}

static char *api_addresses_json(msbnet_t *net)
{
    return net ? msb_addrs_json(&net->addrs) : NULL;
}

static int api_set_policy(msbnet_t *net, const char *policy, char **warnings_json, char *err,
                          size_t errlen)
{
    char local[512];
    use_local_if_none(&err, &errlen, local, sizeof local);
    if (warnings_json)
        *warnings_json = NULL;
    if (!net || !policy) {
        snprintf(err, errlen, "%s", net ? "no policy" : "no instance");
        return MSBNET_EINVAL;
    }
    return msb_policy_replace(net, policy, warnings_json, err, errlen);
}

static char *api_policy_json(msbnet_t *net)
{
    return net ? msb_policy_current_json(net) : NULL;
}

/* Both publish calls parse their spec the same way; open needs guest_port. */
static int publish_call(msbnet_t *net, const char *spec_json, bool open, char *err,
                        size_t errlen)
{
    char local[256];
    use_local_if_none(&err, &errlen, local, sizeof local);
    struct msb_publish_spec spec;
    if (!net) {
        snprintf(err, errlen, "no instance");
        return MSBNET_EINVAL;
    }
    if (msb_publish_spec_parse(spec_json, open, &spec, err, errlen))
        return MSBNET_EINVAL;
    return open ? msb_publish_open(net, &spec, err, errlen)
                : msb_publish_close(net, &spec, err, errlen);
}

static int api_publish_port(msbnet_t *net, const char *spec_json, char *err, size_t errlen)
{
    return publish_call(net, spec_json, true, err, errlen);
}

static int api_unpublish_port(msbnet_t *net, const char *spec_json, char *err, size_t errlen)
{
    return publish_call(net, spec_json, false, err, errlen);
}

static int api_set_frame_fds(msbnet_t *net, int tx_fd, int rx_fd)
{
    if (!net || tx_fd < -1 || rx_fd < -1)
        return MSBNET_EINVAL;
    return msb_instance_set_frame_fds(net, tx_fd, rx_fd);
}

static int api_ca_certificate(msbnet_t *net, char **pem)
{
    if (pem)
        *pem = NULL;
    if (!net || !pem)
        return MSBNET_EINVAL;
    return msb_tls_state_ca_pem(net->tls, pem);
}

static char *api_secrets_json(msbnet_t *net)
{
    return net ? msb_tls_state_secrets_json(net->tls) : NULL;
}

static int api_set_limits(msbnet_t *net, const char *limits_json, char *err, size_t errlen)
{
    char local[256];
    use_local_if_none(&err, &errlen, local, sizeof local);
    if (!net || !limits_json) {
        snprintf(err, errlen, "%s", net ? "no limits" : "no instance");
        return MSBNET_EINVAL;
    }
    return msb_limits_replace(net, limits_json, err, errlen);
}

static char *api_limits_json(msbnet_t *net)
{
    return net ? msb_limits_current_json(net) : NULL;
}

static long api_drain_flow_records(msbnet_t *net, size_t max, char **out)
{
    if (out)
        *out = NULL;
    if (!net || !out)
        return MSBNET_EINVAL;
    long n = msb_flow_records_drain(net, max, out);
    return n < 0 ? MSBNET_ENOMEM : n;
}

static long api_flows_json(msbnet_t *net, size_t offset, size_t limit, const char *protocol,
                           char **out)
{
    if (out)
        *out = NULL;
    if (!net || !out)
        return MSBNET_EINVAL;
    long n = msb_flow_live_json(net, offset, limit, protocol, out);
    return n == -1 ? MSBNET_ENOMEM : n == -2 ? MSBNET_ESTATE : n == -3 ? MSBNET_EINVAL : n;
}

static char *api_published_ports_json(msbnet_t *net)
{
    return net ? msb_publish_list_json(net) : NULL;
}

static int api_set_secrets(msbnet_t *net, const char *secrets_json, char *err, size_t errlen)
{
    char local[256];
    use_local_if_none(&err, &errlen, local, sizeof local);
    if (!net || !secrets_json) {
        snprintf(err, errlen, "%s", net ? "no secrets" : "no instance");
        return MSBNET_EINVAL;
    }
    return msb_secrets_replace(net, secrets_json, err, errlen);
}

static const struct msbnet_api_v1 api_v1 = {
    .abi_version = 1,
    .struct_size = sizeof(struct msbnet_api_v1),
    .version = api_version,
    .create = api_create,
    .destroy = api_destroy,
    .write_frame = api_write_frame,
    .read_frame = api_read_frame,
    .rx_wake_fd = api_rx_wake_fd,
    .set_gateways = api_set_gateways,
    .set_termination_hook = api_set_termination_hook,
    .query_hostnames = api_query_hostnames,
    .metrics_json = api_metrics_json,
    .free_string = api_free_string,
    .termination_count = api_termination_count,
    .start = api_start,
    .stop = api_stop,
    .addresses_json = api_addresses_json,
    .set_policy = api_set_policy,
    .policy_json = api_policy_json,
    .publish_port = api_publish_port,
    .unpublish_port = api_unpublish_port,
    .set_frame_fds = api_set_frame_fds,
    .ca_certificate = api_ca_certificate,
    .secrets_json = api_secrets_json,
    .set_limits = api_set_limits,
    .limits_json = api_limits_json,
    .published_ports_json = api_published_ports_json,
    .drain_flow_records = api_drain_flow_records,
    .flows_json = api_flows_json,
    .set_secrets = api_set_secrets,
};

__attribute__((visibility("default"))) const struct msbnet_api_v1 *
msbnet_get_api(uint32_t abi_version, char *err, size_t errlen)
{
    if (abi_version == 1)
        return &api_v1;
    if (err && errlen)
        snprintf(err, errlen,
                 "msbnet: ABI version %u is not served by this plugin (%s serves version 1)",
                 abi_version, MSBNET_VERSION_STRING);
    return NULL;
}
