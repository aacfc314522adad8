#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The live flow table (issue 15): a guest in netns G (msbnetd tap --netns)
# holds a long TCP download from a peer in I and a UDP session to another;
# ListFlows from Python grpcio and `msbnetctl flows --live` show both open
# (end "open", closed_unix_ms 0) with byte counts that grow between two
# calls; the protocol filter pages the filtered set (its total, page N of
# one protocol); a bad limit or protocol is INVALID_ARGUMENT.
#   flows_live.sh MSBNETD MSBNETCTL PLUGIN PROTO_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN PROTO_DIR}")
ctl=$(realpath "${2:?}")
plugin=$(realpath "${3:?}")
proto=$(realpath "${4:?}")
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout
topo_up || exit 1
source "$here/../lib/checks.sh"
py=/usr/bin/python3
source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1
sock=$TOPO_DIR/ctl.sock
client() { $py "$here/flows_live.py" "$TOPO_DIR" "$sock" "$@"; }

# Peers in I: a TCP server that sends 4 KiB every 20 ms for a minute (a long
# download), a UDP server that echoes.
cat >"$TOPO_DIR/peers.py" <<'PY'
import socket, threading, time
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 7778))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)
threading.Thread(target=udp, daemon=True).start()
def send(c):
    try:
        for _ in range(3000):
            c.sendall(b"d" * 4096)
            time.sleep(0.02)
    except OSError:
        pass # topo_wait_port's probe, gone at once
l = socket.create_server(("0.0.0.0", 8091))
while True:
    threading.Thread(target=send, args=(l.accept()[0],), daemon=True).start()
PY
# The guest: reads the download, and sends a datagram every 100 ms.
cat >"$TOPO_DIR/guest.py" <<'PY'
import socket, threading, time
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("198.18.0.1", 7778))
    s.settimeout(1)
    while True:
        s.send(b"u" * 100)
        try:
            s.recv(65535)
        except socket.timeout:
            pass
        time.sleep(0.1)
threading.Thread(target=udp, daemon=True).start()
c = socket.create_connection(("198.18.0.1", 8091), timeout=10)
while c.recv(65536):
    pass
PY
topo_bg I peers "$py" "$TOPO_DIR/peers.py"
topo_wait_port I 198.18.0.1 8091 10 || { checks_done; exit 1; }
topo_bg H msbnetd "$msbnetd" --plugin "$plugin" tap --netns "/var/run/netns/$TOPO_G" \
    --control-socket "$sock" --dns 198.18.0.1
daemon=$TOPO_LAST_PID
for _ in $(seq 200); do
    [[ -S $sock ]] && ip -n "$TOPO_G" -4 addr show tap0 2>/dev/null | grep -q 100.96.0.2 && break
    sleep 0.05
done
topo_bg G guest "$py" "$TOPO_DIR/guest.py"
sleep 1.5 # both flows open, bytes moving

# page NAME ASSERTIONS OFFSET LIMIT PROTOCOL: python over one ListFlows page
# (p: {"total", "offset", "flows"}), kept in $TOPO_DIR/NAME.json.
page() {
    local name=$1 prog=$2
    shift 2
    client list "$@" >"$TOPO_DIR/$name.json" 2>&1
    if $py -c "import json, sys
p = json.load(open(sys.argv[1]))
$prog" "$TOPO_DIR/$name.json" 2>&1; then ok "$name"
    else bad "$name" "$(cat "$TOPO_DIR/$name.json")"; fi
}
open_both='
t = [f for f in p["flows"] if f["proto"] == "tcp" and f["dst_port"] == 8091]
u = [f for f in p["flows"] if f["proto"] == "udp" and f["dst_port"] == 7778]
assert len(t) == 1 and len(u) == 1 and p["total"] == len(p["flows"]) == 2, p
for f in t + u:
    assert (f["end"], f["closed_unix_ms"], f["action"], f["dst"]) == ("open", 0, "allow",
                                                                     "198.18.0.1"), f
    assert f["opened_unix_ms"] > 0 and f["guest"] == "100.96.0.2", f
