#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Upstream proxies end to end (config "proxy", msbnetd --proxy): the web
# server sits on an address of netns I that H cannot reach (a blackhole
# route in H, both families), so a page arrives only through a proxy in I:
#   socks5   dante (danted) without auth, passing only requests that name
#            web.test: curl by name over IPv4 and IPv6;
#            and with username/password (a throwaway system user);
#   http     tinyproxy with Basic auth: curl over both families, its log
#            shows the CONNECT to the name;
#   failures wrong credentials -> the guest's connect is reset at once and
#            proxy.auth_failed counts it; the proxy down -> reset at once,
#            proxy.unreachable; a destination the policy denies never
#            reaches the proxy; the proxy's own endpoint is refused to the
#            guest; UDP is refused while a proxy is set;
#   hostile  proxies answering an endless HTTP head, an unknown SOCKS
#            address type or another protocol: reset, counted bad_reply.
#   usage: upstream_proxy.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: upstream_proxy.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl dnsmasq danted tinyproxy timeout $py
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=60
W4=198.51.100.7 W6=2001:db8:beef::7

# The hidden web server: on I's loopback interface, blackholed in H.
topo_exec_i ip addr add $W4/32 dev lo
topo_exec_i ip addr add $W6/128 dev lo nodad
topo_exec_h ip route add blackhole $W4/32
topo_exec_h ip -6 route add blackhole $W6/128
topo_bg I web $py "$TOPO_DIR/httpd.py" 8081 "$TOPO_WWW" ::
topo_wait_port I $W4 8081 10 || exit 1
topo_start_dnsmasq_i --address=/web.test/$W4 --address=/web.test/$W6 \
    --address=/denied.test/$W4 || exit 1
want=$(cat "$TOPO_WWW/hello.txt")

cat >"$TOPO_DIR/danted.conf" <<CONF
logoutput: $TOPO_DIR/logs/danted.conn.log
internal: $TOPO_I4 port = 1080
external: $TOPO_I4
external: $TOPO_I6
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: root
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 log: connect error }
socks pass { from: 0.0.0.0/0 to: web.test port = 8081 log: connect error }
socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 log: connect error }
CONF
topo_bg I danted danted -f "$TOPO_DIR/danted.conf" -N 1
topo_wait_port I $TOPO_I4 1080 10 || exit 1
# A second dante with RFC 1929 username/password, checked by dante against
# the system's password database: a throwaway user, removed at the end.
pxuser=msbtpx$$
useradd -M -N -s /usr/sbin/nologin "$pxuser" || { bad "useradd $pxuser"; checks_done; exit 1; }
topo_defer "userdel $pxuser"
echo "$pxuser:S0cks-pass" | chpasswd
sed -e "s/port = 1080/port = 1081/" -e "s/^socksmethod: none/socksmethod: username/" \
    -e "s|danted.conn.log|danted-auth.conn.log|" "$TOPO_DIR/danted.conf" >"$TOPO_DIR/danted-auth.conf"
topo_bg I danted-auth danted -f "$TOPO_DIR/danted-auth.conf" -N 1
topo_wait_port I $TOPO_I4 1081 10 || exit 1

cat >"$TOPO_DIR/tinyproxy.conf" <<CONF
Port 8888
Listen $TOPO_I4
Timeout 30
LogFile "$TOPO_DIR/logs/tinyproxy.conn.log"
LogLevel Connect
MaxClients 20
BasicAuth agent s3cret-pass
ConnectPort 8081
CONF
topo_bg I tinyproxy tinyproxy -d -c "$TOPO_DIR/tinyproxy.conf"
topo_wait_port I $TOPO_I4 8888 10 || exit 1

