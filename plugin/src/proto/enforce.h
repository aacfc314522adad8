/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcement entry points every data path asks: one decision per new
 * flow (TCP SYN, each UDP datagram, ICMP echo, a guest-chosen resolver, a
 * DNS query name, a published port's peer).  Before any rule, a destination
 * that is the host's loopback or unspecified is refused (never dialled,
 * whatever the policy says), and one the kernel delivers locally is judged
 * as the host group (policy_groups.c).  Decisions are counted by action and
 * by rule, logged at log_level debug, and `terminate` fires the termination
 * hook once per instance with a reason naming the rule and the flow
 * (msbnet.h: MSBNET_REASON_*).  Stack thread only.
 */
#ifndef MSB_ENFORCE_H
#define MSB_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/pkt.h"

struct msb_env;

/* A flow as the policy sees it.  Egress: the guest opened it towards
 * peer:peer_port.  Ingress: peer (a published port's host-side client) sent
 * it to the guest's guest_port. */
struct msb_flow_ref {
    uint8_t proto; /* MSB_IPPROTO_*; ports are ignored for ICMP */
    bool ingress;
    const struct msb_ip *guest;
    uint16_t guest_port;
    const struct msb_ip *peer;
    uint16_t peer_port;
};

/* A new flow: true when it may proceed. */
bool msb_policy_allow(struct msb_env *env, const struct msb_flow_ref *f);

/* True when the policy has domain rules, so a TCP flow's TLS SNI may
 * change its decision (and is worth waiting for). */
bool msb_policy_wants_sni(struct msb_env *env);

/* The second decision for a TCP flow whose first guest bytes were a TLS
 * ClientHello naming `sni` (canonical).  Allow rules naming a domain must
 * match the SNI and the index; deny and terminate rules match the SNI
 * alone.  A refusal is counted (denied, sni_mismatch, by rule). */
bool msb_policy_allow_sni(struct msb_env *env, const struct msb_flow_ref *f, const char *sni);

/* A DNS query for name (presentation form, question type qtype) from the
 * guest's f: domain and suffix rules decide (policy_dns.c), *rule is the
 * deciding rule (-1: the default); a refusal is counted and recorded (a
 * DNS flow record, rcode REFUSED), terminate fires the hook naming the
 * rule, the flow and the name.  An allowed query's record is the caller's
 * to make once it has replied (msb_flow_dns). */
bool msb_policy_allow_name(struct msb_env *env, const struct msb_flow_ref *f, const char *name,
                           uint16_t qtype, int32_t *rule);

/* After a policy swap: would the current policy still let this open flow
 * through (in its own direction)?  Nothing counted, no hook. */
bool msb_policy_still_allowed(struct msb_env *env, const struct msb_flow_ref *f);

#endif
