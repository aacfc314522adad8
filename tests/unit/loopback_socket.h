/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side peers for the stack tests: a socket bound to the loopback
 * address of one family on a kernel-chosen port. */
#ifndef MSBNET_TEST_LOOPBACK_SOCKET_H
#define MSBNET_TEST_LOOPBACK_SOCKET_H

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* type: SOCK_STREAM or SOCK_DGRAM; ver: 4 or 6.  *port gets the port. */
static inline int loopback_socket(int ver, int type, uint16_t *port)
{
    int fd = socket(ver == 4 ? AF_INET : AF_INET6, type | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (ver == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    }
    CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&ss, sl), 0);
    CU_ASSERT_EQUAL(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    *port = ntohs(ver == 4 ? ((struct sockaddr_in *)&ss)->sin_port
                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

#endif
