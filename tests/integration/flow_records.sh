#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Flow records end to end (issue 15): a guest under a domain policy fetches
# an allowed name, asks for a denied name and dials a denied address while
# `msbnetctl flows --follow --json`, `flows --denied`, a table filtered
# by hostname and a table of dns records (type, rcode, answers, addresses)
# stream the records.  The records must name each flow with its
# hostname, rule, action, end reason, and bytes equal to what curl counted
# (request bytes out, header plus body bytes in); a UDP session to a peer
# in I leaves one record when it idles out, with the datagrams and bytes
# the peer counted each way.  Then `msbnetd tap --netns G` with a TCP flow
# still open when SIGTERM comes: its record (end "stop", the bytes the peer
# sent) reaches the flow log and a stream still connected.
#   flow_records.sh MSBNETD MSBNETCTL PLUGIN
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN}")
ctl=$(realpath "${2:?}")
plugin=$(realpath "${3:?}")
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout curl dnsmasq
topo_up || exit 1
source "$here/../lib/checks.sh"
py=/usr/bin/python3
tmp=$TOPO_DIR/ctl
mkdir -p "$tmp"
sock=$tmp/control.sock
export RUNTIME_DIRECTORY=$TOPO_DIR/run
mkdir -p "$RUNTIME_DIRECTORY"
out=$TOPO_DIR/out # CMD runs as nobody: a directory it may write
mkdir -p "$out" && chmod 777 "$out"

topo_start_http_i 8080 || exit 1
# nx.test: no rule names it (the names' default lets it through) and
# dnsmasq says NXDOMAIN.
topo_start_dnsmasq_i --address=/allowed.test/198.18.0.1 --address=/denied.test/198.18.0.1 \
    --address=/nx.test/ || exit 1
# The UDP peer echoes every datagram but the last (so the two directions
# differ) and writes what it got and sent after each one.
cat >"$TOPO_DIR/udp_srv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 7777))
got = nbytes = sent = sbytes = 0
while True:
    data, peer = s.recvfrom(65535)
    got, nbytes = got + 1, nbytes + len(data)
    if data != b"last":
        sent, sbytes = sent + 1, sbytes + s.sendto(data, peer)
    with open(sys.argv[1], "w") as f:
        f.write(f"{got} {nbytes} {sent} {sbytes}\n")
PY
cat >"$TOPO_DIR/udp_guest.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for n in (10, 200, 1000):
    s.sendto(b"x" * n, ("allowed.test", 7777))
    s.recv(65535)
s.sendto(b"last", ("allowed.test", 7777))
print("ok")
PY
topo_bg I udp-srv "$py" "$TOPO_DIR/udp_srv.py" "$TOPO_DIR/udp_counts"
# A 1 s UDP idle timeout ends the session while the streams still read.
echo '{"policy": "allow@host:udp:53, allow@domain=allowed.test, deny@domain=denied.test",
       "udp_idle_timeout_s": 1}' >"$TOPO_DIR/cfg.json"
{
    echo "while [ ! -e $out/go ]; do sleep 0.05; done"
    echo "curl -sS --max-time 10 -o /dev/null -w '%{size_request} %{size_header} %{size_download}'" \
        "http://allowed.test:8080/1M.bin >$out/allowed 2>&1"
    echo "ping -c 2 -i 0.2 -W 2 198.18.0.1 >$out/ping 2>&1"
    echo "getent ahostsv4 nx.test >$out/nx 2>&1"
    echo "curl -sS --max-time 5 http://denied.test:8080/hello.txt >$out/denied 2>&1"
    echo "curl -sS --max-time 5 http://198.18.0.2:9/ >$out/address 2>&1"
    echo "$py $TOPO_DIR/udp_guest.py >$out/udp 2>&1"
    # More refusals, so the 4 KiB flow log rotates a few times.
    echo "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do curl -s --max-time 2 http://198.18.0.2:10/; done"
    echo "sleep 2.5" # the UDP session idles out (1 s, swept by its timer)
    echo ": >$out/done"
} >"$TOPO_DIR/guest.sh"
chmod 644 "$TOPO_DIR/guest.sh" "$TOPO_DIR/cfg.json" "$TOPO_DIR/udp_guest.py"

