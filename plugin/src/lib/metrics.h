/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counters at the guest boundary and drops by reason.  Relaxed atomics:
 * each counter is independent and only ever read as a snapshot.
 */
#ifndef MSB_METRICS_H
#define MSB_METRICS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

/* Every place that discards something names one of these.  The second
 * column is the stable name used in JSON and Prometheus output. */
#define MSB_DROP_REASONS(X)                                                                        \
    X(TX_BAD_LENGTH, "tx_bad_length")     /* write_frame outside [14, MAX_FRAME] */               \
    X(TX_NO_MEMORY, "tx_no_memory")       /* could not copy a guest frame */                      \
    X(RX_RING_FULL, "rx_ring_full")       /* a frame for the guest found no room */               \
    X(RX_NO_MEMORY, "rx_no_memory")       /* could not allocate a frame for the guest */          \
    X(ETH_SHORT, "eth_short")             /* shorter than its headers say */                      \
    X(ETH_TYPE, "eth_type")               /* ethertype we do not speak (VLAN, LLDP, ...) */       \
    X(ETH_SPOOFED_MAC, "eth_spoofed_mac") /* source MAC is not the guest's */                     \
    X(ARP_MALFORMED, "arp_malformed")                                                              \
    X(ARP_IGNORED, "arp_ignored")         /* not a request for the gateway */                     \
    X(IP_MALFORMED, "ip_malformed")       /* version, header or total length wrong */             \
    X(IP_BAD_CHECKSUM, "ip_bad_checksum")                                                          \
    X(IP_FRAGMENT, "ip_fragment")         /* fragment not reassembled (reassembly off) */ \
    X(IP_SPOOFED_SRC, "ip_spoofed_src")   /* source address is not the guest's */                 \
    X(IP_BAD_DST, "ip_bad_dst")           /* 255.255.255.255 or multicast destination */          \
    X(IPV6_EXT_HEADER, "ipv6_ext_header") /* extension headers we do not walk */                  \
    X(L4_MALFORMED, "l4_malformed")       /* TCP/UDP/ICMP header short or inconsistent */         \
    X(L4_BAD_CHECKSUM, "l4_bad_checksum")                                                          \
    X(L4_UNSUPPORTED, "l4_unsupported")   /* protocol not relayed (yet) */                        \
    X(NDP_MALFORMED, "ndp_malformed")                                                              \
    X(NDP_IGNORED, "ndp_ignored")         /* not for the gateway, or a type we do not answer */   \
    X(TCP_NO_FLOW, "tcp_no_flow")         /* segment for no flow: answered with RST */            \
    X(TCP_FLOW_CAP, "tcp_flow_cap")       /* SYN beyond the flow cap: answered with RST */        \
    X(TCP_NAT_MISS, "tcp_nat_miss")       /* lwIP output for a flow that is gone */               \
    X(TCP_NO_MEMORY, "tcp_no_memory")     /* allocation failed on the TCP path */                 \
    X(UDP_BLOCKED_PORT, "udp_blocked_port") /* DoQ/mDNS/LLMNR/NetBIOS (853/5353/5355/137) */      \
    X(UDP_DENIED, "udp_denied")           /* policy or loopback: admin-prohibited sent */         \
    X(UDP_NO_SOCKET, "udp_no_socket")     /* host socket could not be opened */                   \
    X(UDP_SEND_ERROR, "udp_send_error")   /* host socket: send failed, or an ICMP error */        \
    X(UDP_REPLY_TOO_BIG, "udp_reply_too_big") /* IPv6 reply over the guest MTU */                \
    X(ICMP_UNSUPPORTED, "icmp_unsupported") /* ICMP other than echo request */                    \
    X(ICMP_DENIED, "icmp_denied")         /* echo refused by policy or to loopback */             \
    X(ICMP_ECHO_CAP, "icmp_echo_cap")     /* echo beyond max_icmp_echoes outstanding */           \
    X(ICMP_NO_SOCKET, "icmp_no_socket")   /* no ping/raw socket, or the echo could not be sent */ \
    X(ICMP_REPLY_TOO_BIG, "icmp_reply_too_big") /* host echo reply over the guest MTU */     \
    X(DNS_NO_HEADER, "dns_no_header")     /* guest UDP/53 shorter than a DNS header */           \
    X(DNS_BAD_ANSWER, "dns_bad_answer")   /* upstream datagram that answers no query of ours */ \
    X(DNS_NO_SOCKET, "dns_no_socket")     /* upstream socket could not be opened */            \
    X(DHCP_MALFORMED, "dhcp_malformed")   /* DHCP request that does not parse strictly */       \
    X(DHCP_OTHER_CLIENT, "dhcp_other_client") /* DHCP from a MAC other than the bound guest's */ \
    X(DHCP_IGNORED, "dhcp_ignored")       /* DHCP off/inactive, another server chosen, type */   \
    X(RA_RATE_LIMITED, "ra_rate_limited") /* router solicitation within 1 s of the last answer */ \
    X(REASM_MALFORMED, "reasm_malformed") /* fragment: bad length/offset, inconsistent end */    \
    X(REASM_OVERLAP, "reasm_overlap")     /* overlapping fragments: the datagram is dropped */   \
    X(REASM_DUPLICATE, "reasm_duplicate") /* exact duplicate fragment, ignored */                \
    X(REASM_TOO_BIG, "reasm_too_big")     /* reassembled datagram would exceed 65535 bytes */    \
    X(REASM_TIMEOUT, "reasm_timeout")     /* datagram incomplete at its timeout (per datagram) */ \
    X(REASM_CAP, "reasm_cap")             /* datagram evicted for the count/byte caps */           \
    X(VNET_HDR_SHORT, "vnet_hdr_short")   /* vnet_hdr on: write shorter than the 12-byte header */ \
    X(VNET_BAD_CSUM_OFFSETS, "vnet_bad_csum_offsets") /* NEEDS_CSUM field outside the frame */    \
    X(VNET_GSO_SIZE_ZERO, "vnet_gso_size_zero") /* a GSO type with gso_size 0 */                 \
    X(VNET_GSO_MALFORMED, "vnet_gso_malformed") /* GSO headers contradict the type or frame */  \
    X(VNET_GSO_UNSUPPORTED, "vnet_gso_unsupported") /* UFO (IP fragments) or an unknown type */ \
    X(RX_FD_ERROR, "rx_fd_error")         /* set_frame_fds: write to the rx fd failed */          \
    X(TX_FD_ERROR, "tx_fd_error")         /* set_frame_fds: read from the tx fd failed */

