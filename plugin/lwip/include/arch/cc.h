/* SPDX-License-Identifier: Apache-2.0 */
/* lwIP's platform definitions for msbnet's build (Linux, glibc, C11). */
#ifndef MSB_LWIP_ARCH_CC_H
#define MSB_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#define LWIP_ERRNO_INCLUDE <errno.h>
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_TIMEVAL_PRIVATE 0
/* glibc's htons and friends, not lwIP's own. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS
#include <arpa/inet.h>

/* Ephemeral ports and initial sequence numbers from the kernel's CSPRNG. */
#define LWIP_RAND() ((u32_t)arc4random())

/* lwIP's assertions are programming errors: say where, and stop. */
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
    do {                                                                                           \
        fprintf(stderr, "msbnet: lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
        abort();                                                                                   \
    } while (0)

#endif
