/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A generation of secrets: the scanner's set (values inside) and the
 * settings each secret came with (hosts, inject, on_violation), as one
 * reference-counted object.  The engine's context holds the current
 * generation and every connection holds the one that was current when it
 * was made, so secrets replaced at run time (the ABI's set_secrets) reach
 * new connections while open ones finish with theirs; the last reference
 * wipes the values.
 *
 * Replacing: an entry given without a placeholder keeps the placeholder of
 * the secret of the same env in the previous generation (the guest was
 * handed it at start and cannot be told another); a secret whose env is
 * gone stays as a tombstone -- its placeholder, no value the guest could
 * reach, no host -- so the placeholder the guest still holds is a
 * violation wherever it is sent.  Tombstones carry on through later
 * replacements while room under MSB_SECRETS_MAX is left.
 *
 * Threads: made and completed on any thread, then handed over; the count
 * is atomic so the last unref may come from either side.
 */
#ifndef MSB_TLS_SECRET_GEN_H
#define MSB_TLS_SECRET_GEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/tls_config.h"
#include "tls/secret_scan.h"

struct msb_secret_gen {
    atomic_uint refs;
    struct msb_secret_set set;
    /* The settings, same order as set; values already wiped and freed
     * (they live in set only).  An entry with no host is a tombstone. */
    struct msb_secrets_cfg *cfg;
};

/* A generation from CFG (taken over, also on failure; NULL: no secrets),
 * one reference held by the caller.  NULL with a message naming the entry
 * by index and env, never its value. */
struct msb_secret_gen *msb_secret_gen_new(struct msb_secrets_cfg *cfg, char *err, size_t errlen);
struct msb_secret_gen *msb_secret_gen_ref(struct msb_secret_gen *g);
/* Drops a reference; the last one wipes the values and frees. NULL: nothing. */
void msb_secret_gen_unref(struct msb_secret_gen *g);

/* NEXT completed against OLD (see above) before msb_secret_gen_new: kept
 * placeholders filled in, tombstones appended.  OLD NULL: nothing. */
void msb_secret_gen_carry(const struct msb_secret_gen *old, struct msb_secrets_cfg *next);

/* True when secret I is a tombstone. */
bool msb_secret_gen_removed(const struct msb_secret_gen *g, size_t i);

/* The index in G of the secret that entry I of OTHER is too, or -1: the
 * same env, both tombstones or neither.  So a kept secret's counters follow
 * it into a new generation, while a removed one's end with it (its
 * tombstone counts afresh) and a name given again starts afresh too.  G or
 * OTHER NULL: -1. */
int msb_secret_gen_match(const struct msb_secret_gen *g, const struct msb_secret_gen *other,
                         size_t i);

#endif
