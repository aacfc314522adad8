#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msbnetd's HTTP metrics endpoint (--http) and gRPC metrics stream while the
# guest moves traffic: `msbnetd run` in netns H sandboxes a rate-limited curl
# loop fetching from netns I; /metrics is checked by promtool and read twice
# to see the counters grow; edge cases of the HTTP server; bad --http values.
#   usage: control_http.sh MSBNETD MSBNETCTL PROTO_DIR
set -uo pipefail
msbnetd=$(realpath "${1:?usage: control_http.sh MSBNETD MSBNETCTL PROTO_DIR}")
ctl=$(realpath "${2:?}")
proto=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl /usr/bin/python3 timeout
if ! command -v promtool >/dev/null; then
    echo "FAIL promtool is missing: install the Debian package prometheus (deploy/bootstrap.sh)"
    exit 1
fi
topo_up || exit 1
source "$here/../lib/checks.sh"

source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1

topo_start_http_i 8080
topo_start_http_h_loopback 8081
topo_wait_port I 198.18.0.1 8080 10

# H's loopback belongs to this test's namespace: no port clash with anything.
http=127.0.0.1:9464
# In a directory of its own: msbnetd hides the socket's directory from CMD.
mkdir -p "$TOPO_DIR/ctl"
sock=$TOPO_DIR/ctl/control.sock
h() { topo_exec_h "$@"; }
get() { h curl -sS --max-time 5 "$@"; }

# Traffic until SIGTERM: 1 MiB fetches at 1 MiB/s, through TCP and the
# policy, so every check below sees a busy guest however slow the build (ASan).
# A failed fetch ends the sandbox with status 1, which the end checks.
# --tap-pump: frames go through msbnetd's own pump, whose counters are
# checked below (the default direct path counts them in guest.* only;
# msbnetd_direct_tap checks that path).
topo_bg H daemon "$msbnetd" run --tap-pump --egress allow --control-socket "$sock" --http "$http" -- \
    sh -c 'trap "kill \$c 2>/dev/null; exit 0" TERM
           while :; do
             curl -sS --limit-rate 1M -o /dev/null http://198.18.0.1:8080/1M.bin & c=$!
             wait $c || exit 1
           done'
daemon=$TOPO_LAST_PID
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done

# gRPC: a metrics stream yields snapshots whose byte counters grow.
if /usr/bin/python3 "$here/control_client.py" "$TOPO_DIR" "$sock" growing; then
    ok "metrics stream: byte counters grow while the guest transfers"
else
    bad "metrics stream: byte counters do not grow"
fi

# /metrics: valid exposition format, counters growing between two scrapes.
# The second scrape is taken once both counters checked below have moved
# (tried for up to 20 s), not after a fixed pause that a loaded machine
# could outlast before the guest's next frame.
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
kb='msbnet_guest_bytes_total{direction="to_guest"}'
kf='msbnet_msbnetd_frames_total{direction="to_guest"}'
get -D "$TOPO_DIR/m1.hdr" "http://$http/metrics" >"$TOPO_DIR/m1.txt"
for _ in $(seq 200); do
    get "http://$http/metrics" >"$TOPO_DIR/m2.txt"
    (($(val "$kb" "$TOPO_DIR/m2.txt") > $(val "$kb" "$TOPO_DIR/m1.txt") &&
        $(val "$kf" "$TOPO_DIR/m2.txt") > $(val "$kf" "$TOPO_DIR/m1.txt"))) 2>/dev/null && break
    sleep 0.1
done
if lint=$(promtool check metrics <"$TOPO_DIR/m2.txt" 2>&1) && [[ -z $lint ]]; then
    ok "promtool check metrics: clean ($(grep -c '^msbnet_' "$TOPO_DIR/m2.txt") samples)"
else
    bad "promtool check metrics" "$lint"
