#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest datagrams larger than the MTU: the guest's kernel fragments them
# (path MTU discovery off), msbnet reassembles and relays them whole to a
# UDP peer in netns I, which answers with the length and SHA-256 of what it
# got (or echoes it whole, which msbnet fragments back to the guest).  With
# reassembly off the same datagram never arrives and the drop is counted.
#   usage: udp_fragments.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: udp_fragments.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

cat >"$TOPO_DIR/frag_peer.py" <<'EOF'
import hashlib, socket, sys

def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("::", port))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        if data.startswith(b"ECHO"):
            s.sendto(data, peer)
        else:
            s.sendto(b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode()), peer)

# Each size once: "ok SIZE" when the peer saw exactly those bytes.
def send(host, port, mode, sizes):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    # PMTU discovery off: the kernel fragments instead of refusing (EMSGSIZE).
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, 0)    # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
    else:
        s.setsockopt(socket.IPPROTO_IPV6, 23, 0)  # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DONT
    s.settimeout(2)
    s.connect((host, port))
    for n in sizes:
        body = (b"ECHO" if mode == "echo" else b"") + bytes((i * 13 + n) & 0xFF for i in range(n))
        body = body[:n]
        want = body if mode == "echo" else b"%d %s" % (n, hashlib.sha256(body).hexdigest().encode())
        try:
            s.send(body)
            got = s.recv(65535)
            print(("ok %d" if got == want else "wrong %d") % n, flush=True)
        except OSError as e:
            print("lost %d %s" % (n, e), flush=True)

if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    send(sys.argv[2], int(sys.argv[3]), sys.argv[1], [int(x) for x in sys.argv[4:]])
EOF
peer="/usr/bin/python3 $TOPO_DIR/frag_peer.py"

topo_bg I frag_peer $peer serve 7000
for _ in $(seq 100); do
    grep -q listening "$TOPO_DIR/logs/frag_peer.log" 2>/dev/null && break
    sleep 0.05
done
grep -q listening "$TOPO_DIR/logs/frag_peer.log" || { echo "fragment peer never listened"; exit 1; }

sizes4="1473 2000 4000 8000 30000 65507"
sizes6="1453 2000 4000 30000 65000"
out=$(guest --mtu 1500 --print-metrics -- sh -c \
    "$peer digest 198.18.0.1 7000 $sizes4; $peer digest fd42::1 7000 $sizes6")
for n in $sizes4; do
    if grep -qx "ok $n" <<<"$(sed -n '1,6p' <<<"$out")"; then ok "ipv4_${n}_bytes_reassembled_intact"
    else bad "ipv4_${n}_bytes_reassembled_intact" "$(grep -m6 -E '^(ok|wrong|lost)' <<<"$out" | tr '\n' ' ')"; fi
done
for n in $sizes6; do
    if grep -qx "ok $n" <<<"$(sed -n '7,11p' <<<"$out")"; then ok "ipv6_${n}_bytes_reassembled_intact"
    else bad "ipv6_${n}_bytes_reassembled_intact" "$(grep -E '^(ok|wrong|lost)' <<<"$out" | tail -5 | tr '\n' ' ')"; fi
done
# 11 datagrams needed reassembly (1473 bytes is 1501 on the wire at IPv4,
# 1453 is 1501 at IPv6); all of them came out whole, nothing left behind.
reasm=$(grep -o '"reassembly":{[^}]*}' <<<"$out")
if [[ $reasm == *'"pending":0,"bytes":0,'* && $reasm == *'"reassembled":11'* ]]; then
    ok reassembly_counted
else bad reassembly_counted "$reasm"; fi
if grep -q '"reasm_[a-z_]*":[1-9]' <<<"$out"; then
    bad no_reassembly_drops "$(grep -o '"reasm_[a-z_]*":[1-9][0-9]*' <<<"$out" | tr '\n' ' ')"
else ok no_reassembly_drops; fi

# The other way round: an 8000-byte echo goes out in fragments and comes
# back in fragments msbnet made (IPv4).
out=$(guest --mtu 1500 -- $peer echo 198.18.0.1 7000 8000 20000)
expect ipv4_echo_8000_both_ways "ok 8000" "$out"
expect ipv4_echo_20000_both_ways "ok 20000" "$out"

# Reassembly off: the fragments are dropped (counted), nothing arrives.
printf '{"reasm_max_datagrams": 0}\n' >"$TOPO_DIR/noreasm.json"
out=$(guest --mtu 1500 --config "$TOPO_DIR/noreasm.json" --print-metrics -- \
    $peer digest 198.18.0.1 7000 4000 1400)
expect reassembly_off_datagram_lost "lost 4000" "$out"
expect reassembly_off_small_still_fine "ok 1400" "$out"
if grep -q '"ip_fragment":3' <<<"$out"; then ok reassembly_off_fragments_counted
else bad reassembly_off_fragments_counted "$(grep -o '"ip_fragment":[0-9]*' <<<"$out")"; fi

checks_done
