/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one flow table behind every module that tracks flows or sessions
 * (TCP NAT, UDP relay, ICMP echoes, published UDP sessions).
 *
 * Slots are numbered 0..cap-1; the caller keeps its per-slot state in an
 * array of its own, indexed by slot, so the table knows nothing of what a
 * flow is.  A slot is found by key through up to MSB_FLOWTAB_INDEXES
 * independent indexes over the same slots (published UDP sessions are found
 * by peer and by guest tuple).  A key is the caller's packed tuple of a
 * fixed size per index, compared bytewise (zero any padding) and hashed with
 * SipHash under a random key per table, so a guest choosing its ports
 * cannot aim at one bucket; buckets are a power of two, at least twice the
 * slots, so every call is O(1) expected.
 *
 * Free slots wait in a FIFO: a released slot is reused as late as possible,
 * so what is left of its old flow (TCP's lwIP twin tuple, a late reply, a
 * stale timer) has the longest time to die out.  A table made with `lru`
 * also keeps its slots in order of last activity (touch / oldest), for
 * modules that recycle the least recently active flow or sweep idle ones.
 *
 * Calls with a slot that is not in use, an index without keys, or a slot
 * out of range do nothing (lookups answer MSB_FLOWTAB_NONE).  One thread.
 */
#ifndef MSB_FLOWTAB_H
#define MSB_FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSB_FLOWTAB_NONE UINT32_MAX
#define MSB_FLOWTAB_INDEXES 2
#define MSB_FLOWTAB_KEY_MAX 64
#define MSB_FLOWTAB_CAP_MAX (1u << 24)

struct msb_flowtab;

struct msb_flowtab_spec {
    uint32_t cap;                          /* slots: 1..MSB_FLOWTAB_CAP_MAX */
    size_t key_len[MSB_FLOWTAB_INDEXES];   /* per index: 0 (no keys) or 1..KEY_MAX bytes */
    bool lru;                              /* keep the activity order */
};

/* NULL when the spec is out of range or memory is short. */
struct msb_flowtab *msb_flowtab_new(const struct msb_flowtab_spec *spec);
void msb_flowtab_free(struct msb_flowtab *t); /* NULL ignored */

uint32_t msb_flowtab_cap(const struct msb_flowtab *t);
uint32_t msb_flowtab_used(const struct msb_flowtab *t);
bool msb_flowtab_in_use(const struct msb_flowtab *t, uint32_t slot);

/* ---- slots ---------------------------------------------------------------- */

/* The slot free the longest, now in use (the newest, with lru) and under
 * no key; MSB_FLOWTAB_NONE when every slot is in use. */
uint32_t msb_flowtab_alloc(struct msb_flowtab *t);

/* alloc, then insert key into index 0. */
uint32_t msb_flowtab_add(struct msb_flowtab *t, const void *key);

/* Takes slot out of every index and the activity order and queues it
 * last for reuse. */
void msb_flowtab_release(struct msb_flowtab *t, uint32_t slot);

/* ---- keys ----------------------------------------------------------------- */

/* Files slot under key (key_len[ix] bytes) in index ix, replacing the key
 * it had there.  Equal keys may coexist if the caller lets them: find
 * answers the one filed last. */
void msb_flowtab_insert(struct msb_flowtab *t, unsigned ix, uint32_t slot, const void *key);

/* Takes slot out of index ix. */
void msb_flowtab_remove(struct msb_flowtab *t, unsigned ix, uint32_t slot);

uint32_t msb_flowtab_find(const struct msb_flowtab *t, unsigned ix, const void *key);

/* The key slot is filed under in index ix, or NULL. */
const void *msb_flowtab_key(const struct msb_flowtab *t, unsigned ix, uint32_t slot);

/* The bucket key hashes to in index ix (tests aim collisions with it). */
uint32_t msb_flowtab_bucket(const struct msb_flowtab *t, unsigned ix, const void *key);

/* ---- activity order (lru tables; others: no-op / NONE) --------------------- */

/* slot was active: it becomes the newest. */
void msb_flowtab_touch(struct msb_flowtab *t, uint32_t slot);

/* The least recently active slot in use, and the one active next after slot. */
uint32_t msb_flowtab_oldest(const struct msb_flowtab *t);
uint32_t msb_flowtab_newer(const struct msb_flowtab *t, uint32_t slot);

/* The usual key: a flow's two ends (family, guest address, far address,
 * guest port, far port), packed with no padding. */
#define MSB_FLOWTAB_TUPLE_LEN (1 + 16 + 16 + 2 + 2)
struct msb_ip;
void msb_flowtab_tuple_key(uint8_t k[MSB_FLOWTAB_TUPLE_LEN], const struct msb_ip *g, uint16_t gp,
                           const struct msb_ip *d, uint16_t dp);

#endif
