/* SPDX-License-Identifier: Apache-2.0 */
/* The resolved-hostname index (hostindex.h): SipHash tables by name and by
 * address over the same entries, an expiry min-heap, a reader-writer lock. */
#include "lib/hostindex.h"

#include <stdlib.h>
#include <string.h>

struct hidx_link {
    struct hidx_link *next; /* address-bucket chain */
    struct hidx_entry *entry;
    struct msb_ip addr;
};

struct hidx_entry {
    struct hidx_entry *next; /* key-bucket chain */
    size_t heap_pos;
    uint64_t expires_ms;
    uint8_t family;
    uint8_t namelen;
    uint16_t naddrs;
    struct hidx_link *links;
    char name[MSB_HIDX_NAME_MAX + 1];
};

#define INITIAL_BUCKETS 64u

/* ---- hashing ---------------------------------------------------------- */

static uint64_t key_hash(const struct msb_hidx *h, const char *name, size_t len, uint8_t fam)
{
    char buf[MSB_HIDX_NAME_MAX + 2];
    memcpy(buf, name, len);
    buf[len] = (char)fam;
    return msb_siphash(&h->key, buf, len + 1);
}

static uint64_t addr_hash(const struct msb_hidx *h, const struct msb_ip *a)
{
    return msb_siphash(&h->key, a, sizeof *a);
}

/* ---- expiry heap ------------------------------------------------------ */

static void heap_place(struct msb_hidx *h, size_t i, struct hidx_entry *e)
{
    h->heap[i] = e;
    e->heap_pos = i;
}

static void heap_up(struct msb_hidx *h, size_t i)
{
    struct hidx_entry *e = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->heap[parent]->expires_ms <= e->expires_ms)
            break;
        heap_place(h, i, h->heap[parent]);
        i = parent;
    }
    heap_place(h, i, e);
}

static void heap_down(struct msb_hidx *h, size_t i)
{
    size_t n = atomic_load_explicit(&h->count, memory_order_relaxed);
    struct hidx_entry *e = h->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->heap[c + 1]->expires_ms < h->heap[c]->expires_ms)
            c++;
        if (e->expires_ms <= h->heap[c]->expires_ms)
            break;
        heap_place(h, i, h->heap[c]);
        i = c;
    }
    heap_place(h, i, e);
}

/* Restores heap order around e after its expiry changed. */
static void heap_fix(struct msb_hidx *h, struct hidx_entry *e)
{
    heap_up(h, e->heap_pos);
    heap_down(h, e->heap_pos);
}

/* ---- tables ----------------------------------------------------------- */

static int grow_table(void ***tab, size_t *mask, size_t need,
                      void *(*next_of)(void *), void (*set_next)(void *, void *),
                      uint64_t (*hash_of)(const struct msb_hidx *, void *), const struct msb_hidx *h)
{
    size_t old = *mask + 1;
    if (need <= old)
        return 0;
    size_t n = old * 2;
    void **nt = calloc(n, sizeof *nt);
    if (!nt)
        return -1; /* keep the old table: chains just get longer */
    for (size_t i = 0; i < old; i++) {
        void *it = (*tab)[i];
        while (it) {
            void *nx = next_of(it);
            size_t b = hash_of(h, it) & (n - 1);
            set_next(it, nt[b]);
            nt[b] = it;
            it = nx;
        }
    }
    free(*tab);
    *tab = nt;
    *mask = n - 1;
    return 0;
}

static void *entry_next(void *e) { return ((struct hidx_entry *)e)->next; }
static void entry_set_next(void *e, void *n) { ((struct hidx_entry *)e)->next = n; }
static uint64_t entry_hash(const struct msb_hidx *h, void *p)
{
    struct hidx_entry *e = p;
    return key_hash(h, e->name, e->namelen, e->family);
}
static void *link_next(void *l) { return ((struct hidx_link *)l)->next; }
static void link_set_next(void *l, void *n) { ((struct hidx_link *)l)->next = n; }
static uint64_t link_hash(const struct msb_hidx *h, void *p)
{
    return addr_hash(h, &((struct hidx_link *)p)->addr);
}

