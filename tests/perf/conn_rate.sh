#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# conn_rate.sh — sustained TCP connection rate from the guest, per stack:
# WORKERS connections at a time for SECS seconds, each a new connection to one
# port in I (connect, 1-byte echo, close by the guest first), so the guest
# must keep reusing its TIME_WAIT ports (tcp_tw_reuse, which needs TCP
# timestamps from the stack) for the rate to last. Printed per stack: the
# rate over the first and the last WIN seconds and over the whole run, with
# "kernel" (a veth straight from G to I, no user-mode stack) for scale.
# A benchmark, not a test: never run by ctest; exit status 1 when a
# measurement failed.
#
# Every stack gets the same sysctls, set in the guest's own namespace (also
# pasta's) and in H, where the stacks' host sockets and their TIME_WAIT live:
#   net.ipv4.tcp_tw_reuse=1  net.ipv4.ip_local_port_range="1024 65535"
# Both ends are tests/perf/conn_rate.c (built with the project as conn_rate).
#
# Usage (root): tests/perf/conn_rate.sh
#   CONN_STACKS="kernel msbnet slirp4netns pasta pasta_root"  REF=msbnet
#              (kernel: run_in_guest_kernel in peers.sh, a veth from G to I)
#   SECS=60  WORKERS=32  WIN=10 (at most SECS/2)  MTU=1500
#   REPEAT=1   rounds, the stacks interleaved; >1 prints the median per cell
#   OUT=file.json   also write the raw numbers there (read by targets.sh)
#   MSBNETD=path (default build/bin/msbnetd); CONN_RATE_BIN=path (default:
#   conn_rate next to MSBNETD)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECS=${SECS:-60} # before peers.sh, whose own default is 5
# shellcheck source=SCRIPTDIR/peers.sh
source "$here/peers.sh" # the stacks (run_in_guest_<stack>) and daemon helpers

CONN_STACKS=${CONN_STACKS:-kernel msbnet slirp4netns pasta pasta_root}
REF=${REF:-msbnet}
WORKERS=${WORKERS:-32}
WIN=${WIN:-10}
((WIN <= SECS / 2)) || WIN=$((SECS / 2 > 0 ? SECS / 2 : 1))
MTU=${MTU:-1500}
CONN_RATE_BIN=${CONN_RATE_BIN:-$(dirname "$MSBNETD")/conn_rate}
PORT=7011
PY=$TOPO_PYTHON
SYSCTLS=(net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535")
topo_require sysctl install
[[ -x $CONN_RATE_BIN ]] || die "conn_rate not built: $CONN_RATE_BIN (set CONN_RATE_BIN=)"

start=$SECONDS
bench_up
GUEST_TIMEOUT=$((SECS + 60))
install -m 0755 "$CONN_RATE_BIN" "$BENCH_DIR/conn_rate" # reachable by pasta's user too
# In the guest: the same sysctls for every stack, then the client, then where
# a slow rate may come from: how many SYNs the guest's kernel sent again (a
# stack dropping them) and how many of its sockets are in TIME_WAIT (ports the
# guest can reuse only if the stack did TCP timestamps).
cat >"$BENCH_DIR/conn_guest.sh" <<EOF
#!/bin/sh
synretrans() { awk '/^TcpExt:/ { if (c) print \$c; else for (i = 1; i <= NF; i++) if (\$i == "TCPSynRetrans") c = i }' /proc/net/netstat; }
sysctl -qw ${SYSCTLS[0]} "${SYSCTLS[1]}" || { echo "guest sysctls refused" >&2; exit 1; }
before=\$(synretrans)
"$BENCH_DIR/conn_rate" client "$TOPO_I4" $PORT $WORKERS $SECS $WIN || exit 1
echo "conn_synretrans \$((\$(synretrans) - before))"
echo "conn_timewait \$(awk '\$1 == "TCP:" { for (i = 2; i < NF; i++) if (\$i == "tw") print \$(i + 1) }' /proc/net/sockstat)"
EOF
chmod 0755 "$BENCH_DIR/conn_guest.sh"
ip netns exec "$TOPO_H" sysctl -qw "${SYSCTLS[@]}"
topo_bg I conn-server "$BENCH_DIR/conn_rate" server "$PORT"
topo_wait_port I "$TOPO_I4" "$PORT" 10

results="$TOPO_DIR/results.txt"
: >"$results"
failures=0
for s in $CONN_STACKS; do
    declare -F "run_in_guest_$s" >/dev/null || die "unknown stack '$s'"
    if declare -F "stack_prepare_$s" >/dev/null; then "stack_prepare_$s"; fi
done
for ((round = 1; round <= ${REPEAT:-1}; round++)); do
    for s in $CONN_STACKS; do
        log "$s, ${SECS}s, round $round ..."
        bench_collect "$s" '^conn_[a-z]+ ' "run_in_guest_$s" "$BENCH_DIR/conn_guest.sh"
    done
done

echo
echo "Sustained TCP connections/s: $(nproc) cores, kernel $(uname -r), ${SECS}s, $WORKERS at a time," \
    "client-first close, MTU $MTU, ${REPEAT:-1} round(s), same run"
# shellcheck disable=SC2086 # CONN_STACKS is a list of words
PYTHONPATH="$here" "$PY" - "$results" "$REF" "$WIN" "$SECS" $CONN_STACKS <<'EOF'
import sys
from bench_table import load, samples, print_table
res, series = load(sys.argv[1]), samples(sys.argv[1])
ref, win, secs, cols = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
others = [c for c in cols if c != ref] if ref in cols else []
head = ["metric"] + cols + ["%s/%s" % (ref, c) for c in others]
rows = []
for key, label, ratio in (("total", "connections/s, all %d s" % secs, True),
                          ("first", "connections/s, first %d s" % win, True),
                          ("last", "connections/s, last %d s" % win, True),
                          ("ratio", "last / first", False),
                          ("errors", "failed connects", False),
                          ("timeouts", "no echo within 10 s", False),
                          ("synretrans", "SYNs the guest sent again", False),
                          ("timewait", "guest sockets in TIME_WAIT at the end", False)):
    v = {c: res.get((c, "conn_" + key)) for c in cols}
    r = [label] + ["-" if v[c] is None else "%.2f" % v[c] if key == "ratio" else "%.0f" % v[c]
                   for c in cols]
    r += ["%.2fx" % (v[ref] / v[c]) if ratio and v[ref] and v[c] else "" for c in others]
    rows.append(r)
print_table(head, rows)
# Each stack's rate per WIN seconds (median of the rounds), where a collapse shows.
print()
for c in cols:
    runs = [[int(x) for x in s.split(",")] for s in series.get((c, "conn_persec"), [])]
    if runs:
        buckets = [sorted(sum(r[i:i + win]) / win for r in runs)[len(runs) // 2]
                   for i in range(0, secs - win + 1, win)]
        print("%-12s per %d s: %s" % (c, win, " ".join("%.0f" % b for b in buckets)))
EOF
[[ -z $OUT ]] || PYTHONPATH="$here" "$PY" -c \
    'import sys, bench_table; bench_table.write_json(*sys.argv[1:])' "$results" "$OUT"
echo
log "done in $((SECONDS - start)) s"
if ((failures)); then
    log "$failures failure(s); TOPO_KEEP=1 keeps the logs"
    exit 1
fi