fi
expect "/metrics content type" "text/plain; version=0.0.4" "$(cat "$TOPO_DIR/m1.hdr")"
k='msbnet_guest_bytes_total{direction="to_guest"}'
b1=$(val "$k" "$TOPO_DIR/m1.txt") b2=$(val "$k" "$TOPO_DIR/m2.txt")
if [[ -n $b1 && -n $b2 ]] && ((b2 > b1 && b1 > 0)); then ok "$k grows: $b1 -> $b2"
else bad "$k" "'$b1' -> '$b2'"; fi
for want in 'msbnet_guest_frames_total{direction="from_guest"}' \
    'msbnet_flows{protocol="tcp"}' 'msbnet_tcp_flows_by_state{state="established"}' \
    'msbnet_relay_bytes_total{protocol="tcp",direction="to_guest"}' \
    'msbnet_drops_total{reason="eth_spoofed_mac"}' 'msbnet_dns_responses_total{outcome="servfail"}' \
    'msbnet_hostname_index_entries' 'msbnet_terminations_total' 'msbnet_ring_depth{ring="rx"}'; do
    [[ -n $(val "$want" "$TOPO_DIR/m2.txt") ]] && ok "sample $want" || bad "sample $want missing"
done
for want in 'msbnet_tcp_connects_total{outcome="ok"}' 'msbnet_policy_decisions_total{action="allow"}'; do
    v=$(val "$want" "$TOPO_DIR/m2.txt")
    [[ -n $v && $v -gt 0 ]] && ok "$want = $v" || bad "$want" "'$v'"
done
grep -q '^# TYPE msbnet_flows gauge$' "$TOPO_DIR/m2.txt" && ok "msbnet_flows is a gauge" \
    || bad "msbnet_flows TYPE"
# TLS interception's counters are there without interception (all 0) and
# typed like the rest: none left to the untyped fallback.
untyped=$(grep -E '^# TYPE msbnet_(tls|secrets?)_[a-z0-9_]+ untyped$' "$TOPO_DIR/m2.txt")
[[ -z $untyped ]] && ok "no untyped tls/secrets series" || bad "untyped tls/secrets series" "$untyped"
expect "msbnet_tls_handshakes_total is a counter" "# TYPE msbnet_tls_handshakes_total counter" \
    "$(cat "$TOPO_DIR/m2.txt")"
expect "msbnet_tls_secret_violations_total is a counter" \
    "# TYPE msbnet_tls_secret_violations_total counter" "$(cat "$TOPO_DIR/m2.txt")"
expect 'msbnet_tls_handshakes_total{outcome="ok"} 0' "0" \
    "$(val 'msbnet_tls_handshakes_total{outcome="ok"}' "$TOPO_DIR/m2.txt")"

# msbnetd's own pump counters, live (not only at exit): in /metrics with HELP
# and TYPE, growing between the scrapes; in /metrics.json and the gRPC
# snapshot as a top-level "msbnetd" object.
k='msbnet_msbnetd_frames_total{direction="to_guest"}'
f1=$(val "$k" "$TOPO_DIR/m1.txt") f2=$(val "$k" "$TOPO_DIR/m2.txt")
if [[ -n $f1 && -n $f2 ]] && ((f2 > f1 && f1 > 0)); then ok "$k grows: $f1 -> $f2"
else bad "$k" "'$f1' -> '$f2'"; fi
for fam in msbnet_msbnetd_transport_write_drops_total msbnet_msbnetd_no_peer_drops_total \
    msbnet_msbnetd_plugin_writes_total msbnet_msbnetd_transport_blocked_total; do
    grep -q "^# HELP $fam " "$TOPO_DIR/m2.txt" && grep -q "^# TYPE $fam counter\$" "$TOPO_DIR/m2.txt" \
        && ok "$fam has HELP and TYPE counter" || bad "$fam HELP/TYPE missing"
done
expect "msbnet_msbnetd_transport_write_drops_total is 0" "0" \
    "$(val msbnet_msbnetd_transport_write_drops_total "$TOPO_DIR/m2.txt")"
expect "msbnet_msbnetd_frame_held is a gauge" "# TYPE msbnet_msbnetd_frame_held gauge" \
    "$(cat "$TOPO_DIR/m2.txt")"
jcheck() { /usr/bin/python3 -c "import json,sys; m=json.load(sys.stdin); print($1)"; }
expect "/metrics.json: msbnetd pump counters live" "True True" \
    "$(get "http://$http/metrics.json" | jcheck 'm["msbnetd"]["guest_frames_out"] > 0, m["msbnetd"]["transport_write_drops"] == 0')"
expect "/metrics.json: the pump moves the frames" "pump" \
    "$(get "http://$http/metrics.json" | jcheck 'm["msbnetd"]["data_path"]')"
