#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd run -- CMD`: the command's namespace has exactly the configured
# addresses, routes, resolv.conf, MAC and MTU; CMD's exit status comes back;
# nothing is left behind on the host; bad options exit 2 with a message.
# Always the real plugin: without it the test fails.
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
require_real_plugin
tmp=$(mktemp -d)
chmod 755 "$tmp" # CMD under a root msbnetd runs as nobody and reads its script here
dns_ns=
trap 'rm -rf "$tmp"; [[ -z $dns_ns ]] || ip netns del "$dns_ns"' EXIT
LOG_DIR=$tmp # msbnetd's stderr of each run (checks.sh's msbnetd_fg)
resolv_before=$(sha256sum /etc/resolv.conf 2>/dev/null)
host_links_before=$(ip -br link | awk '{print $1}' | sort)
# msbnetd run: CMD's stdout as is, msbnetd's stderr after it ends; how
# msbnetd ended is judged (no sanitizer report, no status of its own).
run_tag=MSBT_RUN_SETUP=$$.$RANDOM # marks the processes of this test's runs
run() { FG_STDOUT=pass msbnetd_fg run cmd -- env "$run_tag" "$msbnetd" --plugin "$plugin" run "$@"; }

# One run per configuration prints everything the checks need.
setup_of() { # OPTIONS... -- prints sections separated by "=="
    run "$@" -- sh -c 'ip -j addr show tap0; echo ==; ip -4 route; echo ==; ip -6 route show default;
        echo ==; cat /etc/resolv.conf; echo ==; cat /sys/class/net/tap0/address;
        cat /sys/class/net/tap0/mtu; echo ==; ip -br link | awk "{print \$1}" | sort | tr "\n" " ";
        echo ==; readlink /proc/self/ns/net'
}

