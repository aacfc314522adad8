#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest autoconfiguration end to end: `msbnetd run --no-guest-config` leaves
# tap0 with only its MAC, MTU and link; a stock DHCP client (busybox
# udhcpc) gets the IPv4 address, router, DNS, MTU and lease from msbnet, the
# kernel forms its IPv6 address by SLAAC from msbnet's router advertisement
# and routes via the gateway's link-local address; rdisc6 (ndisc6) reads
# the RA's prefix, MTU and RDNSS; then curl reaches a server in netns I over
# both families and the leased DNS server resolves through dnsmasq in I.
# The same again with `msbnetd tap --netns G` into a namespace prepared with
# accept_ra=2, and the dhcp4/ra off-switches.
#   usage: guest_autoconf.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: guest_autoconf.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require busybox curl dig timeout
# rdisc6's package is not named after it (topo_require would say "rdisc6").
command -v rdisc6 >/dev/null || { echo "missing prerequisite: rdisc6 (Debian package ndisc6)"; exit 1; }
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

GW4=100.96.0.1 GW6=fd42:6d73:62::1 GUEST4=100.96.0.2

topo_start_http_i 8080 || exit 1
topo_start_dnsmasq_i --address=/autoconf.test/198.18.0.1 || exit 1

# The DHCP client's script: applies the lease with ip (what a distribution's
# script does) and records what the server said.
cat >"$TOPO_DIR/udhcpc.sh" <<'EOF'
#!/bin/sh
case $1 in
bound | renew)
    ip -4 addr flush dev "$interface" scope global
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; done
    echo "lease ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu lease=$lease serverid=$serverid" \
        >"$LEASE_FILE"
    ;;
esac
exit 0
EOF
chmod +x "$TOPO_DIR/udhcpc.sh"

# Everything inside one sandbox, printing what it found; the checks below
# read the transcript.
cat >"$TOPO_DIR/guest.sh" <<'EOF'
#!/bin/sh
export LEASE_FILE=$(mktemp -u /tmp/msbnet-lease.XXXXXX) # CMD runs as nobody: not in TOPO_DIR
echo "before: $(ip -4 -o addr show dev tap0 | wc -l) ipv4 addresses"
sysctl -qw net.ipv6.conf.tap0.accept_ra=2
busybox udhcpc -i tap0 -s "$TOPO_DIR/udhcpc.sh" -f -q -n -t 5 -T 2 >/dev/null 2>&1
cat "$LEASE_FILE" 2>/dev/null || echo "no lease"
echo "addr4: $(ip -4 -o addr show dev tap0 | awk '{print $4}')"
echo "route4: $(ip -4 route show default)"
# SLAAC: a global address in the /64, past duplicate address detection
# (a tentative address is not used as a source), and a default route via
# fe80::.
for i in $(seq 100); do
    ip -6 -o addr show dev tap0 scope global -tentative | grep -q 'fd42:6d73:62:0:' &&
        ip -6 route show default | grep -q 'via fe80::' && break
    sleep 0.1
done
echo "addr6: $(ip -6 -o addr show dev tap0 scope global | awk '{print $4}')"
echo "route6: $(ip -6 route show default)"
rdisc6 -1 -w 2000 tap0 | sed 's/^/rdisc6: /'
dns=$(sed -n 's/.* dns=\([^ ]*\) .*/\1/p' "$LEASE_FILE")
echo "resolved: $(dig +short +time=2 +tries=1 @"$dns" autoconf.test A)"
echo "curl4: $(curl -4 -sS --max-time 5 http://198.18.0.1:8080/hello.txt)"
echo "curl6: $(curl -6 -sS --max-time 5 'http://[fd42::1]:8080/hello.txt')"
EOF
chmod +x "$TOPO_DIR/guest.sh"

out=$(TOPO_DIR=$TOPO_DIR guest --no-guest-config --dns 198.18.0.1 --print-metrics -- \
    "$TOPO_DIR/guest.sh")
echo "$out" | grep -v '^{' | sed 's/^/    | /'

expect no_static_address_given "before: 0 ipv4 addresses" "$out"
expect dhcp_address "ip=$GUEST4 mask=30" "$out"
expect dhcp_router "router=$GW4 " "$out"
expect dhcp_dns "dns=$GW4 " "$out"
expect dhcp_mtu "mtu=1500 " "$out"
expect dhcp_lease "lease=86400 " "$out"
expect dhcp_server_id "serverid=$GW4" "$out"
expect address_applied "addr4: $GUEST4/30" "$out"
expect route_applied "route4: default via $GW4 dev tap0" "$out"
expect slaac_address "addr6: fd42:6d73:62:0:" "$out"
if grep -q '^route6: default via fe80::6d:73ff:fe00:1 dev tap0 proto ra' <<<"$out"; then
    ok ra_default_route_via_gateway_link_local
