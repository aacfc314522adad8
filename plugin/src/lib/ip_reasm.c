/* SPDX-License-Identifier: Apache-2.0 */
/* Reassembly of the guest's IPv4 and IPv6 fragments (ip_reasm.h) in bounded
 * memory: an inconsistent fragment poisons its datagram, the caps evict the
 * oldest. */
#include "lib/ip_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "lib/csum.h"
#include "lib/pkt.h"

#define MAX_PIECES 256 /* 64 KiB in 256-byte fragments: more is an attack */
#define HDR_MAX (MSB_ETH_HLEN + MSB_IPV4_MAX_HLEN)

/* One fragment's data. */
struct piece {
    struct piece *next; /* sorted by offset */
    uint32_t off, len;
    uint8_t data[];
};

/* One datagram in progress, keyed by family, addresses, id (and protocol
 * for IPv4, RFC 791). */
struct dgram {
    struct dgram *prev, *next; /* oldest first */
    uint8_t family, proto;
    uint32_t id;
    uint8_t src[16], dst[16];
    uint64_t expires_ms;
    uint32_t end;    /* data length, known once the last fragment came */
    bool end_known;
    bool poisoned;   /* overlap seen: drop the rest until the timeout */
    uint32_t have;   /* data bytes held */
    uint32_t npieces;
    struct piece *pieces;
    /* Ethernet + IP header of the offset-0 fragment (IPv6: without the
     * fragment header), and IPv6's upper-layer protocol from it. */
    uint8_t hdr[HDR_MAX];
    size_t hdr_len;
    uint8_t next_header;
};

struct msb_reasm {
    struct msb_reasm_limits lim;
    struct msb_metrics *m;
    struct dgram *head, *tail;
    uint32_t count;
    uint32_t bytes;
};

/* What one fragment says about itself. */
struct frag {
    struct dgram key; /* family, proto, id, src, dst */
    const uint8_t *hdr;    /* the Ethernet frame start */
    size_t hdr_len;        /* Ethernet + IP header to keep (offset 0 only) */
    const uint8_t *data;
    uint32_t off, len;
    bool more;
    uint8_t next_header;   /* IPv6 */
    uint32_t ip_hlen;      /* IPv4 header length: counts toward 65535 */
};

/* ---- bookkeeping -------------------------------------------------------- */

static void gauges(struct msb_reasm *r)
{
    atomic_store_explicit(&r->m->reasm.pending, r->count, memory_order_relaxed);
    atomic_store_explicit(&r->m->reasm.bytes, r->bytes, memory_order_relaxed);
}

static void free_pieces(struct msb_reasm *r, struct dgram *d)
{
    for (struct piece *p = d->pieces, *n; p; p = n) {
        n = p->next;
        r->bytes -= p->len;
        free(p);
    }
    d->pieces = NULL;
    d->have = 0;
    d->npieces = 0;
}

static void unlink_dgram(struct msb_reasm *r, struct dgram *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        r->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        r->tail = d->prev;
}

static void remove_dgram(struct msb_reasm *r, struct dgram *d)
{
    free_pieces(r, d);
    unlink_dgram(r, d);
    r->count--;
    free(d);
}

/* Drops the datagram's data but remembers it, so its later fragments are
 * dropped too instead of starting a fresh (and forged) datagram. */
static void poison(struct msb_reasm *r, struct dgram *d, enum msb_drop_reason why)
{
    msb_drop(r->m, why);
    free_pieces(r, d);
    d->poisoned = true;
}

struct msb_reasm *msb_reasm_create(const struct msb_reasm_limits *lim, struct msb_metrics *m)
{
    struct msb_reasm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->lim = *lim;
    r->m = m;
    return r;
}

void msb_reasm_destroy(struct msb_reasm *r)
{
    if (!r)
        return;
    while (r->head)
        remove_dgram(r, r->head);
    gauges(r);
    free(r);
}

void msb_reasm_expire(struct msb_reasm *r, uint64_t now_ms)
{
    for (struct dgram *d = r->head, *n; d; d = n) {
        n = d->next;
        if (now_ms < d->expires_ms)
            continue;
        if (!d->poisoned)
            msb_drop(r->m, MSB_DROP_REASM_TIMEOUT);
        remove_dgram(r, d);
    }
    gauges(r);
}

/* ---- parsing ------------------------------------------------------------ */

