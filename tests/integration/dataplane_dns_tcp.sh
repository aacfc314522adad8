#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DNS over TCP/53, truncation and the query-name policy, end to end, and the
# egress policy on the gateway's resolver alike for UDP and TCP:
# `msbnetd run` in netns H sandboxes real clients (dig, a python client);
# dnsmasq in netns I is the only upstream, always passed with --dns.
#   usage: dataplane_dns_tcp.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: dataplane_dns_tcp.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require dig timeout dnsmasq /usr/bin/python3
topo_up || exit 1

source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

GW4=100.96.0.1
GW6=fd42:6d73:62::1
DIG="dig +time=8 +tries=1"
PY=/usr/bin/python3

# big.test: 40 TXT records of 200 bytes (~8.5 KB), more than any UDP size
# dnsmasq (4096) or dig (1232) would use, so only TCP carries it whole.
txt=$(printf 'x%.0s' $(seq 1 200))
big=()
for i in $(seq -w 1 40); do big+=("--txt-record=big.test,r$i-$txt"); done
topo_start_dnsmasq_i --address=/example.test/198.18.0.5 --address=/web.test/198.18.0.6 \
    --address=/www.blocked.test/198.18.0.7 --address=/blocked.test/198.18.0.7 \
    --address=/nx.test/ "${big[@]}" || exit 1

# The guest's python client: framed queries over TCP, floods over UDP.
cat >"$TOPO_DIR/dnsclient.py" <<'EOF'
import socket, struct, sys, time

def query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)

def frame(m):
    return struct.pack(">H", len(m)) + m

def read_frame(s):
    hdr = b""
    while len(hdr) < 2:
        d = s.recv(2 - len(hdr))
        if not d:
            return None
        hdr += d
    n = struct.unpack(">H", hdr)[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None
        body += d
    return body

def summary(m):
    qid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    return "id=%04x rcode=%d tc=%d an=%d size=%d" % (qid, flags & 15, (flags >> 9) & 1, an, len(m))

def connect(gw):
    s = socket.create_connection((gw, 53), timeout=10)
    return s

mode, gw = sys.argv[1], sys.argv[2]
if mode == "pipeline":
    # Three queries in one write; answers may come in any order.
    s = connect(gw)
    s.sendall(frame(query(0x1111, "big.test", 16)) + frame(query(0x2222, "example.test", 1))
              + frame(query(0x3333, "web.test", 1)))
    got = []
    for _ in range(3):
        m = read_frame(s)
        if m is None:
            break
        got.append(summary(m))
    for g in sorted(got):
        print(g)
    print("answers %d" % len(got))
elif mode == "junk":
    # A frame too short for a header (dropped), then a real query on the
    # same connection, then a header with no question (FORMERR).
    s = connect(gw)
    s.sendall(frame(b"ab") + frame(query(0x4444, "example.test", 1)))
    print(summary(read_frame(s)))
    s.sendall(frame(struct.pack(">HHHHHH", 0x5555, 0x0100, 0, 0, 0, 0) + b"xxxx"))
    print(summary(read_frame(s)))
elif mode == "oversize":
    s = connect(gw)
    s.sendall(struct.pack(">H", 5000) + b"y" * 5000)
    t0 = time.time()
    try:
        d = s.recv(100)
        print("closed" if d == b"" else "data %r" % d)
    except OSError as e:
        print("error %s" % e)
elif mode == "idle":
    s = connect(gw)
    s.settimeout(30)
    t0 = time.time()
    d = s.recv(100)
    print("idle_closed %s after %.1f" % ("eof" if d == b"" else "data", time.time() - t0))
elif mode == "conncap":
    # 70 connections held open: 64 are served, the rest refused (RST).
    held, refused = [], 0
    for _ in range(70):
        try:
            held.append(socket.create_connection((gw, 53), timeout=5))
        except ConnectionRefusedError:
            refused += 1
    held[-1].sendall(frame(query(0x6666, "example.test", 1)))
    print("conncap held=%d refused=%d last=%s" % (len(held), refused, summary(read_frame(held[-1]))))
elif mode == "flood":
    # More queries than the in-flight cap to a silent upstream: the ones
    # beyond the cap get SERVFAIL at once.
    n = int(sys.argv[3])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((gw, 53))
    for i in range(n):
        u.send(query(i, "q%d.example.test" % i, 1))
    u.settimeout(0.2)
    servfail = other = 0
    end = time.time() + 1.5
    while time.time() < end:
        try:
            m = u.recv(4096)
        except socket.timeout:
            continue
        if m[3] & 15 == 2:
            servfail += 1
        else:
            other += 1
    print("flood servfail=%d other=%d" % (servfail, other))
EOF

# An upstream that ignores the asker's UDP size (as some do): 200 A records
# (~3.2 KB) for any name, over UDP, at 198.18.0.3 in I.
cat >"$TOPO_DIR/bigudp.py" <<'EOF'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.3", 53))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    at = 12
    while at < len(q) and q[at]:
        at += 1 + q[at]
    question = q[12:at + 5]
    qid, flags = struct.unpack(">HH", q[:4])
    out = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, 200, 0, 0) + question
    for i in range(200):
        out += struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([198, 18, 1, i])
    s.sendto(out, peer)
