#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS interception and secret injection end to end (issue 14 step 3):
# msbnetd run --tls-intercept with a secret for api.test; an HTTPS server in
# netns I (its own throwaway CA, given as tls.upstream_ca_files) logs the
# Authorization header it receives and echoes it.  In the sandbox, curl
# trusts the sandbox CA through the variables run sets:
#   - a request to api.test carrying the placeholder reaches the upstream
#     with the real value, and the echo comes back redacted: the guest never
#     sees the value;
#   - the same placeholder sent to other.test is a violation: the
#     connection is reset, the upstream never sees it, and it is counted;
#   - a name in tls.bypass is relayed raw (curl then sees the upstream's own
#     certificate, which it does not trust);
#   - the metrics count the interceptions, handshakes and substitutions;
#   - block-and-terminate fires the termination hook naming the secret;
#     UDP to port 443 (QUIC) is refused.
#   usage: tls_intercept.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: tls_intercept.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl openssl dnsmasq timeout $py
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=60

# The upstream's own CA and a leaf for the three names.
source "$here/../lib/test_ca.sh"
d=$TOPO_DIR/up
test_ca_make "$d" api.test other.test raw.test || { bad "upstream CA"; checks_done; exit 1; }
log=$TOPO_DIR/logs/upstream.requests
: >"$log"
topo_bg I https $py "$here/tls_echo_server.py" 443 "$d/leaf.pem" "$d/leaf.key" "$log"
topo_wait_port I $TOPO_I4 443 10 || exit 1
topo_start_dnsmasq_i --address=/api.test/$TOPO_I4 --address=/other.test/$TOPO_I4 \
    --address=/raw.test/$TOPO_I4 || exit 1

value="sk-live-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '{"tls": {"intercept": true, "upstream_ca_files": ["%s"], "bypass": ["raw.test"]}}\n' \
    "$d/ca.pem" >"$TOPO_DIR/tls.json"
export TLSTEST_KEY=$value
guest_cmd='for h in api.test other.test raw.test; do
    printf "%s: " $h
    curl -sS --max-time 10 -H "Authorization: Bearer $TLSTEST_KEY" https://$h/x 2>&1 | head -c 300
    echo " rc=$?"
done
echo "placeholder=$TLSTEST_KEY"'
out=$(guest --dns $TOPO_I4 --config "$TOPO_DIR/tls.json" --secret-env TLSTEST_KEY@api.test \
    --print-metrics -- sh -c "$guest_cmd")
echo "$out" | grep -v '^{"schema'
ph=$(sed -n 's/^placeholder=//p' <<<"$out")
[[ -n $ph && $ph != "$value" ]] && ok "the guest holds a placeholder" || bad "the guest holds a placeholder" "$ph"
grep -q "^api.test /x auth=Bearer $value\$" "$log" && ok "the upstream got the real value" \
    || bad "the upstream got the real value" "$(cat "$log")"
[[ $out != *"$value"* ]] && ok "the guest never sees the value" || bad "the guest never sees the value"
expect echo_redacted "api.test: you sent: Bearer " "$out"
grep -q "^other.test" "$log" && bad "a violation never reaches the upstream" "$(cat "$log")" \
    || ok "a violation never reaches the upstream"
[[ $(grep '^other.test:' <<<"$out") != *"you sent"* ]] && ok "the violating request fails" \
    || bad "the violating request fails" "$(grep '^other.test:' <<<"$out")"
expect bypass_is_raw "raw.test: curl: (60)" "$out"
tls=$(grep -o '"tls":{[^}]*}' <<<"$out" | tail -1)
echo "$tls"
expect tls_intercepted '"intercepted":2,' "$tls"
expect tls_handshakes '"handshakes_ok":2,' "$tls"
expect tls_substitutions '"substitutions":1,' "$tls"
expect tls_violations '"violations":1,' "$tls"
expect tls_bypassed '"bypassed":1,' "$tls"

# block-and-terminate: the violation fires the termination hook, which
# names the secret, never its value; QUIC to the intercepted port is refused.
out=$(GUEST_STATUS=cmd guest --dns $TOPO_I4 --config "$TOPO_DIR/tls.json" \
    --secret-env TLSTEST_KEY@api.test --on-secret-violation block-and-terminate --print-metrics -- \
    sh -c 'curl -sS --max-time 10 -H "Authorization: Bearer $TLSTEST_KEY" https://other.test/x; echo " rc=$?";
        python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"q\", (\"198.18.0.1\", 443))"
        sleep 2')
expect terminate_fired '"termination":{"count":1}' "$out"
expect terminate_names_secret 'TLSTEST_KEY' "$out"
[[ $out != *"$value"* ]] && ok "the termination never shows the value" || bad "the termination never shows the value"
expect quic_refused '"quic_refused":1' "$out"
checks_done
