#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msbnetd's gRPC server limits as server/README.md states them, with a
# python grpc.aio client (grpc_limits.py): 128 concurrent streams per
# connection, at most 512 live calls (then RESOURCE_EXHAUSTED), and on
# SIGTERM a call stuck behind a reader that does not read is cancelled
# after 500 ms (msbnetd exits 0 no sooner, and within 5 s: without the
# cancel it would wait for the reader forever).  msbnetd
# serves a datagram socket nobody uses: no namespace is needed.
#   usage: control_grpc_limits.sh MSBNETD PLUGIN PROTO_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=${1:?usage: $0 MSBNETD PLUGIN PROTO_DIR}
plugin=${2:?}
proto=${3:?}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
tmp=$(mktemp -d /tmp/msbnet-grpc-limits.XXXXXX)
pids=()
cleanup() {
    ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$tmp" "$proto" || { echo "0 passed, 1 failed"; exit 1; }

# start NAME: msbnetd dgram with a control socket (pid in daemon).
start() {
    "$msbnetd" --plugin "$plugin" dgram --listen "$tmp/$1.vmm" --control-socket "$tmp/$1.sock" \
        >"$tmp/$1.out" 2>"$tmp/$1.err" &
    daemon=$!
    pids+=("$daemon")
    for _ in $(seq 200); do [[ -S $tmp/$1.sock ]] && return 0; sleep 0.05; done
    ko "$1: control socket did not appear: $(cat "$tmp/$1.err")"
    return 1
}
# stop NAME SECS_MAX: SIGTERM; msbnetd must exit 0 within SECS_MAX with no
# sanitizer report; the time it took in ms is left in MS.
stop() {
    local t0 rc
    t0=$(date +%s%N)
    kill -TERM "$daemon"
    if ! timeout "$2" tail --pid="$daemon" -f /dev/null; then
        ko "$1: msbnetd still running $2 s after SIGTERM"
        MS=-1
        return
    fi
    MS=$((($(date +%s%N) - t0) / 1000000))
    wait "$daemon"
    rc=$?
    [[ $rc -eq 0 ]] && ok "$1: msbnetd exits 0 on SIGTERM" || ko "$1: msbnetd exit $rc: $(tail -3 "$tmp/$1.err")"
    if grep -q Sanitizer "$tmp/$1.err"; then ko "$1: sanitizer report: $(grep -m3 Sanitizer "$tmp/$1.err")"; fi
}
py() { /usr/bin/python3 "$here/grpc_limits.py" "$tmp" "$tmp/$1.sock" "$2"; }
# client NAME MODE: the python client's verdicts counted as ours; its own
# failure (an exception, no verdict at all) fails too.
client() {
    local line rc n=0 nfail=0
    py "$1" "$2" >"$tmp/$2.client" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
        "ok   "*) ok "${line#ok   }"; n=$((n + 1)) ;;
        "FAIL "*) ko "${line#FAIL }"; n=$((n + 1)) nfail=$((nfail + 1)) ;;
        *) echo "$line" ;;
        esac
    done <"$tmp/$2.client"
    ((n > 0)) || ko "$2: no verdict from the python client (status $rc)"
    ((rc == 0 || nfail > 0)) || ko "$2: python client exit status $rc"
}

# --- streams per connection, live calls ------------------------------------------
if start limits; then
    client limits per-connection
    client limits live-calls
    stop limits 10
fi

# --- SIGTERM with a call stuck behind a reader that does not read -----------------
if start stuck; then
    py stuck stuck >"$tmp/stuck.client" 2>&1 &
    client=$!
    pids+=("$client")
    for _ in $(seq 300); do grep -q '^stuck' "$tmp/stuck.client" && break; sleep 0.05; done
    if grep -q '^stuck' "$tmp/stuck.client"; then
        stop stuck 10
        if ((MS >= 500 && MS < 5000)); then ok "stuck call cancelled after the 500 ms grace: msbnetd exited ${MS} ms after SIGTERM"
        else ko "stuck call: msbnetd exited ${MS} ms after SIGTERM (want 500 <= ms < 5000)"; fi
    else
        ko "the stuck reader never got going: $(cat "$tmp/stuck.client")"
        stop stuck 10
    fi
    kill "$client" 2>/dev/null
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
