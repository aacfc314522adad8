/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way the parsers (config, policy JSON, published-port specs)
 * report why they refused an input: a printf-style message into the
 * caller's buffer (which may be NULL or empty), and -1 to return.
 */
#ifndef MSB_ERRMSG_H
#define MSB_ERRMSG_H

#include <stddef.h>

__attribute__((format(printf, 3, 4))) int msb_fail(char *err, size_t errlen, const char *fmt,
                                                   ...);

#endif
