/* SPDX-License-Identifier: Apache-2.0 */
/* The flow-record ring, its JSON encoding and the live table's page
 * (flow_records.h). */
#include "lib/flow_records.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const proto_names[MSB_FR__PROTOS] = {"tcp", "udp", "icmp", "dns"};
static const char *const action_names[MSB_FR__ACTIONS] = {"allow", "deny", "terminate",
                                                           "refused"};
static const char *const end_names[MSB_FR__ENDS] = {
    "fin", "rst_guest", "rst_host", "idle", "policy_replace", "cap", "refused", "stop", "closed",
    "open"};

const char *msb_flowrec_proto_name(unsigned p)
{
    return p < MSB_FR__PROTOS ? proto_names[p] : "?";
}

const char *msb_flowrec_action_name(unsigned a)
{
    return a < MSB_FR__ACTIONS ? action_names[a] : "?";
}

const char *msb_flowrec_end_name(unsigned e)
{
    return e < MSB_FR__ENDS ? end_names[e] : "?";
}

uint64_t msb_flowrec_now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int msb_flowrec_init(struct msb_flowrec_log *l)
{
    memset(l, 0, sizeof *l);
    l->slots = calloc(MSB_FLOWREC_CAP, sizeof *l->slots);
    if (!l->slots)
        return -1;
    pthread_mutex_init(&l->mu, NULL);
    return 0;
}

void msb_flowrec_destroy(struct msb_flowrec_log *l)
{
    if (!l->slots)
        return;
    free(l->slots);
    l->slots = NULL;
    pthread_mutex_destroy(&l->mu);
}

bool msb_flowrec_push(struct msb_flowrec_log *l, const struct msb_flowrec *r)
{
    size_t head = atomic_load_explicit(&l->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&l->tail, memory_order_acquire);
    unsigned a = r->action < MSB_FR__ACTIONS ? r->action : MSB_FR_DENY;
    unsigned p = r->proto < MSB_FR__PROTOS ? r->proto : MSB_FR_TCP;
    atomic_fetch_add_explicit(&l->by_action_proto[a][p], 1, memory_order_relaxed);
    if (head - tail >= MSB_FLOWREC_CAP) {
        atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
        return false;
    }
    l->slots[head & (MSB_FLOWREC_CAP - 1)] = *r;
    atomic_store_explicit(&l->head, head + 1, memory_order_release);
    return true;
}

bool msb_flowrec_pop(struct msb_flowrec_log *l, struct msb_flowrec *out)
{
    pthread_mutex_lock(&l->mu);
    size_t tail = atomic_load_explicit(&l->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&l->head, memory_order_acquire);
    bool got = head != tail;
    if (got) {
        *out = l->slots[tail & (MSB_FLOWREC_CAP - 1)];
        /* Release: the producer may overwrite the slot only after the copy. */
        atomic_store_explicit(&l->tail, tail + 1, memory_order_release);
    }
    pthread_mutex_unlock(&l->mu);
    return got;
}

/* ---- JSON ------------------------------------------------------------------ */

struct out {
    char *p;
    size_t len, used;
    bool full;
};

static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->used)
        o->full = true;
    else
        o->used += (size_t)n;
}

/* A name from the guest (an SNI, a query name) may hold anything: every
 * byte outside printable ASCII, and quote and backslash, is escaped, and
 * the field ends at the first NUL or the buffer's end. */
static void put_name(struct out *o, const char *key, const char *s, size_t cap)
{
    put(o, ",\"%s\":\"", key);
    for (size_t i = 0; i < cap && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            put(o, "\\u%04x", c);
        else
            put(o, "%c", c);
    }
    put(o, "\"");
}

/* A DNS record's addresses ("a,b,..." as msb_flow_dns wrote them) as a
 * JSON array; only address characters pass, whatever the buffer holds. */
static void put_addrs(struct out *o, const char *s, size_t cap)
{
    put(o, ",\"addrs\":[");
    bool open = false;
    unsigned n = 0;
    for (size_t i = 0; i < cap && s[i]; i++) {
        char c = s[i];
        if (c == ',' && open) {
            put(o, "\"");
            open = false;
        } else if (c != ',' && strchr("0123456789abcdefABCDEF.:", c)) {
            put(o, open ? "%c" : n++ ? ",\"%c" : "\"%c", c);
            open = true;
        }
    }
    put(o, open ? "\"]" : "]");
}

static void put_endpoint(struct out *o, const char *key, const struct msb_ip *ip,
                         uint16_t port)
{
    char a[MSB_IP_STRLEN] = "";
    if (ip->family)
        msb_ip_format(ip, a, sizeof a);
    put(o, ",\"%s\":\"%s\",\"%s_port\":%u", key, a, key, port);
}

size_t msb_flowrec_json(const struct msb_flowrec *r, char *buf, size_t len)
{
    struct out o = {buf, len, 0, len == 0};
    put(&o, "{\"v\":%d,\"opened_unix_ms\":%llu,\"closed_unix_ms\":%llu,\"proto\":\"%s\","
            "\"direction\":\"%s\"",
        MSB_FLOWREC_SCHEMA, (unsigned long long)r->opened_unix_ms,
        (unsigned long long)r->closed_unix_ms, msb_flowrec_proto_name(r->proto),
        r->ingress ? "ingress" : "egress");
    put_endpoint(&o, "guest", &r->guest, r->guest_port);
    put_endpoint(&o, "dst", &r->dst, r->dst_port);
    put_name(&o, "hostname", r->hostname, sizeof r->hostname);
    put_name(&o, "sni", r->proto == MSB_FR_DNS ? "" : r->sni, sizeof r->sni);
    put(&o, ",\"action\":\"%s\",\"rule\":%ld,\"end\":\"%s\"", msb_flowrec_action_name(r->action),
        (long)r->rule, msb_flowrec_end_name(r->end));
    put(&o, ",\"bytes_out\":%llu,\"bytes_in\":%llu,\"packets_out\":%llu,\"packets_in\":%llu",
        (unsigned long long)r->bytes_out, (unsigned long long)r->bytes_in,
        (unsigned long long)r->pkts_out, (unsigned long long)r->pkts_in);
    if (r->proto == MSB_FR_DNS) {
        put(&o, ",\"qtype\":%u,\"rcode\":%d,\"answers\":%u", r->dns_qtype, r->dns_rcode,
            r->dns_answers);
        put_addrs(&o, r->dns_addrs, sizeof r->dns_addrs);
    }
    put(&o, "}");
    return o.full ? 0 : o.used;
}

void msb_flow_page_add(struct msb_flow_page *pg, const struct msb_flowrec *r)
{
    if (pg->filtered && r->proto != pg->proto)
        return;
    if (pg->total++ < pg->offset || pg->n >= pg->limit)
        return;
    struct msb_flowrec *o = &pg->out[pg->n++];
    *o = *r;
    o->closed_unix_ms = 0;
    o->end = MSB_FR_END_OPEN;
}

int msb_flowrec_live_proto(const char *name)
{
    if (!name || !*name)
        return MSB_FR__PROTOS;
    for (int p = MSB_FR_TCP; p <= MSB_FR_ICMP; p++)
        if (strcmp(name, proto_names[p]) == 0)
            return p;
    return -1;
}
