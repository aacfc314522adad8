#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
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

source "$here/../lib/checks.sh"
GUEST_TIMEOUT=600

GW4=100.96.0.1 GW6=fd42:6d73:62::1

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
expect curl_1MiB_intact_ipv6 "$want_blob" \
    "$(guest -- sh -c "curl -sS --max-time 20 'http://[fd42::1]:8080/1M.bin' | sha256sum")"

# --- integrity, 1 GiB each way --------------------------------------------------
# tap0 carries virtio-net headers by default: the guest kernel hands over
# TSO super-frames and partial checksums, which the plugin must resolve.
GiB=$((1 << 30))
# The peer's "<n> <sha256>" line; the metrics JSON (--print-metrics) follows it.
result() { grep -v '^{' <<<"$1" | tail -1; }
# last_line_of NAME [SECS]: the last line of background job NAME's log once
# it has one after "listening" (the server's verdict, written after the
# guest's side ended), waited for with a deadline.
last_line_of() {
    local log=$TOPO_DIR/logs/$1.log i line
    for ((i = 0; i < ${2:-30} * 20; i++)); do
        line=$(tail -1 "$log" 2>/dev/null)
        [[ -n $line && $line != listening* ]] && break
        sleep 0.05
    done
    echo "$line"
}
metric() { # section, key, metrics output: the counter's value in each run, one a line
    grep -o "\"$1\":{[^}]*}" <<<"$3" | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}
transfer() { # name, bytes, seed, port, msbnetd options...: sets OUT (guest's output)
    local name=$1 bytes=$2 seed=$3 port=$4
    shift 4
    serve "sink$name" serve-sink "$port" || return
    OUT=$(guest --print-metrics "$@" -- $peer send 198.18.0.1 "$port" "$bytes" "$seed")
    local got saw
    got=$(result "$OUT")
    saw=$(last_line_of "sink$name")
    if [[ $got == "$bytes "* && $got == "$saw" ]]; then ok "guest_to_host_${name}_sha256"
    else bad "guest_to_host_${name}_sha256" "sent '$got' got '$saw'"; fi
    serve "source$name" serve-source "$((port + 1))" "$bytes" "$((seed + 2))" || return
    OUT+=$'\n'$(guest --print-metrics "$@" -- $peer recv 198.18.0.1 "$((port + 1))")
    got=$(result "$OUT")
    saw=$(last_line_of "source$name")
    if [[ $got == "$bytes "* && $got == "$saw" ]]; then ok "host_to_guest_${name}_sha256"
    else bad "host_to_guest_${name}_sha256" "got '$got' sent '$saw'"; fi
}
# Every move of every flow in the runs whose metrics are in $1 was in the
# TCP state table (tcp.bad_transition stays 0).
no_bad_transition() { # check name, metrics output
    local n
    n=$(metric tcp bad_transition "$2" | sort -u | tr '\n' ' ')
    if [[ $n == "0 " ]]; then ok "$1"; else bad "$1" "tcp.bad_transition: ${n:-none}"; fi
}
transfer 1GiB $GiB 7 9001
no_bad_transition no_bad_transition_1GiB "$OUT"
# First run (guest->host): the guest's TSO super-frames and partial sums.
gso=$(metric vnet gso_frames "$OUT" | head -1) csum=$(metric vnet csum_completed "$OUT" | head -1)
if [[ ${gso:-0} -gt 0 && ${csum:-0} -gt 0 && $OUT == *'"vnet_hdr":"kernel"'* ]]; then
    ok offload_path_used
else bad offload_path_used "gso_frames=${gso:-none} csum_completed=${csum:-none} $(grep -o '"transport":{[^}]*}' <<<"$OUT")"; fi
# Second run (host->guest): lwIP's segments went to the guest as TSO super-frames.
tso=$(metric vnet rx_tso_frames "$OUT" | tail -1)
if [[ ${tso:-0} -gt 0 ]]; then ok tso_to_guest_used; else bad tso_to_guest_used "rx_tso_frames=${tso:-none}"; fi

# --no-offload: plain frames, no header anywhere; the same bytes arrive.
transfer plain_256MiB $((256 << 20)) 11 9011 --no-offload
frames=$(metric vnet frames "$OUT" | sort -n | tail -1)
if [[ -n $frames && $frames -eq 0 && $OUT == *'"vnet_hdr":"off"'* ]]; then ok no_offload_plain_frames
else bad no_offload_plain_frames "vnet.frames=${frames:-none} $(grep -o '"transport":{[^}]*}' <<<"$OUT")"; fi

