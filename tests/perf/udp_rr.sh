#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# udp_rr.sh — UDP request/response through user-mode stacks side by side
# (msbnet, slirp4netns, pasta by default), in one run on the test topology:
# a python client in the guest sends one datagram to a python echo server in
# I (198.18.0.1) and waits for it back, N times; also the same client from H
# with no stack in between ("direct", for scale). Ratios are REF / each
# other column (msbnet / slirp4netns, msbnet / pasta, msbnet / direct).
# A benchmark, not a test: never run by ctest; exit status 1 when a
# measurement failed.
#
# Usage (root): tests/perf/udp_rr.sh
#   UDP_STACKS="msbnet slirp4netns pasta"  REF=msbnet  RRS=5000
#   SIZES="64 1400"  MTU=1500  MSBNETD=path (default build/bin/msbnetd)
#   REPEAT=1   rounds, the stacks interleaved; >1 prints the median per cell
#   OUT=file.json   also write the raw numbers there (read by targets.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/peers.sh
source "$here/peers.sh" # the stacks (run_in_guest_<stack>) and daemon helpers

UDP_STACKS=${UDP_STACKS:-msbnet slirp4netns pasta}
REF=${REF:-msbnet}
RRS=${RRS:-5000}
SIZES=${SIZES:-64 1400}
MTU=${MTU:-1500}
UDP_PORT=7009
PY=$TOPO_PYTHON

write_udpbench() {
    cat >"$BENCH_DIR/udpbench.py" <<'EOF'
import socket, sys, time

if sys.argv[1] == "server":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        d, peer = s.recvfrom(65535)
        s.sendto(d, peer)

host, port, n, sizes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.settimeout(1.0)
for size in map(int, sizes):
    msg, lost, samples = b"x" * size, 0, []
    for i in range(n + 200):  # the first 200 warm up (ARP, sessions, caches)
        t0 = time.perf_counter_ns()
        s.send(msg)
        try:
            while s.recv(65535) != msg:
                pass
        except socket.timeout:
            lost += 1
            continue
        if i >= 200:
            samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    total = sum(samples) / 1e9
    print("rr_%d %.0f" % (size, len(samples) / total if total else 0))
    print("p50_%d %.1f" % (size, samples[len(samples) // 2] / 1000))
    print("p99_%d %.1f" % (size, samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000))
    print("lost_%d %d" % (size, lost))
EOF
}

start=$SECONDS
bench_up
GUEST_TIMEOUT=$(($(wc -w <<<"$SIZES") * (RRS / 500 + 10) + 60))
write_udpbench
topo_bg I "udp-echo-$UDP_PORT" "$PY" "$BENCH_DIR/udpbench.py" server "$UDP_PORT"
for _ in $(seq 1 50); do
    ip netns exec "$TOPO_I" ss -Huln | grep -q ":$UDP_PORT " && break
    sleep 0.1
done

results="$TOPO_DIR/results.txt"
: >"$results"
failures=0
run() { bench_collect "$1" '^(rr|p50|p99|lost)_[0-9]+ ' "${@:2}"; }
for s in $UDP_STACKS; do
    declare -F "run_in_guest_$s" >/dev/null || die "unknown stack '$s'"
    if declare -F "stack_prepare_$s" >/dev/null; then "stack_prepare_$s"; fi
done
for ((round = 1; round <= ${REPEAT:-1}; round++)); do
    log "direct (H -> I), round $round ..."
    # shellcheck disable=SC2086 # SIZES is a list of words
    run direct ip netns exec "$TOPO_H" "$PY" "$BENCH_DIR/udpbench.py" "$TOPO_I4" "$UDP_PORT" "$RRS" $SIZES
    for s in $UDP_STACKS; do
        log "$s, round $round ..."
        # shellcheck disable=SC2086
        run "$s" "run_in_guest_$s" "$PY" "$BENCH_DIR/udpbench.py" "$TOPO_I4" "$UDP_PORT" "$RRS" $SIZES
    done
done

echo
echo "UDP request/response: $(nproc) cores, kernel $(uname -r), $RRS round trips per size, MTU $MTU, ${REPEAT:-1} round(s), same run"
# shellcheck disable=SC2086
PYTHONPATH="$here" "$PY" - "$results" "$REF" direct $UDP_STACKS <<'EOF'
import sys
from bench_table import load, print_table
res = load(sys.argv[1])  # REPEAT > 1: medians of the rounds
ref, cols = sys.argv[2], sys.argv[3:]
others = [c for c in cols if c != ref] if ref in cols else []
sizes = sorted({int(k.split("_")[1]) for (_, k) in res if k.startswith("rr_")})
head = ["metric", "size"] + cols + ["%s/%s" % (ref, c) for c in others]
rows = []
for key, label in (("rr", "round trips/s"), ("p50", "RTT p50 us (lower is better)"),
                   ("p99", "RTT p99 us (lower is better)")):
    for size in sizes:
        r = [label, "%d B" % size]
        for c in cols:
            v = res.get((c, "%s_%d" % (key, size)))
            lost = res.get((c, "lost_%d" % size), 0)
            cell = "-" if v is None else ("%.0f" % v if v >= 100 else "%.1f" % v)
            r.append(cell + (" (%d lost)" % lost if key == "rr" and lost else ""))
        v = res.get((ref, "%s_%d" % (key, size)))
        for c in others:
            b = res.get((c, "%s_%d" % (key, size)))
            r.append("%.2fx" % (v / b) if v and b else "-")
        rows.append(r)
print_table(head, rows)
EOF
[[ -z $OUT ]] || PYTHONPATH="$here" "$PY" -c \
    'import sys, bench_table; bench_table.write_json(*sys.argv[1:])' "$results" "$OUT"
echo
log "done in $((SECONDS - start)) s"
if ((failures)); then
    log "$failures failure(s); TOPO_KEEP=1 keeps the logs"
    exit 1
fi
