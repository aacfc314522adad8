#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dlopen path as a VMM uses it: msbnet-example-vmm runs in netns H,
# dlopens libmsbnet.so, creates tap0 in netns G (the "guest") and pumps
# frames between it and the plugin.  The guest side is configured from the
# addresses JSON the program prints, with plain `ip`, as a guest agent
# would.  Then curl (HTTP, IPv4 + IPv6, SHA-256 of a 64 MiB file), iperf3
# both ways and dig through the DNS interceptor, against real servers in
# netns I -- once with plain frames and once with --vnet-hdr, where the TAP
# hands over partial checksums and 64 KiB TSO super-frames, and the
# plugin's metrics must show it completed and segmented them.
#   usage: vmm_example.sh PATH_TO_MSBNET_EXAMPLE_VMM PATH_TO_LIBMSBNET_SO
# IPERF_SECONDS (default 3) sets each iperf3 run's length; VMM_EXTRA_CONFIG
# (e.g. ', "mtu": 65520') is appended to every instance's config.
set -uo pipefail
vmm=$(realpath "${1:?usage: vmm_example.sh EXAMPLE_VMM LIBMSBNET_SO}")
plugin=$(realpath "${2:?usage: vmm_example.sh EXAMPLE_VMM LIBMSBNET_SO}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl dig iperf3 dnsmasq timeout sha256sum /usr/bin/python3
topo_up || exit 1
source "$here/../lib/checks.sh"

PY=/usr/bin/python3
SECS=${IPERF_SECONDS:-3}

topo_start_http_i 8080 || exit 1
topo_start_iperf3_i 5201 || exit 1
topo_start_dnsmasq_i --address=/example.test/198.18.0.5 --address=/web.test/198.18.0.1 || exit 1
head -c $((64 << 20)) /dev/urandom >"$TOPO_WWW/64M.bin"
want_big=$(sha256sum <"$TOPO_WWW/64M.bin" | cut -d' ' -f1)
want_hello=$(cat "$TOPO_WWW/hello.txt")

json_field() { # json, key
    "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# start_vmm NAME EXTRA_CONFIG [ARGS...]: the example in H with tap0 in G;
# waits for its addresses line, then configures G from it.  "egress":
# "allow" because I's IPv6 address (fd42::1) is a unique-local one, which
# public_only refuses.  Sets VMM_PID, VMM_LOG, ADDRS.
start_vmm() {
    local name=$1 extra=$2
    shift 2
    VMM_LOG=$TOPO_DIR/logs/$name.out
    ip netns exec "$TOPO_H" "$vmm" --plugin "$plugin" --tap tap0 \
        --tap-netns "/var/run/netns/$TOPO_G" --print-metrics \
        --config "{\"dns_upstreams\": [\"198.18.0.1\"], \"egress\": \"allow\"$extra${VMM_EXTRA_CONFIG:-}}" "$@" \
        >"$VMM_LOG" 2>"$TOPO_DIR/logs/$name.err" &
    VMM_PID=$!
    topo_track_pid "$VMM_PID"
    for _ in $(seq 100); do
        ADDRS=$(head -1 "$VMM_LOG" 2>/dev/null)
        [[ $ADDRS == *gateway_mac* ]] && break
        kill -0 "$VMM_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [[ $ADDRS != *gateway_mac* ]]; then
        echo "example VMM did not start: $(cat "$TOPO_DIR/logs/$name.err")" >&2
        return 1
    fi
    GW4=$(json_field "$ADDRS" gateway_ipv4)
    GW6=$(json_field "$ADDRS" gateway_ipv6)
    local g4 g6 p4 p6 mtu
    g4=$(json_field "$ADDRS" guest_ipv4)
    g6=$(json_field "$ADDRS" guest_ipv6)
    p4=$(json_field "$ADDRS" prefix_ipv4)
    p6=$(json_field "$ADDRS" prefix_ipv6)
    mtu=$(json_field "$ADDRS" mtu)
    ip -n "$TOPO_G" link set tap0 mtu "$mtu" up &&
        ip -n "$TOPO_G" addr add "$g4/$p4" dev tap0 &&
        ip -n "$TOPO_G" addr add "$g6/$p6" dev tap0 nodad &&
        ip -n "$TOPO_G" route add default via "$GW4" &&
        ip -n "$TOPO_G" -6 route add default via "$GW6"
}

# stop_vmm: SIGTERM, then the metrics it printed on exit into METRICS.
stop_vmm() {
    kill -TERM "$VMM_PID"
    for _ in $(seq 100); do
        kill -0 "$VMM_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$VMM_PID" 2>/dev/null; then
        bad "$MODE:clean_exit_on_sigterm" "still running after 5 s"
        kill -KILL "$VMM_PID"
    fi
    wait "$VMM_PID"
    local rc=$?
    if [[ $rc -eq 0 ]]; then ok "$MODE:clean_exit_on_sigterm"
    else bad "$MODE:clean_exit_on_sigterm" "status $rc: $(cat "$TOPO_DIR/logs/$MODE.err")"; fi
    METRICS=$(tail -1 "$VMM_LOG")
}

metric() { # section key
    "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]][sys.argv[3]])' \
        "$METRICS" "$1" "$2" 2>/dev/null || echo missing
}

# iperf3 from G; prints the receiver's Gbit/s.
iperf() { # extra iperf3 args...
    ip netns exec "$TOPO_G" timeout $((SECS + 20)) iperf3 -c "$TOPO_I4" -p 5201 -t "$SECS" -J "$@" |
        "$PY" -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' \
            2>/dev/null
}

gbps_ok() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.01 else 1)' "$1" 2>/dev/null; }

run_suite() { # mode, extra config, example args...
    MODE=$1
    shift
    if ! start_vmm "$MODE" "$@"; then
        bad "$MODE:started"
        return
    fi
    ok "$MODE:started"
    local g="ip netns exec $TOPO_G"
    expect "$MODE:curl_ipv4" "$want_hello" "$($g curl -sS --max-time 10 "http://$TOPO_I4:8080/hello.txt")"
    expect "$MODE:curl_ipv6" "$want_hello" "$($g curl -sS --max-time 10 "http://[$TOPO_I6]:8080/hello.txt")"
    expect "$MODE:curl_64MiB_ipv4_sha256" "$want_big" \
        "$($g curl -sS --max-time 60 "http://$TOPO_I4:8080/64M.bin" | sha256sum)"
    expect "$MODE:curl_64MiB_ipv6_sha256" "$want_big" \
        "$($g curl -sS --max-time 60 "http://[$TOPO_I6]:8080/64M.bin" | sha256sum)"
    # Upload integrity: the guest sends the file, I's server hashes what it got.
    expect "$MODE:upload_64MiB_sha256" "$want_big" \
        "$($g timeout 60 "$PY" -c "$upload" "$TOPO_I4" 9100 "$TOPO_WWW/64M.bin" 2>&1)"
    expect "$MODE:dig_through_interceptor" 198.18.0.5 \
        "$($g dig +time=8 +tries=1 @"$GW4" example.test +short)"
    expect "$MODE:dig_ipv6_gateway" 198.18.0.1 \
        "$($g dig +time=8 +tries=1 @"$GW6" web.test +short)"
    local up down
    up=$(iperf)
    down=$(iperf -R)
    if gbps_ok "$up"; then ok "$MODE:iperf3_guest_to_internet"; else bad "$MODE:iperf3_guest_to_internet" "'$up'"; fi
    if gbps_ok "$down"; then ok "$MODE:iperf3_internet_to_guest"; else bad "$MODE:iperf3_internet_to_guest" "'$down'"; fi
    echo "throughput $MODE: guest->I $up Gbit/s, I->guest $down Gbit/s (${SECS} s each, shared machine)"
    stop_vmm
    local d
    for d in tx_bad_length l4_bad_checksum vnet_hdr_short vnet_bad_csum_offsets \
        vnet_gso_size_zero vnet_gso_malformed vnet_gso_unsupported; do
        expect "$MODE:no_drops_$d" 0 "$(metric drops "$d")"
    done
}

# The upload sink in I hashes whatever a connection sends and answers with
# the hash; the client sends a file, half-closes, prints the answer.
upload='
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
with open(sys.argv[3], "rb") as f:
    c.sendfile(f)
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
'
topo_bg I upload-sink "$PY" -c '
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 9100)); s.listen(4)
while True:
    c, _ = s.accept(); h = hashlib.sha256()
    while True:
        b = c.recv(1 << 16)
        if not b: break
        h.update(b)
    c.sendall(h.hexdigest().encode()); c.close()
