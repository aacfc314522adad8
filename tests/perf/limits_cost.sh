#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# limits_cost.sh — what do rate limits cost when they do not bind?  A guest
# behind `msbnetd tap` runs iperf3 to netns I with no limits, then with
# every limit set far above what the link carries (egress and ingress
# 400 Gbit/s, a million connections and queries per second), alternating on
# the same daemon through `msbnetctl limits set` / `clear`, both directions.
# Prints the medians and the ratio (limits on / off; 1.00 = free).
# A benchmark, never run by ctest.
#
# Usage (root): tests/perf/limits_cost.sh
#   MSBNETD=build/bin/msbnetd  MSBNETCTL=build/bin/msbnetctl  MTU=1500  SECS=5  REPEAT=3
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/topology.sh"

MSBNETD=$(realpath "${MSBNETD:-$root/build/bin/msbnetd}")
MSBNETCTL=$(realpath "${MSBNETCTL:-$root/build/bin/msbnetctl}")
MTU=${MTU:-1500}
SECS=${SECS:-5}
REPEAT=${REPEAT:-3}
log() { printf 'limits_cost: %s\n' "$*" >&2; }

topo_require ip iperf3 timeout "$TOPO_PYTHON"
topo_up
topo_start_iperf3_i 5201
sock=$TOPO_DIR/control.sock
topo_bg H msbnetd "$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --mtu "$MTU" --egress allow \
    --control-socket "$sock"
for _ in $(seq 200); do
    [[ -S $sock ]] && ip -n "$TOPO_G" route show default | grep -q . && break
    sleep 0.05
done
[[ -S $sock ]] || { log "msbnetd did not start: $(cat "$TOPO_DIR/logs/msbnetd.log")"; exit 1; }
topo_wait_port G 198.18.0.1 5201 10
ctl=("$MSBNETCTL" --socket "$sock")

iperf() { # DIR -> Gbit/s
    local r=()
    [[ $1 == down ]] && r=(-R)
    timeout $((SECS + 20)) ip netns exec "$TOPO_G" iperf3 -c 198.18.0.1 -p 5201 -t "$SECS" -J \
        "${r[@]}" |
        "$TOPO_PYTHON" -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for dir in up down; do
    off=() on=()
    for ((i = 0; i < REPEAT; i++)); do
        "${ctl[@]}" limits clear >/dev/null
        off+=("$(iperf $dir)")
        "${ctl[@]}" limits set egress=400gbit ingress=400gbit connections=1000000 \
            dns_queries=1000000 >/dev/null
        on+=("$(iperf $dir)")
    done
    mo=$(median "${off[@]}") mn=$(median "${on[@]}")
    printf '%-5s MTU %-5s limits off %7s Gbit/s  on (not binding) %7s Gbit/s  ratio %s\n' \
        "$dir" "$MTU" "$mo" "$mn" "$(awk -v a="$mn" -v b="$mo" 'BEGIN { printf "%.3f", a / b }')"
done
