#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The egress policy end to end: `msbnetd run` in netns H sandboxes real
# clients; real servers in netns I ("the internet", 198.18.0.1, public: the
# classifier has no special case for 198.18/15) and on H's loopback
# (reached only through the gateway address, group "host").
#   usage: policy_e2e.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: policy_e2e.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl $py timeout dnsmasq openssl getent
topo_up || exit 1
source "$here/../lib/checks.sh"

GW4=100.96.0.1 GW6=fd42:6d73:62::1 G4=100.96.0.2 G6=fd42:6d73:62::2

# Each daemon gets its own runtime directory (control socket), so this test
# never collides with another msbnetd on the machine.
export RUNTIME_DIRECTORY=${RUNTIME_DIRECTORY:-$TOPO_DIR/run}
mkdir -p "$RUNTIME_DIRECTORY"
metrics_file=$TOPO_DIR/metrics.json

# sandbox [MSBNETD-OPTIONS] -- CMD...: checks.sh's guest (which judges how
# msbnetd ended), but with no --egress of its own, so the default policy
# (public_only) or a --config policy applies.  Prints the command's output
# and msbnetd's stderr; the metrics msbnetd prints at exit go to
# $metrics_file instead.
sandbox() {
    local out
    out=$(GUEST_EGRESS='' GUEST_TIMEOUT=120 guest --print-metrics "$@")
    grep -o '{"schema".*}' <<<"$out" | tail -1 >"$metrics_file"
    sed 's/{"schema".*}//' <<<"$out"
}

# config NAME JSON: a --config file.
config() {
    printf '%s\n' "$2" >"$TOPO_DIR/$1.json"
    echo "$TOPO_DIR/$1.json"
}

