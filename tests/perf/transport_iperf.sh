#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# transport_iperf.sh — iperf3 through msbnetd's VMM transports, next to the
# TAP msbnetd drives itself, on the standard test topology: the guest (a TAP
# in netns G) reaches iperf3 in netns I through msbnetd in H.  A benchmark,
# not a test (never run by ctest); exit status 1 when a measurement failed.
#
# Columns, per MTU:
#   tap            msbnetd tap --netns G (no VMM bridge: the reference)
#   stream/python  msbnetd stream + tests/integration/stream_peer.py bridge
#   stream/c       msbnetd stream + tests/perf/stream_bridge (C, 2 threads)
#   dgram/python   msbnetd dgram  + tests/integration/dgram_peer.py bridge
# A bridge is a userspace VMM stand-in: it copies every frame once more than
# a real VMM's virtio queue would, so the stream/dgram numbers are lower
# bounds for msbnetd; the python ones are bounded by the interpreter.
#
# Usage (root): tests/perf/transport_iperf.sh [BUILD_DIR]   (default: build)
#   MTUS="1500 65520"  SECS=5
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
msbnetd=$build/bin/msbnetd
cbridge=$build/bin/stream_bridge
MTUS=${MTUS:-1500 65520}
SECS=${SECS:-5}
source "$here/../lib/topology.sh"
topo_require iperf3 jq timeout /usr/bin/python3
[[ -x $msbnetd && -x $cbridge ]] || { echo "build msbnetd and stream_bridge first ($build)" >&2; exit 1; }
topo_up || exit 1
# shellcheck source=../lib/checks.sh
source "$here/../lib/checks.sh"
source "$here/../integration/transport_lib.sh"
export RUNTIME_DIRECTORY=$TOPO_DIR/run
topo_start_iperf3_i 5201 || exit 1
ip netns exec "$TOPO_G" sysctl -qw net.unix.max_dgram_qlen=512 # as a VMM would size it
failed=0
rows=()

iperf() { # extra iperf3 args: Gbit/s received
    timeout $((SECS + 20)) ip netns exec "$TOPO_G" iperf3 -c "$TOPO_I4" -p 5201 -t "$SECS" -J "$@" 2>/dev/null |
        jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' 2>/dev/null
}

measure() { # label
    local up down
    up=$(iperf) down=$(iperf -R)
    [[ $up =~ ^[0-9.]+$ && $down =~ ^[0-9.]+$ ]] || { failed=1; up=${up:-fail} down=${down:-fail}; }
    rows+=("$(printf '%-6s %-14s %10s %10s' "$MTU" "$1" "$up" "$down")")
    echo "${rows[-1]}" >&2
}

n=0
run_case() { # label msbnetd-args... -- bridge-cmd...
    local label=$1 margs=() mpid bpid
    shift
    while [[ $1 != -- ]]; do margs+=("$1"); shift; done
    shift
    n=$((n + 1))
    topo_bg H "msbnetd$n" "$msbnetd" "${margs[@]}" --egress allow --mtu "$MTU"
    mpid=$TOPO_LAST_PID
    wait_socket "$TOPO_DIR/s$n.sock" || { failed=1; return; }
    topo_bg G "bridge$n" "$@"
    bpid=$TOPO_LAST_PID
    wait_log "bridge$n" connected || { failed=1; return; }
    measure "$label"
    stop_job "$bpid"
    stop_job "$mpid"
}

for MTU in $MTUS; do
    XPORT_MTU=$MTU
    topo_bg H "tap$MTU" "$msbnetd" tap --netns "/var/run/netns/$TOPO_G" --egress allow --mtu "$MTU"
    tpid=$TOPO_LAST_PID
    for _ in $(seq 100); do ip -n "$TOPO_G" route show default | grep -q tap0 && break; sleep 0.05; done
    measure tap
    stop_job "$tpid"
    guest_tap_up || { echo "cannot make tap0 in G" >&2; exit 1; }
    run_case stream/python stream --listen "$TOPO_DIR/s$((n + 1)).sock" -- \
        /usr/bin/python3 "$here/../integration/stream_peer.py" bridge tap0 "$TOPO_DIR/s$((n + 1)).sock"
    run_case stream/c stream --listen "$TOPO_DIR/s$((n + 1)).sock" -- \
        "$cbridge" tap0 "$TOPO_DIR/s$((n + 1)).sock"
    run_case dgram/python dgram --listen "$TOPO_DIR/s$((n + 1)).sock" -- \
        /usr/bin/python3 "$here/../integration/dgram_peer.py" bridge tap0 "$TOPO_DIR/s$((n + 1)).sock" \
        "$TOPO_DIR/vmm$((n + 1)).sock"
    ip -n "$TOPO_G" link del tap0
done

printf '\n%-6s %-14s %10s %10s   (Gbit/s, iperf3 %ss, shared machine: compare within a run)\n' \
    MTU transport "guest->I" "I->guest" "$SECS"
printf '%s\n' "${rows[@]}"
exit $failed
