#!/usr/bin/env bash
# Guest TCP end to end: `msbnetd run` in netns H sandboxes a command whose
# only way out is msbnet; real servers in netns I ("the internet") and on
# H's loopback (reached through the gateway address).
#   usage: dataplane_tcp.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: dataplane_tcp.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
peer="/usr/bin/python3 $here/tcp_peer.py"
source "$here/../lib/topology.sh"
topo_require curl /usr/bin/python3 timeout
topo_up || exit 1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
expect() { # name, wanted substring, actual text
    if [[ $3 == *"$2"* ]]; then ok "$1"; else bad "$1" "wanted '$2', got '$3'"; fi
}

GW4=100.96.0.1 GW6=fd42:6d73:62::1
# One sandboxed command through msbnet, stdout and stderr captured; extra
# msbnetd options before "--".
guest() {
    local opts=()
    while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    timeout 600 ip netns exec "$TOPO_H" "$msbnetd" run --egress allow "${opts[@]}" -- "$@" 2>&1
}

topo_start_http_i 8080
topo_start_http_h_loopback 8081
topo_wait_port I 198.18.0.1 8080 10
want_hello=$(cat "$TOPO_WWW/hello.txt")
want_blob=$(cd "$TOPO_WWW" && sha256sum 1M.bin | cut -d' ' -f1)

# --- reachability -----------------------------------------------------------
expect curl_ipv4_internet "$want_hello" "$(guest -- curl -sS --max-time 10 http://198.18.0.1:8080/hello.txt)"
expect curl_ipv6_internet "$want_hello" "$(guest -- curl -sS --max-time 10 "http://[fd42::1]:8080/hello.txt")"
expect curl_ipv4_gateway_is_host_loopback "$want_hello" \
    "$(guest -- curl -sS --max-time 10 http://$GW4:8081/hello.txt)"
expect curl_ipv6_gateway_is_host_loopback "$want_hello" \
    "$(guest -- curl -sS --max-time 10 "http://[$GW6]:8081/hello.txt")"
expect curl_1MiB_intact "$want_blob" \
    "$(guest -- sh -c "curl -sS --max-time 20 http://198.18.0.1:8080/1M.bin | sha256sum")"

# --- integrity, 1 GiB each way --------------------------------------------------
GiB=$((1 << 30))
topo_bg I sink $peer serve-sink 9001
topo_wait_port I 198.18.0.1 9001 10
got=$(guest -- $peer send 198.18.0.1 9001 $GiB 7 | tail -1)
sleep 0.5
saw=$(tail -1 "$TOPO_DIR/logs/sink.log")
if [[ $got == "$GiB "* && $got == "$saw" ]]; then ok guest_to_host_1GiB_sha256; else bad guest_to_host_1GiB_sha256 "sent '$got' got '$saw'"; fi

topo_bg I source $peer serve-source 9002 $GiB 9
topo_wait_port I 198.18.0.1 9002 10
sleep 0.2
got=$(guest -- $peer recv 198.18.0.1 9002 | tail -1)
sleep 0.5
saw=$(tail -1 "$TOPO_DIR/logs/source.log")
if [[ $got == "$GiB "* && $got == "$saw" ]]; then ok host_to_guest_1GiB_sha256; else bad host_to_guest_1GiB_sha256 "got '$got' sent '$saw'"; fi

# --- failures are fast and honest --------------------------------------------------
start=$(date +%s%N)
out=$(guest -- curl -sS --max-time 20 http://198.18.0.1:1/)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ $out == *"refused"* && $ms -lt 5000 ]]; then ok closed_port_refused_fast; else bad closed_port_refused_fast "${ms} ms: $out"; fi

# A blackhole: I drops 198.18.1.0/24 silently, so the host connect never
# completes and the guest must get its RST after the connect timeout.
ip -n "$TOPO_I" route add blackhole 198.18.1.0/24
start=$(date +%s%N)
out=$(guest --connect-timeout 2000 -- curl -sS --max-time 20 http://198.18.1.7:80/)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ $ms -ge 1800 && $ms -lt 8000 && ( $out == *refused* || $out == *reset* ) ]]; then
    ok blackhole_fails_after_connect_timeout
else bad blackhole_fails_after_connect_timeout "${ms} ms: $out"; fi

# --- half-close and resets --------------------------------------------------------
topo_bg I halfclose $peer serve-halfclose 9003
topo_wait_port I 198.18.0.1 9003 10
expect half_close_guest_still_receives "got 5" "$(guest -- $peer halfclose 198.18.0.1 9003 hello)"

topo_bg I rst $peer serve-reset 9004 1000000
topo_wait_port I 198.18.0.1 9004 10
expect server_reset_reaches_guest "reset" "$(guest -- $peer expect-reset 198.18.0.1 9004)"

topo_bg I grst $peer serve-expect-reset 9005
topo_wait_port I 198.18.0.1 9005 10
guest -- $peer reset-after 198.18.0.1 9005 1000 >/dev/null
sleep 0.5
expect guest_reset_reaches_server "reset" "$(tail -1 "$TOPO_DIR/logs/grst.log")"

# --- churn, leaks and the flow cap -----------------------------------------------
topo_bg I hold $peer serve-hold 9006
topo_wait_port I 198.18.0.1 9006 10
# Inside the sandbox, $PPID is msbnetd (same pid namespace): count its fds
# before and after, and read its flow gauge from the metrics it prints.
out=$(guest --print-metrics -- sh -c "
    before=\$(ls /proc/\$PPID/fd | wc -l)
    $peer churn 198.18.0.1 9006 10000 || exit 1
    $peer concurrent 198.18.0.1 9006 1000 || exit 1
    sleep 3
    after=\$(ls /proc/\$PPID/fd | wc -l)
    echo fds \$before \$after")
expect churn_10000_sequential "ok 10000" "$out"
expect churn_1000_concurrent "open 1000" "$out"
fds=$(grep -o 'fds [0-9]* [0-9]*' <<<"$out")
read -r _ before after <<<"$fds"
if [[ -n ${before:-} && $before -eq $after ]]; then ok no_fd_leak_after_churn; else bad no_fd_leak_after_churn "$fds"; fi
if grep -q '"flows":0,' <<<"$out"; then ok flow_gauge_back_to_zero; else bad flow_gauge_back_to_zero "$(grep -o '"tcp":{[^}]*}' <<<"$out")"; fi

out=$(guest --max-flows 100 --print-metrics -- $peer concurrent 198.18.0.1 9006 101)
expect flow_cap_101st_refused "open 100 (Connection refused)" "$out"
if grep -q '"tcp_flow_cap":[1-9]' <<<"$out"; then ok flow_cap_counted; else bad flow_cap_counted "$(grep -o '"drops":{[^}]*}' <<<"$out")"; fi

out=$(guest --egress deny --print-metrics -- curl -sS --max-time 10 http://198.18.0.1:8080/hello.txt)
if [[ $out == *refused* ]] && grep -q '"denied":1' <<<"$out"; then ok egress_deny_refuses_and_counts; else bad egress_deny_refuses_and_counts "$out"; fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
