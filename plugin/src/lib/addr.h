/* SPDX-License-Identifier: Apache-2.0 */
/* IP addresses of either family, as the plugin stores and compares them. */
#ifndef MSB_ADDR_H
#define MSB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum msb_family { MSB_FAMILY_NONE = 0, MSB_FAMILY_V4 = 4, MSB_FAMILY_V6 = 6 };

/* v4 addresses use bytes 0..3 and keep 4..15 zero, so memcmp of the whole
 * struct is a valid equality test. */
struct msb_ip {
    uint8_t family;
    uint8_t b[16];
};

/* Longest text form, "ffff:...:255.255.255.255" plus NUL. */
#define MSB_IP_STRLEN 46

/* Parses a v4 or v6 literal (no brackets, no zone).  Returns 0 or -1. */
int msb_ip_parse(const char *s, struct msb_ip *out);

/* Writes the canonical text form; returns buf. */
char *msb_ip_format(const struct msb_ip *ip, char *buf, size_t len);

bool msb_ip_equal(const struct msb_ip *a, const struct msb_ip *b);

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104.  A guest never puts its own
 * loopback on the wire; one that does is aiming at the host's, which it
 * may reach only through the gateway address. */
bool msb_ip_is_loopback(const struct msb_ip *ip);

void msb_ip_from_v4(struct msb_ip *out, const uint8_t b[4]);
void msb_ip_from_v6(struct msb_ip *out, const uint8_t b[16]);

struct sockaddr_storage;
/* The address and port of an AF_INET or AF_INET6 socket address (what
 * accept() and recvfrom() report for a published port's peer). */
void msb_ip_from_sockaddr(const struct sockaddr_storage *ss, struct msb_ip *ip, uint16_t *port);

/* The reverse: ss zeroed and filled; returns the sockaddr's length. */
unsigned msb_ip_to_sockaddr(const struct msb_ip *ip, uint16_t port, struct sockaddr_storage *ss);

#endif
