/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow records (issue 15): one fixed-size record per ended or refused flow,
 * produced on the stack thread into a bounded ring and drained as JSON
 * lines by any other thread.  The producer never blocks and never
 * allocates: when the ring is full (the reader lags) the record is dropped
 * and counted.  Single producer (the stack thread); consumers serialize on
 * a mutex among themselves only, never with the producer.
 */
#ifndef MSB_FLOW_RECORDS_H
#define MSB_FLOW_RECORDS_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

/* The JSON schema's version ("v"), bumped when a field changes meaning. */
#define MSB_FLOWREC_SCHEMA 1
/* A DNS name in presentation form is at most 253 characters. */
#define MSB_FLOWREC_NAME 256
/* Capacity of the ring: a power of two.  616 bytes each, so 2.4 MiB. */
#define MSB_FLOWREC_CAP 4096
/* The longest JSON line msb_flowrec_json writes (every name fully escaped). */
#define MSB_FLOWREC_JSON_MAX (2 * 6 * MSB_FLOWREC_NAME + 1024)

enum msb_flowrec_proto { MSB_FR_TCP, MSB_FR_UDP, MSB_FR_ICMP, MSB_FR_DNS, MSB_FR__PROTOS };
/* What the policy decided (refused covers loopback and protected ports,
 * refused before any rule). */
enum msb_flowrec_action { MSB_FR_ALLOW, MSB_FR_DENY, MSB_FR_TERMINATE, MSB_FR_REFUSED,
                          MSB_FR__ACTIONS };
enum msb_flowrec_end {
    MSB_FR_END_FIN,            /* both directions closed in order */
    MSB_FR_END_RST_GUEST,      /* the guest reset it */
    MSB_FR_END_RST_HOST,       /* the host peer reset it (or its connect failed) */
    MSB_FR_END_IDLE,           /* idle timeout */
    MSB_FR_END_POLICY_REPLACE, /* a new policy denied it */
    MSB_FR_END_CAP,            /* a cap (flows, buffers) ended it */
    MSB_FR_END_REFUSED,        /* never opened: the policy refused it */
    MSB_FR_END_STOP,           /* the stack stopped */
    MSB_FR_END_CLOSED,         /* ended otherwise (aborted, handshake timeout) */
    MSB_FR_END_OPEN,           /* not ended: a live flow's (closed_unix_ms 0) */
    MSB_FR__ENDS
};

struct msb_flowrec {
    uint64_t opened_unix_ms, closed_unix_ms;
    uint8_t proto;  /* enum msb_flowrec_proto */
    uint8_t action; /* enum msb_flowrec_action */
    uint8_t end;    /* enum msb_flowrec_end */
    bool ingress;   /* a published port's peer opened it */
    int32_t rule;   /* the deciding rule's index, -1 for a default */
    struct msb_ip guest, dst;
    uint16_t guest_port, dst_port;
    /* DNS only: the question's type, the reply's rcode (-1: none went to
     * the guest) and its answer records. */
    uint16_t dns_qtype, dns_answers;
    int16_t dns_rcode;
    uint64_t bytes_out, bytes_in, pkts_out, pkts_in; /* out: guest -> host */
    char hostname[MSB_FLOWREC_NAME]; /* from the index at decision time; DNS: the query */
    union {
        char sni[MSB_FLOWREC_NAME]; /* TCP: TLS SNI when seen, "" otherwise */
        /* DNS: the reply's A/AAAA addresses as text, comma-separated, as
         * many as fit (a DNS record has no SNI: the same room) */
        char dns_addrs[MSB_FLOWREC_NAME];
    };
};

struct msb_flowrec_log {
    struct msb_flowrec *slots;
    alignas(64) atomic_size_t head; /* next to write (producer) */
    alignas(64) atomic_size_t tail; /* next to read (consumers, under mu) */
    pthread_mutex_t mu;
    /* Counters (any thread reads): records produced by action and protocol,
     * records dropped because the ring was full. */
    alignas(64) atomic_uint_fast64_t by_action_proto[MSB_FR__ACTIONS][MSB_FR__PROTOS];
    atomic_uint_fast64_t dropped;
};

static inline size_t msb_read_size(atomic_size_t *v)
{
    return atomic_load_explicit(v, memory_order_acquire);
}

/* 0, or -1 when memory is short. */
int msb_flowrec_init(struct msb_flowrec_log *l);
void msb_flowrec_destroy(struct msb_flowrec_log *l);

/* Producer (one thread): copies r in; false when full (dropped, counted). */
bool msb_flowrec_push(struct msb_flowrec_log *l, const struct msb_flowrec *r);

/* Consumer: the oldest record into *out; false when none waits. */
bool msb_flowrec_pop(struct msb_flowrec_log *l, struct msb_flowrec *out);

/* One JSON object (no newline) into buf; returns its length, or 0 when
 * buf is too small (MSB_FLOWREC_JSON_MAX always suffices). */
size_t msb_flowrec_json(const struct msb_flowrec *r, char *buf, size_t len);

const char *msb_flowrec_proto_name(unsigned p);
const char *msb_flowrec_action_name(unsigned a);
const char *msb_flowrec_end_name(unsigned e);

/* A page of the live flow table (issue 15): every module offers each open
 * flow's record in turn; of those of the protocol asked for (every one
 * when not filtered), the ones at offset .. offset+limit-1 of that
 * sequence are copied to out (end "open", closed_unix_ms 0) and total
 * counts them all, so paging and total see the filtered set only.
 * Zero-initialise n and total. */
struct msb_flow_page {
    uint32_t offset, limit;
    bool filtered;
    uint8_t proto; /* enum msb_flowrec_proto, when filtered */
    struct msb_flowrec *out; /* limit slots */
    uint32_t n, total;
};
void msb_flow_page_add(struct msb_flow_page *pg, const struct msb_flowrec *r);

/* A protocol of the live table by name: "tcp", "udp" or "icmp" (DNS
 * queries are never open flows); MSB_FR__PROTOS for NULL or "" (every
 * protocol), -1 for anything else. */
int msb_flowrec_live_proto(const char *name);

/* Milliseconds since the Unix epoch (records carry wall-clock times). */
uint64_t msb_flowrec_now_unix_ms(void);

#endif