bool msb_reasm_is_fragment(const uint8_t *frame, size_t len, enum msb_drop_reason why)
{
    if (why == MSB_DROP_IP_FRAGMENT)
        return true;
    return why == MSB_DROP_IPV6_EXT_HEADER && len >= MSB_ETH_HLEN + MSB_IPV6_HLEN &&
           msb_get16(frame + 12) == MSB_ETHERTYPE_IPV6 &&
           frame[MSB_ETH_HLEN + 6] == MSB_IPPROTO_FRAGMENT;
}

static bool parse_v4(const uint8_t *ip, size_t avail, struct frag *f)
{
    if (avail < MSB_IPV4_HLEN || ip[0] >> 4 != 4 || (ip[0] & 0x0f) < 5)
        return false;
    size_t hlen = (size_t)(ip[0] & 0x0f) * 4, total = msb_get16(ip + 2);
    uint16_t frag = msb_get16(ip + 6);
    if (hlen > avail || total < hlen || total > avail || !(frag & 0x3fff))
        return false;
    f->key.family = 4;
    f->key.proto = ip[9];
    f->key.id = msb_get16(ip + 4);
    memcpy(f->key.src, ip + 12, 4);
    memcpy(f->key.dst, ip + 16, 4);
    f->hdr_len = MSB_ETH_HLEN + hlen;
    f->ip_hlen = (uint32_t)hlen;
    f->data = ip + hlen;
    f->len = (uint32_t)(total - hlen);
    f->off = (uint32_t)(frag & MSB_IPV4_OFFSET_MASK) * 8;
    f->more = frag & MSB_IPV4_MF;
    return true;
}

static bool parse_v6(const uint8_t *ip, size_t avail, struct frag *f)
{
    if (avail < MSB_IPV6_HLEN + MSB_IPV6_FRAG_HLEN || ip[0] >> 4 != 6 ||
        ip[6] != MSB_IPPROTO_FRAGMENT)
        return false;
    size_t total = MSB_IPV6_HLEN + (size_t)msb_get16(ip + 4);
    if (total > avail || total < MSB_IPV6_HLEN + MSB_IPV6_FRAG_HLEN)
        return false;
    const uint8_t *fh = ip + MSB_IPV6_HLEN;
    f->key.family = 6;
    f->key.id = msb_get32(fh + 4);
    memcpy(f->key.src, ip + 8, 16);
    memcpy(f->key.dst, ip + 24, 16);
    f->next_header = fh[0];
    f->hdr_len = MSB_ETH_HLEN + MSB_IPV6_HLEN;
    f->data = fh + MSB_IPV6_FRAG_HLEN;
    f->len = (uint32_t)(total - MSB_IPV6_HLEN - MSB_IPV6_FRAG_HLEN);
    f->off = msb_get16(fh + 2) & 0xfff8u;
    f->more = fh[3] & 1;
    return true;
}

/* Fragments that can never be part of a good datagram: empty, a non-last
 * one not a multiple of 8 bytes, a nested IPv6 fragment header. */
static bool parse_frag(const uint8_t *frame, size_t len, struct frag *f)
{
    memset(f, 0, sizeof *f);
    f->hdr = frame;
    if (len < MSB_ETH_HLEN)
        return false;
    uint16_t type = msb_get16(frame + 12);
    const uint8_t *ip = frame + MSB_ETH_HLEN;
    bool ok = type == MSB_ETHERTYPE_IPV4 ? parse_v4(ip, len - MSB_ETH_HLEN, f)
              : type == MSB_ETHERTYPE_IPV6 ? parse_v6(ip, len - MSB_ETH_HLEN, f)
                                           : false;
    return ok && f->len > 0 && (!f->more || f->len % 8 == 0) &&
           !(f->key.family == 6 && f->off == 0 && f->next_header == MSB_IPPROTO_FRAGMENT);
}

/* ---- assembly ----------------------------------------------------------- */

static bool same_key(const struct dgram *a, const struct dgram *b)
{
    return a->family == b->family && a->proto == b->proto && a->id == b->id &&
           memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0;
}

static struct dgram *find(struct msb_reasm *r, const struct dgram *key)
{
    for (struct dgram *d = r->head; d; d = d->next)
        if (same_key(d, key))
            return d;
    return NULL;
}

