/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolved-hostname index: which hostname each address was resolved from.
 *
 * Key = (normalised hostname, family) -> a set of addresses with one expiry;
 * a reverse map answers "which live names resolved to this address".  An
 * insert replaces the key's whole set; an empty set removes the key.  An
 * entry is live only while expiry > now.  Expiry is kept in a min-heap of
 * the entries themselves, so replacing a key moves its one heap slot and an
 * old expiry can never remove a newer replacement.
 *
 * Bounded: at most max_entries keys and 4 * max_entries addresses in all
 * (the soonest-expiring entries are evicted first, counted), TTLs capped at
 * max_ttl_ms, at most MSB_HIDX_MAX_ADDRS addresses per key.
 *
 * Thread-safe: readers share a read lock; cleanup only runs when it can take
 * the write lock without waiting.
 */
#ifndef MSB_HOSTINDEX_H
#define MSB_HOSTINDEX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/siphash.h"

#define MSB_HIDX_NAME_MAX 253
#define MSB_HIDX_MAX_ADDRS 64
#define MSB_HIDX_LINKS_PER_ENTRY 4

struct hidx_entry;
struct hidx_link;

struct msb_hidx {
    pthread_rwlock_t lock;
    struct msb_sipkey key;
    struct hidx_entry **kb; /* buckets by (name, family) */
    size_t kmask;
    struct hidx_link **ab; /* buckets by address */
    size_t amask;
    struct hidx_entry **heap; /* by expiry; heap[i]->heap_pos == i */
    size_t heap_cap;
    size_t max_entries;
    uint64_t max_ttl_ms;
    atomic_size_t count;
    atomic_size_t links;
    atomic_uint_fast64_t evicted_cap;
    atomic_uint_fast64_t expired;
    atomic_uint_fast64_t rejected_names;
    atomic_uint_fast64_t truncated_addrs;
};

struct msb_hidx_stats {
    uint64_t entries, addresses, evicted_cap, expired, rejected_names, truncated_addrs;
};

/* A live entry as seen by a query visitor (valid only during the call). */
struct msb_hidx_view {
    const char *hostname;
    enum msb_family family;
    const struct msb_ip *addrs;
    size_t naddrs;
    uint64_t ttl_remaining_ms;
};

enum msb_hidx_select { MSB_HIDX_ALL, MSB_HIDX_BY_ADDRESS, MSB_HIDX_BY_HOSTNAME };

int msb_hidx_init(struct msb_hidx *h, size_t max_entries, uint64_t max_ttl_ms);
void msb_hidx_destroy(struct msb_hidx *h);

/* Writes the normalised form of name[0..len) (trailing dots stripped, ASCII
 * lower-cased) into out (MSB_HIDX_NAME_MAX + 1 bytes).  Returns its length,
 * or -1 when empty, longer than 253 bytes, or holding bytes outside
 * visible ASCII (0x21..0x7e: no spaces, controls or non-ASCII; a domain
 * rule can never match such a name, and JSON output stays plain). */
int msb_hidx_normalize(const char *name, size_t len, char *out);

/* Replaces (name, fam)'s addresses.  n == 0 removes the key.  Returns 0, or
 * -1 when the name is rejected (counted) or memory runs out. */
int msb_hidx_insert(struct msb_hidx *h, const char *name, enum msb_family fam,
                    const struct msb_ip *addrs, size_t n, uint64_t ttl_ms, uint64_t now_ms);

/* Removes (name, fam) if present. */
void msb_hidx_remove(struct msb_hidx *h, const char *name, enum msb_family fam, uint64_t now_ms);

/* True when some live name that resolved to addr satisfies pred. */
bool msb_hidx_any(struct msb_hidx *h, const struct msb_ip *addr, uint64_t now_ms,
                  bool (*pred)(const char *hostname, void *ctx), void *ctx);

/* Drops expired entries; skips (returns false) when the index is busy. */
bool msb_hidx_cleanup(struct msb_hidx *h, uint64_t now_ms);

/*
 * Visits live matches sorted by (hostname, family), skipping `offset` and
 * visiting at most `limit` (0 = all).  For BY_ADDRESS key is an address
 * (struct msb_ip *), for BY_HOSTNAME a C string.  Returns the total number
 * of matches, or -1 on a bad key or allocation failure.
 */
long msb_hidx_query(struct msb_hidx *h, enum msb_hidx_select sel, const void *key,
                    uint64_t now_ms, size_t offset, size_t limit,
                    void (*visit)(const struct msb_hidx_view *v, void *ctx), void *ctx);

void msb_hidx_stats(struct msb_hidx *h, struct msb_hidx_stats *out);

#endif
