/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server name (SNI) a TLS ClientHello claims, read from the first bytes
 * a guest sends on a TCP flow.  Guest bytes are hostile: every length is
 * checked against what is there and against its enclosing structure, and
 * the parser never reads past `len`.  A ClientHello may span several TLS
 * records; they are reassembled into a bounded buffer.
 */
#ifndef MSB_TLS_SNI_H
#define MSB_TLS_SNI_H

#include <stddef.h>
#include <stdint.h>

/* Guest bytes inspected at most; a ClientHello that does not fit is
 * MSB_SNI_MALFORMED.  (Real ones are 0.2-2 KiB.) */
#define MSB_SNI_MAX_BYTES 16384u
/* The longest name returned (DNS limit), plus NUL. */
#define MSB_SNI_NAME_MAX 253u

enum msb_sni_result {
    MSB_SNI_NEED_MORE, /* a TLS handshake record so far, ClientHello incomplete */
    MSB_SNI_NOT_TLS,   /* the first bytes are not a TLS handshake record */
    MSB_SNI_NO_SNI,    /* a complete ClientHello without a server_name */
    MSB_SNI_FOUND,     /* name written (canonical: lower case, no trailing dot) */
    MSB_SNI_MALFORMED, /* claims to be TLS but is broken, oversized, or the name is invalid */
};

/* out must hold MSB_SNI_NAME_MAX + 1 bytes; written only for FOUND. */
enum msb_sni_result msb_tls_sni(const uint8_t *buf, size_t len, char out[MSB_SNI_NAME_MAX + 1]);

const char *msb_sni_result_name(enum msb_sni_result r);

#endif
