#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# topology_selftest.sh — proves tests/lib/topology.sh builds the topology its
# header draws, that its servers answer with the right bytes, that nothing can
# leave the topology, and that teardown (explicit, on error, on SIGTERM)
# leaves no namespace, process or file behind.
#
# Run as root: tests/lib/topology_selftest.sh
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail # no -e: every check is counted, one failure must not hide the rest

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/topology.sh
source "$here/topology.sh"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
# check_here NAME CMD...: the same, in this shell (for commands that set state,
# such as the pids the topo_start_* functions record).
check_here() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
# check NAME CMD...: passes when CMD exits 0.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$(tail -n 5 <<<"$out")"; fi
}

# The last line must be the summary even if something below dies unexpectedly.
summary() {
    local rc=$?
    ((rc != 0 && pass + fail == 0)) && fail=1
    echo "$pass passed, $fail failed"
    ((fail == 0)) || exit 1
    exit "$rc"
}
trap summary EXIT # topology.sh chains this after its own teardown

topo_require ip curl iperf3 dnsmasq sha256sum "$TOPO_PYTHON"

HTTP_PORT=8080 HOSTHTTP_PORT=8081 IPERF_PORT=5201
DNS_NAME=selftest.example DNS_V4=203.0.113.7 DNS_V6=2001:db8::7

# ------------------------------------------------------------------ helpers

# DNS query NAME TYPE(A|AAAA) SERVER: prints the answers, one per line. Uses dig
# when installed, else a raw query from Python's standard library, so the test
# does not depend on bind9-dnsutils (SELFTEST_DNS=python forces the latter).
use_dig() { [[ ${SELFTEST_DNS:-} != python ]] && command -v dig >/dev/null 2>&1; }
dns_query() {
    local name=$1 type=$2 server=$3
    if use_dig; then
        topo_exec_h dig +short +time=2 +tries=1 "@$server" "$name" "$type"
        return
    fi
    topo_exec_h "$TOPO_PYTHON" - "$name" "$type" "$server" <<'EOF'
import ipaddress, os, socket, struct, sys
name, qtype, server = sys.argv[1], {"A": 1, "AAAA": 28}[sys.argv[2]], sys.argv[3]
qid = int.from_bytes(os.urandom(2), "big")
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, 53))
r = s.recv(4096)
rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
assert rid == qid, "wrong id"
def skip_name(o):
    while True:
        l = r[o]
        if l == 0: return o + 1
        if l & 0xC0 == 0xC0: return o + 2
        o += 1 + l
o = 12
for _ in range(qd): o = skip_name(o) + 4
for _ in range(an):
    o = skip_name(o)
    t, c, ttl, rdlen = struct.unpack(">HHIH", r[o:o + 10]); o += 10
    if t in (1, 28): print(ipaddress.ip_address(r[o:o + rdlen]))
    o += rdlen
EOF
}

# sha256 of the body curl gets from H (the URL's file must be in SHA256SUMS).
body_matches() {
    local url=$1 file=$2 want got
    want=$(awk -v f="$file" '$2 == f {print $1}' "$TOPO_WWW/SHA256SUMS")
    got=$(topo_exec_h curl -sSf -m 10 "$url" | sha256sum | cut -d' ' -f1)
    [[ -n $want && $got == "$want" ]] || { echo "want $want got $got for $url"; return 1; }
}