static struct hidx_entry **find_slot(struct msb_hidx *h, const char *name, size_t len, uint8_t fam)
{
    struct hidx_entry **pp = &h->kb[key_hash(h, name, len, fam) & h->kmask];
    for (; *pp; pp = &(*pp)->next) {
        struct hidx_entry *e = *pp;
        if (e->family == fam && e->namelen == len && memcmp(e->name, name, len) == 0)
            break;
    }
    return pp;
}

static void link_addrs(struct msb_hidx *h, struct hidx_entry *e)
{
    for (size_t i = 0; i < e->naddrs; i++) {
        struct hidx_link *l = &e->links[i];
        struct hidx_link **b = &h->ab[addr_hash(h, &l->addr) & h->amask];
        l->next = *b;
        *b = l;
    }
    atomic_fetch_add_explicit(&h->links, e->naddrs, memory_order_relaxed);
    grow_table((void ***)&h->ab, &h->amask, atomic_load_explicit(&h->links, memory_order_relaxed),
               link_next, link_set_next, link_hash, h);
}

static void unlink_addrs(struct msb_hidx *h, struct hidx_entry *e)
{
    for (size_t i = 0; i < e->naddrs; i++) {
        struct hidx_link *l = &e->links[i];
        struct hidx_link **pp = &h->ab[addr_hash(h, &l->addr) & h->amask];
        while (*pp && *pp != l)
            pp = &(*pp)->next;
        if (*pp)
            *pp = l->next;
    }
    atomic_fetch_sub_explicit(&h->links, e->naddrs, memory_order_relaxed);
}

static void remove_entry(struct msb_hidx *h, struct hidx_entry *e)
{
    unlink_addrs(h, e);
    struct hidx_entry **pp = find_slot(h, e->name, e->namelen, e->family);
    if (*pp == e)
        *pp = e->next;
    size_t last = atomic_load_explicit(&h->count, memory_order_relaxed) - 1;
    size_t pos = e->heap_pos;
    atomic_store_explicit(&h->count, last, memory_order_relaxed);
    if (pos != last) {
        heap_place(h, pos, h->heap[last]);
        heap_fix(h, h->heap[pos]);
    }
    h->heap[last] = NULL;
    free(e->links);
    free(e);
}

static void evict_expired(struct msb_hidx *h, uint64_t now)
{
    while (atomic_load_explicit(&h->count, memory_order_relaxed) > 0 &&
           h->heap[0]->expires_ms <= now) {
        remove_entry(h, h->heap[0]);
        atomic_fetch_add_explicit(&h->expired, 1, memory_order_relaxed);
    }
}

/* ---- public ----------------------------------------------------------- */

int msb_hidx_init(struct msb_hidx *h, size_t max_entries, uint64_t max_ttl_ms)
{
    memset(h, 0, sizeof *h);
    if (max_entries == 0 || pthread_rwlock_init(&h->lock, NULL) != 0)
        return -1;
    msb_sipkey_random(&h->key);
    h->kb = calloc(INITIAL_BUCKETS, sizeof *h->kb);
    h->ab = calloc(INITIAL_BUCKETS, sizeof *h->ab);
    h->heap_cap = INITIAL_BUCKETS;
    h->heap = calloc(h->heap_cap, sizeof *h->heap);
    if (!h->kb || !h->ab || !h->heap) {
        msb_hidx_destroy(h);
        return -1;
    }
    h->kmask = h->amask = INITIAL_BUCKETS - 1;
    h->max_entries = max_entries;
    h->max_ttl_ms = max_ttl_ms;
    return 0;
}

