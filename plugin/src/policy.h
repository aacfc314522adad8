/*
 * The enforcement entry point every data path asks: one decision per new
 * flow (TCP SYN today; UDP, ICMP and DNS call it from their branches).  It
 * evaluates the instance's policy (policy_engine.h), counts the decision by
 * action, and for `terminate` fires the termination hook once per instance.
 */
#ifndef MSB_POLICY_H
#define MSB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "pkt.h"

struct msbnet;

/* proto is an IP protocol number (MSB_IPPROTO_*); dport is ignored for
 * ICMP.  True when the flow may proceed. */
bool msb_policy_allow(struct msbnet *net, uint8_t proto, const struct msb_ip *dst, uint16_t dport);

/* A published port's new connection or datagram: peer is the host-side
 * client, guest_port the port it is forwarded to (the rule's port). */
bool msb_policy_allow_ingress(struct msbnet *net, uint8_t proto, const struct msb_ip *peer,
                              uint16_t guest_port);

#endif
