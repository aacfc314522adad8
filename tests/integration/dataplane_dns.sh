#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DNS interception end to end: `msbnetd run` in netns H sandboxes real
# clients (dig, getent, curl) whose resolv.conf names the gateway; dnsmasq
# in netns I ("the internet") is the only upstream, always passed with
# --dns (the host's own resolver is never used).
#   usage: dataplane_dns.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: dataplane_dns.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require dig curl getent timeout dnsmasq /usr/bin/python3
topo_up || exit 1

source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

GW4=100.96.0.1
# dig waits longer than msbnet's 5 s query timeout, so msbnet's own
# answer (or SERVFAIL) is what the test sees.
DIG="dig +time=8 +tries=1"

# --local-ttl: dnsmasq answers its --address names with TTL 0 otherwise, and
# msbnet keeps such an answer in its hostname index for 1 s only, so whether
# the index still held it when msbnetd printed its metrics was a race.
topo_start_dnsmasq_i --local-ttl=600 \
    --address=/example.test/198.18.0.5 --address=/web.test/198.18.0.1 \
    --address=/private.test/10.0.0.5 --address=/mapped.test/::ffff:192.168.1.1 \
    --address=/nx.test/ || exit 1
topo_start_http_i 8080 || exit 1

# --- answers through the gateway ------------------------------------------------
out=$(guest --dns 198.18.0.1 -- $DIG @$GW4 example.test +short)
expect dig_through_gateway 198.18.0.5 "$out"
out=$(guest --dns 198.18.0.1 -- $DIG @$GW4 example.test)
expect dig_reply_from_gateway "SERVER: $GW4#53" "$out"
out=$(guest --dns 198.18.0.1 -- getent hosts example.test)
expect getent_hosts_uses_gateway 198.18.0.5 "$out"
out=$(guest --dns 198.18.0.1 -- curl -sS --max-time 10 http://web.test:8080/hello.txt)
expect curl_by_name "hello from the msbnet test topology" "$out"

# --- host alias, answered locally ------------------------------------------------
out=$(guest --dns 198.18.0.1 -- $DIG @$GW4 host.microsandbox.internal +short)
expect host_alias_a "$GW4" "$out"
out=$(guest --dns 198.18.0.1 -- $DIG @$GW4 HOST.microsandbox.internal AAAA +short)
expect host_alias_aaaa "fd42:6d73:62::1" "$out"
out=$(guest --dns 198.18.0.1 -- $DIG @$GW4 host.microsandbox.internal MX)
if [[ $out == *"status: NOERROR"* && $out == *"ANSWER: 0"* && $out == *" aa "* ]]; then
    ok host_alias_other_type_nodata
else bad host_alias_other_type_nodata "$out"; fi
if grep -qi microsandbox "$TOPO_DIR/logs/dnsmasq-i-53.queries.log"; then
    bad host_alias_never_upstream "$(grep -i microsandbox "$TOPO_DIR/logs/dnsmasq-i-53.queries.log")"
else ok host_alias_never_upstream; fi

# --- rebind protection ------------------------------------------------------------
out=$(guest --dns 198.18.0.1 --print-metrics -- $DIG @$GW4 private.test)
expect rebind_private_refused "status: REFUSED" "$out"
expect rebind_counted '"rebind_blocked":1' "$out"
expect rebind_ipv4_mapped_refused "status: REFUSED" \
    "$(guest --dns 198.18.0.1 -- $DIG @$GW4 mapped.test AAAA)"

# --- the guest's own resolver -------------------------------------------------------
# Allowed by the policy: forwarded to that address (not the configured one).
out=$(guest --dns 198.18.0.99 -- $DIG @198.18.0.1 example.test +short)
expect direct_resolver_allowed 198.18.0.5 "$out"
out=$(guest --egress deny --dns 198.18.0.1 -- $DIG @198.18.0.1 example.test)
expect direct_resolver_denied_refused "status: REFUSED" "$out"

# --- upstream failures ------------------------------------------------------------
# 198.18.0.99 is silent: on H's link, nobody answers for it.  The time is
# dig's own ("Query time"): the answer's, not msbnetd's start and exit,
# which a sanitizer build makes seconds longer.
ip -n "$TOPO_I" route add blackhole 198.18.0.99/32
query_ms() { sed -n 's/^;; Query time: \([0-9]*\) msec$/\1/p' <<<"$1"; }
out=$(guest --dns 198.18.0.99 --dns 198.18.0.1 --print-metrics -- $DIG @$GW4 example.test)
ms=$(query_ms "$out")
expect first_upstream_dead_second_answers 198.18.0.5 "$out"
expect first_upstream_timeout_counted '"upstream_timeouts":1' "$out"
if [[ -n $ms && $ms -lt 7000 ]]; then ok "second_upstream_within_timeout ($ms ms)"
else bad second_upstream_within_timeout "${ms:-no answer in} ms"; fi
out=$(guest --dns 198.18.0.99 --print-metrics -- $DIG @$GW4 example.test)
ms=$(query_ms "$out")
expect all_upstreams_dead_servfail "status: SERVFAIL" "$out"
expect servfail_counted '"servfail":1' "$out"
if [[ -n $ms && $ms -lt 7500 ]]; then ok "servfail_within_timeout ($ms ms)"
else bad servfail_within_timeout "${ms:-no answer in} ms"; fi

# --- malformed queries, metrics and the index ----------------------------------------
# Both malformed datagrams from one socket, and the command waits for the
# FORMERR that answers the second: the stack handles the guest's frames in
# order on one thread and counts before it answers, and msbnetd stops the
# stack before it prints the metrics, so every counter below is final.
cat >"$TOPO_DIR/malformed.py" <<EOF
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"abc", ("$GW4", 53))     # no DNS header: dropped, no answer
s.sendto(b"x" * 16, ("$GW4", 53))  # a header, no valid question: FORMERR
print("rcode", s.recv(512)[3] & 15)
EOF
out=$(guest --dns 198.18.0.1 --print-metrics -- bash -c \
    "$DIG @$GW4 example.test +short; /usr/bin/python3 $TOPO_DIR/malformed.py")
expect malformed_answered_formerr "rcode 1" "$out"
expect metrics_queries '"queries":3' "$out"
expect malformed_no_header_dropped '"dns_no_header":1' "$out"
expect malformed_header_formerr '"formerr":1' "$out"
expect metrics_answered '"answered":1' "$out"
expect metrics_forwarded '"forwarded":1' "$out"
if grep -q '"hostnames":{"entries":[1-9]' <<<"$out"; then ok index_fed_by_answer
else bad index_fed_by_answer "$(grep -o '"hostnames":{[^}]*}' <<<"$out")"; fi
# NXDOMAIN (dnsmasq's empty --address) is relayed and indexes nothing.
out=$(guest --dns 198.18.0.1 --print-metrics -- $DIG @$GW4 nx.test)
expect nxdomain_relayed "status: NXDOMAIN" "$out"
if grep -q '"hostnames":{"entries":0' <<<"$out"; then ok nxdomain_not_indexed
else bad nxdomain_not_indexed "$(grep -o '"hostnames":{[^}]*}' <<<"$out")"; fi

checks_done
