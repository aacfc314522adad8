/* SPDX-License-Identifier: Apache-2.0 */
/* Internet checksums (csum.h), summed 64 bits at a time in host byte order:
 * every frame msbnet checks or writes pays for one. */
#include "lib/csum.h"

#include <string.h>

/* Adds with end-around carry, so 64-bit words keep the one's-complement
 * property (2^64 = 1 mod 0xffff). */
static inline uint64_t add64(uint64_t acc, uint64_t w)
{
    acc += w;
    return acc + (acc < w);
}

static inline uint32_t fold16(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint32_t)acc;
}

static inline uint16_t to_network_value(uint32_t native16)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint16_t)(native16 << 8 | native16 >> 8);
#else
    return (uint16_t)native16;
#endif
}

/* Sums in host byte order and swaps once at the end (RFC 1071 §2(B)):
 * loads are plain memcpy of 8 bytes, no per-word shifting. */
uint32_t msb_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *b = data;
    uint64_t acc = 0;
    for (; len >= 8; b += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        acc = add64(acc, w);
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, b, 4);
        acc = add64(acc, w);
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, b, 2);
        acc = add64(acc, w);
        b += 2;
        len -= 2;
    }
    if (len) {
        const uint8_t tail[2] = {b[0], 0};
        uint16_t w;
        memcpy(&w, tail, 2);
        acc = add64(acc, w);
    }
    uint64_t total = (uint64_t)sum + to_network_value(fold16(acc));
    /* Keep the caller's 32-bit running sum without losing a carry. */
    return (uint32_t)((total & 0xffffffffu) + (total >> 32));
}

uint16_t msb_csum_finish(uint32_t sum)
{
    return (uint16_t)~fold16(sum);
}

uint32_t msb_csum_pseudo(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                         size_t len)
{
    size_t alen = src->family == MSB_FAMILY_V6 ? 16 : 4;
    uint32_t sum = msb_csum_add(0, src->b, alen);
    sum = msb_csum_add(sum, dst->b, alen);
    /* v4: 0, proto, len16; v6: len32, 0, 0, 0, next header: as 16-bit
     * words both come to proto + the length's halves. */
    uint64_t total = (uint64_t)sum + proto + (len & 0xffff) + ((len >> 16) & 0xffff);
    return fold16(total);
}

uint16_t msb_csum_l4(const struct msb_ip *src, const struct msb_ip *dst, uint8_t proto,
                     const uint8_t *l4, size_t len)
{
    uint32_t sum = msb_csum_pseudo(src, dst, proto, len);
    uint16_t ck = msb_csum_finish(msb_csum_add(sum, l4, len));
    /* In UDP a stored 0 means "no checksum": the same value goes out as
     * its other one's-complement form (RFC 768, RFC 8200 §8.1). */
    if (ck == 0 && proto == 17)
        ck = 0xffff;
    return ck;
}

void msb_csum_replace(uint8_t *ck, uint8_t *field, const uint8_t *newval, size_t n)
{
    uint64_t sum = (uint16_t)~(ck[0] << 8 | ck[1]);
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint16_t oldw = field ? (uint16_t)(field[i] << 8 | field[i + 1]) : 0;
        uint16_t neww = (uint16_t)(newval[i] << 8 | newval[i + 1]);
        sum += (uint16_t)~oldw;
        sum += neww;
    }
    uint16_t hc = (uint16_t)~fold16(sum);
    ck[0] = (uint8_t)(hc >> 8);
    ck[1] = (uint8_t)hc;
    if (field)
        memmove(field, newval, n);
}
