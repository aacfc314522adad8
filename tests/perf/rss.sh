#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# rss.sh — msbnetd's memory: resident set size idle, and while the guest holds
# N TCP flows open to I (default 1000), next to slirp4netns holding the same
# flows in the same topology.  A benchmark, not a test: it prints numbers (one
# round: memory does not swing like timings) and judges nothing; exit status 1
# when a stack could not be measured.
#
# A flow counts as held when I's server has it established (a user-mode stack
# may accept the guest's connection before its own reaches I).  Per flow =
# (RSS with the flows - idle RSS) / flows held.  The flows are spread over
# one server port (and one python holder and server process) per 16,000, so
# neither a destination's port range nor a helper's descriptor limit caps
# them; G and H get the full port range and tcp_tw_reuse (as in
# conn_rate.sh), and msbnetd max_flows N + 64 when N needs more than its
# default 16,384 (`--config`).  The stack itself is one process: it holds at
# most what RLIMIT_NOFILE allows, so the script raises the limit to N + 4096
# when it may (CAP_SYS_RESOURCE) and says so when it may not.
#
#   usage: tests/perf/rss.sh [N]    (or FLOWS=N)
#   RSS_STACKS="msbnet slirp4netns"  OPEN_SECS=180 (time to open the flows)
#   OUT=file.json  also write the raw numbers there (read by targets.sh)
#   MSBNETD=path   (default build/bin/msbnetd)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${1:-${FLOWS:-1000}}
RSS_STACKS=${RSS_STACKS:-msbnet slirp4netns}
OPEN_SECS=${OPEN_SECS:-180}
OUT=${OUT:-}
MSBNETD=${MSBNETD:-$top/build/bin/msbnetd}
PY=/usr/bin/python3
SYSCTLS=(net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535")
source "$top/tests/lib/topology.sh"
topo_require slirp4netns sysctl "$PY"
[[ -x $MSBNETD ]] || { echo "msbnetd not built: $MSBNETD" >&2; exit 1; }
want=$((N + 4096))
if ((want > $(ulimit -Hn))) && ! ulimit -n "$want" 2>/dev/null; then
    echo "rss: WARNING: descriptors are capped at $(ulimit -Hn) here (no CAP_SYS_RESOURCE to raise" \
        "the limit): a stack can hold fewer than $N flows" >&2
fi
ulimit -Sn "$(ulimit -Hn)" # inherited by everything below
PORTS=$(((N + 15999) / 16000))
topo_up
for ns in "$TOPO_G" "$TOPO_H"; do ip netns exec "$ns" sysctl -qw "${SYSCTLS[@]}"; done
for ((p = 9100; p < 9100 + PORTS; p++)); do
    topo_bg I "hold-$p" "$PY" "$top/tests/integration/tcp_peer.py" serve-hold $p
    topo_wait_port I "$TOPO_I4" $p 10
done
cfg=()
if ((N + 64 > 16384)); then
    echo "{\"max_flows\": $((N + 64))}" >"$TOPO_DIR/msbnet.json"
    cfg=(--config "$TOPO_DIR/msbnet.json")
fi

# Opens N flows to HOST:PORT (256 connects in flight), prints "open K ...", holds them.
cat >"$TOPO_DIR/holder.py" <<'EOF'
import resource, selectors, socket, sys, time
host, port, n, deadline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), time.time() + float(sys.argv[4])
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
sel, held, started, pending, failed = selectors.DefaultSelector(), [], 0, 0, 0
while (started < n or pending) and time.time() < deadline:
    while started < n and pending < 256:
        s = socket.socket()
        s.setblocking(False)
        if s.connect_ex((host, port)) in (0, 115):  # 115: EINPROGRESS
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        else:
            failed += 1
            s.close()
        started += 1
    for key, _ in sel.select(0.5):
        sel.unregister(key.fileobj)
        pending -= 1
        if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            held.append(key.fileobj)
        else:
            failed += 1
            key.fileobj.close()
print("open", len(held), "failed", failed, "unfinished", pending + n - started, flush=True)
time.sleep(3600)
EOF

rss_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; } # PID [VmRSS|RssAnon]
in_i() { ip netns exec "$TOPO_I" ss -Htn state established "( sport >= :9100 and sport < :$((9100 + PORTS)) )" | wc -l; }
results="$TOPO_DIR/results.txt"
echo "limits nofile $(ulimit -Hn)" >"$results"
failures=0