EOF
ip -n "$TOPO_I" addr add 198.18.0.3/24 dev veth-h
topo_bg I bigudp "$PY" "$TOPO_DIR/bigudp.py"
for _ in $(seq 1 50); do
    ip netns exec "$TOPO_I" ss -Huln | grep -q '198.18.0.3:53' && break
    sleep 0.1
done

# guest_cfg CONFIG [OPTIONS] -- CMD: like guest, with a config file that
# sets its own policy (guest's --egress would conflict with it).
guest_cfg() {
    local cfg=$1
    shift
    GUEST_EGRESS='' guest --config "$cfg" "$@"
}
dns_tcp_obj() { grep -o '"tcp":{"queries[^}]*}' <<<"$1"; }
dns_udp_obj() { grep -o '"udp":{"queries[^}]*}' <<<"$1"; }

# --- dig +tcp through the interceptor ----------------------------------------------
out=$(guest --dns 198.18.0.1 --print-metrics -- $DIG +tcp @$GW4 example.test)
expect tcp_dig_answer "198.18.0.5" "$out"
expect tcp_dig_from_gateway "SERVER: $GW4#53" "$out"
tcpm=$(dns_tcp_obj "$out")
expect tcp_counted_by_transport '"queries":1,"answered":1' "$tcpm"
expect tcp_connection_closed_after '"tcp_connections":0' "$out"
expect tcp_latency_histogram '"upstream_latency":{"le_ms":[1,2,5,10,25,50,100,250,500,1000,2500,5000,"+Inf"]' "$out"
if grep -q '"counts":\[[0-9,]*,1\],"count":1' <<<"$out"; then ok tcp_latency_counted
else bad tcp_latency_counted "$(grep -o '"upstream_latency":{[^}]*}' <<<"$out")"; fi
out=$(guest --dns 198.18.0.1 -- $DIG +tcp @$GW6 example.test +short)
expect tcp_dig_ipv6_gateway 198.18.0.5 "$out"
out=$(guest --dns 198.18.0.1 -- $DIG +tcp @$GW4 host.microsandbox.internal +short)
expect tcp_host_alias "$GW4" "$out"
out=$(guest --dns 198.18.0.1 -- $DIG +tcp @$GW4 nx.test)
expect tcp_nxdomain "status: NXDOMAIN" "$out"
# The guest's own resolver, allowed by the policy: forwarded there (over
# UDP; the configured upstream 198.18.0.99 is not even reachable).
out=$(guest --dns 198.18.0.99 --print-metrics -- $DIG +tcp @198.18.0.1 example.test +short)
expect tcp_direct_resolver_allowed 198.18.0.5 "$out"
expect tcp_direct_resolver_not_indexed '"hostnames":{"entries":0' "$out"
out=$(guest --dns 198.18.0.1 --print-metrics -- $DIG +tcp @$GW4 example.test +short)
expect tcp_gateway_answer_indexed '"hostnames":{"entries":1' "$out"
# Denied: the SYN to it is refused, like any TCP the policy denies.
out=$(guest --egress deny --dns 198.18.0.1 --print-metrics -- $DIG +tcp @198.18.0.1 example.test)
expect tcp_direct_resolver_denied "connection refused" "$out"
expect tcp_direct_resolver_denied_counted '"denied":1' "$(grep -o '"tcp":{"flows[^}]*}' <<<"$out")"

