/* SPDX-License-Identifier: Apache-2.0 */
/* SipHash-2-4: a keyed hash, so names and addresses chosen by a hostile
 * guest or DNS server cannot be aimed at one hash bucket. */
#ifndef MSB_SIPHASH_H
#define MSB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct msb_sipkey {
    uint64_t k0, k1;
};

uint64_t msb_siphash(const struct msb_sipkey *key, const void *data, size_t len);

/* Fills key from the kernel's random source (falls back to time and
 * addresses only if getrandom fails, which keeps the table usable). */
void msb_sipkey_random(struct msb_sipkey *key);

#endif