enum msb_drop_reason {
#define MSB_DROP_ENUM(id, name) MSB_DROP_##id,
    MSB_DROP_REASONS(MSB_DROP_ENUM)
#undef MSB_DROP_ENUM
    MSB_DROP__COUNT
};

/* TCP flows.  Gauges (current values): flows (slots in use), connecting
 * (host connect in progress), established (relaying), closing (half-closed
 * or draining), buffered_bytes (guest bytes waiting for slow host peers,
 * all flows), unacked_bytes (host bytes given to lwIP and not yet
 * acknowledged by the guest, all flows).  Counters: the rest; bad_transition counts flow state
 * changes outside the legal table (proto/tcp/tcp_state.c), a bug if ever
 * non-zero; ooseq_dropped: out-of-order guest segments beyond the per-flow
 * queue cap; small_segments_merged: guest segments copied together while
 * a host peer is slow; recv_deferred: guest data left with lwIP while
 * tcp_buffer_max_bytes was reached; send_deferred: host reads put off
 * while unacked_bytes was at that limit; lwip_held_bytes (gauge): guest
 * bytes lwIP holds out of order or refused, all flows, inside the same
 * limit (proto/tcp/tcp_held.c); budget_dropped: in-order guest segments
 * dropped at the edge because that limit was reached; acks_held: delayed
 * ACKs held for a reply to carry (proto/tcp/tcp_ack.c), acks_bare: those
 * no reply carried in time, sent alone.  Names are the JSON/Prometheus names. */
#define MSB_TCP_METRICS(X)                                                                         \
    X(flows) X(connecting) X(established) X(closing)                                              \
    X(connects_ok) X(connects_refused) X(connects_timeout) X(connects_error)                     \
    X(denied) X(bytes_to_host) X(bytes_to_guest) X(resets_to_guest) X(resets_to_host)            \
    X(idle_timeouts) X(segments_coalesced) X(bad_transition) X(buffered_bytes)                  \
    X(ooseq_dropped) X(small_segments_merged) X(recv_deferred) X(unacked_bytes)                  \
    X(send_deferred) X(lwip_held_bytes) X(budget_dropped)       \
    X(acks_held) X(acks_bare)

struct msb_tcp_metrics {
#define MSB_TCP_FIELD(name) atomic_uint_fast64_t name;
    MSB_TCP_METRICS(MSB_TCP_FIELD)
#undef MSB_TCP_FIELD
};

