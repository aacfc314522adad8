#!/usr/bin/env bash
# The main job, end to end on this machine only: a sandboxed command whose
# only network is msbnet, talking to "internet" services in a namespace of
# its own (198.18.0.1) and to a service on the host's loopback (through the
# gateway address), first allowed, then denied, with the metrics msbnet kept.
# Nothing leaves the machine: the services live in namespaces this script
# creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
./deploy/bootstrap.sh >/dev/null
build=${MSBNET_BUILD_DIR:-$top/build}
if [[ ! -x $build/bin/msbnetd ]]; then
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j "$(nproc)" >/dev/null
fi
msbnetd=$build/bin/msbnetd
source "$top/tests/lib/topology.sh"
topo_up
topo_start_http_i 8080
topo_start_http_h_loopback 8081
topo_wait_port I 198.18.0.1 8080 10

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sandbox() { ip netns exec "$TOPO_H" "$msbnetd" run "$@"; }

say "allowed: the sandbox fetches from the internet (198.18.0.1) and from the host (gateway 100.96.0.1 = host loopback)"
sandbox --egress allow --metrics-json -- sh -c '
    echo "guest addresses:"; ip -brief addr show tap0
    curl -sS --max-time 5 http://198.18.0.1:8080/hello.txt
    curl -sS --max-time 5 "http://[fd42::1]:8080/hello.txt"
    curl -sS --max-time 5 http://100.96.0.1:8081/hello.txt' 2>"$TOPO_DIR/allowed.json"
echo "metrics (tcp):"
grep -o '"tcp":{[^}]*}' "$TOPO_DIR/allowed.json" || cat "$TOPO_DIR/allowed.json"

say "denied: the same sandbox with egress denied gets 'connection refused' at once"
sandbox --egress deny --metrics-json -- sh -c '
    curl -sS --max-time 5 http://198.18.0.1:8080/hello.txt || echo "(curl failed as expected)"' \
    2>"$TOPO_DIR/denied.json"
echo "metrics (tcp):"
grep -o '"tcp":{[^}]*}' "$TOPO_DIR/denied.json" || cat "$TOPO_DIR/denied.json"

say "not yet in this build: DNS names, the policy engine, msbnetctl over gRPC (see README)"