# --- the gateway's resolver: one policy rule for both transports -------------------------
# `deny` denies DNS to the gateway over UDP (REFUSED at once, not a silent
# drop that would cost the guest's resolver its full timeout) and over TCP
# (the SYN is reset); nothing is forwarded upstream.
# The three digs timed inside the sandbox ("digs_ms N"): msbnetd's start and
# exit, slow on a loaded machine, are not part of it; a silent drop would
# cost a dig its whole 8 s.
out=$(guest --egress deny --dns 198.18.0.1 --print-metrics -- sh -c \
    "s=\$(date +%s%N); $DIG @$GW4 example.test; $DIG @$GW6 example.test; $DIG +tcp @$GW4 example.test
     echo digs_ms \$(((\$(date +%s%N) - s) / 1000000))")
ms=$(grep -o 'digs_ms [0-9]*' <<<"$out" | cut -d' ' -f2)
ms=${ms:-99999}
if [[ $(grep -c 'status: REFUSED' <<<"$out") -eq 2 ]]; then ok deny_gateway_udp_refused_both_families
else bad deny_gateway_udp_refused_both_families "$out"; fi
expect deny_gateway_tcp_reset "connection refused" "$out"
if ((ms < 4000)); then ok "deny_gateway_answers_at_once ($ms ms for three digs)"
else bad deny_gateway_answers_at_once "$ms ms"; fi
expect deny_gateway_udp_counted '"queries":2,"answered":0,"refused":2' "$(dns_udp_obj "$out")"
expect deny_gateway_resolver_denied_counted '"resolver_denied":2' "$out"
expect deny_gateway_nothing_forwarded '"forwarded":0' "$out"
expect deny_gateway_tcp_denied_counted '"denied":1' "$(grep -o '"tcp":{"flows[^}]*}' <<<"$out")"
# public_only (the default preset) allows port 53 to the gateway explicitly:
# both transports resolve.
echo '{"egress":"public_only"}' >"$TOPO_DIR/public_only.json"
out=$(guest_cfg "$TOPO_DIR/public_only.json" --dns 198.18.0.1 -- sh -c \
    "$DIG @$GW4 example.test +short; $DIG +tcp @$GW4 web.test +short")
expect public_only_gateway_udp 198.18.0.5 "$out"
expect public_only_gateway_tcp 198.18.0.6 "$out"
# A token policy without port 53 to the host: both transports denied alike;
# with allow@host:udp:53 only UDP is allowed, as the rule says.
echo '{"policy":"allow@public"}' >"$TOPO_DIR/public_tokens.json"
out=$(guest_cfg "$TOPO_DIR/public_tokens.json" --dns 198.18.0.1 -- sh -c \
    "$DIG @$GW4 example.test; $DIG +tcp @$GW4 example.test")
expect tokens_without_dns_udp_refused "status: REFUSED" "$out"
expect tokens_without_dns_tcp_reset "connection refused" "$out"
echo '{"policy":"allow@public,allow@host:udp:53"}' >"$TOPO_DIR/udp_dns_tokens.json"
out=$(guest_cfg "$TOPO_DIR/udp_dns_tokens.json" --dns 198.18.0.1 -- sh -c \
    "$DIG @$GW4 example.test +short; $DIG +tcp @$GW4 web.test")
expect tokens_udp_dns_allowed 198.18.0.5 "$out"
expect tokens_udp_dns_tcp_still_reset "connection refused" "$out"

# --- answers too large for UDP ----------------------------------------------------------
# dnsmasq keeps within the size asked of it and sets TC=1 itself; that
# answer reaches the guest as it is.
out=$(guest --dns 198.18.0.1 -- $DIG +notcp +ignore @$GW4 big.test TXT)
expect udp_big_upstream_tc "flags: qr aa tc" "$out"
# An upstream that ignores the size: msbnet cuts the answer to header +
# question with TC=1 for the guest's 512 (no EDNS) or its EDNS size.
out=$(guest --dns 198.18.0.3 --print-metrics -- $DIG +notcp +ignore +noedns @$GW4 many.test)
expect udp_cut_tc "flags: qr tc rd ra" "$out"
expect udp_cut_empty "ANSWER: 0" "$out"
expect udp_cut_keeps_question "many.test." "$out"
expect udp_cut_counted '"truncated":1' "$(dns_udp_obj "$out")"
out=$(guest --dns 198.18.0.3 -- $DIG +notcp +ignore +bufsize=4096 @$GW4 many.test)
expect udp_fits_edns_size "ANSWER: 200" "$out"
out=$(guest --dns 198.18.0.1 --print-metrics -- $DIG @$GW4 big.test TXT)
expect dig_retries_over_tcp "Truncated, retrying in TCP mode" "$out"
expect tcp_big_whole "ANSWER: 40" "$out"
size=$(grep -o 'MSG SIZE  rcvd: [0-9]*' <<<"$out" | awk '{print $4}')
if [[ ${size:-0} -gt 8000 ]]; then ok tcp_big_not_cut; else bad tcp_big_not_cut "size '$size'"; fi
expect upstream_retried_over_tcp '"upstream_tcp_retries":1' "$out"
expect big_by_transport_udp '"queries":1,"answered":1,"refused":0' "$(dns_udp_obj "$out")"
expect big_by_transport_tcp '"queries":1,"answered":1,"refused":0,"servfail":0,"formerr":0,"truncated":0' "$(dns_tcp_obj "$out")"

