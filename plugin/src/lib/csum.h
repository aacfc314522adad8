/* SPDX-License-Identifier: Apache-2.0 */
/* Internet checksums: full computation and RFC 1624 incremental updates. */
#ifndef MSB_CSUM_H
#define MSB_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

/* One's-complement sum of data added to sum (not folded, not inverted). An
 * odd length is padded with a zero byte, so only the last chunk of a
 * multi-chunk sum may be odd. */
uint32_t msb_csum_add(uint32_t sum, const void *data, size_t len);

/* Folds and inverts: the value to store in a checksum field. */
uint16_t msb_csum_finish(uint32_t sum);

/* Sum of the IPv4/IPv6 pseudo-header for an L4 segment of len bytes. */
uint32_t msb_csum_pseudo(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                         size_t len);

/* Checksum to store for an L4 segment whose checksum field is zero (for
 * UDP a computed 0 comes back as 0xffff: 0 would mean "none"). */
uint16_t msb_csum_l4(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                     const uint8_t *l4, size_t len);

/* RFC 1624 eqn. 3: the checksum stored at ck[0..1] (network order) is
 * updated for n bytes (n even) changing from old to new.  The old bytes
 * are read from field, which then receives the new bytes; field == NULL
 * means old bytes of zero and nothing is written (adding a contribution).
 * Leaves a UDP checksum of 0 ("none") to the caller. */
void msb_csum_replace(uint8_t *ck, uint8_t *field, const uint8_t *newval, size_t n);

#endif
