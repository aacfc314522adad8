/* SPDX-License-Identifier: Apache-2.0 */
/* The leaf cache (tls_ca.h): one minted leaf per name or address, bounded
 * by LRU eviction so a guest cycling through names cannot grow it, and
 * re-minted before a leaf runs out so no handshake gets an expired one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/errmsg.h"
#include "lib/siphash.h"
#include "tls/tls_ca.h"

/* Longest key: a checked name, or "[" address "]" (brackets keep the two
 * key spaces apart: no DNS name contains one). */
#define KEY_MAX (MSB_TLS_NAME_MAX + 1)

struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *older, *newer; /* LRU list */
    X509 *cert;
    time_t refresh_at;
    uint64_t hash;
    char key[KEY_MAX];
};

struct msb_tls_cache {
    const struct msb_tls_ca *ca;
    struct entry **buckets;
    size_t mask, count, capacity;
    struct entry *newest, *oldest;
    long validity, margin;
    struct msb_sipkey sk; /* names are the guest's: keyed, so no bucket can be aimed at */
    struct msb_tls_cache_stats stats;
};

struct msb_tls_cache *msb_tls_cache_new(const struct msb_tls_ca *ca,
                                        const struct msb_tls_cache_opts *opts, char *err,
                                        size_t errlen)
{
    struct msb_tls_cache_opts o = opts ? *opts : (struct msb_tls_cache_opts){0};
    o.capacity = o.capacity ? o.capacity : MSB_TLS_CACHE_DEFAULT_CAPACITY;
    o.leaf_validity_secs = o.leaf_validity_secs ? o.leaf_validity_secs
                                                : MSB_TLS_LEAF_DEFAULT_VALIDITY;
    o.refresh_margin_secs = o.refresh_margin_secs ? o.refresh_margin_secs
                                                  : MSB_TLS_LEAF_DEFAULT_REFRESH;
    if (o.capacity > (1u << 20) || o.refresh_margin_secs < 0 ||
        o.leaf_validity_secs <= o.refresh_margin_secs) {
        msb_fail(err, errlen,
                 "TLS leaf cache: capacity %zu (at most 1048576), leaf validity %ld s must "
                 "exceed the refresh margin %ld s",
                 o.capacity, o.leaf_validity_secs, o.refresh_margin_secs);
        return NULL;
    }
    struct msb_tls_cache *c = calloc(1, sizeof *c);
    size_t nb = 16;
    while (nb < 2 * o.capacity)
        nb <<= 1;
    if (c)
        c->buckets = calloc(nb, sizeof *c->buckets);
    if (!c || !c->buckets) {
        free(c);
        msb_fail(err, errlen, "TLS leaf cache: out of memory");
        return NULL;
    }
    c->ca = ca;
    c->mask = nb - 1;
    c->capacity = o.capacity;
    c->validity = o.leaf_validity_secs;
    c->margin = o.refresh_margin_secs;
    msb_sipkey_random(&c->sk);
    return c;
}

static void lru_unlink(struct msb_tls_cache *c, struct entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    e->older = e->newer = NULL;
}

static void lru_push_newest(struct msb_tls_cache *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
}

static void remove_entry(struct msb_tls_cache *c, struct entry *e)
{
    struct entry **pp = &c->buckets[e->hash & c->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    X509_free(e->cert);
    free(e);
    c->count--;
}

void msb_tls_cache_free(struct msb_tls_cache *c)
{
    if (!c)
        return;
    while (c->oldest)
        remove_entry(c, c->oldest);
    free(c->buckets);
    free(c);
}

static struct entry *lookup(struct msb_tls_cache *c, const char *key, uint64_t h)
{
    for (struct entry *e = c->buckets[h & c->mask]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* The key and what to mint for: a checked name, or an address (from the
 * SNI when it is an IP literal, else the connection's). */
static int cache_key(const char *sni, const struct msb_ip *ip, char *key, struct msb_ip *addr,
                     int *is_ip, char *err, size_t errlen)
{
    *is_ip = 0;
    if (sni && msb_ip_parse(sni, addr) == 0) {
        *is_ip = 1;
    } else if (sni) {
        return msb_tls_name_check(sni, key, err, errlen);
    } else if (ip && (ip->family == MSB_FAMILY_V4 || ip->family == MSB_FAMILY_V6)) {
        *addr = *ip;
        *is_ip = 1;
    } else {
        return msb_fail(err, errlen, "TLS leaf: no server name and no address to mint for");
    }
    char text[MSB_IP_STRLEN];
    msb_ip_format(addr, text, sizeof text);
    snprintf(key, KEY_MAX, "[%s]", text);
    return 0;
}

/* A fresh entry at the newest end, evicting the oldest at capacity. */
static struct entry *insert(struct msb_tls_cache *c, const char *key, uint64_t h, X509 *cert)
{
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (c->count >= c->capacity) {
        remove_entry(c, c->oldest);
        c->stats.evictions++;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    e->hash = h;
    e->cert = cert;
    e->hnext = c->buckets[h & c->mask];
    c->buckets[h & c->mask] = e;
    lru_push_newest(c, e);
    c->count++;
    return e;
}

/* When to mint again: margin before the leaf's end, but never before now
 * (a CA near its own end gives leaves shorter than the margin; those are
 * served once and re-minted on the next get). */
static time_t refresh_time(const struct msb_tls_cache *c, time_t now)
{
    time_t end = now + c->validity;
    end = end > c->ca->not_after ? c->ca->not_after : end;
    return end - c->margin;
}

static int mint_into(struct msb_tls_cache *c, struct entry *e, const char *key, uint64_t h,
                     const struct msb_ip *addr, time_t now, char *err, size_t errlen,
                     struct entry **out)
{
    X509 *x = msb_tls_leaf_mint(c->ca, addr ? NULL : key, addr, now, c->validity, err, errlen);
    if (!x)
        return -1;
    if (e) {
        X509_free(e->cert);
        e->cert = x;
    } else if (!(e = insert(c, key, h, x))) {
        X509_free(x);
        return msb_fail(err, errlen, "TLS leaf cache: out of memory");
    }
    e->refresh_at = refresh_time(c, now);
    *out = e;
    return 0;
}

int msb_tls_leaf_get(struct msb_tls_cache *c, const char *sni, const struct msb_ip *ip, time_t now,
                     struct msb_tls_leaf *out, char *err, size_t errlen)
{
    char key[KEY_MAX];
    struct msb_ip addr;
    int is_ip;
    if (cache_key(sni, ip, key, &addr, &is_ip, err, errlen) != 0) {
        c->stats.mint_errors++;
        return -1;
    }
    uint64_t h = msb_siphash(&c->sk, key, strlen(key));
    struct entry *e = lookup(c, key, h);
    if (e && now < e->refresh_at) {
        c->stats.hits++;
        lru_unlink(c, e);
        lru_push_newest(c, e);
    } else {
        c->stats.misses++;
        c->stats.refreshes += e != NULL;
        if (e) {
            lru_unlink(c, e);
            lru_push_newest(c, e);
        }
        if (mint_into(c, e, key, h, is_ip ? &addr : NULL, now, err, errlen, &e) != 0) {
            c->stats.mint_errors++;
            return -1;
        }
    }
    out->cert = e->cert;
    out->key = c->ca->leaf_key;
    return 0;
}

size_t msb_tls_cache_size(const struct msb_tls_cache *c)
{
    return c->count;
}

const struct msb_tls_cache_stats *msb_tls_cache_stats(const struct msb_tls_cache *c)
{
    return &c->stats;
}
