#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# control_load.sh — does control-plane churn stall the data plane?  A guest
# behind `msbnetd tap` runs iperf3 to netns I alone, then while rounds of 100
# gRPC clients at once open a metrics and a termination stream each, read a
# snapshot and vanish (tests/integration/control_client.py churn-for).  The
# issue's target: the loaded transfer keeps >= 90% of the solo throughput.
# A benchmark, never run by ctest: exit status 1 only when a measurement
# failed; the verdict on the target is printed.
#
# Usage (root): tests/perf/control_load.sh
#   MSBNETD=build/bin/msbnetd  PROTO=proto  MTU=1500  SECS=5  REPEAT=3
#   PAUSE_MS=200    pause between churn rounds
#   CHURN_NICE=0    nice level of the churning clients: 19 leaves msbnetd's own
#                   cost, 0 also charges the clients' CPU (same 2 cores) to it
#   DIRS="up down"  up = guest->host, down = host->guest (iperf3 -R)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/topology.sh"

MSBNETD=$(realpath "${MSBNETD:-$root/build/bin/msbnetd}")
PROTO=${PROTO:-$root/proto}
MTU=${MTU:-1500}
SECS=${SECS:-5}
REPEAT=${REPEAT:-3}
PAUSE_MS=${PAUSE_MS:-200}
CHURN_NICE=${CHURN_NICE:-0}
DIRS=${DIRS:-up down}
log() { printf 'control_load: %s\n' "$*" >&2; }

topo_require ip iperf3 timeout "$TOPO_PYTHON"
[[ -x $MSBNETD ]] || { log "msbnetd not built: $MSBNETD"; exit 1; }
topo_up
/usr/bin/python3 -m grpc_tools.protoc -I"$PROTO" --python_out="$TOPO_DIR" \
    --grpc_python_out="$TOPO_DIR" "$PROTO/msbnet/v1/control.proto"
topo_start_iperf3_i 5201
sock=$TOPO_DIR/control.sock
topo_bg H msbnetd "$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --mtu "$MTU" --egress allow \
    --control-socket "$sock"
daemon=$TOPO_LAST_PID
for _ in $(seq 200); do
    [[ -S $sock ]] && ip -n "$TOPO_G" route show default | grep -q . && break
    sleep 0.05
done
[[ -S $sock ]] || { log "msbnetd did not start: $(cat "$TOPO_DIR/logs/msbnetd.log")"; exit 1; }
topo_wait_port G 198.18.0.1 5201 10

failed=0
iperf() { # DIR -> Gbit/s on stdout, empty on failure
    local r=()
    [[ $1 == down ]] && r=(-R)
    timeout $((SECS + 20)) ip netns exec "$TOPO_G" iperf3 -c 198.18.0.1 -p 5201 -t "$SECS" -J \
        "${r[@]}" 2>/dev/null |
        "$TOPO_PYTHON" -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' \
        || true
}
# CPU seconds (user + system, all threads) of a process so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A solo loaded
for dir in $DIRS; do
    for i in $(seq "$REPEAT"); do
        c0=$(cpu_s "$daemon")
        s=$(iperf "$dir")
        c1=$(cpu_s "$daemon")
        nice -n "$CHURN_NICE" "$TOPO_PYTHON" "$root/tests/integration/control_client.py" \
            "$TOPO_DIR" "$sock" churn-for \
            $((SECS + 2)) "$PAUSE_MS" >"$TOPO_DIR/churn.out" 2>&1 &
        churner=$!
        sleep 1 # churn is in full swing before the transfer starts
        c2=$(cpu_s "$daemon")
        l=$(iperf "$dir")
        c3=$(cpu_s "$daemon")
        wait "$churner" || { log "churner failed: $(cat "$TOPO_DIR/churn.out")"; failed=1; }
        log "$dir round $i: solo ${s:-FAILED} Gbit/s (msbnetd CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}') s)," \
            "with churn ${l:-FAILED} Gbit/s (msbnetd CPU $(awk -v a="$c2" -v b="$c3" 'BEGIN{print b-a}') s;" \
            "$(tail -1 "$TOPO_DIR/churn.out"))"
        [[ -n $s && -n $l ]] || { failed=1; continue; }
        solo[$dir]+="$s " loaded[$dir]+="$l "
    done
done
kill -0 "$daemon" 2>/dev/null || { log "msbnetd died under churn"; failed=1; }

printf '\n%-24s %10s %12s %8s  %s\n' "direction (MTU $MTU)" "solo" "with churn" "ratio" "target >= 0.90"
for dir in $DIRS; do
    [[ -n ${solo[$dir]:-} ]] || continue
    # shellcheck disable=SC2086
    ms=$(median ${solo[$dir]}) ml=$(median ${loaded[$dir]})
    ratio=$(awk -v a="$ml" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.90 ? "met" : "NOT met") }')
    name=$([[ $dir == up ]] && echo "guest->host" || echo "host->guest")
    printf '%-24s %8s G %10s G %8s  %s\n' "$name" "$ms" "$ml" "$ratio" "$verdict"
done
echo "(medians of $REPEAT x ${SECS}s iperf3 runs; churn: rounds of 100 clients, ${PAUSE_MS} ms apart, nice $CHURN_NICE)"
exit "$failed"
