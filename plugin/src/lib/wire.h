/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sizes and numbers fixed by the wire formats msbnet parses and writes
 * (Ethernet, ARP, IPv4, IPv6, TCP, UDP, ICMP/ICMPv6), defined once so every
 * bounds check in every module measures against the same figure.  Message
 * layouts private to one protocol (DHCP, RA options, ...) stay with it.
 */
#ifndef MSB_WIRE_H
#define MSB_WIRE_H

/* ---- header lengths (bytes) --------------------------------------------- */

#define MSB_ETH_HLEN 14
#define MSB_ARP_LEN 28        /* Ethernet/IPv4 ARP body */
#define MSB_IPV4_HLEN 20      /* without options */
#define MSB_IPV4_MAX_HLEN 60  /* IHL 15 */
#define MSB_IPV6_HLEN 40      /* fixed header, no extension headers */
#define MSB_IPV6_FRAG_HLEN 8  /* the fragment extension header */
#define MSB_TCP_HLEN 20       /* without options */
#define MSB_TCP_MAX_HLEN 60   /* data offset 15 */
#define MSB_UDP_HLEN 8
#define MSB_ICMP_HLEN 8       /* type, code, checksum and the 4-byte rest (ICMP and ICMPv6) */
#define MSB_IP_MAX_LEN 65535u /* an IP total length / payload length is 16 bits */

/* ---- numbers ------------------------------------------------------------- */

#define MSB_ETHERTYPE_IPV4 0x0800
#define MSB_ETHERTYPE_ARP 0x0806
#define MSB_ETHERTYPE_IPV6 0x86dd

#define MSB_IPPROTO_ICMP 1
#define MSB_IPPROTO_TCP 6
#define MSB_IPPROTO_UDP 17
#define MSB_IPPROTO_FRAGMENT 44
#define MSB_IPPROTO_ICMPV6 58

/* IPv4 flags + fragment offset field */
#define MSB_IPV4_DF 0x4000
#define MSB_IPV4_MF 0x2000
#define MSB_IPV4_OFFSET_MASK 0x1fff

/* TCP flags (byte 13) */
#define MSB_TCP_FIN 0x01
#define MSB_TCP_SYN 0x02
#define MSB_TCP_RST 0x04
#define MSB_TCP_PSH 0x08
#define MSB_TCP_ACK 0x10
#define MSB_TCP_CWR 0x80

#endif
