/* SPDX-License-Identifier: Apache-2.0 */
/* msb_fail (errmsg.h): the parsers' one way to refuse an input with a
 * message. */
#include "lib/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int msb_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