iperf_ok() { # SERVER: a 1 s iperf3 run from H, throughput > 0
    local json bps
    json=$(topo_exec_h iperf3 -c "$1" -p "$IPERF_PORT" -t 1 -J) || { echo "$json" | tail -5; return 1; }
    bps=$("$TOPO_PYTHON" -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' <<<"$json")
    echo "iperf3 to $1: $((bps / 1000000)) Mbit/s"
    ((bps > 0))
}

# A route lookup must fail: nothing routable from this namespace to ADDR
# (in a namespace that exists: a failing `ip netns exec` proves nothing).
no_route() {
    local ns
    ns=$(_topo_ns "$1")
    ip netns exec "$ns" true || { echo "cannot enter namespace $ns"; return 1; }
    ! ip netns exec "$ns" ip route get "$2" >/dev/null 2>&1
}

# Only loopback routes may exist in G's main tables (G is empty until a stack
# under test adds tap0 and its default route).  A failing `ip` fails.
g_has_no_route() {
    local r4 r6
    r4=$(ip -n "$TOPO_G" -4 route show) || { echo "ip -4 route show failed in $TOPO_G"; return 1; }
    r6=$(ip -n "$TOPO_G" -6 route show) || { echo "ip -6 route show failed in $TOPO_G"; return 1; }
    r6=$(awk '!/ dev lo /' <<<"$r6")
    [[ -z $r4 && -z $r6 ]] || { echo "routes in G: $r4 $r6"; return 1; }
    no_route G "$TOPO_I4" && no_route G "$TOPO_I6" && no_route G 192.0.2.1
}

# ICMP echo over an unprivileged ping socket (SOCK_DGRAM/IPPROTO_ICMP), which
# only exists where ping_group_range allows it.
ping_socket() { # NS ADDR: 0 when an echo reply comes back
    ip netns exec "$(_topo_ns "$1")" "$TOPO_PYTHON" - "$2" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.settimeout(2)
s.sendto(struct.pack(">BBHHH", 8, 0, 0, 0, 1) + b"selftest", (sys.argv[1], 0))
data, _ = s.recvfrom(1500)
assert data[0] == 0, "not an echo reply"
EOF
}

no_ping_socket() { ! ping_socket "$@" 2>/dev/null; }

# H's IPv4 routes are exactly the veth subnet and the default via I.
h_routes_only_to_i() {
    local routes
    routes=$(ip -n "$TOPO_H" -4 route show | sed 's/ *$//' | sort)
    [[ $routes == "$(printf '198.18.0.0/24 dev veth-i proto kernel scope link src %s\ndefault via %s dev veth-i' "$TOPO_H4" "$TOPO_I4")" ]] ||
        { echo "H routes: $routes"; return 1; }
}

gone() { # the namespaces, the dirs and the pids named in file $1 are all gone
    local f=$1 ns pid dir ns_g ns_h ns_i pids
    read -r ns_g ns_h ns_i dir pids <"$f" || return 1
    for ns in "$ns_g" "$ns_h" "$ns_i"; do
        [[ ! -e /var/run/netns/$ns ]] || { echo "namespace $ns still exists"; return 1; }
        [[ ! -e /etc/netns/$ns ]] || { echo "/etc/netns/$ns still exists"; return 1; }
    done
    [[ ! -e $dir ]] || { echo "$dir still exists"; return 1; }
    for pid in ${pids//,/ }; do
        ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid still runs"; return 1; }
    done
}

# ------------------------------------------------------------------ the topology

if ! topo_up; then
    bad topo_up "could not build the topology"
    exit 1
fi
ok topo_up
for ns in "$TOPO_G" "$TOPO_H" "$TOPO_I"; do
    check "namespace $ns exists" test -e "/var/run/netns/$ns"
done
check "names are unique per run (pid in name)" grep -q -- "-$$-" <<<"$TOPO_G$TOPO_H$TOPO_I"

check_here "http server in I started" topo_start_http_i "$HTTP_PORT"
pid_http_i=$TOPO_LAST_PID
check_here "http server on H loopback started" topo_start_http_h_loopback "$HOSTHTTP_PORT"
pid_http_h=$TOPO_LAST_PID
check_here "iperf3 server in I started" topo_start_iperf3_i "$IPERF_PORT"
pid_iperf=$TOPO_LAST_PID
check_here "dnsmasq in I started" topo_start_dnsmasq_i "--address=/$DNS_NAME/$DNS_V4" "--address=/$DNS_NAME/$DNS_V6"
pid_dns=$TOPO_LAST_PID

# HTTP from H to I, both families, bodies verified byte for byte.
check "H -> I http IPv4 / (index)" body_matches "http://$TOPO_I4:$HTTP_PORT/" index.html
check "H -> I http IPv4 1 MiB body" body_matches "http://$TOPO_I4:$HTTP_PORT/1M.bin" 1M.bin
check "H -> I http IPv6 / (index)" body_matches "http://[$TOPO_I6]:$HTTP_PORT/" index.html
check "H -> I http IPv6 1 MiB body" body_matches "http://[$TOPO_I6]:$HTTP_PORT/1M.bin" 1M.bin

check "H -> I iperf3 IPv4 1 s" iperf_ok "$TOPO_I4"
check "H -> I iperf3 IPv6 1 s" iperf_ok "$TOPO_I6"

# DNS: answers only what --address says; no upstream, so nothing else resolves.
if use_dig; then echo "(DNS checks use dig)"; else echo "(DNS checks use python3)"; fi
check "dnsmasq A via $TOPO_I4" test "$(dns_query "$DNS_NAME" A "$TOPO_I4")" = "$DNS_V4"
check "dnsmasq AAAA via $TOPO_I6" test "$(dns_query "$DNS_NAME" AAAA "$TOPO_I6")" = "$DNS_V6"
check "dnsmasq has no upstream (other names: no answer)" test -z "$(dns_query other.example A "$TOPO_I4" 2>/dev/null)"
check "dnsmasq logged the query" grep -q "$DNS_NAME" "$TOPO_DIR/logs/dnsmasq-i-53.queries.log"

# H's loopback services: reachable from H, not from I via H's veth address.
check "H loopback http 127.0.0.1" body_matches "http://127.0.0.1:$HOSTHTTP_PORT/hello.txt" hello.txt
check "H loopback http ::1" body_matches "http://[::1]:$HOSTHTTP_PORT/hello.txt" hello.txt
check "H loopback http not on H's veth address" \
    bash -c "! ip netns exec '$TOPO_I' curl -sS -m 2 http://$TOPO_H4:$HOSTHTTP_PORT/ >/dev/null 2>&1"

# Isolation: G has nothing; H reaches only I; I reaches only H's subnet.
check "G has no route at all" g_has_no_route
check "H has no route but via I" h_routes_only_to_i
check "I has no default route (v4)" no_route I 192.0.2.1
check "I has no default route (v6)" no_route I 2001:db8::1
check "H's resolv.conf points at I's dnsmasq, not the host resolver" \
    grep -qx "nameserver $TOPO_I4" <(topo_exec_h cat /etc/resolv.conf)

# ping_group_range is enabled in H only.
check "unprivileged ping socket works in H" ping_socket H "$TOPO_I4"
check "ping sockets stay off in G (sysctl is per namespace)" no_ping_socket G 127.0.0.1

# Teardown: explicit, idempotent, complete.
state=$(mktemp)
echo "$TOPO_G $TOPO_H $TOPO_I $TOPO_DIR $pid_http_i,$pid_http_h,$pid_iperf,$pid_dns" >"$state"
check_here topo_down topo_down
check "after topo_down: namespaces, files and servers are gone" gone "$state"
check_here "topo_down again is a no-op" topo_down

# ------------------------------------------------------------------ teardown on failure / signal
# Child scripts that build a topology, note what they built, then fail.

child() { # MODE(fail|term) STATEFILE: run a child test script, print its exit code
    local mode=$1 f=$2
    bash -c '
        set -euo pipefail
        source "$1"
        topo_up 2>/dev/null
        topo_start_http_i 8080 2>/dev/null
        echo "$TOPO_G $TOPO_H $TOPO_I $TOPO_DIR $TOPO_LAST_PID" >"$2"
        if [[ $3 == fail ]]; then false; fi   # set -e failure
        # Short sleeps, not one long one: a foreground sleep delays the trap
        # until it ends, and a backgrounded one would outlive the script.
        for _ in $(seq 1 300); do sleep 0.1; done
    ' child "$here/topology.sh" "$f" "$mode" >/dev/null 2>&1 &
    local pid=$!
    if [[ $mode == term ]]; then
        for _ in $(seq 1 100); do [[ -s $f ]] && break; sleep 0.05; done
        kill -TERM "$pid"
    fi
    wait "$pid"
    echo $?
}
: >"$state"
rc=$(child fail "$state")
check "set -e failure in a caller exits non-zero ($rc)" test "$rc" -ne 0
check "set -e failure in a caller: everything torn down" gone "$state"
: >"$state"
rc=$(child term "$state")
check "SIGTERM: exit status 143 ($rc)" test "$rc" -eq 143
check "SIGTERM: everything torn down" gone "$state"
rm -f "$state"

# A missing prerequisite fails loudly (never a silent skip).
out=$(bash -c 'source "$1"; topo_require definitely-not-a-command-xyz; echo survived' x "$here/topology.sh" 2>&1)
# shellcheck disable=SC2016 # $1 belongs to the inner bash
check "topo_require fails on a missing command, naming it" \
    bash -c '[[ $1 == *"missing prerequisite: definitely-not-a-command-xyz"* && $1 != *survived* ]]' x "$out"
