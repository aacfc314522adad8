/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648): encoding for credentials msbnet sends, and
 * decoding for credentials a guest sends (Basic auth through the TLS
 * filters), which may leave the padding out. */
#ifndef MSB_BASE64_H
#define MSB_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* The 64 characters of the standard alphabet, in value order. */
extern const char msb_base64_alphabet[65];

/* Encodes n bytes of in into out (4 * ((n + 2) / 3) + 1 bytes, NUL
 * included); returns the length written, or 0 when out is too small. */
size_t msb_base64_encode(const void *in, size_t n, char *out, size_t cap);

/* Decodes n characters of standard base64 into out; trailing '=' are
 * ignored, so padding is optional.  Returns the bytes written (at most
 * n * 3 / 4), or -1 for any character outside the alphabet, a length no
 * encoding has (n % 4 == 1 once the padding is gone) or out too small.
 * Bits past the last whole byte are ignored, as most decoders do. */
long msb_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
