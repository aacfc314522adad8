/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network policy model: ordered rules, first match wins,
 * else the direction's default.  A policy is immutable once built, so the
 * stack thread reads it without locks; replacing one means building a new
 * one.  Every part is bounded: a hostile policy file or RPC can cost at
 * most MSB_POL_MAX_RULES rules of fixed size.
 */
#ifndef MSB_POLICY_MODEL_H
#define MSB_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/hostindex.h"

#define MSB_POL_MAX_RULES 4096
#define MSB_POL_MAX_PORT_RANGES 64
#define MSB_POL_NAME_MAX MSB_HIDX_NAME_MAX /* a name longer than the index keeps never matches */

enum msb_pol_dir { MSB_POL_EGRESS, MSB_POL_INGRESS, MSB_POL_ANY_DIR };
enum msb_pol_action { MSB_POL_ALLOW, MSB_POL_DENY, MSB_POL_TERMINATE };

/* Destination groups.  RESERVED is a classification result only (not a rule
 * group): unspecified, broadcast and 240/4 addresses, never public. */
enum msb_pol_group {
    MSB_GRP_PUBLIC,
    MSB_GRP_PRIVATE,
    MSB_GRP_LOOPBACK,
    MSB_GRP_LINK_LOCAL,
    MSB_GRP_METADATA,
    MSB_GRP_MULTICAST,
    MSB_GRP_HOST,
    MSB_GRP__RULE_COUNT,
    MSB_GRP_RESERVED = MSB_GRP__RULE_COUNT,
};

enum msb_pol_dest { MSB_DEST_ANY, MSB_DEST_GROUP, MSB_DEST_CIDR, MSB_DEST_DOMAIN, MSB_DEST_SUFFIX };

/* Protocol set as bits; 0 = any protocol. */
enum {
    MSB_PROTO_TCP = 1u << 0,
    MSB_PROTO_UDP = 1u << 1,
    MSB_PROTO_ICMPV4 = 1u << 2,
    MSB_PROTO_ICMPV6 = 1u << 3,
    MSB_PROTO_ICMP = MSB_PROTO_ICMPV4 | MSB_PROTO_ICMPV6,
};

struct msb_port_range {
    uint16_t lo, hi; /* inclusive */
};

struct msb_pol_rule {
    uint8_t dir;    /* enum msb_pol_dir */
    uint8_t action; /* enum msb_pol_action */
    uint8_t dest;   /* enum msb_pol_dest */
    uint8_t group;  /* MSB_DEST_GROUP */
    uint8_t protos; /* MSB_PROTO_* bits, 0 = any */
    uint8_t prefix; /* MSB_DEST_CIDR; addr keeps host bits as given */
    uint16_t nports;
    struct msb_ip addr;
    char name[MSB_POL_NAME_MAX + 1]; /* DOMAIN / SUFFIX, canonical */
    struct msb_port_range ports[MSB_POL_MAX_PORT_RANGES];
};

struct msb_policy {
    uint8_t default_egress, default_ingress; /* enum msb_pol_action */
    size_t nrules, cap;
    struct msb_pol_rule *rules;
};

enum msb_pol_preset { MSB_PRESET_NONE, MSB_PRESET_ALLOW_ALL, MSB_PRESET_PUBLIC_ONLY, MSB_PRESET_NON_LOCAL };

/* NULL on allocation failure.  Defaults deny/deny, no rules (the JSON
 * defaults of the original). */
struct msb_policy *msb_policy_new(void);
struct msb_policy *msb_policy_preset(enum msb_pol_preset p);
void msb_policy_free(struct msb_policy *p);

/* Appends a copy of r.  -1 at MSB_POL_MAX_RULES or on allocation failure. */
int msb_policy_add(struct msb_policy *p, const struct msb_pol_rule *r);

/* A rule with empty protocol and port sets. */
void msb_pol_rule_init(struct msb_pol_rule *r, enum msb_pol_dir dir, enum msb_pol_action a,
                       enum msb_pol_dest dest);

/* Names used on the JSON wire (snake_case); lookups return -1 when unknown. */
const char *msb_pol_dir_name(unsigned d);
const char *msb_pol_action_name(unsigned a);
const char *msb_pol_group_name(unsigned g); /* includes "reserved" */
const char *msb_pol_proto_name(unsigned bit);
int msb_pol_dir_lookup(const char *s);
int msb_pol_action_lookup(const char *s);
int msb_pol_group_lookup(const char *s); /* rule groups only */
int msb_pol_proto_lookup(const char *s); /* returns the bit */

/* Domain names: all leading/trailing dots stripped, ASCII
 * lower-cased, labels 1..63 of [a-z0-9-_*], total <= 253.  Non-ASCII is
 * refused (the original stored it un-punycoded so it could never match).
 * Returns 0, or -1 with a reason ("domain name is empty", "invalid domain
 * name: ...") in why. */
int msb_pol_domain_parse(const char *s, size_t len, char out[MSB_POL_NAME_MAX + 1], char *why,
                         size_t whylen);

/* "addr" or "addr/prefix" for either family.  Host bits may be set. */
int msb_pol_cidr_parse(const char *s, size_t len, struct msb_ip *addr, uint8_t *prefix);
bool msb_pol_cidr_contains(const struct msb_ip *net, uint8_t prefix, const struct msb_ip *ip);

/* hostname == suffix, or hostname ends with "." suffix (label-aligned). */
bool msb_pol_suffix_match(const char *hostname, const char *suffix);

/* One-line description "egress deny cidr 10.0.0.0/8 tcp 80-443" for
 * messages; returns buf. */
char *msb_pol_rule_describe(const struct msb_pol_rule *r, char *buf, size_t len);

#endif