assert t[0]["bytes_in"] > 0 and u[0]["bytes_out"] > 0 and u[0]["packets_out"] > 0, p'
page grpc_lists_tcp_and_udp_open "$open_both" 0 1000 ""
sleep 1
export FIRST=$TOPO_DIR/grpc_lists_tcp_and_udp_open.json
page grpc_counts_grow "$open_both"'
import os
q = json.load(open(os.environ["FIRST"]))
old = {(f["proto"], f["guest_port"]): f for f in q["flows"]}
t0, u0 = old[("tcp", t[0]["guest_port"])], old[("udp", u[0]["guest_port"])]
assert t[0]["bytes_in"] > t0["bytes_in"] and u[0]["bytes_out"] > u0["bytes_out"], (t0, u0, p)
assert u[0]["packets_in"] > u0["packets_in"], (u0, p)' 0 1000 ""

page filter_tcp '
assert p["total"] == 1 and [f["proto"] for f in p["flows"]] == ["tcp"], p' 0 1000 tcp
page filter_udp '
assert p["total"] == 1 and [f["proto"] for f in p["flows"]] == ["udp"], p' 0 10 udp
page filter_icmp_none '
assert p["total"] == 0 and p["flows"] == [], p' 0 10 icmp
page filter_pages_the_filtered_set '
assert p["total"] == 1 and p["offset"] == 1 and p["flows"] == [], p' 1 1 udp
page pages_of_one 'assert p["total"] == 2 and len(p["flows"]) == 1, p' 0 1 ""
page second_page_of_one 'assert p["total"] == 2 and len(p["flows"]) == 1, p' 1 1 ""
if [[ $($py -c 'import json, sys
a, b = (json.load(open(f))["flows"][0] for f in sys.argv[1:])
print(a["proto"] != b["proto"])' "$TOPO_DIR/pages_of_one.json" "$TOPO_DIR/second_page_of_one.json") == True ]]; then
    ok pages_hold_different_flows
else bad pages_hold_different_flows; fi

for bad_args in "0 0 tcp:limit must be 1..1000" "0 1001 :limit must be 1..1000" \
    "0 10 dns:protocol must be" "0 10 sctp:protocol must be"; do
    args=${bad_args%%:*} why=${bad_args#*:}
    read -r off lim prot <<<"$args"
    res=$(client expect INVALID_ARGUMENT "$off" "$lim" "${prot:-}" 2>&1)
    expect "invalid_argument_${off}_${lim}_${prot:-all}" "$why" "$res"
done

# msbnetctl: JSON lines, a table filtered to UDP, a bad protocol.
"$ctl" --socket "$sock" --json flows --live >"$TOPO_DIR/ctl.jsonl" 2>&1
if $py -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert sorted(x["proto"] for x in r) == ["tcp", "udp"], r
assert all(x["end"] == "open" for x in r), r' "$TOPO_DIR/ctl.jsonl"; then ok msbnetctl_live_json
else bad msbnetctl_live_json "$(cat "$TOPO_DIR/ctl.jsonl")"; fi
"$ctl" --socket "$sock" flows --live --protocol udp >"$TOPO_DIR/ctl.txt" 2>&1
if grep -qE '^[0-9:]+ +udp +allow +\S+ +100\.96\.0\.2:[0-9]+ +198\.18\.0\.1:7778 .* open ' \
    "$TOPO_DIR/ctl.txt" && ! grep -q ' tcp ' "$TOPO_DIR/ctl.txt"; then ok msbnetctl_live_table_udp
else bad msbnetctl_live_table_udp "$(cat "$TOPO_DIR/ctl.txt")"; fi
res=$("$ctl" --socket "$sock" flows --live --protocol sctp 2>&1)
expect msbnetctl_live_bad_protocol "INVALID_ARGUMENT" "$res"
res=$("$ctl" --socket "$sock" flows --live --follow 2>&1; echo "rc=$?")
expect msbnetctl_live_follow_is_usage "rc=2" "$res"

msbnetd_stop msbnetd "$daemon"
checks_done