topo_bg H flows "$msbnetd" --plugin "$plugin" run --slot 6 --control-socket "$sock" \
    --config "$TOPO_DIR/cfg.json" --dns 198.18.0.1 \
    --flow-log "$TOPO_DIR/flows.log" --flow-log-max-bytes 4096 \
    -- sh -c "sh $TOPO_DIR/guest.sh; $(until_term "$TOPO_DIR/flows.up")"
daemon=$TOPO_LAST_PID
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done

# Bad filters are the daemon's to refuse.
res=$("$ctl" --socket "$sock" flows --protocol sctp 2>&1)
expect bad_protocol_filter_invalid_argument "INVALID_ARGUMENT" "$res"

"$ctl" --socket "$sock" --json flows --follow >"$TOPO_DIR/all.jsonl" 2>&1 &
all=$!
"$ctl" --socket "$sock" --json flows --follow --denied >"$TOPO_DIR/denied.jsonl" 2>&1 &
denied=$!
"$ctl" --socket "$sock" flows --follow --hostname allowed.test >"$TOPO_DIR/table.txt" 2>&1 &
table=$!
"$ctl" --socket "$sock" flows --follow --protocol dns >"$TOPO_DIR/dns_table.txt" 2>&1 &
dns_table=$!
sleep 0.5 # the streams are open before the guest starts
: >"$out/go"
wait_mark "$out/done" 30 || bad "guest finished" "$(cat "$TOPO_DIR/logs/flows.log")"
sleep 0.6 # the hub drains every 100 ms
kill "$all" "$denied" "$table" "$dns_table" 2>/dev/null
wait "$all" "$denied" "$table" "$dns_table" 2>/dev/null

