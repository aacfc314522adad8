#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dns_qps.sh — DNS queries per second through a stack's DNS forwarder, next
# to the same client asking dnsmasq directly (from H, no stack in between),
# in one run, printed as ratios to that direct baseline. A benchmark, not a
# test: never run by ctest; exit status 1 when a measurement failed.
#
# The client (python, UDP) keeps WINDOW queries outstanding for SECS seconds
# per window; dnsmasq in I answers every name from --address (no upstream,
# no query log), so what is measured is the path, not a resolver.
#   msbnet:       guest -> 100.96.0.1 (gateway) -> configured upstream = H's
#                 resolv.conf (the topology's: 198.18.0.1) -> dnsmasq
#   slirp4netns:  guest -> 10.0.2.3 (its DNS forwarder) -> the same dnsmasq
#
# Usage (root): tests/perf/dns_qps.sh
#   QPS_STACKS="msbnet slirp4netns"  WINDOWS="1 32"  SECS=5  MTU=1500
#   MSBNETD=path (default build/bin/msbnetd)
#   REPEAT=1   rounds, the columns interleaved; >1 prints the median per cell
#   OUT=file.json   also write the raw numbers there (read by targets.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/peers.sh
source "$here/peers.sh" # the stacks (run_in_guest_<stack>) and daemon helpers

QPS_STACKS=${QPS_STACKS:-msbnet slirp4netns}
WINDOWS=${WINDOWS:-1 32}
SECS=${SECS:-5}
MTU=${MTU:-1500}
PY=$TOPO_PYTHON
topo_require dnsmasq

# The resolver each stack offers its guest.
declare -A RESOLVER=([msbnet]=100.96.0.1 [slirp4netns]=10.0.2.3)
# Extra msbnet columns (a run_in_guest_msbnet<suffix> defined by the caller,
# e.g. an older build for a before/after run) ask the same gateway.
for s in $QPS_STACKS; do
    [[ $s == msbnet?* && -z ${RESOLVER[$s]:-} ]] && RESOLVER[$s]=100.96.0.1
done

write_client() {
    cat >"$BENCH_DIR/dnsbench.py" <<'EOF'
import random, socket, struct, sys, time

def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0\0\1\0\1"

server, secs, windows = sys.argv[1], float(sys.argv[2]), [int(w) for w in sys.argv[3:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((server, 53))
names = ["n%d.bench.test" % i for i in range(64)]
for w in windows:
    out, done, lost, nid = {}, 0, 0, random.randrange(65536)
    s.settimeout(1.0)
    t0 = time.perf_counter()
    end = t0 + secs
    while time.perf_counter() < end:
        while len(out) < w:
            nid = (nid + 1) & 0xFFFF
            s.send(query(nid, names[nid % len(names)]))
            out[nid] = True
        try:
            m = s.recv(4096)
        except socket.timeout:
            lost += len(out)  # whatever was outstanding is gone: start over
            out.clear()
            continue
        qid = struct.unpack(">H", m[:2])[0]
        if out.pop(qid, None) and (m[3] & 15) == 0:
            done += 1
    print("qps_w%d %.0f" % (w, done / (time.perf_counter() - t0)))
    print("lost_w%d %d" % (w, lost))
    s.settimeout(0.3)
    try:  # drain stragglers before the next window
        while True:
            s.recv(4096)
    except socket.timeout:
        pass
EOF
}

start=$SECONDS
bench_up
GUEST_TIMEOUT=$(($(wc -w <<<"$WINDOWS") * (SECS + 5) + 60))
write_client

# Our own dnsmasq, not topo_start_dnsmasq_i: that one logs every query,
# which would make the log file the bottleneck.
topo_bg I dnsmasq-bench dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
    --keep-in-foreground --bind-interfaces --user=root --listen-address="$TOPO_I4" \
    --pid-file="$TOPO_DIR/dnsmasq-bench.pid" --address=/bench.test/198.18.0.5
topo_wait_port I "$TOPO_I4" 53 10

results="$TOPO_DIR/results.txt"
: >"$results"
failures=0
# shellcheck disable=SC2086 # WINDOWS is a list of words
run() { bench_collect "$1" '^(qps|lost)_w[0-9]+ ' "${@:2}"; }
for s in $QPS_STACKS; do
    [[ -n ${RESOLVER[$s]:-} ]] || die "no resolver address known for stack '$s'"
    if declare -F "stack_prepare_$s" >/dev/null; then "stack_prepare_$s"; fi
done
for ((round = 1; round <= ${REPEAT:-1}; round++)); do
    log "direct (H -> dnsmasq), round $round ..."
    # shellcheck disable=SC2086
    run direct ip netns exec "$TOPO_H" "$PY" "$BENCH_DIR/dnsbench.py" "$TOPO_I4" "$SECS" $WINDOWS
    for s in $QPS_STACKS; do
        log "$s, round $round ..."
        # shellcheck disable=SC2086
        run "$s" "run_in_guest_$s" "$PY" "$BENCH_DIR/dnsbench.py" "${RESOLVER[$s]}" "$SECS" $WINDOWS
    done
done

echo
echo "DNS queries/s: $(nproc) cores, kernel $(uname -r), ${SECS}s per window, MTU $MTU, ${REPEAT:-1} round(s), same run"
# shellcheck disable=SC2086
PYTHONPATH="$here" "$PY" - "$results" direct $QPS_STACKS <<'EOF'
import sys
from bench_table import load, print_table
res = load(sys.argv[1])  # REPEAT > 1: medians of the rounds
cols = sys.argv[2:]
wins = sorted({int(k[5:]) for (_, k) in res if k.startswith("qps_w")})
head = ["window"] + cols + ["%s/direct" % c for c in cols[1:]]
rows = []
for w in wins:
    r = ["%d outstanding" % w]
    for c in cols:
        v, lost = res.get((c, "qps_w%d" % w)), res.get((c, "lost_w%d" % w), 0)
        r.append("-" if v is None else "%.0f%s" % (v, " (%d lost)" % lost if lost else ""))
    b = res.get(("direct", "qps_w%d" % w))
    for c in cols[1:]:
        v = res.get((c, "qps_w%d" % w))
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
