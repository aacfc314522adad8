/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648, padded), for credentials msbnet sends. */
#ifndef MSB_BASE64_H
#define MSB_BASE64_H

#include <stddef.h>

/* Encodes n bytes of in into out (4 * ((n + 2) / 3) + 1 bytes, NUL
 * included); returns the length written, or 0 when out is too small. */
size_t msb_base64_encode(const void *in, size_t n, char *out, size_t cap);

#endif
