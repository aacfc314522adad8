/* SPDX-License-Identifier: Apache-2.0 */
/* Flow records from the data paths (flow_emit.h). */
#include "proto/flow_emit.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/pkt.h"
#include "proto/enforce.h"
#include "proto/env.h"

struct first_name {
    char *out;
    size_t len;
};

static bool take_first(const char *hostname, void *ctx)
{
    struct first_name *f = ctx;
    snprintf(f->out, f->len, "%s", hostname);
    return true;
}

void msb_flow_hostname(struct msb_env *env, const struct msb_ip *addr, char *out, size_t len)
{
    if (!len)
        return;
    out[0] = '\0';
    struct first_name f = {out, len};
    if (env->hidx && addr)
        msb_hidx_any(env->hidx, addr, msb_now_ms(), take_first, &f);
}

static uint8_t proto_of(uint8_t ipproto)
{
    switch (ipproto) {
    case MSB_IPPROTO_UDP: return MSB_FR_UDP;
    case MSB_IPPROTO_ICMP:
    case MSB_IPPROTO_ICMPV6: return MSB_FR_ICMP;
    default: return MSB_FR_TCP;
    }
}

void msb_flow_begin(struct msb_env *env, const struct msb_flow_ref *f, uint8_t proto,
                    struct msb_flowrec *r)
{
    memset(r, 0, sizeof *r);
    r->opened_unix_ms = msb_flowrec_now_unix_ms();
    r->proto = proto;
    r->ingress = f->ingress;
    r->guest = *f->guest;
    r->guest_port = f->guest_port;
    r->dst = *f->peer;
    r->dst_port = f->peer_port;
    r->rule = env->verdict.rule;
    r->action = env->verdict.action;
    if (!f->ingress)
        msb_flow_hostname(env, f->peer, r->hostname, sizeof r->hostname);
}

void msb_flow_refused(struct msb_env *env, const struct msb_flow_ref *f, uint8_t action,
                      int32_t rule)
{
    if (!env->flows)
        return;
    struct msb_flowrec r;
    msb_flow_begin(env, f, proto_of(f->proto), &r);
    r.action = action;
    r.rule = rule;
    msb_flow_finish(env, &r, MSB_FR_END_REFUSED);
}

/* The addresses as "a,b,...", each whole or not at all. */
static void dns_addrs(struct msb_flowrec *r, const struct msb_ip *addrs, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n && i < MSB_FLOW_DNS_ADDRS; i++) {
        char a[MSB_IP_STRLEN];
        if (!msb_ip_format(&addrs[i], a, sizeof a))
            continue;
        size_t k = strlen(a) + (used ? 1 : 0);
        if (used + k >= sizeof r->dns_addrs)
            break;
        snprintf(r->dns_addrs + used, sizeof r->dns_addrs - used, "%s%s", used ? "," : "", a);
        used += k;
    }
}

void msb_flow_dns(struct msb_env *env, const struct msb_flow_ref *f, uint8_t action, int32_t rule,
                  const char *name, struct msb_flow_dns_reply reply)
{
    if (!env->flows)
        return;
    struct msb_flowrec r;
    msb_flow_begin(env, f, MSB_FR_DNS, &r);
    r.action = action;
    r.rule = rule;
    snprintf(r.hostname, sizeof r.hostname, "%s", name);
    r.dns_qtype = reply.qtype;
    r.dns_rcode = reply.rcode;
    r.dns_answers = reply.answers;
    dns_addrs(&r, reply.addrs, reply.naddrs);
    msb_flow_finish(env, &r, action == MSB_FR_ALLOW ? MSB_FR_END_CLOSED : MSB_FR_END_REFUSED);
}

void msb_flow_finish(struct msb_env *env, struct msb_flowrec *r, uint8_t end)
{
    if (!env->flows)
        return;
    r->closed_unix_ms = msb_flowrec_now_unix_ms();
    if (r->closed_unix_ms < r->opened_unix_ms) /* the wall clock stepped back */
        r->closed_unix_ms = r->opened_unix_ms;
    r->end = end;
    msb_flowrec_push(env->flows, r);
}

struct msb_flowrec *msb_flow_open(struct msb_env *env, const struct msb_flow_ref *f, uint8_t proto)
{
    struct msb_flowrec *r = malloc(sizeof *r);
    if (r)
        msb_flow_begin(env, f, proto, r);
    return r;
}

void msb_flow_close(struct msb_env *env, struct msb_flowrec **r, uint8_t end)
{
    if (!*r)
        return;
    msb_flow_finish(env, *r, end);
    free(*r);
    *r = NULL;
}
