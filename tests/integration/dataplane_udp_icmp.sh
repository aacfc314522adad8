#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest UDP and ping end to end: `msbnetd run` in netns H sandboxes a
# command whose only way out is msbnet; a UDP echo server in netns I ("the
# internet"), ping sockets enabled in H by the topology (and later disabled,
# for the raw-socket fallback).
#   usage: dataplane_udp_icmp.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: dataplane_udp_icmp.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
peer="/usr/bin/python3 $here/udp_peer.py"
source "$here/../lib/topology.sh"
topo_require ping /usr/bin/python3 timeout
topo_up || exit 1

source "$here/../lib/checks.sh"
GUEST_TIMEOUT=300

GW4=100.96.0.1 GW6=fd42:6d73:62::1

topo_bg I udp_echo $peer serve 7000
for _ in $(seq 100); do
    grep -q listening "$TOPO_DIR/logs/udp_echo.log" 2>/dev/null && break
    sleep 0.05
done
grep -q listening "$TOPO_DIR/logs/udp_echo.log" || { echo "udp echo server never listened"; exit 1; }

# --- datagrams ----------------------------------------------------------------
# "ok N sent S replies S": every datagram sent, resends included, came
# back once -- a datagram msbnet lost fails even when its resend got through.
out=$(guest --mtu 1500 --print-metrics -- $peer blast 198.18.0.1 7000 10000)
expect udp_10000_mixed_sizes_intact_ipv4_none_lost "ok 10000 sent" "$out"
echo "     ($(grep -o '^ok 10000 sent .*' <<<"$out"))"
# IPv6 headers are 20 bytes longer: 1452 is the most that fits unfragmented
# (larger guest datagrams are reassembled: tests/integration/udp_fragments.sh).
expect udp_1000_mixed_sizes_intact_ipv6_none_lost "ok 1000 sent" \
    "$(guest --mtu 1500 -- $peer blast fd42::1 7000 1000 1452)"
out=$(guest --mtu 1500 --print-metrics -- $peer big 198.18.0.1 7000 8192)
expect udp_8KiB_reply_fragmented_to_mtu_1500 "big 8192 ok" "$out"
if grep -q '"fragmented_replies":[1-9]' <<<"$out"; then ok fragmented_reply_counted
else bad fragmented_reply_counted "$(grep -o '"udp":{[^}]*}' <<<"$out")"; fi

expect udp_closed_port_refused_ipv4 "refused" "$(guest -- $peer refused 198.18.0.1 7999)"
expect udp_closed_port_refused_ipv6 "refused" "$(guest -- $peer refused fd42::1 7999)"
ms=$(guest -- $peer refused 198.18.0.1 7999 | grep -o 'refused [0-9]*' | cut -d' ' -f2)
if [[ -n $ms && $ms -lt 1000 ]]; then ok udp_refused_fast; else bad udp_refused_fast "${ms:-no} ms"; fi

# Admin prohibited reaches the guest's socket as EHOSTUNREACH (113) at
# once, instead of a silent timeout.
out=$(guest --egress deny --print-metrics -- $peer refused 198.18.0.1 7000)
if grep -q '^error 113 ' <<<"$out" && grep -q '"udp_denied":1' <<<"$out"; then ok udp_egress_deny_fails_fast
else bad udp_egress_deny_fails_fast "$out"; fi

# --- ping ------------------------------------------------------------------------
for dst in $GW4 $GW6 198.18.0.1 fd42::1; do
    out=$(guest -- ping -c1 -W2 "$dst")
    expect "ping_$dst" "1 received" "$out"
done
out=$(guest --print-metrics -- ping -c3 -i0.2 -W2 198.18.0.1)
if grep -q '"echo_replies":3' <<<"$out" && grep -q '"echo_raw":0' <<<"$out"; then
    ok ping_through_ping_sockets
else bad ping_through_ping_sockets "$(grep -o '"icmp":{[^}]*}' <<<"$out")"; fi

# An echo nobody answers (I blackholes 198.18.1.0/24) is given up after 5 s.
ip -n "$TOPO_I" route add blackhole 198.18.1.0/24
out=$(guest --print-metrics -- sh -c 'ping -c1 -W1 198.18.1.7; sleep 5.5')
if grep -q '"echo_timeouts":1' <<<"$out" && grep -q '"echoes_outstanding":0' <<<"$out"; then
    ok ping_unanswered_times_out
else bad ping_unanswered_times_out "$(grep -o '"icmp":{[^}]*}' <<<"$out")"; fi

# Ping sockets off in H (the kernel default): msbnetd, being root, falls
# back to raw sockets.
ip netns exec "$TOPO_H" sh -c 'echo "1 0" >/proc/sys/net/ipv4/ping_group_range'
for dst in 198.18.0.1 fd42::1; do
    out=$(guest --print-metrics -- ping -c2 -i0.2 -W2 "$dst")
    if [[ $out == *"2 received"* ]] && grep -q '"echo_raw":2' <<<"$out"; then ok "ping_raw_fallback_$dst"
    else bad "ping_raw_fallback_$dst" "$out"; fi
done

checks_done
