#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# flow_records_cost.sh — what flow records cost (issue 15).  A guest behind
# `msbnetd tap` makes new TCP connections to netns I without pause
# (tests/perf/conn_rate: WORKERS at a time, so a record ends every
# connection) and:
#   1. stalled reader: runs iperf3 to I meanwhile, with no StreamFlowRecords
#      client and with one that opened the stream and reads nothing
#      (flow_reader.py stall), alternating on one daemon: the throughput
#      ratio (stalled / none; the target is >= 0.95) and the records the
#      stalled stream lost (its dropped_records once it reads again);
#   2. record rate: connections/s with no consumer (the plugin's ring fills
#      and drops: records are made on the stack thread either way), with a
#      reading stream (records/s it received), and on a second daemon
#      with --flow-log (records/s written).
# Prints the medians and ratios.  A benchmark, never run by ctest.
#
# Usage (root): tests/perf/flow_records_cost.sh
#   MSBNETD=build/bin/msbnetd  CONN_RATE_BIN=build/bin/conn_rate  PROTO=proto
#   MTU=1500  SECS=10 (long enough for a stalled stream to fill its 8192-record
#   queue at the connection rate)  WORKERS=8  REPEAT=3
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/topology.sh"

MSBNETD=$(realpath "${MSBNETD:-$root/build/bin/msbnetd}")
CONN_RATE_BIN=$(realpath "${CONN_RATE_BIN:-$(dirname "$MSBNETD")/conn_rate}")
PROTO=$(realpath "${PROTO:-$root/proto}")
MTU=${MTU:-1500}
SECS=${SECS:-10}
WORKERS=${WORKERS:-8}
REPEAT=${REPEAT:-3}
PY=$TOPO_PYTHON
log() { printf 'flow_records_cost: %s\n' "$*" >&2; }

topo_require ip iperf3 timeout sysctl "$PY"
[[ -x $CONN_RATE_BIN ]] || { log "conn_rate not built: $CONN_RATE_BIN"; exit 1; }
"$PY" -c 'import grpc, grpc_tools' 2>/dev/null || { log "needs python3-grpcio and python3-grpc-tools"; exit 1; }
topo_up
"$PY" -m grpc_tools.protoc -I"$PROTO" --python_out="$TOPO_DIR" --grpc_python_out="$TOPO_DIR" \
    "$PROTO/msbnet/v1/control.proto"
# The guest reuses its TIME_WAIT ports (msbnet does TCP timestamps), and so
# do msbnetd's host sockets in H: the rate holds for the whole run.
for ns in "$TOPO_G" "$TOPO_H"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535"
done
topo_start_iperf3_i 5201
topo_bg I conn-server "$CONN_RATE_BIN" server 7011
sock=$TOPO_DIR/control.sock
flowlog=$TOPO_DIR/flows.jsonl

daemon() { # [msbnetd options...]: a fresh msbnetd tap for G
    [[ -n ${mpid:-} ]] && { kill -TERM "$mpid"; wait "$mpid" || true; }
    rm -f "$sock"
    topo_bg H msbnetd "$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --mtu "$MTU" \
        --egress allow --control-socket "$sock" "$@"
    mpid=$TOPO_LAST_PID
    for _ in $(seq 200); do
        [[ -S $sock ]] && ip -n "$TOPO_G" route show default | grep -q . && break
        sleep 0.05
    done
    [[ -S $sock ]] || { log "msbnetd did not start: $(cat "$TOPO_DIR/logs/msbnetd.log")"; exit 1; }
    topo_wait_port G "$TOPO_I4" 5201 10
    topo_wait_port G "$TOPO_I4" 7011 10
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
key() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

conns() { # SECS -> connections/s over the run (conn_rate's conn_total)
    ip netns exec "$TOPO_G" "$CONN_RATE_BIN" client "$TOPO_I4" 7011 "$WORKERS" "$1" 1 \
        >"$TOPO_DIR/conns.out"
    key conn_total "$TOPO_DIR/conns.out"
}

iperf_with_conns() { # -> Gbit/s of iperf3 up while connections churn
    ip netns exec "$TOPO_G" "$CONN_RATE_BIN" client "$TOPO_I4" 7011 "$WORKERS" $((SECS + 2)) 1 \
        >/dev/null &
    local churn=$!
    sleep 0.5
    timeout $((SECS + 20)) ip netns exec "$TOPO_G" iperf3 -c "$TOPO_I4" -p 5201 -t "$SECS" -J |
        "$PY" -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
    wait "$churn"
}

reader() { # MODE SECS: flow_reader.py in the background, its output in reader.out;
    # it counts only records closed from now on (not the ring's backlog)
    "$PY" "$here/flow_reader.py" "$TOPO_DIR" "$sock" "$1" "$2" "$(date +%s%3N)" \
        >"$TOPO_DIR/reader.out" &
    rpid=$!
    for _ in $(seq 100); do [[ -s $TOPO_DIR/reader.out ]] && break; sleep 0.05; done
}

# --- 1. a stalled reader -----------------------------------------------------------
daemon
none=() stalled=() lost=()
for ((i = 0; i < REPEAT; i++)); do
    none+=("$(iperf_with_conns)")
    reader stall $((SECS + 3))
    stalled+=("$(iperf_with_conns)")
    wait "$rpid"
    lost+=("$(key dropped "$TOPO_DIR/reader.out")")
done
mn=$(median "${none[@]}") ms=$(median "${stalled[@]}")
printf 'stalled reader: iperf3 up (MTU %s, %s churning connections) no reader %s Gbit/s, stalled reader %s Gbit/s, ratio %s (target >= 0.95); records the stalled stream lost: %s\n' \
    "$MTU" "$WORKERS" "$mn" "$ms" "$(ratio "$ms" "$mn")" "${lost[*]}"

# --- 2. records/s against connections/s -------------------------------------------
off=() on=() rate=()
for ((i = 0; i < REPEAT; i++)); do
    off+=("$(conns "$SECS")")
    reader read $((SECS + 1))
    on+=("$(conns "$SECS")")
    wait "$rpid"
    rate+=("$(awk -v n="$(key records "$TOPO_DIR/reader.out")" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')")
done
daemon --flow-log "$flowlog"
logged=() lrate=()
for ((i = 0; i < REPEAT; i++)); do
    n0=$(wc -l <"$flowlog" 2>/dev/null || echo 0)
    logged+=("$(conns "$SECS")")
    sleep 1.2 # the hub drains every tick
    n1=$(wc -l <"$flowlog")
    lrate+=("$(awk -v n=$((n1 - n0)) -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')")
done
mo=$(median "${off[@]}") mr=$(median "${on[@]}") ml=$(median "${logged[@]}")
printf 'record rate: connections/s with no consumer %s, with a reading stream %s (ratio %s, %s records/s received), with --flow-log %s (ratio %s, %s records/s written)\n' \
    "$mo" "$mr" "$(ratio "$mr" "$mo")" "$(median "${rate[@]}")" "$ml" "$(ratio "$ml" "$mo")" \
    "$(median "${lrate[@]}")"