# msbnetd owns "vnet_hdr": a config that contradicts the transport is refused.
echo '{"vnet_hdr": false}' >"$TOPO_DIR/vnet_off.json"
echo '{"vnet_hdr": true}' >"$TOPO_DIR/vnet_on.json"
out=$("$msbnetd" run --config "$TOPO_DIR/vnet_off.json" -- true 2>&1); rc=$?
if [[ $rc -eq 2 && $out == *'"vnet_hdr" is set by msbnetd'* ]]; then ok config_vnet_hdr_false_refused
else bad config_vnet_hdr_false_refused "rc=$rc $out"; fi
out=$("$msbnetd" stream --listen "$TOPO_DIR/s.sock" --config "$TOPO_DIR/vnet_on.json" 2>&1); rc=$?
if [[ $rc -eq 2 && $out == *'plain Ethernet frames'* ]]; then ok config_vnet_hdr_on_stream_refused
else bad config_vnet_hdr_on_stream_refused "rc=$rc $out"; fi
out=$("$msbnetd" dgram --listen "$TOPO_DIR/d.sock" --no-offload 2>&1); rc=$?
if [[ $rc -eq 2 && $out == *'--no-offload is for run and tap'* ]]; then ok no_offload_refused_for_dgram
else bad no_offload_refused_for_dgram "rc=$rc $out"; fi
# A matching value is honoured: same offloads both ways as without it.
fetch_1M() { guest --print-metrics "$@" -- sh -c "curl -sS --max-time 20 http://198.18.0.1:8080/1M.bin | sha256sum"; }
out=$(fetch_1M --config "$TOPO_DIR/vnet_on.json")
tso=$(metric vnet rx_tso_frames "$out")
if [[ $out == *"$want_blob"* && ${tso:-0} -gt 0 ]]; then ok config_vnet_hdr_true_matches_tap
else bad config_vnet_hdr_true_matches_tap "rx_tso_frames=${tso:-none} $(grep -v '^{' <<<"$out")"; fi
# "vnet_guest_tso": false keeps frames to the guest within the MTU.
echo '{"vnet_guest_tso": false}' >"$TOPO_DIR/no_guest_tso.json"
out=$(fetch_1M --config "$TOPO_DIR/no_guest_tso.json")
tso=$(metric vnet rx_tso_frames "$out")
if [[ $out == *"$want_blob"* && ${tso:-x} == 0 ]]; then ok config_vnet_guest_tso_false_honoured
else bad config_vnet_guest_tso_false_honoured "rx_tso_frames=${tso:-none} $(grep -v '^{' <<<"$out")"; fi

# --- failures are fast and honest --------------------------------------------------
# curl exits 7 when it cannot connect (refused, or reset during connect);
# its wording changes between versions, the status does not.
# The times are curl's own, taken inside the sandbox ("curl=RC ms=N"):
# msbnetd's start and exit, slow on a loaded machine, are not part of them.
timed_curl='s=$(date +%s%N); curl -sS --max-time 20 "$1"; echo "curl=$? ms=$((($(date +%s%N) - s) / 1000000))"'
curl_ms() { grep -o 'curl=[0-9]* ms=[0-9]*' <<<"$1" | sed 's/.*ms=//'; }
guest -- sh -c "$timed_curl" _ http://198.18.0.1:1/ >"$TOPO_DIR/refused.out"
ms=$(curl_ms "$(cat "$TOPO_DIR/refused.out")")
if grep -q 'curl=7' "$TOPO_DIR/refused.out" && [[ -n $ms && $ms -lt 5000 ]]; then ok closed_port_refused_fast
else bad closed_port_refused_fast "${ms:-no} ms: $(cat "$TOPO_DIR/refused.out")"; fi

