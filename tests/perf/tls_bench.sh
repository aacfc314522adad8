#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tls_bench.sh — what does TLS interception cost?  A guest under `msbnetd
# run --tls-intercept` fetches from an HTTPS server in netns I (Python,
# its own CA in tls.upstream_ca_files): a 64 MiB body, and N small requests
# each on a new connection, once intercepted (api.test) and once relayed
# raw (raw.test, in tls.bypass; curl then trusts the upstream's CA itself).
# Prints MB/s and connections/s for both and the ratio.  A benchmark, never
# run by ctest.
#
# Usage (root): tests/perf/tls_bench.sh
#   MSBNETD=build/bin/msbnetd  N=200  REPEAT=3
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/topology.sh"
MSBNETD=$(realpath "${MSBNETD:-$root/build/bin/msbnetd}")
N=${N:-200}
REPEAT=${REPEAT:-3}
topo_require curl openssl dnsmasq timeout "$TOPO_PYTHON"
topo_up

source "$here/../lib/test_ca.sh"
d=$TOPO_DIR/up
test_ca_make "$d" api.test raw.test
head -c $((64 << 20)) /dev/urandom >"$TOPO_WWW/64M.bin"
cat >"$TOPO_DIR/https.py" <<'PY'
import http.server, ssl, sys
srv = http.server.ThreadingHTTPServer(("0.0.0.0", 443), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
(cd "$TOPO_WWW" && topo_bg I https "$TOPO_PYTHON" "$TOPO_DIR/https.py" "$d/leaf.pem" "$d/leaf.key")
topo_wait_port I 198.18.0.1 443 10
topo_start_dnsmasq_i --address=/api.test/198.18.0.1 --address=/raw.test/198.18.0.1
printf '{"tls": {"intercept": true, "upstream_ca_files": ["%s"], "bypass": ["raw.test"]}}\n' \
    "$d/ca.pem" >"$TOPO_DIR/tls.json"

# One sandbox per round: both hosts, the bulk fetch and N connections each.
# curl is given one CA either way (the sandbox's, the last certificate of the
# bundle run makes, or the upstream's): parsing the whole system bundle per
# process would cost more than the handshake being measured.
cat >"$TOPO_DIR/round.sh" <<SH
awk '/BEGIN CERT/ { c = "" } { c = c \$0 "\\n" } END { printf "%s", c }' \$SSL_CERT_FILE >$TOPO_DIR/sandbox-ca.\$\$
for h in api.test raw.test; do
    ca=$TOPO_DIR/sandbox-ca.\$\$; [ \$h = raw.test ] && ca=$d/ca.pem
    s=\$(date +%s%N)
    curl -sS --cacert \$ca -o /dev/null https://\$h/64M.bin
    e=\$(date +%s%N)
    echo "\$h bulk_mbs \$(awk -v n=\$((e - s)) 'BEGIN { printf "%.1f", 64 * 1048.576 / (n / 1e6) }')"
    s=\$(date +%s%N)
    i=0; while [ \$i -lt $N ]; do curl -sS --cacert \$ca -o /dev/null https://\$h/hello.txt; i=\$((i + 1)); done
    e=\$(date +%s%N)
    echo "\$h conns_per_s \$(awk -v n=\$((e - s)) 'BEGIN { printf "%.1f", $N / (n / 1e9) }')"
done
SH
chmod 644 "$TOPO_DIR/round.sh"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A vals
for ((r = 0; r < REPEAT; r++)); do
    while read -r host key v; do
        vals[$host/$key]+="$v "
    done < <(timeout 600 ip netns exec "$TOPO_H" "$MSBNETD" run --egress allow --dns 198.18.0.1 \
        --config "$TOPO_DIR/tls.json" -- sh "$TOPO_DIR/round.sh" | grep -E '^(api|raw)\.test ')
done
if [[ -n ${TRACE:-} ]]; then # two requests each way with curl's phase timings
    # One CA each way, as in the rounds: with the whole bundle run makes,
    # curl spends ~30 ms parsing ~140 system roots per process, which once
    # passed for the cost of interception.
    cat >"$TOPO_DIR/trace.sh" <<SH
awk '/BEGIN CERT/ { c = "" } { c = c \$0 "\\n" } END { printf "%s", c }' \$SSL_CERT_FILE >$TOPO_DIR/sandbox-ca.\$\$
for h in api.test raw.test; do
    ca=$TOPO_DIR/sandbox-ca.\$\$; [ \$h = raw.test ] && ca=$d/ca.pem
    for i in 1 2 3 4 5; do s=\$(date +%s%N)
        curl -sS --cacert \$ca -o /dev/null -w "\$h connect %{time_connect} tls %{time_appconnect} first %{time_starttransfer} total %{time_total}\\n" https://\$h/hello.txt; echo wall \$(( (\$(date +%s%N) - s) / 1000000 ))ms
    done
done
SH
    chmod 644 "$TOPO_DIR/trace.sh"
    timeout 60 ip netns exec "$TOPO_H" "$MSBNETD" run --egress allow --dns 198.18.0.1 \
        --config "$TOPO_DIR/tls.json" -- sh "$TOPO_DIR/trace.sh"
    exit 0
fi
for key in bulk_mbs conns_per_s; do
    # shellcheck disable=SC2086
    i=$(median ${vals[api.test/$key]}) b=$(median ${vals[raw.test/$key]})
    printf '%-12s intercepted %8s  raw (bypass) %8s  ratio %s\n' "$key" "$i" "$b" \
        "$(awk -v a="$i" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done