# stack_up NAME CMD...: the daemon in H attached to G, up and settled; pid in
# DPID (`ip netns exec` execs in place: the daemon itself).  stack_down stops
# it and waits until G's tap0 and I's connections are gone.
stack_up() {
    topo_bg H "$1" "${@:2}"
    DPID=$TOPO_LAST_PID
    for _ in $(seq 100); do
        ip -n "$TOPO_G" route show default | grep -q . && break
        sleep 0.1
    done
    sleep 1
}
stack_down() {
    kill "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
    for _ in $(seq 50); do ip -n "$TOPO_G" link show tap0 >/dev/null 2>&1 || break; sleep 0.1; done
    for _ in $(seq 100); do [[ $(in_i) == 0 ]] && break; sleep 0.1; done
}

# hold_flows NAME: the holders open N flows from G; what they say in OPENED,
# what I has established (once the count settles) in HELD, pids in HOLDERS.
hold_flows() {
    local i
    HOLDERS=()
    for ((i = 0; i < PORTS; i++)); do
        ip netns exec "$TOPO_G" "$PY" "$TOPO_DIR/holder.py" "$TOPO_I4" $((9100 + i)) \
            $(((N + i) / PORTS)) "$OPEN_SECS" >"$TOPO_DIR/$1.hold.$i" 2>&1 &
        HOLDERS+=($!)
    done
    for _ in $(seq $((OPEN_SECS * 10 + 100))); do # every holder says how it went
        OPENED=$(cat "$TOPO_DIR/$1.hold."*)
        (($(grep -c . <<<"$OPENED" || true) >= PORTS)) && break
        sleep 0.1
    done
    OPENED=$(awk '{for (i = 1; i < NF; i += 2) s[$i] += $(i + 1)} END {for (k in s) printf "%s %d ", k, s[k]}' <<<"$OPENED")
    HELD=$(in_i)
    for _ in $(seq 20); do
        sleep 0.5
        [[ $(in_i) == "$HELD" ]] && break
        HELD=$(in_i)
    done
}

# measure NAME CMD...: idle RSS, then RSS while G holds N flows open.
measure() {
    local name=$1 idle anon busy
    stack_up "$@"
    idle=$(rss_kib "$DPID" VmRSS)
    anon=$(rss_kib "$DPID" RssAnon)
    hold_flows "$name"
    busy=$(rss_kib "$DPID" VmRSS)
    kill "${HOLDERS[@]}" 2>/dev/null || true
    wait "${HOLDERS[@]}" 2>/dev/null || true
    stack_down
    printf '%-12s idle %6d KiB (anonymous %6d)   with %s flows %7d KiB   %s held in I, %.2f KiB each   (guest: %s)\n' \
        "$name" "$idle" "$anon" "$N" "$busy" "$HELD" "$(((busy - idle) * 100 / (HELD > 0 ? HELD : 1)))e-2" "$OPENED"
    printf '%s %s %s\n' "$name" flows_idle_kib "$idle" "$name" flows_kib "$busy" "$name" flows_held "$HELD" \
        "$name" flows "$N" "$name" anon_kib "$anon" >>"$results"
    grep -q "^$name idle_kib " "$results" || echo "$name idle_kib $idle" >>"$results"
    if ((HELD > 0)); then
        echo "$name per_flow_kib $(awk -v b="$busy" -v i="$idle" -v h="$HELD" 'BEGIN {print (b - i) / h}')" >>"$results"
    else
        failures=$((failures + 1))
    fi
}

# idle NAME CMD...: the idle RSS alone (msbnetd as shipped, when the flows
# needed a --config).
idle() {
    stack_up "$@"
    echo "$1 idle_kib $(rss_kib "$DPID" VmRSS)" >>"$results"
    printf '%-12s idle %6d KiB as shipped (no --config)\n' "$1" "$(rss_kib "$DPID" VmRSS)"
    stack_down
}

for s in $RSS_STACKS; do
    case $s in
    msbnet)
        msbnetd=("$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --egress allow --control-socket "$TOPO_DIR/msbnet.sock")
        ((${#cfg[@]} == 0)) || idle msbnet "${msbnetd[@]}"
        measure msbnet "${msbnetd[@]}" "${cfg[@]}"
        ;;
    slirp4netns) measure slirp4netns slirp4netns --configure --mtu=1500 --netns-type=path \
        "/var/run/netns/$TOPO_G" tap0 ;;
    *) echo "rss: unknown stack '$s'" >&2; exit 1 ;;
    esac
done
[[ -z $OUT ]] || PYTHONPATH="$here" "$PY" -c \
    'import sys, bench_table; bench_table.write_json(*sys.argv[1:])' "$results" "$OUT"
((failures == 0))