check_setup() { # LABEL SLOT MTU OPTIONS...
    local label=$1 slot=$2 mtu=$3 out
    shift 3
    expected_addrs "$slot"
    out=$(setup_of "$@" 2>&1) || { ko "$label: run failed: $out"; return; }
    IFS=$'\x1e' read -r -d '' addr r4 r6 resolv link links ns <<<"${out//==/$'\x1e'}"
    expect "$label: IPv4 address" "$(jq -r '.[0].addr_info[]|select(.family=="inet")|"\(.local)/\(.prefixlen)"' <<<"$addr")" "$guest4/30"
    expect "$label: IPv6 global address (nodad)" \
        "$(jq -r '.[0].addr_info[]|select(.family=="inet6" and .scope=="global")|"\(.local)/\(.prefixlen) \(.nodad) \(.tentative // false)"' <<<"$addr")" \
        "$guest6/64 true false"
    expect "$label: link up" "$(jq -r '.[0].flags|index("UP") != null' <<<"$addr")" "true"
    expect "$label: IPv4 routes" "$(sed '/^$/d' <<<"$r4")" \
        "default via $gw4 dev tap0 onlink 
100.96.$(( (4 * slot) / 256 )).$(( (4 * slot) % 256 ))/30 dev tap0 proto kernel scope link src $guest4 "
    expect "$label: IPv6 default route" "$(sed '/^$/d; s/ *$//' <<<"$r6")" \
        "default via $gw6 dev tap0 metric 1024 onlink pref medium"
    expect "$label: resolv.conf" "$(sed '/^$/d' <<<"$resolv")" "nameserver $gw4
nameserver $gw6"
    expect "$label: MAC and MTU" "$(tr '\n' ' ' <<<"$link" | sed 's/^ *//; s/ *$//')" "$mac $mtu"
    expect "$label: only lo and tap0" "$(echo $links)" "lo tap0"
    ns=$(tr -d '\n ' <<<"$ns")
    expect "$label: namespace gone after exit" "$(procs_in_netns "$ns" "$run_tag")" "0"
}

check_setup "default" 0 1500
check_setup "slot 3" 3 1500 --slot 3
check_setup "slot 3, MTU 65520" 3 65520 --slot 3 --mtu 65520
echo '{"slot": 7, "mtu": 9000}' >"$tmp/c.json"
check_setup "--config, --slot overrides its key" 300 9000 --config "$tmp/c.json" --slot 300

out=$(run --ipv4 10.9.0.2/24 --gateway4 10.9.0.1 -- sh -c 'ip -br -4 addr show tap0; ip -4 route show default')
expect "--ipv4/--gateway4 with a prefix" "$(echo $out)" "tap0 UNKNOWN 10.9.0.2/24 default via 10.9.0.1 dev tap0 onlink"
out=$(run --ipv6 fd00:1::5 --gateway6 fd00:1::1 -- sh -c 'ip -br -6 addr show tap0 scope global; ip -6 route show default')
expect "--ipv6/--gateway6" "$(echo $out)" "tap0 UNKNOWN fd00:1::5/64 default via fd00:1::1 dev tap0 metric 1024 onlink pref medium"
expect "MTU 576: IPv4 only, one nameserver" \
    "$(run --mtu 576 -- sh -c 'ip -br -6 addr show tap0 scope global; cat /etc/resolv.conf' 2>/dev/null)" \
    "nameserver 100.96.0.1"

# Exit status of CMD.
check "exit status 7" 7 "" run -- sh -c 'exit 7'
check "killed by SIGKILL -> 137" 137 "" run -- sh -c 'kill -9 $$'
check "exec failure -> 127" 127 "cannot run" run -- /nonexistent/cmd
# msbnetd itself, not a subshell running run(): killing the subshell left
# msbnetd and its sleep behind for 30 s (holding slot 0's control socket).
# SIGTERM once CMD runs ("sleep", under msbnetd's child and msbnetd-init);
# msbnetd must exit 143.
has_descendant() { # PID COMM
    local c
    for c in $(pgrep -P "$1"); do
        [[ $(cat "/proc/$c/comm" 2>/dev/null) == "$2" ]] && return 0
        has_descendant "$c" "$2" && return 0
    done
    return 1
}
"$msbnetd" --plugin "$plugin" run -- sleep 30 2>"$tmp/sigterm.log" &
pid=$!
for _ in $(seq 200); do has_descendant "$pid" sleep && break; sleep 0.05; done
has_descendant "$pid" sleep || ko "CMD never started under msbnetd $pid"
kill -TERM $pid
msbnetd_done "SIGTERM to msbnetd reaches CMD (128+15): msbnetd" "$pid" 143 "$tmp/sigterm.log"

# Bad options: exit 2 and a one-line reason.
check "no command" 2 "missing the command" run
check "unknown option" 2 'unknown option "--colour"' run --colour -- true
check "MTU out of range" 2 "576..65520" run --mtu 70000 -- true
check "MTU not a number" 2 '"9k"' run --mtu 9k -- true
check "slot out of range" 2 "--slot" run --slot 65536 -- true
check "bad IPv4" 2 "--ipv4" run --ipv4 300.1.1.1 -- true
check "bad prefix" 2 "prefix" run --ipv4 10.0.0.2/33 -- true
check "bad gateway6" 2 "--gateway6" run --gateway6 10.0.0.1 -- true
check "bad egress" 2 "allow, deny or public_only" run --egress maybe -- true
check "value missing" 2 "needs a value" run --slot
check "plugin range check names the key" 2 '"connect_timeout_ms"' run --connect-timeout 5 -- true
echo '{"colour": 1}' >"$tmp/bad.json"
check "bad config key named" 2 '"colour"' run --config "$tmp/bad.json" -- true
check "missing config file" 2 "cannot open" run --config "$tmp/none.json" -- true
check "--netns is for tap" 2 "--netns" run --netns /x -- true
# --dns ADDR: the guest's queries to the gateway are answered by ADDR.  In
# a namespace of its own (nothing leaves the machine): a one-name DNS
# server on its 127.0.0.1:53, msbnetd run --dns 127.0.0.1 there.
dns_ns=msbdns$$_$RANDOM
ip netns add "$dns_ns" && ip -n "$dns_ns" link set lo up || ko "cannot create netns $dns_ns"
cat >"$tmp/dns.py" <<'EOF'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("listening", flush=True)
while True:  # probe.test A -> 192.0.2.99; any other question: no answer
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += q[end] + 1
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
    an = b""
    if q[12:end + 1].lower() == b"\x05probe\x04test\x00" and qtype == 1:
        an = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 99])
    s.sendto(q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if an else 0, 0, 0)
             + q[12:end + 5] + an, peer)
EOF
ip netns exec "$dns_ns" /usr/bin/python3 "$tmp/dns.py" >"$tmp/dns.out" 2>&1 &
dns_pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/dns.out" && break; sleep 0.05; done
out=$(FG_STDOUT=pass msbnetd_fg run cmd -- ip netns exec "$dns_ns" "$msbnetd" --plugin "$plugin" \
    run --dns 127.0.0.1 -- getent ahostsv4 probe.test)
expect "--dns 127.0.0.1: the guest's query is answered by that upstream" \
    "$(awk 'NR == 1 {print $1}' <<<"$out")" "192.0.2.99"
kill "$dns_pid" 2>/dev/null
wait "$dns_pid" 2>/dev/null

# The host is untouched.
expect "host resolv.conf unchanged" "$(sha256sum /etc/resolv.conf 2>/dev/null)" "$resolv_before"
expect "no interface left on the host" "$(ip -br link | awk '{print $1}' | sort)" "$host_links_before"
expect "no staging tmpfs left on the host" "$(grep -c ' msbnetd ' /proc/self/mountinfo)" "0"

# The real stack: the gateway answers ARP.
out=$(run -- sh -c 'ping -c1 -W2 100.96.0.1 >/dev/null 2>&1; ip neigh show 100.96.0.1')
expect "gateway resolved by ARP" "$(awk '{print $5}' <<<"$out")" "02:6d:73:00:00:01"
finish
