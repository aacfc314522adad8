#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scan_plaintext (issue 14): with it on, a secret's placeholder on a plain
# TCP connection -- not TLS, not intercepted, to any host -- is a
# violation.  A plain HTTP server in netns I records every byte each
# connection brings.  In msbnetd run --tls-intercept with a secret for
# api.test and "scan_plaintext": true, curl sends to it:
#   - a request without the placeholder: answered;
#   - the placeholder in a header, raw and percent-encoded in the query:
#     each reset, the server receives none of those bytes, counted in
#     tls.plaintext_violations and tls.violations, block-and-log's line;
#   - a request after them on a new connection: answered.
# The same placeholder request with scan_plaintext off reaches the server
# (plain connections are not watched unless asked).
#   tls_plaintext.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: tls_plaintext.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl timeout $py
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=60

# The plain server: each connection's bytes appended to the log as they
# come, a short answer once a request head is in.
cat >"$TOPO_DIR/plain_server.py" <<'PY'
import socket, socketserver, sys
log = sys.argv[2]
class H(socketserver.BaseRequestHandler):
    def handle(self):
        got = b""
        while b"\r\n\r\n" not in got:
            try:
                b = self.request.recv(4096)
            except OSError:
                break
            if not b:
                break
            got += b
            with open(log, "ab") as f:
                f.write(b)
        if b"\r\n\r\n" in got:
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
srv = S(("0.0.0.0", int(sys.argv[1])), H)
print("listening", flush=True)
srv.serve_forever()
PY
log=$TOPO_DIR/plain.bytes
: >"$log"
topo_bg I plain $py "$TOPO_DIR/plain_server.py" 8080 "$log"
topo_wait_port I $TOPO_I4 8080 10 || exit 1

value="sk-plain-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PLAINTEST_KEY=$value
url=http://$TOPO_I4:8080
guest_cmd='ask() { printf "%s: " "$1"; shift; curl -sS --max-time 10 "$@" 2>&1 | head -c 200; echo " rc=$?"; }
pct=$(python3 -c "import os; print(\"\".join(\"%%%02X\" % b for b in os.environ[\"PLAINTEST_KEY\"].encode()))")
ask clean '"$url"'/clean
ask header -H "Authorization: Bearer $PLAINTEST_KEY" '"$url"'/header
ask query '"$url"'/query?k=$PLAINTEST_KEY
ask percent "'"$url"'/percent?k=$pct"
ask after '"$url"'/after
echo "placeholder=$PLAINTEST_KEY"'
printf '{"tls": {"intercept": true}, "scan_plaintext": true}\n' >"$TOPO_DIR/scan.json"
out=$(guest --config "$TOPO_DIR/scan.json" --secret-env PLAINTEST_KEY@api.test \
    --on-secret-violation block-and-log --print-metrics -- sh -c "$guest_cmd")
echo "$out" | grep -v '^{"schema'
echo "server received: $(tr '\r\n' '  ' <"$log")"
ph=$(sed -n 's/^placeholder=//p' <<<"$out")
[[ -n $ph && $ph != "$value" ]] && ok "the guest holds a placeholder" || bad "placeholder" "$ph"
expect "a clean request is answered" "clean: ok" "$out"
expect "after the violations, a new connection is answered" "after: ok" "$out"
for k in header query percent; do
    # msbnetd's log line may land inside curl's: from "k:" to its "rc=".
    line=$(awk -v k="$k:" 'index($0, k) == 1 { on = 1 } on { printf "%s ", $0 } on && /rc=/ { exit }' <<<"$out")
    [[ $line == *"curl: ("* && $line != *"ok rc"* ]] && ok "$k: reset, no answer" \
        || bad "$k: reset, no answer" "$line"
    grep -q "/$k" "$log" && bad "$k: the server received the request" || ok "$k: the server received nothing"
done
grep -q "$ph" "$log" && bad "the placeholder reached the server" || ok "the placeholder never reached the server"
grep -q "/clean" "$log" && grep -q "/after" "$log" && ok "the clean requests arrived" \
    || bad "the clean requests arrived" "$(cat "$log")"
tls=$(grep -o '"tls":{[^}]*}' <<<"$out" | tail -1)
echo "$tls"
expect "tls.plaintext_violations 3" '"plaintext_violations":3,' "$tls"
expect "tls.violations 3" '"violations":3,' "$tls"
expect "block-and-log names the secret and says plaintext" \
    "secret PLAINTEST_KEY sent toward \"$TOPO_I4\" (port 8080, plaintext)" "$out"
[[ $out != *"$value"* ]] && ok "the value never shows" || bad "the value showed"

# scan_plaintext off: plain connections are not watched.
: >"$log"
printf '{"tls": {"intercept": true}}\n' >"$TOPO_DIR/noscan.json"
out=$(guest --config "$TOPO_DIR/noscan.json" --secret-env PLAINTEST_KEY@api.test --print-metrics \
    -- sh -c "$guest_cmd")
expect "scan_plaintext off: the header request is answered" "header: ok" "$out"
ph=$(sed -n 's/^placeholder=//p' <<<"$out")
grep -q "$ph" "$log" && ok "scan_plaintext off: the placeholder reaches the server" \
    || bad "scan_plaintext off: the placeholder reaches the server" "$(cat "$log")"
checks_done
