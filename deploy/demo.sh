#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, end to end on this machine only: a sandboxed command whose
# only network is msbnet, under a policy, talking to "internet" services in a
# namespace of its own (198.18.0.1) and to services on the host's loopback
# (reached through the gateway address), with what was allowed and denied
# shown by the command itself and by msbnet's metrics.
# Last, one sandbox changed from outside while it runs: a published port,
# msbnetctl policy set, hostnames, and the HTTP /metrics endpoint.
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
msbnetctl=$build/bin/msbnetctl
source "$top/tests/lib/topology.sh"
topo_up
topo_start_http_i 8080
topo_start_http_h_loopback 8081
topo_start_http_h_loopback 8082
topo_wait_port I 198.18.0.1 8080 10
# A second "internet" host, and a DNS server in I that names both.
ip -n "$TOPO_I" addr add 198.18.0.7/24 dev veth-h
# --local-ttl: dnsmasq answers its --address names with TTL 0 by default,
# which msbnet floors at 1 s; 60 s keeps them in the index for the queries below.
topo_start_dnsmasq_i --local-ttl=60 --address=/web.test/198.18.0.1 --address=/blocked.test/198.18.0.7

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sandbox() { ip netns exec "$TOPO_H" "$msbnetd" run --dns 198.18.0.1 "$@"; }
# Each fetch says what happened to it, so allowed and denied sit side by side.
fetches='
    for url in http://198.18.0.1:8080/hello.txt "http://[fd42::1]:8080/hello.txt" \
               http://100.96.0.1:8081/hello.txt http://100.96.0.1:8082/hello.txt; do
        if body=$(curl -sS --max-time 5 "$url" 2>&1); then echo "ALLOWED $url: $body"
        else echo "DENIED  $url: $body"; fi
    done
    echo "ping the gateway:"; ping -c1 -W2 100.96.0.1 | grep -E "bytes from|loss"'
show_metrics() {
    grep -oE '"(tcp|policy|icmp)":\{[^}]*\}' "$1" || cat "$1"
}

say "default policy (public_only): public addresses yes; the host's services and fd42::1 (a ULA, so \"private\") no"
sandbox --metrics-json -- sh -c "$fetches" 2>"$TOPO_DIR/default.json"
show_metrics "$TOPO_DIR/default.json"

say "a policy file: the host's port 8081 allowed, its port 8082 and fd42::1 denied"
cat >"$TOPO_DIR/policy.json" <<'JSON'
{"policy": {"default_egress": "deny", "default_ingress": "deny", "rules": [
  {"direction": "egress", "destination": {"group": "host"}, "protocols": ["tcp"],
   "ports": [{"start": 8081, "end": 8081}], "action": "allow"},
  {"direction": "egress", "destination": {"group": "host"}, "protocols": ["icmpv4"], "action": "allow"},
  {"direction": "egress", "destination": {"cidr": "198.18.0.0/15"}, "action": "allow"}
]}}
JSON
cat "$TOPO_DIR/policy.json"
sandbox --config "$TOPO_DIR/policy.json" --metrics-json -- sh -c "$fetches" 2>"$TOPO_DIR/file.json"
show_metrics "$TOPO_DIR/file.json"

say "names: a policy that allows web.test by name; blocked.test resolves but is denied"
cat >"$TOPO_DIR/names.json" <<'JSON'
{"policy": {"default_egress": "deny", "default_ingress": "deny", "rules": [
  {"direction": "egress", "destination": {"group": "host"}, "protocols": ["udp", "tcp"],
   "ports": [{"start": 53, "end": 53}], "action": "allow"},
  {"direction": "egress", "destination": {"domain": "web.test"}, "protocols": ["tcp"], "action": "allow"}
]}}
JSON
cat "$TOPO_DIR/names.json"
# Control sockets in a directory of their own: msbnetd hides it from CMD.
mkdir -p "$TOPO_DIR/ctl"
ctl="$TOPO_DIR/ctl/ctl.sock"
sandbox --config "$TOPO_DIR/names.json" --control-socket "$ctl" -- sh -c '
    for url in http://web.test:8080/hello.txt http://blocked.test:8080/hello.txt; do
        if body=$(curl -sS --max-time 5 "$url" 2>&1); then echo "ALLOWED $url: $body"
        else echo "DENIED  $url: $body"; fi
    done
    sleep 4' &