# expect_metric NAME PATH WANTED: one value (PATH like policy.denied) of
# the metrics of the last sandbox; WANTED ">=N" accepts N or more.
expect_metric() {
    local v
    v=$($py -c 'import json,sys
try: v=json.load(open(sys.argv[1]))
except ValueError: v={}
for k in sys.argv[2].split("."): v=v.get(k, {}) if isinstance(v, dict) else {}
print(v if v != {} else "missing")' "$metrics_file" "$2")
    if [[ $3 == ">="* ]]; then
        if [[ $v =~ ^[0-9]+$ ]] && ((v >= ${3#>=})); then ok "$1"; else bad "$1" "$2 = $v, wanted $3"; fi
    elif [[ $v == "$3" ]]; then ok "$1"; else bad "$1" "$2 = $v, wanted $3"; fi
}

topo_start_http_i 8080 || exit 1
topo_start_http_h_loopback 8081 || exit 1
hlog=$TOPO_DIR/logs/http-h-8081.log
want_hello=$(cat "$TOPO_WWW/hello.txt")

# --- the default policy: public yes, everything local refused at once --------------
# curl exits 7 when the connection is refused (our RST); each attempt is
# timed inside the sandbox.
try_all='for t in "$@"; do
    s=$(date +%s%N); curl -sS --max-time 5 -o /dev/null "$t" 2>/dev/null; rc=$?
    echo "$t curl=$rc ms=$(( ($(date +%s%N) - s) / 1000000 ))"; done'
out=$(sandbox -- sh -c "curl -sS --max-time 10 http://198.18.0.1:8080/hello.txt; $try_all" _ \
    http://10.0.0.1/ http://172.16.0.1/ http://192.168.0.1/ http://100.64.0.1/ \
    http://169.254.169.254/latest/meta-data/ http://$GW4:8081/hello.txt "http://[$GW6]:8081/hello.txt" \
    http://127.0.0.1:8081/hello.txt http://0.0.0.0:8081/hello.txt "http://[::ffff:127.0.0.1]:8081/hello.txt")
expect default_reaches_public_198.18.0.1 "$want_hello" "$out"
for t in http://10.0.0.1/ http://172.16.0.1/ http://192.168.0.1/ http://100.64.0.1/ \
    http://169.254.169.254/latest/meta-data/ http://$GW4:8081/hello.txt "http://[$GW6]:8081/hello.txt" \
    http://127.0.0.1:8081/hello.txt http://0.0.0.0:8081/hello.txt "http://[::ffff:127.0.0.1]:8081/hello.txt"; do
    line=$(grep -F "$t curl=" <<<"$out")
    ms=${line##*ms=}
    if [[ $line == *" curl=7 "* && ${ms:-9999} -lt 1000 ]]; then ok "default_refuses_fast $t"
    else bad "default_refuses_fast $t" "$line"; fi
done
# Seven went through msbnet (the last three are the guest's own loopback:
# its kernel never sends them out); each one is a policy denial.
expect_metric default_denials_counted policy.denied 7
expect_metric default_denials_reset tcp.denied 7
expect_metric default_nothing_dialled_but_public tcp.connects_ok 1

# UDP and ping to local destinations: a UDP client hears "administratively
# prohibited" at once (EHOSTUNREACH on its connected socket), an echo is
# dropped; both counted.
udp_try='import socket, sys, time
for dst in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, 9999)); s.settimeout(2); t = time.time(); s.send(b"x")
    try: s.recv(16); r = "reply"
    except OSError as e: r = "errno=%s" % e.errno
    print("udp", dst, r, "ms=%d" % ((time.time() - t) * 1000))'
out=$(sandbox -- sh -c "$py -c '$udp_try' 10.0.0.1 192.168.1.1 169.254.169.254 $GW4;
    ping -c1 -W1 169.254.169.254 >/dev/null; echo ping=\$?")
for t in 10.0.0.1 192.168.1.1 169.254.169.254 $GW4; do
    line=$(grep "^udp $t " <<<"$out")
    if [[ $line == *" errno=113 "* && ${line##*ms=} -lt 1000 ]]; then ok "udp_refused_fast $t"
    else bad "udp_refused_fast $t" "${line:-$out}"; fi
done
expect ping_metadata_dropped "ping=1" "$out"
expect_metric udp_denials_counted drops.udp_denied 4
expect_metric ping_denial_counted drops.icmp_denied 1

# A hostile guest writes the frames itself: loopback, 0.0.0.0, mapped and
# compatible IPv6 forms of local addresses, and the gateways.
out=$(sandbox -- $py "$here/syn_probe.py" tap0 $G4 $G6 $GW4 \
    127.0.0.1:8081 127.1.2.3:8081 "[::ffff:127.0.0.1]:8081" "[::127.0.0.1]:8081" \
    "[::ffff:169.254.169.254]:80" "[::ffff:10.0.0.1]:80" "[::ffff:100.96.0.1]:8081" \
    $GW4:8081 "[$GW6]:8081" "[::1]:8081" 0.0.0.0:8081 0.1.2.3:8081 "[::ffff:0.0.0.0]:8081" "[::]:8081")
for t in 127.0.0.1 127.1.2.3 ::ffff:127.0.0.1 ::127.0.0.1 ::ffff:169.254.169.254 ::ffff:10.0.0.1 \
    ::ffff:100.96.0.1 $GW4 $GW6 ::1; do
    line=$(grep -m1 "^$t " <<<"$out")
    ms=${line##* rst }
    if [[ $line == *" rst "* && ${ms:-9999} -lt 1000 ]]; then ok "crafted_syn_reset_fast $t"
    else bad "crafted_syn_reset_fast $t" "${line:-no line: $out}"; fi
done
# The unspecified address is the host itself to Linux: refused at once
# like loopback, in every spelling, before any rule (refused_loopback).
for t in 0.0.0.0 0.1.2.3 ::ffff:0.0.0.0 ::; do
    line=$(grep -m1 "^$t " <<<"$out")
    if [[ $line == *" rst "* && ${line##* rst } -lt 1000 ]]; then ok "crafted_syn_reset_fast $t"
    else bad "crafted_syn_reset_fast $t" "${line:-no line: $out}"; fi
done
expect_metric crafted_all_reset tcp.denied 14
expect_metric crafted_loopback_refused_before_rules policy.refused_loopback 9
expect_metric crafted_nothing_dialled tcp.connects_ok 0
if grep -q 'GET' "$hlog" 2>/dev/null; then bad h_loopback_never_reached "$(grep GET "$hlog")"
else ok h_loopback_never_reached; fi

# --- the host's own addresses are the host, not the internet ------------------------
# H listens on all its addresses (0.0.0.0 and ::, as SSH or a database
# would).  H's interface addresses (198.18.0.2, fd42::2), their mapped and
# NAT64/6to4 spellings, and H's subnet broadcast are what H's kernel
# delivers to itself: the host group, refused at once under the default
# policy, counted as host_local, and nothing reaches the listener.
topo_bg H http-h-any "$TOPO_PYTHON" "$TOPO_DIR/httpd.py" 8082 "$TOPO_WWW" ::
topo_wait_port H 127.0.0.1 8082 10 || exit 1
anylog=$TOPO_DIR/logs/http-h-any.log
own=(http://$TOPO_H4:8082/hello.txt "http://[$TOPO_H6]:8082/hello.txt"
    "http://[64:ff9b::c612:2]:8082/hello.txt" "http://[2002:c612:2::1]:8082/hello.txt")
out=$(sandbox -- sh -c "$try_all" _ "${own[@]}")
for t in "${own[@]}"; do
    line=$(grep -F "$t curl=" <<<"$out")
    if [[ $line == *" curl=7 "* && ${line##*ms=} -lt 1000 ]]; then ok "own_address_refused_fast $t"
    else bad "own_address_refused_fast $t" "${line:-$out}"; fi
done
expect_metric own_addresses_are_host_local policy.host_local 4
expect_metric own_addresses_nothing_dialled tcp.connects_ok 0
out=$(sandbox -- sh -c "$py -c '$udp_try' $TOPO_H4 198.18.0.255; ping -c1 -W1 $TOPO_H4 >/dev/null; echo ping=\$?")
for t in $TOPO_H4 198.18.0.255; do
    line=$(grep "^udp $t " <<<"$out")
    if [[ $line == *" errno=113 "* && ${line##*ms=} -lt 1000 ]]; then ok "own_address_udp_refused $t"
    else bad "own_address_udp_refused $t" "${line:-$out}"; fi
done
expect own_address_ping_dropped "ping=1" "$out"
expect_metric own_address_udp_icmp_host_local policy.host_local 3
# Even allow-all never dials the host's loopback through an unspecified
# address; the crafted SYNs cover TCP, this covers the relay's UDP.
out=$(sandbox --egress allow -- $py "$here/syn_probe.py" tap0 $G4 $G6 $GW4 0.0.0.0:8082 "[::ffff:0.0.0.0]:8082" "[::]:8082")
[[ $(grep -c ' rst ' <<<"$out") -eq 3 ]] && ok allow_all_still_refuses_unspecified \
    || bad allow_all_still_refuses_unspecified "$out"
expect_metric allow_all_unspecified_counted policy.refused_loopback 3
if grep -q 'GET' "$anylog" 2>/dev/null; then bad h_own_addresses_never_reached "$(grep GET "$anylog")"
else ok h_own_addresses_never_reached; fi

# --- allow@host opens the gateway -> H's loopback ---------------------------------------
cfg=$(config host '{"policy": "allow@host"}')
out=$(sandbox --config "$cfg" -- sh -c "curl -sS --max-time 10 http://$GW4:8081/hello.txt;
    curl -sS --max-time 10 http://[$GW6]:8081/hello.txt; $try_all" _ http://198.18.0.1:8080/)
[[ $(grep -c "$want_hello" <<<"$out") -eq 2 ]] && ok allow_at_host_opens_gateway_both_families \
    || bad allow_at_host_opens_gateway_both_families "$out"
expect allow_at_host_alone_denies_public "http://198.18.0.1:8080/ curl=7" "$out"
expect_metric allow_at_host_rule_counted policy.by_rule.0 2

# --- a domain rule: through by name, refused by address when never resolved -----------
topo_start_dnsmasq_i --address=/allowed.test/198.18.0.1 --address=/other.test/198.18.0.1 || exit 1
cfg=$(config domain '{"policy": "allow@host:udp:53, allow@domain=allowed.test", "log_level": "debug"}')
out=$(sandbox --config "$cfg" --dns 198.18.0.1 -- curl -sS --max-time 10 http://allowed.test:8080/hello.txt)
expect domain_rule_lets_name_through "$want_hello" "$out"
expect domain_rule_decision_logged "policy allow by rule #1: egress tcp 198.18.0.1 port 8080" "$out"
out=$(sandbox --config "$cfg" --dns 198.18.0.1 -- sh -c "$try_all" _ http://198.18.0.1:8080/hello.txt)
line=$(grep -F "curl=" <<<"$out")
if [[ $line == *" curl=7 "* && ${line##*ms=} -lt 1000 ]]; then ok domain_rule_refuses_unresolved_address
else bad domain_rule_refuses_unresolved_address "$out"; fi
expect domain_refusal_logged "policy deny by rule default: egress tcp 198.18.0.1 port 8080" "$out"
# Another name on the same address is not the allowed one.
out=$(sandbox --config "$cfg" --dns 198.18.0.1 -- sh -c "$try_all" _ http://other.test:8080/hello.txt)
expect domain_rule_other_name_same_address_refused "other.test:8080/hello.txt curl=7 " "$out"

# TLS: the SNI must name the allowed domain too (a CDN address serves many).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=allowed.test \
    -keyout "$TOPO_DIR/tls.key" -out "$TOPO_DIR/tls.crt" 2>/dev/null
topo_bg I tls $py "$here/tls_peer.py" server 8443 "$TOPO_DIR/tls.crt" "$TOPO_DIR/tls.key"
topo_wait_port I 198.18.0.1 8443 10 || exit 1
out=$(sandbox --config "$cfg" --dns 198.18.0.1 -- sh -c "getent hosts allowed.test >/dev/null;
    $py $here/tls_peer.py client allowed.test 8443 allowed.test;
    $py $here/tls_peer.py client allowed.test 8443 evil.test")
expect sni_matching_domain_rule_passes "tls ok" "$out"
expect sni_of_another_name_reset "error:" "$out"
expect_metric sni_mismatch_counted policy.sni_mismatch 1
if grep -q "handshake sni=evil.test" "$TOPO_DIR/logs/tls.log"; then
    bad sni_mismatch_never_reached_server "$(cat "$TOPO_DIR/logs/tls.log")"
else ok sni_mismatch_never_reached_server; fi

# A deny or terminate rule naming a domain goes by the SNI alone: a
# hard-coded address (never resolved through msbnet) with a ClientHello for
# the blocked name is refused, and terminate fires.
cfg=$(config sniterm '{"policy": "terminate@domain=evil.test, allow@public"}')
out=$(sandbox --config "$cfg" -- sh -c "$py $here/tls_peer.py client 198.18.0.1 8443 good.test;
    $py $here/tls_peer.py client 198.18.0.1 8443 evil.test")
expect sni_other_name_by_address_passes "tls ok" "$out"
expect sni_terminate_by_name_alone_resets "error:" "$out"
expect_metric sni_terminate_fired termination.count 1
expect_metric sni_terminate_counted policy.terminated 1
if grep -q "handshake sni=evil.test" "$TOPO_DIR/logs/tls.log"; then
    bad sni_terminate_never_reached_server "$(cat "$TOPO_DIR/logs/tls.log")"
else ok sni_terminate_never_reached_server; fi

# --- terminate: deny, and the hook fires once however often the guest tries -----------
cfg=$(config term '{"policy": "allow@public, terminate@10.0.0.0/8"}')
out=$(sandbox --config "$cfg" -- sh -c "$try_all" _ http://10.0.0.1/ http://10.9.9.9/ http://10.0.0.1:8080/ \
    http://198.18.0.1:8080/hello.txt)
[[ $(grep -c ' curl=7 ' <<<"$out") -eq 3 ]] && ok terminate_rule_denies || bad terminate_rule_denies "$out"
expect terminate_leaves_public_alone "http://198.18.0.1:8080/hello.txt curl=0" "$out"
expect_metric terminate_decisions_counted policy.terminated 3
expect_metric terminate_hook_fired_once termination.count 1

checks_done