'
topo_wait_port I "$TOPO_I4" 9100 10 || exit 1

# --- the example's own errors are clear and fatal --------------------------------
out=$("$vmm" --plugin "$plugin" --tap-fd 0 --config '{"turbo": 1}' 2>&1)
expect example_bad_config_named 'unknown key "turbo"' "$out"
out=$("$vmm" --plugin "$plugin" --tap-fd 0 --config '{"vnet_hdr": true}' 2>&1)
expect example_vnet_hdr_only_by_flag "use --vnet-hdr" "$out"
out=$("$vmm" --plugin /nonexistent/libmsbnet.so --tap-fd 0 2>&1; echo "rc=$?")
expect example_missing_plugin "rc=1" "$out"

run_suite plain ""
expect plain:no_vnet_frames 0 "$(metric vnet frames)"

# vnet_gso_check MODE COUNTER: super-frames arrived and went COUNTER's way.
vnet_gso_check() {
    local frames gso whole segs csum
    frames=$(metric vnet frames) gso=$(metric vnet gso_frames) whole=$(metric vnet gso_whole)
    segs=$(metric vnet gso_segments) csum=$(metric vnet csum_completed)
    echo "$1: vnet frames $frames, csum_completed $csum, gso_frames $gso, gso_whole $whole, gso_segments $segs"
    if [[ $gso =~ ^[0-9]+$ && $gso -gt 0 ]]; then ok "$1:gso_superframes_received"
    else bad "$1:gso_superframes_received" "gso_frames '$gso'"; fi
    if [[ $2 == whole && $whole == "$gso" && $segs == 0 ]] ||
        [[ $2 == segment && $whole == 0 && $segs =~ ^[0-9]+$ && $segs -gt $gso ]]; then
        ok "$1:gso_${2}_path_used"
    else bad "$1:gso_${2}_path_used" "gso_frames '$gso' gso_whole '$whole' gso_segments '$segs'"; fi
    if [[ $csum =~ ^[0-9]+$ && $csum -gt 0 ]]; then ok "$1:partial_checksums_completed"
    else bad "$1:partial_checksums_completed" "'$csum'"; fi
}

# Default "vnet_gso": "whole": TCP super-frames go to lwIP as one segment.
run_suite vnet "" --vnet-hdr
vnet_gso_check vnet whole

# "vnet_gso": "segment": cut into MSS-sized segments like a NIC doing TSO.
run_suite vnet-segment ', "vnet_gso": "segment"' --vnet-hdr
vnet_gso_check vnet-segment segment

checks_done
