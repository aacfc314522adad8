#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What msbnet's TCP negotiates with the guest (timestamps, SACK, window
# scaling, as a Linux peer answers), and what that buys: a guest that
# closes first leaves its ports in TIME_WAIT, and its kernel reuses them
# early (tcp_tw_reuse) only when the peer speaks timestamps.  The guest
# makes 2.4 times as many connections to one server port as its port range
# holds, paced below what the range allows per second; every one must
# succeed.  Without timestamps the range is used up after the first 500.
#   usage: tcp_timestamps.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: tcp_timestamps.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require $py timeout sysctl
topo_up || exit 1
source "$here/../lib/checks.sh"

# An echo server in I: one byte back per connection, closed when the
# client closes (the client closes first, so TIME_WAIT is the guest's).
cat >"$TOPO_DIR/echo.py" <<'PY'
import socket, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 9300))
s.listen(1024)
print("listening", flush=True)
def serve(c):
    with c:
        b = c.recv(1)
        if b:
            c.sendall(b)
        c.recv(1)  # the client's FIN
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
topo_bg I echo $py "$TOPO_DIR/echo.py"
for _ in $(seq 100); do grep -q listening "$TOPO_DIR/logs/echo.log" && break; sleep 0.05; done
grep -q listening "$TOPO_DIR/logs/echo.log" || { bad "echo server did not start"; checks_done; exit 1; }

# The guest: a 500-port range, TIME_WAIT reuse on; one connection held
# open to read what was negotiated, then 1200 connections at 150/s (Linux
# reuses a TIME_WAIT port once the second of its last timestamp is over:
# up to 2 s, so 500 ports carry 250 connections/s at most).
cat >"$TOPO_DIR/client.py" <<'PY'
import socket, subprocess, sys, time
N, RATE = int(sys.argv[1]), float(sys.argv[2])
held = socket.create_connection(("198.18.0.1", 9300), timeout=5)
held.sendall(b"h"); held.recv(1)
# tcpi_options (struct tcp_info byte 5): what the guest's kernel and msbnet
# agreed on (this machine's ss does not print them).
opts = held.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
print("negotiated:", " ".join(n for b, n in ((1, "ts"), (2, "sack"), (4, "wscale")) if opts & b))
held.close()
ok = fail = 0
first = ""
start = time.monotonic()
for i in range(N):
    delay = start + i / RATE - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    try:
        c = socket.create_connection(("198.18.0.1", 9300), timeout=5)
        c.sendall(b"x")
        if c.recv(1) != b"x":
            raise OSError("no echo")
        c.close()
        ok += 1
    except OSError as e:
        fail += 1
        first = first or "%d: %s" % (i, e)
print("done ok=%d fail=%d first_error=%s secs=%.1f" % (ok, fail, first, time.monotonic() - start))
PY
guest_sh='sysctl -qw net.ipv4.ip_local_port_range="40000 40499" net.ipv4.tcp_tw_reuse=1 \
    net.ipv4.tcp_timestamps=$2 && /usr/bin/python3 "$1" 1200 150'
# First without timestamps on the guest's side: the check below must be
# able to fail, and this is how it fails.
# msbnetd_fg (checks.sh): msbnetd and the client exit 0, no sanitizer report.
out=$(msbnetd_fg no-timestamps 0 -- timeout 120 ip netns exec "$TOPO_H" "$msbnetd" run \
    --egress allow -- sh -c "$guest_sh" _ "$TOPO_DIR/client.py" 0)
if grep -q 'done ok=[0-9]* fail=[1-9].*Cannot assign requested address' <<<"$out"; then
    ok "without timestamps the port range runs out ($(grep -o 'ok=[0-9]* fail=[0-9]*' <<<"$out"))"
else bad "without timestamps the port range runs out" "$(grep done <<<"$out")"; fi
out=$(msbnetd_fg timestamps 0 -- timeout 120 ip netns exec "$TOPO_H" "$msbnetd" run \
    --egress allow --print-metrics -- sh -c "$guest_sh" _ "$TOPO_DIR/client.py" 1)
metrics=$(grep -o '{"schema".*}' <<<"$out" | tail -1)
echo "$out" | sed 's/{"schema".*//' | sed 's/^/    | /'

info=$(grep '^negotiated:' <<<"$out")
for opt in ts sack wscale; do
    if grep -qw -- "$opt" <<<"$info"; then ok "the guest's connection has $opt"
    else bad "the guest's connection has $opt" "${info:-$out}"; fi
done
expect "1200 connections over a 500-port range, all succeed" "done ok=1200 fail=0" "$out"
val() { $py -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$metrics" "$1" 2>&1; }
[[ $(val tcp.connects_ok) -ge 1201 ]] && ok "every connection reached I" \
    || bad "every connection reached I" "tcp.connects_ok=$(val tcp.connects_ok)"
[[ $(val tcp.bad_transition) == 0 ]] && ok "no illegal flow transition" \
    || bad "no illegal flow transition" "$(val tcp.bad_transition)"
checks_done
