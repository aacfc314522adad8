#!/usr/bin/env bash
# The gRPC control plane end to end: msbnetd run with a control socket,
# a Python grpcio client (stubs generated from our .proto now) and msbnetctl.
#   control_grpc.sh MSBNETD MSBNETCTL PLUGIN PROTO_DIR ECHO_PLUGIN
# Termination events come from the echo test plugin's timed trigger
# (MSBNET_ECHO_TERMINATE_FILE, read only by that test double): the real data
# plane has no trigger until policy `terminate` lands.
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN PROTO_DIR}
ctl=${2:?}
plugin=${3:?}
proto=${4:?}
echo_plugin=${5:?}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # NAME WANT_RC WANT_TEXT CMD...
    local name=$1 want_rc=$2 want_text=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [[ $rc -eq $want_rc && $out == *"$want_text"* ]]; then ok "$name"
    else ko "$name: rc=$rc (want $want_rc), output: $out"; fi
}

if [[ $(id -u) -ne 0 ]]; then
    echo "this test needs root (msbnetd run makes namespaces)"; echo "0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d /tmp/msbnet-grpc.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

/usr/bin/python3 -m grpc_tools.protoc -I"$proto" --python_out="$tmp" --grpc_python_out="$tmp" \
    "$proto/msbnet/v1/control.proto" || { echo "FAIL protoc"; exit 1; }

# CMD ends with status 0 on SIGTERM (msbnetd forwards it), so msbnetd's own
# exit status after SIGTERM is 0 when its shutdown is clean.  CMD's sleep is
# killed too: an orphan would hold ctest's output pipe open for a minute.
start_daemon() { # SOCKET [OPTIONS...]
    local sock=$1
    shift
    "$msbnetd" --plugin "${use_plugin:-$plugin}" run --slot 7 --control-socket "$sock" "$@" -- \
        sh -c 'sleep 60 & s=$!; trap "kill \$s; exit 0" TERM; wait' \
        >"$tmp/msbnetd.out" 2>"$tmp/msbnetd.err" &
    daemon=$!
    pids+=("$daemon")
    for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.05; done
    ko "control socket $sock did not appear: $(cat "$tmp/msbnetd.err")"
    return 1
}

sock=$tmp/control.sock
start_daemon "$sock" || { echo "$pass passed, $fail failed"; exit 1; }
mode=$(stat -c %a "$sock")
[[ $mode == 600 ]] && ok "socket mode 0600" || ko "socket mode $mode"

# A second msbnetd must not take a live socket away from the first.
out=$("$msbnetd" --plugin "$plugin" run --slot 8 --control-socket "$sock" -- true 2>&1)
rc=$?
if [[ $rc -ne 0 && $out == *"in use"* && -S $sock ]] && "$ctl" --socket "$sock" status >/dev/null
then ok "second msbnetd refuses a live socket (rc $rc)"; else ko "live socket taken: rc $rc $out"; fi

# Python: every RPC, happy paths and error statuses.
if /usr/bin/python3 "$here/control_client.py" "$tmp" "$sock" suite; then
    ok "python grpcio suite"
else
    ko "python grpcio suite"
fi

# msbnetctl against the same daemon.
c=("$ctl" --socket "$sock")
check "msbnetctl status" 0 "guest_ipv4" "${c[@]}" status
out=$("${c[@]}" --json status)
if /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["mtu"] >= 576' "$out"
then ok "msbnetctl --json status parses"; else ko "msbnetctl --json status: $out"; fi
check "msbnetctl metrics" 0 "tcp.flows" "${c[@]}" metrics
n=$("${c[@]}" --json metrics --follow --interval 100 --count 3 | \
    /usr/bin/python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["schema"] == 1))')
[[ $n == 3 ]] && ok "msbnetctl metrics --follow --count 3: 3 JSON lines" || ko "metrics --follow: $n"
check "msbnetctl metrics --interval 5" 1 "INVALID_ARGUMENT" "${c[@]}" metrics --interval 5
check "msbnetctl hostnames --all" 0 "total: 0" "${c[@]}" hostnames --all
check "msbnetctl --json hostnames" 0 '{"total":0,"entries":[]}' "${c[@]}" --json hostnames --all
check "msbnetctl hostnames bad address" 1 "INVALID_ARGUMENT" "${c[@]}" hostnames --address x
check "msbnetctl hostnames no selector" 2 "exactly one" "${c[@]}" hostnames
check "msbnetctl set-gateways different" 1 "ALREADY_EXISTS" "${c[@]}" set-gateways --ipv4 1.2.3.4
check "msbnetctl watch-termination deadline" 1 "DEADLINE_EXCEEDED" \
    "${c[@]}" --deadline 300 watch-termination
