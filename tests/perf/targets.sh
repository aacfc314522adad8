#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# targets.sh — every benchmark behind msbnet's performance targets in one go,
# with shared settings: peers.sh, udp_rr.sh, dns_qps.sh, rss.sh and
# conn_rate.sh, each printing its own tables as usual; then their results
# merged into one JSON file, the targets table (tests/perf/targets.py, PASS/
# MISS per target) and a bar chart (gnuplot) next to the JSON.  A benchmark,
# not a test: never run by ctest; exit status 1 when a benchmark failed.
#
# Usage (root): tests/perf/targets.sh        (~25 min with the defaults)
#   OUT=/tmp/msbnet-perf/targets.json   the chart goes next to it (.png)
#   REPEAT=3        rounds of every timed benchmark, medians (rss.sh: one)
#   SKIP="rss conn_rate"   leave benchmarks out (their targets say n/a)
#   SECS=5 CONNS=2000 RTTS=2000 MTUS="1500 65520"   peers.sh; SECS is also
#                   dns_qps.sh's time per window
#   RRS=5000        udp_rr.sh       FLOWS=65536   rss.sh
#   CONN_SECS=60 WORKERS=32 WIN=10   conn_rate.sh
#   MSBNETD=path    (default build/bin/msbnetd; conn_rate next to it)
# Quick check that everything runs (~6 min, numbers meaningless):
#   SECS=1 CONNS=200 RTTS=200 RRS=500 REPEAT=1 FLOWS=1000 CONN_SECS=6 WIN=2 tests/perf/targets.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
OUT=${OUT:-/tmp/msbnet-perf/targets.json}
PNG=${OUT%.json}.png
REPEAT=${REPEAT:-3}
SKIP=${SKIP:-}
export MSBNETD=${MSBNETD:-$top/build/bin/msbnetd}
peers="msbnet slirp4netns pasta pasta_root" # "best peer" = the best of the last three

command -v gnuplot >/dev/null || { echo "targets: missing gnuplot (Debian package gnuplot-nox)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
sections=()
started=$(date -u +%FT%TZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run NAME VAR=VALUE...: tests/perf/NAME.sh with those settings and OUT
# pointing at its part of the results, unless SKIP names it.
run() {
    local name=$1
    shift
    if [[ " $SKIP " == *" $name "* ]]; then
        echo "targets: skipping $name (SKIP)" >&2
        return
    fi
    echo "targets: $name ..." >&2
    sections+=("$name=$tmp/$name.json")
    env "$@" REPEAT="$REPEAT" OUT="$tmp/$name.json" "$here/$name.sh" || failed+=("$name")
}

run peers STACKS="$peers" SECS="${SECS:-5}" CONNS="${CONNS:-2000}" RTTS="${RTTS:-2000}" \
    MTUS="${MTUS:-1500 65520}" PEERS_TARGETS=0
run udp_rr UDP_STACKS="$peers" RRS="${RRS:-5000}"
run dns_qps QPS_STACKS="msbnet slirp4netns" SECS="${SECS:-5}" WINDOWS="1 32"
run rss FLOWS="${FLOWS:-65536}"
run conn_rate CONN_STACKS="kernel $peers" SECS="${CONN_SECS:-60}" WORKERS="${WORKERS:-32}" WIN="${WIN:-10}"

echo
echo "msbnet performance targets: $(nproc) cores, kernel $(uname -r), REPEAT=$REPEAT," \
    "load average $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
/usr/bin/python3 "$here/targets.py" --out "$OUT" --png "$PNG" \
    --meta date="$started" --meta kernel="$(uname -r)" --meta cores="$(nproc)" \
    --meta commit="$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')" \
    --meta load_start="$load_before" --meta load_end="$(cut -d' ' -f1-3 /proc/loadavg)" \
    --meta settings="REPEAT=$REPEAT SECS=${SECS:-5} CONNS=${CONNS:-2000} RTTS=${RTTS:-2000} RRS=${RRS:-5000} FLOWS=${FLOWS:-65536} CONN_SECS=${CONN_SECS:-60} WORKERS=${WORKERS:-32} SKIP=$SKIP" \
    "${sections[@]}" || failed+=(targets.py)
echo "results: $OUT, chart: $PNG"
if ((${#failed[@]})); then
    echo "targets: failed: ${failed[*]} (their messages are above)" >&2
    exit 1
fi