names_pid=$!
for _ in $(seq 50); do [[ -S $ctl ]] && break; sleep 0.1; done
sleep 2

say "the control plane: msbnetctl asks the running msbnetd over its unix socket (gRPC)"
"$msbnetctl" --socket "$ctl" status
echo "resolved hostnames (which name each address came from):"
"$msbnetctl" --socket "$ctl" hostnames --all
echo "metrics (one snapshot: policy, tcp and dns sections):"
"$msbnetctl" --socket "$ctl" --json metrics | grep -oE '\\?"(policy|tcp|dns)\\?":\{[^}]*\}' || true
wait "$names_pid"

# ---- one sandbox, served and changed from outside while it runs -----------------
# The guest serves HTTP on its port 8000, published on the host side as
# 127.0.0.1:8090; it fetches http://web.test:8080/ when told to (a file
# appears), once before and once after the policy is changed over gRPC.
live="$TOPO_DIR/live"
mkdir -p "$live"
chmod 1777 "$live" # the sandboxed command (nobody on the host) leaves its marks here
ctl2="$TOPO_DIR/ctl/ctl2.sock"
http=127.0.0.1:9464
guest_script='www=$1 live=$2
python3 -m http.server 8000 --bind 0.0.0.0 --directory "$www" >/dev/null 2>&1 & srv=$!
trap "kill $srv 2>/dev/null; exit 0" TERM
for step in before after; do
    while [ ! -e "$live/go-$step" ]; do sleep 0.1; done
    url=http://web.test:8080/hello.txt
    if body=$(curl -sS --max-time 5 "$url" 2>&1); then echo "[guest] ALLOWED $url: $body"
    else echo "[guest] DENIED  $url: $body"; fi
    touch "$live/done-$step"
done
wait $srv'
sandbox --control-socket "$ctl2" --http "$http" --publish 127.0.0.1:8090:8000 -- \
    sh -c "$guest_script" _ "$TOPO_WWW" "$live" >"$live/guest.out" 2>"$live/msbnetd.err" &
live_pid=$!
host() { ip netns exec "$TOPO_H" "$@"; }
for _ in $(seq 100); do
    host curl -s --max-time 1 -o /dev/null "http://127.0.0.1:8090/hello.txt" && break
    sleep 0.1
done
# step NAME: let the guest make its fetch NAME and show what it printed.
step() {
    touch "$live/go-$1"
    for _ in $(seq 100); do [[ -e $live/done-$1 ]] && break; sleep 0.1; done
    tail -1 "$live/guest.out"
}

say "a published port: the host side's 127.0.0.1:8090 reaches a server inside the sandbox (port 8000)"
echo "$ curl http://127.0.0.1:8090/hello.txt    (run on the host side)"
host curl -sS --max-time 5 "http://127.0.0.1:8090/hello.txt"

say "a policy change at run time: msbnetctl policy set, no restart"
step before
echo "$ msbnetctl policy set --rules 'allow@host:udp:53'    (DNS to the gateway only)"
"$msbnetctl" --socket "$ctl2" policy set --rules 'allow@host:udp:53'
"$msbnetctl" --socket "$ctl2" status | grep policy_summary
step after
echo "(web.test still resolves: DNS is allowed; the connection to it is not)"
echo "$ msbnetctl hostnames --all"
"$msbnetctl" --socket "$ctl2" hostnames --all

say "Prometheus metrics over HTTP: msbnetd --http $http, GET /metrics (a few of the msbnet_* lines)"
host curl -sS --max-time 5 "http://$http/metrics" | grep -E '^msbnet_(policy_replacements_total|policy_flows_reset_total|policy_decisions_total|tcp_connects_total\{outcome="ok"\}|inbound_tcp_accepted|dns_queries_total|guest_frames_total)' || true
kill -TERM "$live_pid"
wait "$live_pid" || true
