/*
 * The enforcement entry points every data path asks: one decision per new
 * flow (TCP SYN, each UDP datagram, ICMP echo, a guest-chosen resolver).
 * They evaluate the instance's policy (policy_engine.h), count the decision
 * by action and by rule, log it at log_level debug, and for `terminate` fire
 * the termination hook once per instance.  Stack thread only.
 */
#ifndef MSB_POLICY_H
#define MSB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/pkt.h"

struct msb_env;

/* proto is an IP protocol number (MSB_IPPROTO_*); dport is ignored for
 * ICMP.  True when the flow may proceed. */
bool msb_policy_allow(struct msb_env *env, uint8_t proto, const struct msb_ip *dst, uint16_t dport);

/* True when the policy has domain rules, so a TCP flow's TLS SNI may
 * change its decision (and is worth waiting for). */
bool msb_policy_wants_sni(struct msb_env *env);

/* The second decision for a TCP flow whose first guest bytes were a TLS
 * ClientHello naming `sni` (canonical): domain rules must match the SNI as
 * well as the index.  A deny is counted (denied, sni_mismatch, by rule). */
bool msb_policy_allow_sni(struct msb_env *env, const struct msb_ip *dst, uint16_t dport,
                          const char *sni);

/* After a policy swap: would the current policy still let this open flow
 * through?  Nothing counted, no hook (the guest started nothing new). */
bool msb_policy_still_allowed(struct msb_env *env, uint8_t proto, const struct msb_ip *dst,
                              uint16_t dport);
/* A published port's new connection or datagram: peer is the host-side
 * client, guest_port the port it is forwarded to (the rule's port). */
bool msb_policy_allow_ingress(struct msb_env *env, uint8_t proto, const struct msb_ip *peer,
                              uint16_t guest_port);

#endif