# A blackhole: I drops 198.18.1.0/24 silently, so the host connect never
# completes and the guest must get its RST after the connect timeout.
ip -n "$TOPO_I" route add blackhole 198.18.1.0/24
out=$(guest --connect-timeout 2000 -- sh -c "$timed_curl" _ http://198.18.1.7:80/)
ms=$(curl_ms "$out")
if [[ -n $ms && $ms -ge 1800 && $ms -lt 8000 && $out == *curl=7* ]]; then
    ok blackhole_fails_after_connect_timeout
else bad blackhole_fails_after_connect_timeout "${ms} ms: $out"; fi

# --- half-close and resets --------------------------------------------------------
serve halfclose serve-halfclose 9003
expect half_close_guest_still_receives "got 5" "$(guest -- $peer halfclose 198.18.0.1 9003 hello)"

serve rst serve-reset 9004 1000000
expect server_reset_reaches_guest "reset" "$(guest -- $peer expect-reset 198.18.0.1 9004)"

serve grst serve-expect-reset 9005
guest -- $peer reset-after 198.18.0.1 9005 1000 >/dev/null
expect guest_reset_reaches_server "reset" "$(last_line_of grst)"

# --- churn, leaks and the flow cap -----------------------------------------------
serve hold serve-hold 9006
# msbnetd's descriptors are counted from here: inside the sandbox CMD's
# parent is the sandbox's init (pid 1), not msbnetd.  CMD says when it is
# up (the baseline), waits for "go", churns, says "done" and waits for
# "end" while the count here goes back to the baseline (flows close their
# host sockets as their FINs are handled: waited for with a deadline).
# msbnetd_below PID: the topmost msbnetd process below PID.
msbnetd_below() {
    local queue=("$1") p
    while ((${#queue[@]})); do
        p=${queue[0]} queue=("${queue[@]:1}")
        if [[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$msbnetd" ]]; then echo "$p"; return 0; fi
        queue+=($(cat "/proc/$p/task/"*/children 2>/dev/null))
    done
    return 1
}
wait_file() { # PATH SECS: until it exists, the deadline passes or the churner ends
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [[ -e $1 ]] && return 0
        kill -0 "$churner" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
cf=$TOPO_DIR/churn
guest --print-metrics -- sh -c "
    touch $cf-ready
    while [ ! -e $cf-go ]; do sleep 0.05; done
    $peer churn 198.18.0.1 9006 10000 || exit 1
    $peer concurrent 198.18.0.1 9006 1000 || exit 1
    touch $cf-done
    while [ ! -e $cf-end ]; do sleep 0.05; done" >"$cf.out" 2>&1 &
churner=$!
before='' after=''
if wait_file "$cf-ready" 60 && mpid=$(msbnetd_below "$churner"); then
    before=$(fds_of "$mpid")
    touch "$cf-go"
    if wait_file "$cf-done" 500; then
        for ((i = 0; i < 600; i++)); do
            after=$(fds_of "$mpid")
            [[ $after -eq $before ]] && break
            sleep 0.05
        done
    fi
fi
touch "$cf-go" "$cf-end"
wait "$churner"
out=$(cat "$cf.out")
fds="fds ${before:-?} ${after:-?}"
expect churn_10000_sequential "ok 10000" "$out"
expect churn_1000_concurrent "open 1000" "$out"
if [[ -n $before && $before == "$after" ]]; then ok no_fd_leak_after_churn; else bad no_fd_leak_after_churn "$fds"; fi
if grep -q '"flows":0,' <<<"$out"; then ok flow_gauge_back_to_zero; else bad flow_gauge_back_to_zero "$(grep -o '"tcp":{[^}]*}' <<<"$out")"; fi
no_bad_transition no_bad_transition_after_churn "$out"

out=$(guest --max-flows 100 --print-metrics -- $peer concurrent 198.18.0.1 9006 101)
expect flow_cap_101st_refused "open 100 (Connection refused)" "$out"
if grep -q '"tcp_flow_cap":[1-9]' <<<"$out"; then ok flow_cap_counted; else bad flow_cap_counted "$(grep -o '"drops":{[^}]*}' <<<"$out")"; fi
no_bad_transition no_bad_transition_at_flow_cap "$out"

out=$(guest --egress deny --print-metrics -- sh -c 'curl -sS --max-time 10 http://198.18.0.1:8080/hello.txt; echo "curl=$?"')
if [[ $out == *curl=7* ]] && grep -q '"denied":1' <<<"$out"; then ok egress_deny_refuses_and_counts; else bad egress_deny_refuses_and_counts "$out"; fi

checks_done