/* Policy decisions by action (every msb_policy_allow call); replaced =
 * set_policy calls accepted; flows_reset = open flows the new policy denied;
 * sni_mismatch = TLS flows reset because their SNI missed the domain rule
 * that allowed them. */
/* Policy decisions.  refused_loopback: destinations that are the host's
 * loopback or unspecified, refused before any rule; refused_protected: the
 * host's own control plane ("protected_ports"), refused before any rule;
 * host_local: addresses the kernel delivers locally, judged as the host
 * group. */
#define MSB_POLICY_METRICS(X)                                                                      \
    X(allowed) X(denied) X(terminated) X(replaced) X(flows_reset) X(sni_mismatch)                 \
    X(refused_loopback) X(refused_protected) X(host_local)

/* Decisions by rule index: the first MSB_POLICY_BY_RULE rules, then one
 * bucket for later rules and one for the direction's default. */
#define MSB_POLICY_BY_RULE 64
#define MSB_POLICY_BUCKET_LATER MSB_POLICY_BY_RULE
#define MSB_POLICY_BUCKET_DEFAULT (MSB_POLICY_BY_RULE + 1)

struct msb_policy_metrics {
#define MSB_POLICY_FIELD(name) atomic_uint_fast64_t name;
    MSB_POLICY_METRICS(MSB_POLICY_FIELD)
#undef MSB_POLICY_FIELD
    atomic_uint_fast64_t by_rule[MSB_POLICY_BY_RULE + 2];
};

/* UDP sessions.  Gauge: sessions.  Counters: the rest. */
#define MSB_UDP_METRICS(X)                                                                         \
    X(sessions) X(sessions_opened) X(sessions_recycled) X(idle_timeouts)                          \
    X(datagrams_to_host) X(datagrams_to_guest) X(bytes_to_host) X(bytes_to_guest)                \
    X(fragmented_replies) X(port_unreachable) X(admin_prohibited)

struct msb_udp_metrics {
#define MSB_UDP_FIELD(name) atomic_uint_fast64_t name;
    MSB_UDP_METRICS(MSB_UDP_FIELD)
#undef MSB_UDP_FIELD
};

/* ICMP echo.  Gauge: echoes_outstanding.  Counters: the rest. */
#define MSB_ICMP_METRICS(X)                                                                        \
    X(echoes_outstanding) X(echo_local) X(echo_sent) X(echo_replies) X(echo_timeouts)            \
    X(echo_raw)

struct msb_icmp_metrics {
#define MSB_ICMP_FIELD(name) atomic_uint_fast64_t name;
    MSB_ICMP_METRICS(MSB_ICMP_FIELD)
#undef MSB_ICMP_FIELD
};

/* DNS interception.  Gauges: in_flight, tcp_connections.  Counters:
 * queries (every guest UDP/53 datagram and TCP/53 message), then one
 * outcome each: answered (upstream answer relayed), alias
 * (host.microsandbox.internal), refused, servfail, formerr; truncated
 * counts answers cut to TC=1 and nxdomain NXDOMAIN answers (both also in
 * answered); forwarded counts queries sent upstream (retries included);
 * name_denied the REFUSED by a domain rule; upstream_tcp_retries answers
 * re-asked over TCP after TC=1; resolver_denied the UDP queries REFUSED
 * because the policy denies UDP/53 to the address the guest asked (over
 * TCP the SYN is reset instead, counted in tcp.denied). */
#define MSB_DNS_METRICS(X)                                                                         \
    X(in_flight) X(queries) X(answered) X(refused) X(servfail) X(formerr) X(truncated) X(alias)   \
    X(rebind_blocked) X(forwarded) X(upstream_timeouts) X(upstream_errors) X(in_flight_cap)     \
    X(nxdomain) X(name_denied) X(upstream_tcp_retries) X(tcp_connections) X(tcp_connections_cap) \
    X(tcp_idle_timeouts) X(tcp_oversized) X(resolver_denied)

/* The same outcomes per transport ("dns.udp", "dns.tcp" in JSON); nxdomain
 * and truncated are also counted in answered. */
#define MSB_DNS_TRANSPORT_METRICS(X)                                                               \
    X(queries) X(answered) X(refused) X(servfail) X(formerr) X(truncated) X(alias) X(nxdomain)

struct msb_dns_transport_metrics {
#define MSB_DNS_FIELD(name) atomic_uint_fast64_t name;
    MSB_DNS_TRANSPORT_METRICS(MSB_DNS_FIELD)
#undef MSB_DNS_FIELD
};

