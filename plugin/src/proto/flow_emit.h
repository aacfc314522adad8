/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Producing flow records (lib/flow_records.h) from the data paths: the
 * hostname a destination was resolved from, a record for a refused flow
 * (every protocol, from enforce.c), for a DNS query, and the push of a
 * finished one.  Nothing happens when env->flows is NULL.  Stack thread.
 */
#ifndef MSB_FLOW_EMIT_H
#define MSB_FLOW_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/flow_records.h"

struct msb_env;
struct msb_flow_ref;

/* A live name the index maps addr to (the first found), or "". */
void msb_flow_hostname(struct msb_env *env, const struct msb_ip *addr, char *out, size_t len);

/* Fills the parts of a record every flow has: protocol, direction,
 * endpoints (the guest's side and the other), hostname, the verdict. */
void msb_flow_begin(struct msb_env *env, const struct msb_flow_ref *f, uint8_t proto,
                    struct msb_flowrec *r);

/* A flow the policy refused (action deny, terminate or refused). */
void msb_flow_refused(struct msb_env *env, const struct msb_flow_ref *f, uint8_t action,
                      int32_t rule);

/* A DNS query for name (f: the guest's flow to the resolver it asked): a
 * refused one (end "refused") or one msbnet answered or forwarded (end
 * "closed"), with its question type, the rcode of the reply the guest got
 * (-1: none) and that reply's answer records. */
struct msb_flow_dns_reply {
    uint16_t qtype;
    int16_t rcode;
    uint16_t answers;
    const struct msb_ip *addrs; /* its A/AAAA addresses (as many as fit the record) */
    size_t naddrs;
};
/* The most addresses a DNS record can carry: 16 IPv4 or 6 IPv6 fit its text. */
#define MSB_FLOW_DNS_ADDRS 16
void msb_flow_dns(struct msb_env *env, const struct msb_flow_ref *f, uint8_t action, int32_t rule,
                  const char *name, struct msb_flow_dns_reply reply);

/* Stamps closed_unix_ms and pushes r (a full ring drops and counts it). */
void msb_flow_finish(struct msb_env *env, struct msb_flowrec *r, uint8_t end);

/* The same for a record on the heap, which lives only as long as its flow
 * (a record in every slot of a table reused FIFO would let a flood touch
 * them all): open allocates and begins it (NULL when out of memory: that
 * flow has no record), close finishes, frees and clears it (NULL ignored). */
struct msb_flowrec *msb_flow_open(struct msb_env *env, const struct msb_flow_ref *f, uint8_t proto);
void msb_flow_close(struct msb_env *env, struct msb_flowrec **r, uint8_t end);

#endif
