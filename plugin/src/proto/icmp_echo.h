/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest ping.  Echo requests to an active gateway address are answered
 * here; others go out through an unprivileged ping socket (one per echo,
 * connected to the destination), or a raw ICMP socket when ping sockets are
 * not allowed and we are root, else they are dropped (counted).  The
 * kernel picks the ident of a ping socket; the guest's ident is restored in
 * the reply.  An echo waits at most 5 s; at most max_icmp_echoes wait at
 * once.  Policy is asked per echo.  Other ICMP types from the guest are
 * dropped (counted).
 */
#ifndef MSB_ICMP_ECHO_H
#define MSB_ICMP_ECHO_H

#include <stddef.h>

#include "lib/pkt.h"

struct msb_env;
struct msb_icmp;
struct msb_flow_page;

struct msb_icmp *msb_icmp_create(struct msb_env *env, char *err, size_t errlen);

/* Closes every outstanding echo and frees everything.  NULL ignored. */
void msb_icmp_destroy(struct msb_icmp *ic);

/* The live flow table's part (issue 15): each outstanding echo's record,
 * in slot order, into pg (flow_emit.h); bounded by max_icmp_echoes slots.
 * Stack thread only. */
void msb_icmp_live(struct msb_icmp *ic, struct msb_flow_page *pg);

/* One guest ICMP (v4) or ICMPv6 packet that L2 did not take: parsed, from
 * the guest, checksum verified. */
void msb_icmp_input(struct msb_icmp *ic, const struct msb_pkt *p);

/* After a policy swap: closes the echoes the new policy denies (their
 * replies would reach the guest).  Returns how many. */
uint32_t msb_icmp_policy_recheck(struct msb_icmp *ic);

#endif