/* Upstream answer latency (query sent -> answer read), upper bounds in ms;
 * one more bucket for anything slower.  JSON shows cumulative counts. */
#define MSB_DNS_LATENCY_BOUNDS_MS 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
#define MSB_DNS_LATENCY_BUCKETS 13

struct msb_dns_metrics {
#define MSB_DNS_FIELD(name) atomic_uint_fast64_t name;
    MSB_DNS_METRICS(MSB_DNS_FIELD)
#undef MSB_DNS_FIELD
    struct msb_dns_transport_metrics udp, tcp;
    atomic_uint_fast64_t latency[MSB_DNS_LATENCY_BUCKETS]; /* per bucket, not cumulative */
    atomic_uint_fast64_t latency_sum_ms;
};

/* Published ports (ingress).  Gauges: listeners, tcp_open (inbound TCP
 * flows), udp_sessions.  Counters: the rest; refusals by cause (policy,
 * max_inbound_flows, the guest's RST or silence, local errors).  Inbound
 * TCP bytes are in the tcp group's bytes_to_host/bytes_to_guest. */
#define MSB_INBOUND_METRICS(X)                                                                     \
    X(listeners) X(tcp_open) X(tcp_accepted) X(tcp_denied) X(tcp_cap) X(tcp_guest_refused)       \
    X(tcp_guest_timeout) X(tcp_errors) X(udp_sessions) X(udp_sessions_opened) X(udp_denied)      \
    X(udp_cap) X(udp_idle_timeouts) X(udp_datagrams_to_guest) X(udp_datagrams_to_peer)           \
    X(udp_bytes_to_guest) X(udp_bytes_to_peer) X(udp_errors)

struct msb_inbound_metrics {
#define MSB_INBOUND_FIELD(name) atomic_uint_fast64_t name;
    MSB_INBOUND_METRICS(MSB_INBOUND_FIELD)
#undef MSB_INBOUND_FIELD
};

/* DHCPv4 server: messages by type from the guest, replies by type. */
#define MSB_DHCP_METRICS(X)                                                                        \
    X(discovers) X(requests) X(informs) X(declines) X(releases) X(offers) X(acks) X(naks)

struct msb_dhcp_metrics {
#define MSB_DHCP_FIELD(name) atomic_uint_fast64_t name;
    MSB_DHCP_METRICS(MSB_DHCP_FIELD)
#undef MSB_DHCP_FIELD
};

/* Router advertisements: solicitations answered and RAs sent. */
#define MSB_RA_METRICS(X) X(solicitations) X(sent_solicited) X(sent_periodic)

struct msb_ra_metrics {
#define MSB_RA_FIELD(name) atomic_uint_fast64_t name;
    MSB_RA_METRICS(MSB_RA_FIELD)
#undef MSB_RA_FIELD
};

/* Guest fragment reassembly.  Gauges: pending (datagrams in progress),
 * bytes (fragment data held).  Counters: fragments accepted, datagrams
 * reassembled. */
#define MSB_REASM_METRICS(X) X(pending) X(bytes) X(fragments) X(reassembled)

struct msb_reasm_metrics {
#define MSB_REASM_FIELD(name) atomic_uint_fast64_t name;
    MSB_REASM_METRICS(MSB_REASM_FIELD)
#undef MSB_REASM_FIELD
};

/* virtio-net header mode (config "vnet_hdr").  Counters: frames (written
 * with a header and queued), csum_completed (NEEDS_CSUM filled in),
 * gso_frames (super-frames queued), gso_whole (TCP super-frames given to
 * the stack as one segment, "vnet_gso": "whole"), gso_segments (segments
 * cut from the others and dispatched), rx_tso_frames (TSO super-frames
 * sent to the guest, "vnet_guest_tso"). */
#define MSB_VNET_METRICS(X)                                                                        \
    X(frames) X(csum_completed) X(gso_frames) X(gso_whole) X(gso_segments) X(rx_tso_frames)

struct msb_vnet_metrics {
#define MSB_VNET_FIELD(name) atomic_uint_fast64_t name;
    MSB_VNET_METRICS(MSB_VNET_FIELD)
#undef MSB_VNET_FIELD
};

/* Rate limits (config "limits", proto/limits.h).  Counters: new TCP flows
 * refused (RST), new UDP sessions refused, DNS queries answered REFUSED,
 * UDP datagrams dropped each way; TCP pauses each way (a flow found the
 * byte bucket empty and waited) and the time, in ms, that some flow of the
 * instance waited for each bucket. */
