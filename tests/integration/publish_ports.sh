#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Published ports (ingress) end to end: `msbnetd run --publish ...` in netns
# H forwards host listeners to servers the sandboxed command runs in the
# guest; real clients (curl, python) connect from H's loopback and from I.
#   usage: publish_ports.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: publish_ports.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl /usr/bin/python3 timeout sha256sum
topo_up || exit 1
source "$here/../lib/checks.sh"
PY=/usr/bin/python3

head -c $((64 << 20)) /dev/urandom >"$TOPO_WWW/big.bin"
want_big=$(sha256sum <"$TOPO_WWW/big.bin" | cut -d' ' -f1)
want_hello=$(cat "$TOPO_WWW/hello.txt")

# The guest side: two web servers (8000 allowed, 8001 denied by an ingress
# rule), a UDP echo that answers with the address it saw, nothing on 8009.
# It runs until $TOPO_DIR/stop-NAME appears, so msbnetd exits on its own and
# prints its metrics.
cat >"$TOPO_DIR/udp_echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
print("udp echo listening", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(b"from " + peer[0].removeprefix("::ffff:").encode() + b" " + data, peer)
EOF
cat >"$TOPO_DIR/guest.sh" <<EOF
$PY $TOPO_DIR/httpd.py 8000 $TOPO_WWW :: &
$PY $TOPO_DIR/httpd.py 8001 $TOPO_WWW :: &
$PY $TOPO_DIR/udp_echo.py 7000 &
while [ ! -e $TOPO_DIR/stop-\$1 ]; do sleep 0.1; done
EOF

policy='{"default_egress":"allow","default_ingress":"allow","rules":[{"direction":"ingress",
 "destination":"any","protocols":["tcp"],"ports":[{"start":8001,"end":8001}],"action":"deny"}]}'
cat >"$TOPO_DIR/main.json" <<EOF
{"policy": $policy, "udp_idle_timeout_s": 1,
 "publish": [{"protocol": "tcp", "host_address": "198.18.0.2", "host_port": 8090,
              "guest_port": 8000, "real_peer": true}]}
EOF
echo '{"max_inbound_flows": 1}' >"$TOPO_DIR/cap.json"

topo_bg H main "$msbnetd" run --config "$TOPO_DIR/main.json" --metrics-json \
    --flow-log "$TOPO_DIR/main-flows.log" \
    --publish 127.0.0.1:8080:8000 --publish '[::1]:8086:8000' --publish 127.0.0.1:8082:8001 \
    --publish 127.0.0.1:8084:8009 --publish 127.0.0.1:8081:7000/udp --publish '[::1]:8087:7000/udp' \
    -- sh "$TOPO_DIR/guest.sh" main
main_pid=$TOPO_LAST_PID
topo_bg H cap "$msbnetd" run --slot 1 --egress allow --config "$TOPO_DIR/cap.json" --metrics-json \
    --publish 127.0.0.1:8083:8000 -- sh "$TOPO_DIR/guest.sh" cap
cap_pid=$TOPO_LAST_PID

# Ready when the guest's servers answer through the published port.
ready() { # port
    for _ in $(seq 200); do
        topo_exec_h curl -sf --max-time 2 "http://127.0.0.1:$1/hello.txt" >/dev/null && return 0
        sleep 0.1
    done
    echo "nothing answers on 127.0.0.1:$1: $(tail -5 "$TOPO_DIR/logs/main.log")" >&2
    return 1
}
ready 8080 || { bad main_ready; checks_done; exit 1; }
ready 8083 || { bad cap_ready; checks_done; exit 1; }

# --- TCP through the published port ------------------------------------------
expect tcp_loopback_reaches_guest "$want_hello" \
    "$(topo_exec_h curl -sS --max-time 10 http://127.0.0.1:8080/hello.txt)"
expect tcp_64MiB_sha256 "$want_big" \
    "$(topo_exec_h sh -c 'curl -sS --max-time 60 http://127.0.0.1:8080/big.bin | sha256sum')"
expect tcp_ipv6_listener "$want_hello" \
    "$(topo_exec_h curl -sS --max-time 10 'http://[::1]:8086/hello.txt')"
# Without real_peer the guest sees the gateway (the loopback client would
# make no sense to it).
if grep -q '100.96.0.1 .*GET /hello.txt' "$TOPO_DIR/logs/main.log"; then ok guest_sees_gateway
else bad guest_sees_gateway "$(grep GET "$TOPO_DIR/logs/main.log" | head -3)"; fi

# --- real_peer: the guest server logs the client's own address --------------
expect tcp_real_peer_from_I "$want_hello" \
    "$(topo_exec_i curl -sS --max-time 10 http://198.18.0.2:8090/hello.txt?real)"
if grep -q '198.18.0.1 .*GET /hello.txt?real' "$TOPO_DIR/logs/main.log"; then ok guest_sees_real_peer
else bad guest_sees_real_peer "$(grep 'real' "$TOPO_DIR/logs/main.log" | head -3)"; fi

