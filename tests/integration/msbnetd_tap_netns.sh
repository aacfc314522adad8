#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd tap --netns PATH`: tap0 appears configured in a namespace the test
# made while msbnetd itself stays in the host namespace; SIGTERM ends it with
# exit 0 and tap0 disappears.  Always the real plugin: without it the
# test fails.
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
require_real_plugin
ns=msbtap$$_$RANDOM
pid=
tmp=$(mktemp -d)
LOG_DIR=$tmp
cleanup() {
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || { echo "cannot create netns"; echo "0 passed, 1 failed"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

"$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$ns" --slot 9 --mtu 9000 2>"$tmp/tap1.log" &
pid=$!
for _ in $(seq 50); do # up to 5 s for tap0 to come up
    in_ns ip -j addr show tap0 2>/dev/null | grep -q '"100.96.0.38"' && break
    sleep 0.1
done
expected_addrs 9
expect "IPv4 address" "$(in_ns ip -br -4 addr show tap0 | awk '{print $3}')" "$guest4/30"
expect "IPv6 address" "$(in_ns ip -br -6 addr show tap0 scope global | awk '{print $3}')" "$guest6/64"
expect "default routes" "$( (in_ns ip route show default; in_ns ip -6 route show default) | sed 's/ *$//')" \
    "default via $gw4 dev tap0 onlink
default via $gw6 dev tap0 metric 1024 onlink pref medium"
expect "MAC" "$(in_ns cat /sys/class/net/tap0/address 2>/dev/null || in_ns ip -j link show tap0 | jq -r '.[0].address')" "$mac"
expect "MTU" "$(in_ns ip -j link show tap0 | jq -r '.[0].mtu')" "9000"
expect "lo up" "$(in_ns ip -j link show lo | jq -r '.[0].flags|index("UP") != null')" "true"
expect "msbnetd stays in the host namespace" "$(readlink /proc/$pid/ns/net)" "$(readlink /proc/self/ns/net)"
expect "no tap0 on the host" "$(ip link show tap0 2>&1 >/dev/null | grep -c 'does not exist')" "1"
msbnetd_stop "SIGTERM: msbnetd tap" "$pid" 0 "$tmp/tap1.log"
pid=
expect "tap0 gone after exit" "$(in_ns ip -br link | awk '{print $1}' | sort | tr '\n' ' ')" "lo "

check "--netns required" 2 "--netns PATH is required" "$msbnetd" --plugin "$plugin" tap
check "missing namespace" 1 "cannot open network namespace" \
    "$msbnetd" --plugin "$plugin" tap --netns /var/run/netns/none-$ns
check "extra argument refused" 2 'unexpected argument "x"' \
    "$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$ns" x
# A second msbnetd on a namespace that already has tap0 fails cleanly.
"$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$ns" 2>"$tmp/tap2.log" &
pid=$!
for _ in $(seq 50); do in_ns ip link show tap0 >/dev/null 2>&1 && break; sleep 0.1; done
check "tap0 already in use" 1 "tap0" "$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$ns"
kill -INT "$pid"
msbnetd_done "SIGINT: msbnetd tap" "$pid" 0 "$tmp/tap2.log"
pid=
finish