void msb_hidx_destroy(struct msb_hidx *h)
{
    if (h->heap) {
        size_t n = atomic_load(&h->count);
        for (size_t i = 0; i < n; i++) {
            free(h->heap[i]->links);
            free(h->heap[i]);
        }
    }
    free(h->heap);
    free(h->kb);
    free(h->ab);
    h->heap = NULL;
    h->kb = NULL;
    h->ab = NULL;
    pthread_rwlock_destroy(&h->lock);
}

int msb_hidx_normalize(const char *name, size_t len, char *out)
{
    while (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > MSB_HIDX_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c > 0x7e)
            return -1;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    return (int)len;
}

/* Copies up to MSB_HIDX_MAX_ADDRS distinct addresses into out. */
static size_t dedupe(struct msb_hidx *h, const struct msb_ip *in, size_t n, struct msb_ip *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = msb_ip_equal(&out[j], &in[i]);
        if (seen)
            continue;
        if (k == MSB_HIDX_MAX_ADDRS) {
            atomic_fetch_add_explicit(&h->truncated_addrs, 1, memory_order_relaxed);
            break;
        }
        out[k++] = in[i];
    }
    return k;
}

/* Makes room for one more entry with new_links addresses. */
static void evict_for_room(struct msb_hidx *h, size_t new_links)
{
    size_t max_links = h->max_entries * MSB_HIDX_LINKS_PER_ENTRY;
    for (;;) {
        size_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
        size_t links = atomic_load_explicit(&h->links, memory_order_relaxed);
        if (count == 0 || (count < h->max_entries && links + new_links <= max_links))
            return;
        remove_entry(h, h->heap[0]);
        atomic_fetch_add_explicit(&h->evicted_cap, 1, memory_order_relaxed);
    }
}

static struct hidx_entry *new_entry(struct msb_hidx *h, const char *name, size_t len, uint8_t fam)
{
    size_t n = atomic_load_explicit(&h->count, memory_order_relaxed);
    if (n == h->heap_cap) {
        struct hidx_entry **nh = realloc(h->heap, 2 * h->heap_cap * sizeof *nh);
        if (!nh)
            return NULL;
        h->heap = nh;
        h->heap_cap *= 2;
    }
    struct hidx_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->name, name, len);
    e->namelen = (uint8_t)len;
    e->family = fam;
    e->expires_ms = UINT64_MAX; /* placed at the bottom until set */
    heap_place(h, n, e);
    atomic_store_explicit(&h->count, n + 1, memory_order_relaxed);
    struct hidx_entry **b = &h->kb[key_hash(h, name, len, fam) & h->kmask];
    e->next = *b;
    *b = e;
    grow_table((void ***)&h->kb, &h->kmask, n + 1, entry_next, entry_set_next, entry_hash, h);
    return e;
}

/* Replacing a key = removing the old entry and adding a fresh one: the
 * room check and the eviction order then treat both cases alike. */
static int store(struct msb_hidx *h, const char *name, size_t len, uint8_t fam,
                 const struct msb_ip *addrs, size_t n, uint64_t expires)
{
    struct hidx_entry *old = *find_slot(h, name, len, fam);
    if (old)
        remove_entry(h, old);
    evict_for_room(h, n);
    struct hidx_link *links = calloc(n, sizeof *links);
    struct hidx_entry *e = links ? new_entry(h, name, len, fam) : NULL;
    if (!e) {
        free(links);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        links[i].entry = e;
        links[i].addr = addrs[i];
    }
    e->links = links;
    e->naddrs = (uint16_t)n;
    e->expires_ms = expires;
    heap_fix(h, e);
    link_addrs(h, e);
    return 0;
}