check "msbnetctl no daemon" 69 "UNAVAILABLE" "$ctl" --socket "$tmp/none.sock" status
check "msbnetctl unknown command" 2 "unknown command" "${c[@]}" frobnicate
check "msbnetctl --help" 0 "exit status" "$ctl" --help
for sub in status set-gateways hostnames metrics watch-termination policy; do
    check "msbnetctl $sub --help" 0 "usage: msbnetctl" "$ctl" "$sub" --help
done

# msbnetctl policy: get, set from tokens / a file / stdin, the parser's errors.
check "msbnetctl policy get" 0 '"default_egress"' "${c[@]}" policy get
check "msbnetctl policy set --rules: shadow warning" 0 "is shadowed by rule #0" \
    "${c[@]}" policy set --rules allow@public,deny@public:tcp:80
check "msbnetctl policy get after set" 0 '"start": 80' "${c[@]}" policy get
echo '{"default_egress":"allow","default_ingress":"allow","rules":[]}' >"$tmp/policy.json"
check "msbnetctl policy set FILE" 0 "ok" "${c[@]}" policy set "$tmp/policy.json"
check "msbnetctl --json policy get" 0 '{"default_egress":"allow","default_ingress":"allow","rules":[]}' \
    "${c[@]}" --json policy get
check "msbnetctl --json policy set - (stdin)" 0 '{"warnings":[]}' \
    sh -c "echo '{\"default_egress\":\"deny\"}' | $ctl --socket $sock --json policy set -"
check "msbnetctl policy set bad token" 1 "INVALID_ARGUMENT: policy: \`nowhere\` is ambiguous" \
    "${c[@]}" policy set --rules allow@nowhere
# The whole line: the parser's message with its "policy:" prefix once.
out=$(echo '{"x":1}' | "$ctl" --socket "$sock" policy set - 2>&1)
rc=$?
if [[ $rc -eq 1 && $out == 'msbnetctl: policy set: INVALID_ARGUMENT: policy: unknown key "x"' ]]; then
    ok "msbnetctl policy set bad JSON key: exact message"
else ko "msbnetctl policy set bad JSON key: rc=$rc, output: $out"; fi
check "msbnetctl policy set missing file" 2 "cannot read" "${c[@]}" policy set "$tmp/none.json"
check "msbnetctl policy set nothing" 2 "give one FILE" "${c[@]}" policy set
check "msbnetctl policy frob" 2 "unknown subcommand" "${c[@]}" policy frob
check "msbnetctl status: policy summary" 0 "policy_summary   0 rules, default egress deny" \
    "${c[@]}" status

# 3 x 100 clients open streams and vanish at once: the daemon answers right
# after and holds no more descriptors than before (leaks show in the ASan
# build's exit status below).
fds() { find "/proc/$daemon/fd" -mindepth 1 2>/dev/null | wc -l; }
fd0=$(fds)
if /usr/bin/python3 "$here/control_client.py" "$tmp" "$sock" churn; then
    ok "python churn"
else
    ko "python churn"
fi
# Exactly the baseline: msbnetd opens no descriptor lazily on a first call
# (checked: none before and after msbnetctl status); the vanished clients'
# connections close as the server notices them (10 s deadline).
for _ in $(seq 200); do [[ $(fds) -eq $fd0 ]] && break; sleep 0.05; done
fd1=$(fds)
[[ $fd1 -eq $fd0 ]] && ok "descriptors after churn: $fd0 -> $fd1" \
    || ko "descriptors grew after churn: $fd0 -> $fd1"
check "msbnetctl status after churn" 0 "guest_ipv4" "${c[@]}" status

