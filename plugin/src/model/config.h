/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Instance settings, parsed from the JSON object given to create().  Every
 * key is checked against a table: unknown keys, wrong types and values out
 * of range are refused with a message that names the key.
 */
#ifndef MSB_CONFIG_H
#define MSB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/wake.h"
#include "model/limits_config.h"

/* The coarse egress switch, kept for configs without "policy": allow =
 * the allow_all preset, deny = the none preset. */
enum msb_egress { MSB_EGRESS_ALLOW = 0, MSB_EGRESS_DENY = 1, MSB_EGRESS_PUBLIC_ONLY = 2 };

/* What the stack does with a TCP super-frame in vnet_hdr mode (vnet_hdr.h). */
enum msb_vnet_gso_mode { MSB_VNET_GSO_MODE_WHOLE = 0, MSB_VNET_GSO_MODE_SEGMENT = 1 };

#define MSB_DNS_MAX_UPSTREAMS 8
#define MSB_MAX_PROTECTED 16

/* A host endpoint the guest may never reach, whatever the policy: the
 * host's own control plane (msbnetd's gRPC and HTTP listeners).  An
 * unspecified address (0.0.0.0, ::) stands for every host address. */
struct msb_endpoint {
    struct msb_ip addr;
    uint16_t port;
};

/* "log_level": what the plugin writes to stderr. */
enum msb_log_level { MSB_LOG_ERROR = 0, MSB_LOG_WARN = 1, MSB_LOG_INFO = 2, MSB_LOG_DEBUG = 3 };

struct msb_policy;
struct msb_publish_spec;
struct msb_tls_settings;
struct msb_secrets_cfg;
struct msb_proxy_cfg;

struct msb_config {
    uint32_t queue_capacity;             /* frames per ring, power of two */
    uint32_t slot;                       /* sandbox slot: derives addresses */
    uint32_t mtu;
    uint32_t hostname_index_max_entries;
    uint32_t hostname_index_max_ttl_s;
    uint32_t wake;                       /* enum msb_wake_kind */
    uint32_t connect_timeout_ms;
    uint32_t max_flows;
    uint32_t tcp_buffer_max_bytes;       /* guest bytes waiting for host peers, all flows */
    uint32_t tcp_idle_timeout_s;
    uint32_t egress;                     /* enum msb_egress */
    uint32_t udp_idle_timeout_s;
    uint32_t max_udp_sessions;
    uint32_t max_icmp_echoes;            /* echo requests awaiting a host reply */
    uint32_t dns_query_timeout_ms;       /* per guest query, every upstream try included */
    bool dns_rebind_protection;          /* private answers from the upstream -> REFUSED */
    bool vnet_hdr;                       /* frames both ways carry a virtio_net_hdr_v1 */
    uint32_t vnet_gso;                   /* enum msb_vnet_gso_mode: TCP super-frames */
    uint32_t busy_poll_us;               /* stack thread polls this long after a guest frame */
    bool vnet_guest_tso;                 /* vnet_hdr: TCP to the guest as TSO super-frames */
    /* "dns_upstreams": port 53 each; none = the host's resolv.conf. */
    struct msb_ip dns_upstreams[MSB_DNS_MAX_UPSTREAMS];
    uint32_t n_dns_upstreams;
    /* "protected_ports": ["ADDR:PORT", "[V6]:PORT", ...] (struct msb_endpoint). */
    struct msb_endpoint protected_ports[MSB_MAX_PROTECTED];
    uint32_t n_protected;
    uint32_t log_level;                  /* enum msb_log_level */
    /* Overrides of the slot-derived addressing; family NONE / has_* false
     * = derive from the slot (addressing.h). */
    struct msb_ip guest_ipv4, gateway_ipv4, guest_ipv6, gateway_ipv6;
    uint8_t guest_mac[6], gateway_mac[6];
    bool has_guest_mac, has_gateway_mac;
    /* "policy" (the JSON format of policy_json.c), NULL when absent.  Owned:
     * msb_config_release frees it, msb_instance_create takes it over. */
    struct msb_policy *policy;
    /* "publish": host listeners forwarded to guest ports (publish_spec.h).
     * Owned like policy: msb_config_release frees it, msb_instance_create
     * takes it over.  "max_inbound_flows" caps published-port TCP flows and,
     * separately, UDP sessions. */
    struct msb_publish_spec *publish;
    uint32_t n_publish;
    uint32_t max_inbound_flows;
    /* Guest autoconfiguration and fragment reassembly. */
    bool dhcp4;                          /* DHCPv4 server for the guest */
    uint32_t dhcp_lease_s;
    bool ra;                             /* router advertisements, answers to RS */
    uint32_t reasm_max_datagrams;        /* 0 = guest fragments are dropped */
    uint32_t reasm_max_bytes;            /* fragment data held, all datagrams */
    uint32_t reasm_timeout_s;
    /* "tls" and "secrets" (tls_config.h), NULL when absent.  Owned like
     * policy: msb_config_release frees them (values wiped), and
     * msb_instance_create takes them over.  "scan_plaintext": look for
     * placeholders on connections that are not intercepted too. */
    struct msb_tls_settings *tls;
    struct msb_secrets_cfg *secrets;
    bool scan_plaintext;
    /* "limits" (limits_config.h): token-bucket rates; all zero = none. */
    struct msb_limits limits;
    /* "profile" (profile.h) and what it sets that no key of its own does:
     * DNS to any address goes to the configured upstreams; no published
     * ports, at create or at run time. */
    uint32_t profile; /* enum msb_profile */
    /* "proxy" (proxy_config.h), NULL when absent: allowed TCP flows dialled
     * through an upstream proxy.  Owned: msb_config_release frees it,
     * msb_instance_create takes it over. */
    struct msb_proxy_cfg *proxy;
    bool dns_force_upstreams;
    bool no_publish;
};

void msb_config_defaults(struct msb_config *c);

/* json may be NULL or empty (= defaults).  Returns 0, or -1 with a one-line
 * message in err. */
int msb_config_parse(const char *json, struct msb_config *c, char *err, size_t errlen);

/* Frees what parse allocated (policy, publish, tls, secrets); c stays
 * usable with defaults. */
void msb_config_release(struct msb_config *c);

#endif