static struct dgram *create(struct msb_reasm *r, const struct frag *f, uint64_t now_ms)
{
    /* At the cap the oldest datagram in progress gives way: a stale
     * half-datagram must not block new ones until it times out. */
    while (r->count >= r->lim.max_datagrams && r->head) {
        if (!r->head->poisoned)
            msb_drop(r->m, MSB_DROP_REASM_CAP);
        remove_dgram(r, r->head);
    }
    struct dgram *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->family = f->key.family;
    d->proto = f->key.proto;
    d->id = f->key.id;
    memcpy(d->src, f->key.src, 16);
    memcpy(d->dst, f->key.dst, 16);
    d->expires_ms = now_ms + r->lim.timeout_ms;
    d->prev = r->tail;
    if (r->tail)
        r->tail->next = d;
    else
        r->head = d;
    r->tail = d;
    r->count++;
    return d;
}

/* Where f goes among d's pieces: sets *at to the link to insert at.
 * Returns MSB_DROP__COUNT when it fits, else why it does not. */
static enum msb_drop_reason place(struct dgram *d, const struct frag *f, struct piece ***at)
{
    uint32_t f_end = f->off + f->len;
    struct piece **link = &d->pieces;
    for (struct piece *p = d->pieces; p; link = &p->next, p = p->next) {
        if (p->off == f->off && p->len == f->len && memcmp(p->data, f->data, f->len) == 0)
            return MSB_DROP_REASM_DUPLICATE;
        if (f_end > p->off && f->off < p->off + p->len)
            return MSB_DROP_REASM_OVERLAP;
        if (p->off > f->off)
            break;
    }
    *at = link;
    return MSB_DROP__COUNT;
}

/* The last fragment fixes the length; everything must agree with it. */
static bool end_consistent(struct dgram *d, const struct frag *f)
{
    uint32_t f_end = f->off + f->len;
    if (d->end_known && (f_end > d->end || (!f->more && f_end != d->end)))
        return false;
    if (!f->more && !d->end_known) {
        for (struct piece *p = d->pieces; p; p = p->next)
            if (p->off + p->len > f_end)
                return false;
        d->end = f_end;
        d->end_known = true;
    }
    return true;
}

/* Makes room under the byte cap by dropping the oldest other datagrams;
 * false when even that is not enough. */
static bool room_for(struct msb_reasm *r, struct dgram *keep, uint32_t len)
{
    while (r->bytes + (uint64_t)len > r->lim.max_bytes) {
        struct dgram *victim = r->head == keep ? keep->next : r->head;
        if (!victim)
            return false;
        if (!victim->poisoned)
            msb_drop(r->m, MSB_DROP_REASM_CAP);
        remove_dgram(r, victim);
    }
    return true;
}

static bool add_piece(struct msb_reasm *r, struct dgram *d, const struct frag *f,
                      struct piece **at)
{
    struct piece *p = malloc(sizeof *p + f->len);
    if (!p)
        return false;
    p->off = f->off;
    p->len = f->len;
    memcpy(p->data, f->data, f->len);
    p->next = *at;
    *at = p;
    d->have += f->len;
    d->npieces++;
    r->bytes += f->len;
    if (f->off == 0) {
        memcpy(d->hdr, f->hdr, f->hdr_len);
        d->hdr_len = f->hdr_len;
        d->next_header = f->next_header;
    }
    return true;
}

/* The whole datagram as one frame: the first fragment's headers with the
 * fragment fields cleared, then the data in order. */
static struct msb_frame *assemble(const struct dgram *d)
{
    struct msb_frame *out = msb_frame_alloc(d->hdr_len + d->end);
    if (!out)
        return NULL;
    memcpy(out->data, d->hdr, d->hdr_len);
    uint8_t *ip = out->data + MSB_ETH_HLEN;
    if (d->family == 4) {
        msb_put16(ip + 2, (uint16_t)(d->hdr_len - MSB_ETH_HLEN + d->end));
        msb_put16(ip + 6, 0);
        msb_put16(ip + 10, 0);
        msb_put16(ip + 10, msb_csum_finish(msb_csum_add(0, ip, d->hdr_len - MSB_ETH_HLEN)));
    } else {
        msb_put16(ip + 4, (uint16_t)d->end);
        ip[6] = d->next_header;
    }
    for (const struct piece *p = d->pieces; p; p = p->next)
        memcpy(out->data + d->hdr_len + p->off, p->data, p->len);
    return out;
}