int msb_hidx_insert(struct msb_hidx *h, const char *name, enum msb_family fam,
                    const struct msb_ip *addrs, size_t n, uint64_t ttl_ms, uint64_t now_ms)
{
    char norm[MSB_HIDX_NAME_MAX + 1];
    int len = name ? msb_hidx_normalize(name, strlen(name), norm) : -1;
    if (len < 0 || (fam != MSB_FAMILY_V4 && fam != MSB_FAMILY_V6) || (n && !addrs)) {
        atomic_fetch_add_explicit(&h->rejected_names, 1, memory_order_relaxed);
        return -1;
    }
    struct msb_ip uniq[MSB_HIDX_MAX_ADDRS];
    size_t k = dedupe(h, addrs, n, uniq);
    /* With a tiny entry cap, one answer could exceed the global address
     * bound on its own: cut it to the bound. */
    size_t max_links = h->max_entries * MSB_HIDX_LINKS_PER_ENTRY;
    if (k > max_links) {
        atomic_fetch_add_explicit(&h->truncated_addrs, 1, memory_order_relaxed);
        k = max_links;
    }
    if (ttl_ms > h->max_ttl_ms)
        ttl_ms = h->max_ttl_ms;
    uint64_t expires = now_ms > UINT64_MAX - ttl_ms ? UINT64_MAX : now_ms + ttl_ms;

    pthread_rwlock_wrlock(&h->lock);
    evict_expired(h, now_ms);
    int rc = 0;
    if (k == 0) {
        struct hidx_entry *e = *find_slot(h, norm, (size_t)len, (uint8_t)fam);
        if (e)
            remove_entry(h, e);
    } else {
        rc = store(h, norm, (size_t)len, (uint8_t)fam, uniq, k, expires);
    }
    pthread_rwlock_unlock(&h->lock);
    return rc;
}

void msb_hidx_remove(struct msb_hidx *h, const char *name, enum msb_family fam, uint64_t now_ms)
{
    msb_hidx_insert(h, name, fam, NULL, 0, 0, now_ms);
}

bool msb_hidx_any(struct msb_hidx *h, const struct msb_ip *addr, uint64_t now_ms,
                  bool (*pred)(const char *hostname, void *ctx), void *ctx)
{
    bool hit = false;
    pthread_rwlock_rdlock(&h->lock);
    for (struct hidx_link *l = h->ab[addr_hash(h, addr) & h->amask]; l && !hit; l = l->next) {
        if (l->entry->expires_ms > now_ms && msb_ip_equal(&l->addr, addr))
            hit = pred(l->entry->name, ctx);
    }
    pthread_rwlock_unlock(&h->lock);
    return hit;
}

bool msb_hidx_cleanup(struct msb_hidx *h, uint64_t now_ms)
{
    if (pthread_rwlock_trywrlock(&h->lock) != 0)
        return false;
    evict_expired(h, now_ms);
    pthread_rwlock_unlock(&h->lock);
    return true;
}

void msb_hidx_stats(struct msb_hidx *h, struct msb_hidx_stats *out)
{
    out->entries = atomic_load_explicit(&h->count, memory_order_relaxed);
    out->addresses = atomic_load_explicit(&h->links, memory_order_relaxed);
    out->evicted_cap = atomic_load_explicit(&h->evicted_cap, memory_order_relaxed);
    out->expired = atomic_load_explicit(&h->expired, memory_order_relaxed);
    out->rejected_names = atomic_load_explicit(&h->rejected_names, memory_order_relaxed);
    out->truncated_addrs = atomic_load_explicit(&h->truncated_addrs, memory_order_relaxed);
}

/* ---- queries ---------------------------------------------------------- */

/* A query's view of one entry, copied out under the lock: the sort and the
 * caller's visits then run without it, so a controller paging through a
 * large index never holds up the stack thread's updates for longer than
 * one copy of the matches. */
struct hidx_copy {
    const char *name;
    const struct msb_ip *addrs;
    uint64_t expires_ms;
    uint8_t family;
    uint16_t naddrs;
};

struct hidx_matches {
    struct hidx_entry **v; /* under the lock only */
    size_t n, cap;
};