# --- refusals are resets, and fast ---------------------------------------------
# A python client rather than curl: H's kernel completes the handshake before
# msbnet accepts, so the reset may land before curl looks at its connect and
# curl then says "couldn't connect" (7) like for a closed port.  Here the
# reset shows as ECONNRESET, never as a closed port's ECONNREFUSED.
cat >"$TOPO_DIR/reset_probe.py" <<'EOF'
import socket, sys, time
t = time.monotonic()
try:
    # ECONNRESET even from connect (the reset may beat python's check of
    # it); a closed port would be ECONNREFUSED, which fails the check.
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
    what = "data" if s.recv(100) else "eof"
except (ConnectionResetError, BrokenPipeError):
    what = "reset"
except socket.timeout:
    what = "timeout"
print(what, int((time.monotonic() - t) * 1000))
EOF
refused() { # name, port
    local out
    out=$(topo_exec_h $PY "$TOPO_DIR/reset_probe.py" "$2" 2>&1)
    if [[ $out =~ ^reset\ ([0-9]+)$ && ${BASH_REMATCH[1]} -lt 3000 ]]; then ok "$1"
    else bad "$1" "$out"; fi
}
refused ingress_rule_denies 8082
refused closed_guest_port_resets 8084

# --- cap: one inbound flow, a second is reset -------------------------------
# The holder's flow is msbnet's one inbound flow once the guest's server
# answers on it: it asks for the 64 MiB file and, with the first bytes of the
# answer, says "held", then reads no more (the server blocks on a full
# window, the flow stays open) until stop-holder appears.  H's kernel
# completes a connect before msbnet accepts it, so connecting alone would
# not say that the cap is taken.
topo_bg H holder $PY -c 'import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", 8083))
s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
print("held" if s.recv(1) else "eof", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)' "$TOPO_DIR/stop-holder"
for _ in $(seq 300); do grep -q 'held\|eof' "$TOPO_DIR/logs/holder.log" 2>/dev/null && break; sleep 0.1; done
expect cap_holder_flow_answered held "$(cat "$TOPO_DIR/logs/holder.log")"
refused cap_exceeded_resets 8083
touch "$TOPO_DIR/stop-holder"

# --- UDP round trip ------------------------------------------------------------
udp_probe() { # host address, port
    topo_exec_h $PY -c 'import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
payload = bytes(range(256)) * 4
for _ in range(5):
    s.sendto(payload, (host, port))
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    print(data[:len(data) - len(payload)].decode().strip(), data.endswith(payload), peer[1]); break' "$1" "$2"
}
expect udp_round_trip "from 100.96.0.1 True 8081" "$(udp_probe 127.0.0.1 8081)"
expect udp_ipv6_round_trip "from fd42:6d73:62::1 True 8087" "$(udp_probe ::1 8087)"

sleep 2.5 # the UDP sessions idle out (1 s, swept every second): their records
# --- metrics at exit -----------------------------------------------------------
touch "$TOPO_DIR/stop-main" "$TOPO_DIR/stop-cap"
# Both daemons end with their command, cleanly (a sanitizer report would
# change the status or leave its mark in the log).
for name in main cap; do
    pid=${name}_pid
    timeout 10 tail --pid="${!pid}" -f /dev/null
    wait "${!pid}"
    rc=$?
    if [[ $rc == 0 ]] && ! grep -q Sanitizer "$TOPO_DIR/logs/$name.log"; then ok "${name}_exits_cleanly"
    else bad "${name}_exits_cleanly" "status $rc: $(grep -m3 Sanitizer "$TOPO_DIR/logs/$name.log")"; fi
done
metric() { # log, key
    grep -o '"inbound":{[^}]*}' "$TOPO_DIR/logs/$1.log" | tail -1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}
m() { local v; v=$(metric "$1" "$2"); if [[ ${v:-0} -ge $3 ]]; then ok "metric_$1_$2"; else bad "metric_$1_$2" "got '${v}' want >= $3"; fi; }
m main tcp_denied 1
m main tcp_guest_refused 1
m main tcp_accepted 5
m main udp_datagrams_to_guest 2
m main udp_datagrams_to_peer 2
m cap tcp_cap 1

# Each published UDP session left one ingress record when it idled out: the
# probe's datagrams in (1024 bytes each), the echoes out ("from ADDR " +
# the 1024 bytes, ADDR the gateway of the session's family).
if $PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
u = [x for x in r if x["proto"] == "udp"]
assert len(u) == 2, r
seen = set()
for x in u:
    assert (x["direction"], x["action"], x["end"], x["hostname"]) == ("ingress", "allow",
                                                                      "idle", ""), x
    assert x["guest_port"] == 7000 and x["packets_in"] == x["packets_out"] >= 1, x
    gw = "100.96.0.1" if "." in x["guest"] else "fd42:6d73:62::1"
    assert x["bytes_in"] == 1024 * x["packets_in"], x
    assert x["bytes_out"] == (1024 + len("from " + gw + " ")) * x["packets_out"], x
    seen.add(x["dst"])
assert seen == {"127.0.0.1", "::1"}, seen' "$TOPO_DIR/main-flows.log"; then ok udp_published_records
else bad udp_published_records "$(cat "$TOPO_DIR/main-flows.log")"; fi

checks_done