out=$(topo_exec_h curl -sS --max-time 3 http://$W4:8081/hello.txt 2>&1)
[[ $out != *"$want"* ]] && ok "H cannot reach the web server directly" \
    || bad "H cannot reach the web server directly" "$out"

fetch='for f in -4 -6; do curl -sS $f --max-time 10 http://web.test:8081/hello.txt; echo; done'
probe="$py -c 'import socket,sys,time
t=time.monotonic()
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20); r=\"open\"
except ConnectionRefusedError: r=\"reset\"
except OSError as e: r=type(e).__name__
print(\"probe\", r, int((time.monotonic()-t)*1000))' "
# --- SOCKS5 without auth ----------------------------------------------------------
out=$(guest --dns $TOPO_I4 --proxy socks5://$TOPO_I4:1080 --print-metrics -- sh -c "$fetch")
[[ $(grep -c "$want" <<<"$out") == 2 ]] && ok "socks5: both families through dante" \
    || bad "socks5: both families through dante" "$out"
expect socks5_established '"established":2,' "$out"
# dante passes only requests that name web.test (an address is blocked).
if grep -q 'block([0-9]*): tcp/connect' "$TOPO_DIR/logs/danted.conn.log"; then
    bad "socks5: dante was given the name" "$(grep block "$TOPO_DIR/logs/danted.conn.log")"
else ok "socks5: dante was given the name"; fi

# --- SOCKS5 with username/password ---------------------------------------------------
out=$(guest --dns $TOPO_I4 --proxy "socks5://$pxuser:S0cks-pass@$TOPO_I4:1081" -- sh -c "$fetch")
[[ $(grep -c "$want" <<<"$out") == 2 ]] && ok "socks5 auth: both families through dante" \
    || bad "socks5 auth: both families through dante" "$out"
grep -q "username%$pxuser@" "$TOPO_DIR/logs/danted-auth.conn.log" && ok "socks5 auth: dante saw the user" \
    || bad "socks5 auth: dante saw the user" "$(tail -3 "$TOPO_DIR/logs/danted-auth.conn.log")"
out=$(guest --proxy "socks5://$pxuser:wrong@$TOPO_I4:1081" --print-metrics -- sh -c "$probe $W4 8081")
expect socks5_wrong_credentials_reset "probe reset" "$out"
expect socks5_wrong_credentials_counted '"auth_failed":1,' "$out"

# --- HTTP CONNECT with Basic auth ---------------------------------------------------
out=$(guest --dns $TOPO_I4 --proxy http://agent:s3cret-pass@$TOPO_I4:8888 --print-metrics -- sh -c "$fetch")
[[ $(grep -c "$want" <<<"$out") == 2 ]] && ok "http: both families through tinyproxy" \
    || bad "http: both families through tinyproxy" "$out"
grep -q 'CONNECT.*web\.test:8081' "$TOPO_DIR/logs/tinyproxy.conn.log" && ok "http: tinyproxy saw the name" \
    || bad "http: tinyproxy saw the name" "$(tail -5 "$TOPO_DIR/logs/tinyproxy.conn.log")"
[[ $out != *s3cret* ]] && ok "credentials never printed" || bad "credentials never printed" "$out"

# --- failures: reset at once, counted -----------------------------------------------
out=$(guest --proxy http://agent:wrong@$TOPO_I4:8888 --print-metrics -- sh -c "$probe $W4 8081")
expect wrong_credentials_reset "probe reset" "$out"
expect wrong_credentials_counted '"auth_failed":1,' "$out"
out=$(guest --proxy socks5://$TOPO_I4:1099 --print-metrics -- sh -c "$probe $W4 8081")
expect proxy_down_reset "probe reset" "$out"
expect proxy_down_counted '"unreachable":1,' "$out"
before=$(wc -l <"$TOPO_DIR/logs/danted.conn.log")
denied=$(printf '{"policy": {"default_egress": "allow", "rules": [{"direction": "egress", "action": "deny", "destination": {"cidr": "%s/32"}}]}}' $W4)
echo "$denied" >"$TOPO_DIR/deny.json"
out=$(GUEST_EGRESS= guest --config "$TOPO_DIR/deny.json" --proxy socks5://$TOPO_I4:1080 -- sh -c "$probe $W4 8081")
expect denied_reset "probe reset" "$out"
after=$(wc -l <"$TOPO_DIR/logs/danted.conn.log")
[[ $after == "$before" ]] && ok "a denied destination never reaches the proxy" \
    || bad "a denied destination never reaches the proxy" "$(tail -3 "$TOPO_DIR/logs/danted.conn.log")"
out=$(guest --proxy socks5://$TOPO_I4:1080 --print-metrics -- sh -c "$probe $TOPO_I4 1080")
expect endpoint_reset "probe reset" "$out"
expect endpoint_counted '"endpoint_refused":1}' "$out"
out=$(guest --proxy socks5://$TOPO_I4:1080 --print-metrics -- \
    $py -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('$W4', 9999))")
expect udp_refused_counted '"udp_refused":1,' "$out"

# --- hostile proxies: every malformed answer is a reset and a bad_reply ---------------
port=1090
for mode in httphuge socksatyp socksbig; do
    scheme=socks5
    [[ $mode == http* ]] && scheme=http
    topo_bg I "hostile-$mode" $py "$here/hostile_proxy.py" $port $mode
    topo_wait_port I $TOPO_I4 $port 10 || exit 1
    out=$(guest --proxy $scheme://$TOPO_I4:$port --print-metrics -- sh -c "$probe $W4 8081")
    expect "hostile_${mode}_reset" "probe reset" "$out"
    expect "hostile_${mode}_counted" '"bad_reply":1,' "$out"
    port=$((port + 1))
done
checks_done