else bad ra_default_route_via_gateway_link_local "$(grep '^route6' <<<"$out")"; fi
expect rdisc6_prefix "rdisc6:  Prefix                   : fd42:6d73:62::/64" "$out"
expect rdisc6_mtu "1500 bytes (valid)" "$out"
expect rdisc6_rdnss "rdisc6:  Recursive DNS server     : $GW6" "$out"
expect rdisc6_from_link_local "rdisc6:  from fe80::6d:73ff:fe00:1" "$out"
expect leased_dns_resolves "resolved: 198.18.0.1" "$out"
expect curl_ipv4 "curl4: hello from the msbnet test topology" "$out"
expect curl_ipv6 "curl6: hello from the msbnet test topology" "$out"
if grep -q '"dhcp":{"discovers":1,"requests":1,[^}]*"offers":1,"acks":1' <<<"$out"; then
    ok dhcp_counted
else bad dhcp_counted "$(grep -o '"dhcp":{[^}]*}' <<<"$out")"; fi
if grep -q '"ra":{"solicitations":[1-9]' <<<"$out"; then ok ra_counted
else bad ra_counted "$(grep -o '"ra":{[^}]*}' <<<"$out")"; fi

# The same through `msbnetd tap --netns` into netns G, prepared the way a
# VM image would be: accept_ra=2 before the interface exists.
ip netns exec "$TOPO_G" sysctl -qw net.ipv6.conf.default.accept_ra=2
topo_bg H msbnetd_tap "$msbnetd" tap --netns "/var/run/netns/$TOPO_G" --no-guest-config \
    --egress allow --dns 198.18.0.1 --control-socket "$TOPO_DIR/tap.sock"
tap_pid=$TOPO_LAST_PID
for _ in $(seq 50); do
    ip -n "$TOPO_G" link show tap0 >/dev/null 2>&1 && break
    sleep 0.1
done
out=$(LEASE_FILE=$TOPO_DIR/lease_g ip netns exec "$TOPO_G" sh -c "
    echo accept_ra=\$(sysctl -n net.ipv6.conf.tap0.accept_ra)
    busybox udhcpc -i tap0 -s '$TOPO_DIR/udhcpc.sh' -f -q -n -t 5 -T 2 >/dev/null 2>&1
    cat \$LEASE_FILE 2>/dev/null || echo 'no lease'
    for i in \$(seq 100); do
        ip -6 -o addr show dev tap0 scope global -tentative | grep -q fd42:6d73:62:0: &&
            ip -6 route show default | grep -q 'via fe80::' && break
        sleep 0.1
    done
    echo curl4: \$(curl -4 -sS --max-time 5 http://198.18.0.1:8080/hello.txt)
    echo curl6: \$(curl -6 -sS --max-time 5 'http://[fd42::1]:8080/hello.txt')" 2>&1)
echo "$out" | sed 's/^/    | /'
expect tap_netns_accept_ra_2 "accept_ra=2" "$out"
expect tap_netns_dhcp_lease "ip=$GUEST4 mask=30 router=$GW4 dns=$GW4" "$out"
expect tap_netns_curl_ipv4 "curl4: hello from the msbnet test topology" "$out"
expect tap_netns_curl_ipv6 "curl6: hello from the msbnet test topology" "$out"
msbnetd_stop msbnetd_tap "$tap_pid" # SIGTERM: exit 0, no sanitizer report

# The off-switches: no answer to DHCP, no RA; the guest keeps no address.
printf '{"dhcp4": false, "ra": false}\n' >"$TOPO_DIR/off.json"
cat >"$TOPO_DIR/guest_off.sh" <<'EOF'
#!/bin/sh
export LEASE_FILE=$(mktemp -u /tmp/msbnet-lease-off.XXXXXX) # CMD runs as nobody: not in TOPO_DIR
busybox udhcpc -i tap0 -s "$TOPO_DIR/udhcpc.sh" -f -q -n -t 2 -T 1 >/dev/null 2>&1
cat "$LEASE_FILE" 2>/dev/null || echo "no lease"
rdisc6 -1 -r 2 -w 1000 tap0 >/dev/null 2>&1 && echo "got an RA" || echo "no RA"
EOF
chmod +x "$TOPO_DIR/guest_off.sh"
out=$(TOPO_DIR=$TOPO_DIR guest --no-guest-config --config "$TOPO_DIR/off.json" --print-metrics -- \
    "$TOPO_DIR/guest_off.sh")
expect dhcp4_off_no_lease "no lease" "$out"
expect ra_off_no_advert "no RA" "$out"
if grep -q '"dhcp_ignored":[1-9]' <<<"$out"; then ok dhcp_off_counted
else bad dhcp_off_counted "$(grep -o '"dhcp_ignored":[0-9]*' <<<"$out")"; fi

checks_done
