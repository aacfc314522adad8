/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnet's options for lwIP, compiled from Debian's lwip source package
 * (plugin/lwip/README.md says why each value).  lwIP here is only a TCP
 * engine: one L3 netif, the raw API, one thread, no timers of its own.
 */
#ifndef MSB_LWIPOPTS_H
#define MSB_LWIPOPTS_H

/* One thread (the stack thread), no OS layer, no locks; tcp_tmr() is
 * driven by msbnet's own timer while pcbs exist. */
#define NO_SYS 1
#define LWIP_TIMERS 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0

/* Memory from the C library: every pool is bounded by msbnet's own caps
 * (flows, tcp_buffer_max_bytes), not by fixed lwIP pools. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8

/* Only what msbnet hands lwIP: TCP over IPv4 and IPv6 on an L3 netif.
 * Link layer, ICMP, UDP, DNS, fragments and autoconfiguration are msbnet's. */
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_ICMP 0
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DNS 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_IPV6_FRAG 0
#define LWIP_IPV6_REASS 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_ND6_QUEUEING 0
#define LWIP_SINGLE_NETIF 1
#define LWIP_NETIF_TX_SINGLE_PBUF 1 /* output() copies one pbuf into a frame */
#define PBUF_LINK_HLEN 0
#define LWIP_STATS 0

/* Checksums: the edge verifies every guest segment before lwIP sees it. */
#define CHECKSUM_CHECK_IP 0
#define CHECKSUM_CHECK_TCP 0
#define LWIP_CHECKSUM_ON_COPY 1

/* TCP sized for MTU 65520 and a link with a round trip of tens of µs.
 * The MSS announced is min(TCP_MSS, netif MTU - headers): 1460 at MTU
 * 1500, 65000 at 65520 (an IP packet of MSS + 12 bytes of timestamps +
 * headers must fit a pbuf's 16-bit length).  Windows both ways are 2 MiB
 * (scale 6); tcp_buffer_max_bytes bounds what all flows hold together. */
#define LWIP_TCP 1
#define TCP_MSS 65000
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 6
#define TCP_WND (2u << 20)
#define TCP_SND_BUF (2u << 20)
#define TCP_SND_QUEUELEN 0x7fff
#define TCP_SNDLOWAT (TCP_SND_BUF / 2)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
/* The checks assume TCP_MSS < 16384 (a u16 TCP_SNDLOWAT); msbnet never
 * reads TCP_SNDLOWAT, and tcp_sndbuf()'s u16 is handled by its callers. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
/* Out-of-order segments held per flow: the guest's link never reorders.
 * Per flow this allows a whole window; proto/tcp/tcp_held.c keeps all
 * flows' queues together inside tcp_buffer_max_bytes. */
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 64
#define TCP_OOSEQ_MAX_BYTES TCP_WND
/* Timestamps (RFC 7323) and selective acknowledgements towards the guest,
 * as a Linux peer answers: the guest may then reuse ports in TIME_WAIT. */
#define LWIP_TCP_TIMESTAMPS 1
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define LWIP_TCP_KEEPALIVE 0
#define TCP_LISTEN_BACKLOG 0
#define TCP_TTL 64

#endif