# SIGTERM with streams open: both end (UNAVAILABLE, not a hang) and msbnetd
# exits 0 within 2 s, removing its socket.
/usr/bin/python3 "$here/control_client.py" "$tmp" "$sock" stream-end >"$tmp/streams.out" 2>&1 &
client=$!
pids+=("$client")
for _ in $(seq 100); do grep -q streaming "$tmp/streams.out" && break; sleep 0.05; done
t0=$(date +%s%N)
kill -TERM "$daemon"
for _ in $(seq 40); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$daemon" 2>/dev/null; then
    ko "msbnetd still running 2 s after SIGTERM"
else
    wait "$daemon"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    [[ $rc -eq 0 ]] && ok "msbnetd exits 0 ${ms} ms after SIGTERM" || ko "msbnetd exit $rc: $(cat "$tmp/msbnetd.err")"
fi
wait "$client"
grep -q "metrics ended UNAVAILABLE" "$tmp/streams.out" && ok "metrics stream ended UNAVAILABLE" \
    || ko "metrics stream: $(cat "$tmp/streams.out")"
grep -q "termination ended UNAVAILABLE" "$tmp/streams.out" \
    && ok "termination stream ended UNAVAILABLE" || ko "termination stream: $(cat "$tmp/streams.out")"
[[ ! -e $sock ]] && ok "socket removed on exit" || ko "socket left behind"

# --no-gateways: the controller activates them, first write wins.
sock2=$tmp/nogw.sock
if start_daemon "$sock2" --no-gateways; then
    c=("$ctl" --socket "$sock2")
    check "--no-gateways: none active" 0 "gateway_ipv4     -" "${c[@]}" status
    check "set-gateways ipv4" 0 "ok" "${c[@]}" set-gateways --ipv4 100.96.0.29
    check "set-gateways ipv4 identical" 0 "ok" "${c[@]}" set-gateways --ipv4 100.96.0.29
    check "set-gateways ipv6 (other family later)" 0 "ok" "${c[@]}" set-gateways --ipv6 fd42::1
    check "status shows them" 0 "gateway_ipv6     fd42::1" "${c[@]}" status
    kill -TERM "$daemon"
    wait "$daemon"
    rc=$?
    [[ $rc -eq 0 ]] && ok "second msbnetd exits 0" || ko "second msbnetd exit $rc"
fi

# --on-terminate-signal: bad values are refused before anything starts.
check "--on-terminate-signal 0:TERM refused" 2 "PID:SIGNAL" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal 0:TERM -- true
check "--on-terminate-signal bad signal refused" 2 "PID:SIGNAL" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal "$$:BOGUS" -- true
check "--on-terminate-signal no such process" 2 "no process" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal 4194303:TERM -- true

# Termination: two callbacks before the hook fires, one after, msbnetctl;
# a stand-in VMM process gets the configured signal.
sock3=$tmp/term.sock
sigfile=$tmp/vmm.signal
sh -c "trap 'echo USR1 >$sigfile; exit 0' USR1; while :; do sleep 0.05; done" &
vmm=$!
pids+=("$vmm")
export MSBNET_ECHO_TERMINATE_FILE=$tmp/terminate-now
if use_plugin=$echo_plugin start_daemon "$sock3" --on-terminate-signal "$vmm:USR1"; then
    if /usr/bin/python3 "$here/control_client.py" "$tmp" "$sock3" termination "$tmp/terminate-now"; then
        ok "python termination callbacks"
    else
        ko "python termination callbacks"
    fi
    check "msbnetctl watch-termination after the hook fired" 0 "rule terminate@test" \
        "$ctl" --socket "$sock3" watch-termination
    check "msbnetctl --json watch-termination" 0 '"rule":"terminate@test"' \
        "$ctl" --socket "$sock3" --json watch-termination
    for _ in $(seq 40); do [[ -s $sigfile ]] && break; sleep 0.05; done
    if [[ $(cat "$sigfile" 2>/dev/null) == USR1 ]] && wait "$vmm"; then
        ok "--on-terminate-signal: the stand-in VMM got SIGUSR1 and exited"
    else
        ko "--on-terminate-signal: no SIGUSR1 reached pid $vmm"
    fi
    kill -TERM "$daemon"
    wait "$daemon"
    rc=$?
    [[ $rc -eq 0 ]] && ok "echo-plugin msbnetd exits 0" || ko "echo-plugin msbnetd exit $rc"
fi
unset MSBNET_ECHO_TERMINATE_FILE

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