#define MSB_LIMITS_METRICS(X)                                                                      \
    X(tcp_refused) X(udp_refused) X(dns_refused) X(udp_egress_dropped) X(udp_ingress_dropped)     \
    X(egress_paused) X(ingress_paused) X(egress_throttled_ms) X(ingress_throttled_ms)

struct msb_limits_metrics {
#define MSB_LIMITS_FIELD(name) atomic_uint_fast64_t name;
    MSB_LIMITS_METRICS(MSB_LIMITS_FIELD)
#undef MSB_LIMITS_FIELD
};

/* Upstream proxy (config "proxy", proto/tcp/tcp_upproxy.c).  Counters:
 * flows dialled through it, handshakes that succeeded, flows that went
 * direct (bypass, the host itself, DNS), and failures by kind: the proxy
 * unreachable, credentials refused, the destination refused by the proxy,
 * a reply that does not parse; UDP refused because only TCP is proxied;
 * guest flows to the proxy's own endpoint refused. */
#define MSB_PROXY_METRICS(X)                                                                       \
    X(dialled) X(established) X(direct) X(unreachable) X(auth_failed) X(rejected)                 \
    X(bad_reply) X(udp_refused) X(endpoint_refused)

struct msb_proxy_metrics {
#define MSB_PROXY_FIELD(name) atomic_uint_fast64_t name;
    MSB_PROXY_METRICS(MSB_PROXY_FIELD)
#undef MSB_PROXY_FIELD
};

/* TLS interception (proto/tcp/tcp_tls.c over tls/tls_relay.h), copied
 * from the engine's counters: connections intercepted and their outcomes,
 * ALPN chosen, h2 withheld, the filters' verdicts, plaintext bytes; and
 * flows on an intercepted port that went raw (bypass, not TLS); flows
 * reset because tls.max_connections were intercepted already; with
 * scan_plaintext, placeholders found on flows not intercepted (also in
 * violations) and flows reset because their scanner could not be made;
 * chunks of secret memory the kernel would not lock (tls/secret_mem.h). */
#define MSB_TLS_METRICS(X)                                                                         \
    X(intercepted) X(handshakes_ok) X(guest_hs_failed) X(upstream_hs_failed)                      \
    X(upstream_verify_failed) X(bad_sni) X(handshake_timeouts) X(alpn_h2) X(alpn_http1)          \
    X(alpn_other) X(alpn_none) X(h2_withheld) X(http_malformed) X(substitutions) X(violations)   \
    X(bytes_to_upstream) X(bytes_to_guest) X(alloc_failed) X(tls_io_failed) X(bypassed)          \
    X(not_tls) X(open) X(quic_refused) X(refused_cap) X(plaintext_violations)                    \
    X(plaintext_scan_failed) X(secret_mem_unlocked)

struct msb_tls_metrics {
#define MSB_TLS_FIELD(name) atomic_uint_fast64_t name;
    MSB_TLS_METRICS(MSB_TLS_FIELD)
#undef MSB_TLS_FIELD
};

struct msb_metrics {
    /* Written by the VMM side (tx) and the reader side (rx): apart, so the
     * two threads do not share a cache line. */
    alignas(64) atomic_uint_fast64_t tx_bytes;
    atomic_uint_fast64_t tx_frames;
    atomic_uint_fast64_t tx_ring_full; /* backpressure events, not drops */
    alignas(64) atomic_uint_fast64_t rx_bytes;
    atomic_uint_fast64_t rx_frames;
    alignas(64) atomic_uint_fast64_t drops[MSB_DROP__COUNT];
    struct msb_tcp_metrics tcp; /* written by the stack thread only */
    struct msb_policy_metrics policy;
    struct msb_udp_metrics udp; /* likewise */
    struct msb_icmp_metrics icmp;
    struct msb_dns_metrics dns; /* written by the stack thread only */
    struct msb_inbound_metrics inbound;
    struct msb_dhcp_metrics dhcp;   /* written by the stack thread only */
    struct msb_ra_metrics ra;       /* likewise */
    struct msb_reasm_metrics reasm; /* likewise */
    struct msb_vnet_metrics vnet;
    struct msb_limits_metrics limits; /* written by the stack thread only */
    struct msb_proxy_metrics proxy;   /* likewise */
    struct msb_tls_metrics tls;       /* likewise */
};

void msb_metrics_init(struct msb_metrics *m);

static inline void msb_count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t msb_read(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void msb_drop(struct msb_metrics *m, enum msb_drop_reason r)
{
    msb_count(&m->drops[r], 1);
}

const char *msb_drop_name(enum msb_drop_reason r);

#endif