/* Adds f to its datagram; the finished frame when it completes it. */
static struct msb_frame *take_fragment(struct msb_reasm *r, struct dgram *d, const struct frag *f)
{
    struct piece **at = NULL;
    if (d->npieces >= MAX_PIECES) {
        poison(r, d, MSB_DROP_REASM_CAP);
        return NULL;
    }
    if (!end_consistent(d, f)) {
        poison(r, d, MSB_DROP_REASM_MALFORMED);
        return NULL;
    }
    enum msb_drop_reason why = place(d, f, &at);
    if (why == MSB_DROP_REASM_DUPLICATE) {
        msb_drop(r->m, why);
        return NULL;
    }
    if (why != MSB_DROP__COUNT) {
        poison(r, d, why);
        return NULL;
    }
    if (!room_for(r, d, f->len) || !add_piece(r, d, f, at)) {
        msb_drop(r->m, MSB_DROP_REASM_CAP);
        remove_dgram(r, d);
        return NULL;
    }
    msb_count(&r->m->reasm.fragments, 1);
    if (!d->end_known || d->have != d->end || d->hdr_len == 0)
        return NULL;
    /* Pieces never overlap and all lie below end: have == end means no
     * hole is left.  The first fragment's header may be longer than the
     * one the size was checked against. */
    uint64_t limit = MSB_IP_MAX_LEN + (d->family == 6 ? MSB_IPV6_HLEN : 0u);
    if (d->hdr_len - MSB_ETH_HLEN + (uint64_t)d->end > limit) {
        poison(r, d, MSB_DROP_REASM_TOO_BIG);
        return NULL;
    }
    struct msb_frame *out = assemble(d);
    if (out)
        msb_count(&r->m->reasm.reassembled, 1);
    else
        msb_drop(r->m, MSB_DROP_RX_NO_MEMORY);
    remove_dgram(r, d);
    return out;
}

/* RFC 6946: a fragment header with offset 0 and no more fragments is a
 * whole packet; it is passed on without the header and never mixed with
 * fragments of the same id. */
static struct msb_frame *atomic_fragment(struct msb_reasm *r, const struct frag *f)
{
    struct dgram d = {.family = 6, .end = f->len, .next_header = f->next_header};
    memcpy(d.hdr, f->hdr, f->hdr_len);
    d.hdr_len = f->hdr_len;
    struct msb_frame *out = msb_frame_alloc(d.hdr_len + d.end);
    if (!out) {
        msb_drop(r->m, MSB_DROP_RX_NO_MEMORY);
        return NULL;
    }
    memcpy(out->data, d.hdr, d.hdr_len);
    msb_put16(out->data + MSB_ETH_HLEN + 4, (uint16_t)f->len);
    out->data[MSB_ETH_HLEN + 6] = f->next_header;
    memcpy(out->data + d.hdr_len, f->data, f->len);
    msb_count(&r->m->reasm.reassembled, 1);
    return out;
}

static bool too_big(const struct frag *f)
{
    return (uint64_t)f->off + f->len + f->ip_hlen > MSB_IP_MAX_LEN;
}

struct msb_frame *msb_reasm_input(struct msb_reasm *r, const uint8_t *frame, size_t len,
                                  uint64_t now_ms)
{
    struct frag f;
    if (!parse_frag(frame, len, &f)) {
        msb_drop(r->m, MSB_DROP_REASM_MALFORMED);
        return NULL;
    }
    if (f.key.family == 6 && f.off == 0 && !f.more)
        return atomic_fragment(r, &f);
    msb_reasm_expire(r, now_ms);
    struct dgram *d = find(r, &f.key);
    struct msb_frame *out = NULL;
    if (d && d->poisoned) {
        msb_drop(r->m, MSB_DROP_REASM_OVERLAP);
    } else if (too_big(&f)) {
        if (d)
            poison(r, d, MSB_DROP_REASM_TOO_BIG);
        else
            msb_drop(r->m, MSB_DROP_REASM_TOO_BIG);
    } else if (!d && !(d = create(r, &f, now_ms))) {
        msb_drop(r->m, MSB_DROP_REASM_CAP);
    } else {
        out = take_fragment(r, d, &f);
    }
    gauges(r);
    return out;
}