static int cmp_copies(const void *a, const void *b)
{
    const struct hidx_copy *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)x->family - (int)y->family;
}

static int add_match(struct hidx_matches *m, struct hidx_entry *e)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        struct hidx_entry **nv = realloc(m->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n++] = e;
    return 0;
}

/* The live matches of a query, as entry pointers (valid under the lock). */
static int gather(struct msb_hidx *h, enum msb_hidx_select sel, const void *key, uint64_t now,
                  struct hidx_matches *m)
{
    if (sel == MSB_HIDX_ALL) {
        size_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
        for (size_t i = 0; i < count; i++)
            if (h->heap[i]->expires_ms > now && add_match(m, h->heap[i]))
                return -1;
    } else if (sel == MSB_HIDX_BY_HOSTNAME) {
        char norm[MSB_HIDX_NAME_MAX + 1];
        int len = msb_hidx_normalize(key, strlen(key), norm);
        if (len < 0)
            return -1;
        for (uint8_t fam = MSB_FAMILY_V4; fam <= MSB_FAMILY_V6; fam += 2) {
            struct hidx_entry *e = *find_slot(h, norm, (size_t)len, fam);
            if (e && e->expires_ms > now && add_match(m, e))
                return -1;
        }
    } else {
        const struct msb_ip *addr = key;
        for (struct hidx_link *l = h->ab[addr_hash(h, addr) & h->amask]; l; l = l->next)
            if (l->entry->expires_ms > now && msb_ip_equal(&l->addr, addr) &&
                add_match(m, l->entry))
                return -1;
    }
    return 0;
}

/* Copies the matches into one block: the records, then names and
 * addresses.  NULL when out of memory. */
static struct hidx_copy *copy_out(const struct hidx_matches *m)
{
    size_t bytes = m->n * sizeof(struct hidx_copy);
    for (size_t i = 0; i < m->n; i++)
        bytes += m->v[i]->naddrs * sizeof(struct msb_ip) + m->v[i]->namelen + 1u;
    struct hidx_copy *c = malloc(bytes ? bytes : 1);
    if (!c)
        return NULL;
    char *at = (char *)(c + m->n);
    for (size_t i = 0; i < m->n; i++) {
        const struct hidx_entry *e = m->v[i];
        struct msb_ip *addrs = (struct msb_ip *)(void *)at;
        for (size_t a = 0; a < e->naddrs; a++)
            addrs[a] = e->links[a].addr;
        at += e->naddrs * sizeof(struct msb_ip);
        memcpy(at, e->name, (size_t)e->namelen + 1);
        c[i] = (struct hidx_copy){at, addrs, e->expires_ms, e->family, e->naddrs};
        at += e->namelen + 1u;
    }
    return c;
}

long msb_hidx_query(struct msb_hidx *h, enum msb_hidx_select sel, const void *key,
                    uint64_t now_ms, size_t offset, size_t limit,
                    void (*visit)(const struct msb_hidx_view *v, void *ctx), void *ctx)
{
    if (sel != MSB_HIDX_ALL && !key)
        return -1;
    struct hidx_matches m = {0};
    pthread_rwlock_rdlock(&h->lock);
    struct hidx_copy *c = gather(h, sel, key, now_ms, &m) ? NULL : copy_out(&m);
    pthread_rwlock_unlock(&h->lock);
    free(m.v);
    if (!c)
        return -1;
    qsort(c, m.n, sizeof *c, cmp_copies);
    for (size_t i = offset; i < m.n && (limit == 0 || i - offset < limit); i++) {
        struct msb_hidx_view view = {
            .hostname = c[i].name,
            .family = (enum msb_family)c[i].family,
            .addrs = c[i].addrs,
            .naddrs = c[i].naddrs,
            .ttl_remaining_ms = c[i].expires_ms - now_ms,
        };
        visit(&view, ctx);
    }
    free(c);
    return (long)m.n;
}