read -r req hdr body <"$out/allowed"
expect allowed_fetch_ok "1048576" "$body"
# check NAME FILE ASSERTIONS: python over the records of FILE (list r) and
# curl's counts (req, hdr, body).
check() {
    local prog="import json, sys
f, req, hdr, body = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = [json.loads(l) for l in open(f) if l.strip()]
$3"
    if $py -c "$prog" "$TOPO_DIR/$2" "$req" "$hdr" "$body" 2>&1; then ok "$1"
    else bad "$1" "$(cat "$TOPO_DIR/$2")"; fi
}
check tcp_record_names_allowed_flow all.jsonl '
t = [x for x in r if x["proto"] == "tcp" and x["hostname"] == "allowed.test"]
assert len(t) == 1, r
t = t[0]
assert (t["v"], t["action"], t["rule"], t["end"]) == (1, "allow", 1, "fin"), t
assert (t["dst"], t["dst_port"], t["direction"]) == ("198.18.0.1", 8080, "egress"), t
assert t["bytes_out"] == req and t["bytes_in"] == hdr + body, (t, req, hdr, body)
# Segments with data: the request fits one; 1 MiB fills at least one per
# MSS (MTU 1500: 1460), and never more than one per byte.
assert 1 <= t["packets_out"] <= t["bytes_out"], t
assert -(-t["bytes_in"] // 1460) <= t["packets_in"] <= t["bytes_in"], t
assert t["closed_unix_ms"] >= t["opened_unix_ms"] > 0, t'
check dns_records_name_queries all.jsonl '
d = {(x["hostname"], x["action"]) for x in r if x["proto"] == "dns"}
assert ("allowed.test", "allow") in d and ("denied.test", "deny") in d, d
den = [x for x in r if x["proto"] == "dns" and x["hostname"] == "denied.test"]
assert all(x["rule"] == 2 and x["end"] == "refused" for x in den), den
# The reply each got: refused names REFUSED (5) with no answer; dnsmasq
# has an A for allowed.test (1 answer) and no AAAA (it passes AAAA on to
# the upstream it does not have: REFUSED, whatever its version says, no
# answer; a reply went all the same, so never -1).
assert den and all((x["qtype"] in (1, 28), x["rcode"], x["answers"]) == (True, 5, 0)
                   for x in den), den
al = [x for x in r if x["proto"] == "dns" and x["hostname"] == "allowed.test"]
a = [x for x in al if x["qtype"] == 1]
aaaa = [x for x in al if x["qtype"] == 28]
assert a and all((x["rcode"], x["answers"], x["end"], x["rule"], x["addrs"]) ==
                 (0, 1, "closed", 1, ["198.18.0.1"]) for x in a), al
assert all(x["rcode"] in (0, 5) and x["answers"] == 0 and x["addrs"] == [] for x in aaaa), al
assert all(x["addrs"] == [] for x in den), den
assert all(x["qtype"] in (1, 28) for x in al), al'
check dns_record_of_a_missing_name all.jsonl '
n = [x for x in r if x["proto"] == "dns" and x["hostname"] == "nx.test"]
assert n and all((x["qtype"], x["rcode"], x["answers"], x["action"], x["end"], x["addrs"]) ==
                 (1, 3, 0, "allow", "closed", []) for x in n), n'
check icmp_echo_records all.jsonl '
e = [x for x in r if x["proto"] == "icmp"]
assert len(e) == 2, e
for x in e:
    assert (x["action"], x["rule"], x["end"], x["hostname"]) == ("allow", 1, "closed",
                                                                  "allowed.test"), x
    assert x["bytes_out"] == x["bytes_in"] == 56 and x["packets_in"] == 1, x'
expect udp_exchange_ok "ok" "$(cat "$out/udp")"
read -r u_got u_bytes u_sent u_sbytes <"$TOPO_DIR/udp_counts"
check udp_session_record all.jsonl "
u = [x for x in r if x['proto'] == 'udp' and x['dst_port'] == 7777]
assert len(u) == 1, r
u = u[0]
assert (u['action'], u['rule'], u['end'], u['hostname']) == ('allow', 1, 'idle',
                                                             'allowed.test'), u
assert (u['dst'], u['direction']) == ('198.18.0.1', 'egress'), u
assert (u['packets_out'], u['bytes_out']) == ($u_got, $u_bytes), u
assert (u['packets_in'], u['bytes_in']) == ($u_sent, $u_sbytes), u
assert u['closed_unix_ms'] - u['opened_unix_ms'] >= 1000, u"
check tcp_refusal_record all.jsonl '
t = [x for x in r if x["proto"] == "tcp" and x["dst"] == "198.18.0.2"]
assert any(x["dst_port"] == 9 for x in t), t
assert all((x["action"], x["rule"], x["end"], x["hostname"]) == ("deny", -1, "refused", "")
           for x in t), t'
check denied_filter_only_refusals denied.jsonl '
assert r and all(x["action"] != "allow" for x in r), r
assert any(x["hostname"] == "denied.test" for x in r), r'
if grep -qE '^[0-9:]+ +tcp +allow +#1 .*198\.18\.0\.1:8080 +allowed\.test +fin ' \
    "$TOPO_DIR/table.txt" && ! grep -q "denied.test" "$TOPO_DIR/table.txt"; then
    ok table_hostname_filter
else bad table_hostname_filter "$(cat "$TOPO_DIR/table.txt")"; fi
# The dns rows end with what the JSON says of the reply: the question's
# type, the rcode, the answer count and the addresses (the query name is
# the HOSTNAME column); other rows have no such column.
dns_row() { # NAME REGEX: a line of the dns table matches
    if grep -qE "$2" "$TOPO_DIR/dns_table.txt"; then ok "$1"
    else bad "$1" "$(cat "$TOPO_DIR/dns_table.txt")"; fi
}
dns_row table_dns_header '^TIME .* BYTES_IN +DNS$'
dns_row table_dns_answer_and_address \
    '^[0-9:]+ +dns +allow +#1 .* allowed\.test +closed +[0-9]+ +[0-9]+ A NOERROR 1 198\.18\.0\.1$'
dns_row table_dns_nxdomain '^[0-9:]+ +dns +allow .* nx\.test +closed +[0-9]+ +[0-9]+ A NXDOMAIN 0$'
dns_row table_dns_refused '^[0-9:]+ +dns +deny +#2 .* denied\.test +refused +[0-9]+ +[0-9]+ A+ REFUSED 0$'
if grep -qE ' (tcp|udp|icmp) .*(NOERROR|REFUSED)' "$TOPO_DIR/table.txt"; then
    bad table_dns_column_only_on_dns_rows "$(cat "$TOPO_DIR/table.txt")"
else ok table_dns_column_only_on_dns_rows; fi

# The counters behind Prometheus: records by action and protocol.
m=$("$ctl" --socket "$sock" --json metrics)
if $py -c 'import json,sys
fr = json.loads(sys.argv[1])["flow_records"]
assert fr["by_action"]["allow"]["tcp"] >= 1 and fr["by_action"]["deny"]["dns"] >= 1, fr
assert fr["dropped"] == 0, fr' "$m"; then ok metrics_count_records; else bad metrics_count_records "$m"; fi

msbnetd_stop flows "$daemon"

# --flow-log: every streamed record is in exactly one of the rotated files,
# no file passes the limit, no line twice, no partial line.
# (Equal lines are possible: glibc asks A and AAAA from one port in one ms,
# so multiplicities are compared.)
if $py -c 'import collections, glob, json, sys
d = sys.argv[1]
files = sorted(glob.glob(d + "/flows.log*"))
assert len(files) >= 2, files
lines = []
for f in files:
    text = open(f).read()
    assert len(text) <= 4096 and (not text or text.endswith("\n")), (f, len(text))
    lines += text.splitlines()
for l in lines:
    json.loads(l)
streamed = collections.Counter(l for l in open(d + "/all.jsonl").read().splitlines() if l.strip())
logged = collections.Counter(lines)
wrong = {l: (n, logged[l]) for l, n in streamed.items() if logged[l] != n}
assert streamed and not wrong, wrong
print(len(files), "files,", len(lines), "records")' "$TOPO_DIR"; then ok flow_log_rotation_keeps_every_record_once
else bad flow_log_rotation_keeps_every_record_once "$(ls -l "$TOPO_DIR"/flows.log*)"; fi

# Records of the flows the stop ends: a peer in I sends 5000 bytes and then
# holds the connection; the guest (netns G, kept alive past msbnetd's stop,
# unlike `run`'s CMD) reads them and holds it too.
cat >"$TOPO_DIR/hold_srv.py" <<'PY'
import socket, threading, time
def hold(c):
    try:
        c.sendall(b"h" * 5000)
    except OSError:
        return # topo_wait_port's probe, gone at once
    time.sleep(600)
s = socket.create_server(("0.0.0.0", 8090))
while True:
    threading.Thread(target=hold, args=(s.accept()[0],), daemon=True).start()
PY
cat >"$TOPO_DIR/hold_guest.py" <<'PY'
import socket, sys, time
c = socket.create_connection(("198.18.0.1", 8090), timeout=10)
got = 0
while got < 5000:
    got += len(c.recv(65536))
open(sys.argv[1], "w").write(str(got))
time.sleep(600)
PY
topo_bg I hold-srv "$py" "$TOPO_DIR/hold_srv.py"
topo_wait_port I 198.18.0.1 8090 10 || bad hold_server_up
sock2=$TOPO_DIR/ctl2.sock
topo_bg H stop "$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$TOPO_G" \
    --control-socket "$sock2" --dns 198.18.0.1 --flow-log "$TOPO_DIR/stop.log"
stopper=$TOPO_LAST_PID
for _ in $(seq 200); do
    [[ -S $sock2 ]] && ip -n "$TOPO_G" -4 addr show tap0 2>/dev/null | grep -q 100.96.0.2 && break
    sleep 0.05
done
"$ctl" --socket "$sock2" --json flows --follow >"$TOPO_DIR/stop.jsonl" 2>"$TOPO_DIR/stop.err" &
follower=$!
sleep 0.3
topo_bg G hold-guest "$py" "$TOPO_DIR/hold_guest.py" "$TOPO_DIR/hold_got"
wait_mark "$TOPO_DIR/hold_got" 15 || bad "guest read the held flow" "$(cat "$TOPO_DIR/logs/hold-guest.log")"
sleep 0.3 # open, nothing ended yet
msbnetd_stop stop "$stopper"
wait "$follower" 2>/dev/null
expect stream_ends_unavailable "UNAVAILABLE: msbnetd is shutting down" "$(cat "$TOPO_DIR/stop.err")"
for f in stop.log stop.jsonl; do
    check "record_of_flow_open_at_stop_in_${f//./_}" "$f" '
t = [x for x in r if x["proto"] == "tcp" and x["dst_port"] == 8090]
assert len(t) == 1, r
t = t[0]
assert (t["end"], t["action"], t["dst"], t["bytes_in"]) == ("stop", "allow", "198.18.0.1", 5000), t
assert (t["packets_out"], t["bytes_out"]) == (0, 0) and 4 <= t["packets_in"] <= 5000, t
assert t["closed_unix_ms"] >= t["opened_unix_ms"] > 0, t'
done
checks_done