# --- pipelining, framing errors, caps, idle timeout -------------------------------------
out=$(guest --dns 198.18.0.1 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" pipeline $GW4)
expect pipeline_all_answered "answers 3" "$out"
expect pipeline_big "id=1111 rcode=0 tc=0 an=40" "$out"
expect pipeline_a1 "id=2222 rcode=0 tc=0 an=1" "$out"
expect pipeline_a2 "id=3333 rcode=0 tc=0 an=1" "$out"
out=$(guest --dns 198.18.0.1 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" junk $GW4)
expect tcp_short_frame_skipped "id=4444 rcode=0" "$out"
expect tcp_short_frame_counted '"dns_no_header":1' "$out"
expect tcp_formerr "id=5555 rcode=1" "$out"
expect tcp_formerr_counted '"formerr":1' "$(dns_tcp_obj "$out")"
out=$(guest --dns 198.18.0.1 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" oversize $GW4)
expect tcp_oversized_closed "closed" "$out"
expect tcp_oversized_counted '"tcp_oversized":1' "$out"
out=$(guest --dns 198.18.0.1 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" idle $GW4)
secs=$(grep -o 'after [0-9.]*' <<<"$out" | awk '{print int($2)}')
expect tcp_idle_closed "idle_closed eof" "$out"
if [[ ${secs:-0} -ge 9 && ${secs:-0} -le 13 ]]; then ok tcp_idle_after_10s; else bad tcp_idle_after_10s "$out"; fi
expect tcp_idle_counted '"tcp_idle_timeouts":1' "$out"
out=$(guest --dns 198.18.0.1 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" conncap $GW4)
expect tcp_connection_cap "conncap held=64 refused=6 last=id=6666 rcode=0" "$out"
expect tcp_connection_cap_counted '"tcp_connections_cap":6' "$out"
# 198.18.0.99 is silent (blackholed in I): 300 queries, 256 wait, 44 SERVFAIL.
ip -n "$TOPO_I" route add blackhole 198.18.0.99/32
out=$(guest --dns 198.18.0.99 --print-metrics -- $PY "$TOPO_DIR/dnsclient.py" flood $GW4 300)
expect in_flight_cap_servfail "flood servfail=44 other=0" "$out"
expect in_flight_cap_counted '"in_flight_cap":44' "$out"

# --- query-name policy ----------------------------------------------------------------
cat >"$TOPO_DIR/names.json" <<'EOF'
{"policy":{"default_egress":"allow","default_ingress":"allow","rules":[
  {"direction":"egress","destination":{"domain":"www.blocked.test"},"action":"allow"},
  {"direction":"egress","destination":{"domain_suffix":"blocked.test"},"protocols":["tcp"],
   "ports":[{"start":443,"end":443}],"action":"deny"},
  {"direction":"any","destination":{"domain":"bye.test"},"action":"terminate"}]}}
EOF
: >"$TOPO_DIR/logs/dnsmasq-i-53.queries.log"
out=$(guest_cfg "$TOPO_DIR/names.json" --dns 198.18.0.1 --print-metrics -- bash -c \
    "$DIG @$GW4 a.blocked.test; $DIG +tcp @$GW4 BLOCKED.test.; $DIG @$GW4 www.blocked.test +short; $DIG @$GW4 example.test +short")
if [[ $(grep -c 'status: REFUSED' <<<"$out") -eq 2 ]]; then ok name_policy_refused_udp_and_tcp
else bad name_policy_refused_udp_and_tcp "$out"; fi
expect name_policy_first_match_allows 198.18.0.7 "$out"
expect name_policy_others_pass 198.18.0.5 "$out"
expect name_policy_counted '"name_denied":2' "$out"
expect name_policy_refused_udp '"refused":1' "$(dns_udp_obj "$out")"
expect name_policy_refused_tcp '"refused":1' "$(dns_tcp_obj "$out")"
# terminate: REFUSED each time, the termination hook fired once.
out=$(guest_cfg "$TOPO_DIR/names.json" --dns 198.18.0.1 --print-metrics -- bash -c \
    "$DIG @$GW4 bye.test; $DIG +tcp @$GW4 bye.test")
if [[ $(grep -c 'status: REFUSED' <<<"$out") -eq 2 ]]; then ok name_terminate_refused
else bad name_terminate_refused "$out"; fi
expect name_terminate_counted '"terminated":2' "$out"
expect name_terminate_hook_once '"termination":{"count":1}' "$out"
if grep -Eqi 'query.* ((a\.)?blocked|bye)\.test' "$TOPO_DIR/logs/dnsmasq-i-53.queries.log"; then
    bad name_policy_never_upstream "$(grep -i blocked "$TOPO_DIR/logs/dnsmasq-i-53.queries.log")"
else ok name_policy_never_upstream; fi

checks_done