expect "gRPC snapshot: msbnetd pump counters live" "True" \
    "$("$ctl" --socket "$sock" --json metrics | jcheck 'm["msbnetd"]["plugin_accepted"] > 0')"

# The other paths and methods.
code() { get -o /dev/null -w '%{http_code}' "$@"; }
expect "/metrics.json parses, schema 1" "1" \
    "$(get "http://$http/metrics.json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["schema"])')"
expect "/healthz" "ok" "$(get "http://$http/healthz")"
expect "/metrics?query ignored" "200" "$(code "http://$http/metrics?name=x")"
expect "HEAD /metrics" "200" "$(code -I "http://$http/metrics")"
expect "unknown path 404" "404" "$(code "http://$http/nope")"
expect "/ 404" "404" "$(code "http://$http/")"
expect "POST /metrics 405" "405" "$(code -X POST -d x "http://$http/metrics")"
expect "DELETE /healthz 405" "405" "$(code -X DELETE "http://$http/healthz")"
expect "405 names the allowed methods" "Allow: GET, HEAD" \
    "$(get -o /dev/null -D - -X PUT "http://$http/metrics")"
big=$(head -c 20000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big" "http://$http/metrics")
[[ $c -ge 400 ]] && ok "20 KB header refused ($c)" || bad "20 KB header" "$c"
# Idle connections do not stop a scrape (one loop thread, non-blocking).
topo_bg H idle /usr/bin/python3 -c '
import socket, sys, time
s = [socket.create_connection(("127.0.0.1", 9464)) for _ in range(50)]
print("open", flush=True)
time.sleep(30)'
for _ in $(seq 100); do grep -q open "$TOPO_DIR/logs/idle.log" 2>/dev/null && break; sleep 0.05; done
expect "scrape with 50 idle connections open" "200" "$(code "http://$http/metrics")"

# msbnetctl's stream over the same daemon, then the daemon ends with CMD.
n=$("$ctl" --socket "$sock" --json metrics --follow --interval 200 --count 3 | wc -l)
expect "msbnetctl metrics --follow --count 3" "3" "$n"
# Status 0 is CMD's: every guest fetch succeeded; and no sanitizer report.
msbnetd_stop daemon "$daemon"
expect "HTTP listener closed with msbnetd" "000" "$(code "http://$http/metrics")"

# Bad values fail at start (2); a port in use fails to listen (1).
for v in 127.0.0.1 localhost:9464 127.0.0.1:0 '[::1]' '::1:9464' 127.0.0.1:70000; do
    out=$(msbnetd_fg "http_refused" 2 -- h "$msbnetd" run --http "$v" -- true)
    [[ $out == *"--http"* ]] && ok "--http $v refused, naming the option" || bad "--http $v" "$out"
done
out=$(msbnetd_fg http_in_use 1 -- h "$msbnetd" run --http 127.0.0.1:8081 \
    --control-socket "$TOPO_DIR/c2.sock" -- true)
[[ $out == *"cannot listen"* ]] && ok "--http on a port in use: says so" \
    || bad "--http port in use" "$out"
[[ ! -e $TOPO_DIR/c2.sock ]] && ok "no control socket left behind" || bad "control socket left"
# IPv6: the probe comes from H (CMD's ::1 is its own namespace's).
# CMD runs until the probe is done (at most 30 s); the probe retries until
# msbnetd listens.  The control socket has a directory of its own, which
# msbnetd hides from CMD: $TOPO_DIR stays visible.
mkdir -p "$TOPO_DIR/ctl3"
h "$msbnetd" run --http '[::1]:9465' --control-socket "$TOPO_DIR/ctl3/c3.sock" -- \
    sh -c "for i in \$(seq 600); do [ -e $TOPO_DIR/six-done ] && break; sleep 0.05; done" \
    >"$TOPO_DIR/logs/six.log" 2>&1 &
six=$!
for _ in $(seq 200); do
    c6=$(code 'http://[::1]:9465/healthz' 2>/dev/null)
    [[ $c6 == 200 ]] && break
    kill -0 "$six" 2>/dev/null || break
    sleep 0.1
done
expect "--http [::1]:PORT serves IPv6" "200" "$c6"
touch "$TOPO_DIR/six-done"
msbnetd_done six "$six" # CMD's status 0, no sanitizer report
checks_done
