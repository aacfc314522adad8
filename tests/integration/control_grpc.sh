#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The gRPC control plane end to end: msbnetd run (the real plugin) in netns
# H with a control socket, a Python grpcio client (stubs generated from our
# .proto now) and msbnetctl.  Termination is the real data plane's: a guest
# breaks a `terminate` rule (TCP to a CIDR; a DNS name) and every
# InstallTerminationCallback stream gets exactly one event naming the
# rule's index and the flow; --on-terminate-signal reaches a stand-in VMM.
# Every msbnetd's end is judged (exit status, no sanitizer report).
#   control_grpc.sh MSBNETD MSBNETCTL PLUGIN PROTO_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN PROTO_DIR}")
ctl=$(realpath "${2:?}")
plugin=$(realpath "${3:?}")
proto=${4:?}
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout
topo_up || exit 1
source "$here/../lib/checks.sh"
ko() { bad "$1"; }
check() { # NAME WANT_RC WANT_TEXT CMD...: status, a substring, no sanitizer report
    local name=$1 want_rc=$2 want_text=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [[ $out =~ Sanitizer|runtime\ error ]]; then ko "$name: sanitizer report: $out"
    elif [[ $rc -eq $want_rc && $out == *"$want_text"* ]]; then ok "$name"
    else ko "$name: rc=$rc (want $want_rc), output: $out"; fi
}
tmp=$TOPO_DIR/ctl # the control sockets; msbnetd hides this directory from CMD
mkdir -p "$tmp"
export RUNTIME_DIRECTORY=$TOPO_DIR/run
mkdir -p "$RUNTIME_DIRECTORY"
py=/usr/bin/python3
client() { $py "$here/control_client.py" "$TOPO_DIR" "$@"; }

source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1

# CMD ends with status 0 on SIGTERM (msbnetd forwards it), so msbnetd's own
# exit status after SIGTERM is 0 when its shutdown is clean.  CMD's sleep is
# killed too: an orphan would hold ctest's output pipe open for a minute.
start_daemon() { # NAME SOCKET [OPTIONS...] [-- CMD...]: msbnetd run in H, pid in $daemon
    local name=$1 sock=$2 opts=() cmd=(sh -c "$(until_term "$TOPO_DIR/$1.up")")
    shift 2
    while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
    [[ $# -gt 0 ]] && { shift; cmd=("$@"); }
    topo_bg H "$name" "$msbnetd" --plugin "$plugin" run --slot 7 --control-socket "$sock" \
        "${opts[@]}" -- "${cmd[@]}"
    daemon=$TOPO_LAST_PID
    [[ ${cmd[0]} == sh ]] && ! wait_mark "$TOPO_DIR/$name.up" && ko "$name: CMD never started"
    for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.05; done
    ko "control socket $sock did not appear: $(cat "$TOPO_DIR/logs/$name.log")"
    return 1
}

sock=$tmp/control.sock
start_daemon suite "$sock" || { checks_done; exit 1; }
mode=$(stat -c %a "$sock")
[[ $mode == 600 ]] && ok "socket mode 0600" || ko "socket mode $mode"

# A second msbnetd must not take a live socket away from the first.
out=$(msbnetd_fg second 1 -- topo_exec_h "$msbnetd" --plugin "$plugin" run --slot 8 \
    --control-socket "$sock" -- true)
if [[ $out == *"in use"* && -S $sock ]] && "$ctl" --socket "$sock" status >/dev/null
then ok "second msbnetd refuses a live socket"; else ko "live socket taken: $out"; fi

# Python: every RPC, happy paths and error statuses.
if client "$sock" suite; then
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
if client "$sock" churn; then
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
client "$sock" stream-end >"$TOPO_DIR/streams.out" 2>&1 &
streams=$!
for _ in $(seq 100); do grep -q streaming "$TOPO_DIR/streams.out" && break; sleep 0.05; done
t0=$(date +%s%N)
kill -TERM "$daemon"
msbnetd_done "msbnetd (SIGTERM with streams open, 2 s at most)" "$daemon" 0 \
    "$TOPO_DIR/logs/suite.log" 2
echo "info: msbnetd ended $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM"
wait "$streams"
grep -q "metrics ended UNAVAILABLE" "$TOPO_DIR/streams.out" && ok "metrics stream ended UNAVAILABLE" \
    || ko "metrics stream: $(cat "$TOPO_DIR/streams.out")"
grep -q "termination ended UNAVAILABLE" "$TOPO_DIR/streams.out" \
    && ok "termination stream ended UNAVAILABLE" || ko "termination stream: $(cat "$TOPO_DIR/streams.out")"
[[ ! -e $sock ]] && ok "socket removed on exit" || ko "socket left behind"

# --no-gateways: the controller activates them, first write wins.
sock2=$tmp/nogw.sock
if start_daemon nogw "$sock2" --no-gateways; then
    c=("$ctl" --socket "$sock2")
    check "--no-gateways: none active" 0 "gateway_ipv4     -" "${c[@]}" status
    check "set-gateways ipv4" 0 "ok" "${c[@]}" set-gateways --ipv4 100.96.0.29
    check "set-gateways ipv4 identical" 0 "ok" "${c[@]}" set-gateways --ipv4 100.96.0.29
    check "set-gateways ipv6 (other family later)" 0 "ok" "${c[@]}" set-gateways --ipv6 fd42::1
    check "status shows them" 0 "gateway_ipv6     fd42::1" "${c[@]}" status
    msbnetd_stop nogw "$daemon"
fi

# --on-terminate-signal: bad values are refused before anything starts.
check "--on-terminate-signal 0:TERM refused" 2 "PID:SIGNAL" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal 0:TERM -- true
check "--on-terminate-signal bad signal refused" 2 "PID:SIGNAL" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal "$$:BOGUS" -- true
check "--on-terminate-signal no such process" 2 "no process" \
    "$msbnetd" --plugin "$plugin" run --on-terminate-signal 4194303:TERM -- true

# --- termination, from the real data plane ------------------------------------------
# The guest (trigger.py) waits for the file GO, made by the Python client
# once its first two callbacks are installed; then it breaks the rule
# twice (a second flow, the same verdict: still one event per stream).
cat >"$TOPO_DIR/trigger.py" <<'PY'
import os, signal, socket, struct, sys, time
go, kind, target = sys.argv[1:4]
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("trigger: never told to go")
    time.sleep(0.02)
for i in range(2):
    if kind == "tcp":  # from port 40000 + i to TARGET (HOST:PORT)
        host, port = target.rsplit(":", 1)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", 40000 + i))
        s.settimeout(5)
        try:
            s.connect((host, int(port)))
            print("tcp connected", flush=True)
        except OSError as e:
            print("tcp errno", e.errno, flush=True)
    else:  # an A query for TARGET from UDP port 40053 + i to the gateway (slot 7's)
        q = struct.pack("!HHHHHH", 0x4d00 + i, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(l)]) + l.encode() for l in target.split(".")) + b"\0\0\1\0\1"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", 40053 + i))
        s.settimeout(5)
        s.sendto(q, ("100.96.0.29", 53))
        try:
            print("dns rcode", s.recv(512)[3] & 15, flush=True)
        except socket.timeout:
            print("dns timeout", flush=True)
    s.close()
print("trigger done", flush=True)
while True:
    signal.pause()
PY
# terminate_case NAME KIND TARGET RULES RULE FLOW [MSBNETD-OPTIONS]: a daemon
# whose policy is RULES, its guest running trigger.py KIND TARGET; the
# Python client's callbacks must each get exactly one event for rule index
# RULE and FLOW; msbnetctl shows the same; then SIGTERM and exit 0.
terminate_case() {
    local name=$1 kind=$2 target=$3 rules=$4 rule=$5 flow=$6 s=$tmp/$1.sock m
    shift 6
    printf '{"policy": "%s"}\n' "$rules" >"$TOPO_DIR/$name.json"
    start_daemon "$name" "$s" --config "$TOPO_DIR/$name.json" --dns "$TOPO_I4" "$@" -- \
        $py "$TOPO_DIR/trigger.py" "$TOPO_DIR/go-$name" "$kind" "$target" || return
    local pid=$daemon
    if client "$s" termination "$TOPO_DIR/go-$name" "$rule" "$flow"; then
        ok "$name: python termination callbacks"
    else
        ko "$name: python termination callbacks"
    fi
    check "$name: msbnetctl watch-termination after it fired" 0 \
        "policy_terminate (rule $rule, flow $flow)" "$ctl" --socket "$s" watch-termination
    check "$name: msbnetctl --json watch-termination" 0 \
        "\"reason\":\"policy_terminate\",\"rule\":\"$rule\",\"flow\":\"$flow\"" \
        "$ctl" --socket "$s" --json watch-termination
    for _ in $(seq 200); do grep -q "trigger done" "$TOPO_DIR/logs/$name.log" && break; sleep 0.05; done
    case $kind in
    tcp) want="tcp errno 111" ;; # refused: the guest's SYN was answered with RST
    dns) want="dns rcode 5" ;;   # REFUSED
    esac
    [[ $(grep -c "^$want\$" "$TOPO_DIR/logs/$name.log") -eq 2 ]] && ok "$name: both tries refused ($want)" \
        || ko "$name: guest saw: $(grep -v '^{' "$TOPO_DIR/logs/$name.log" | tail -5)"
    m=$("$ctl" --socket "$s" --json metrics 2>&1)
    [[ $(jq -r '"\(.policy.terminated) \(.termination.count)"' <<<"$m" 2>/dev/null) == "2 1" ]] \
        && ok "$name: two terminate decisions, the hook fired once" \
        || ko "$name: policy.terminated / termination.count: $(jq -c '[.policy.terminated, .termination]' <<<"$m" 2>&1)"
    msbnetd_stop "$name" "$pid"
}

# Slot 7: the guest is 100.96.0.30, its gateway 100.96.0.29.
# TCP to a CIDR; --on-terminate-signal: a stand-in VMM gets SIGUSR1 once.
sigfile=$TOPO_DIR/vmm.signal
sh -c "trap 'echo USR1 >>$sigfile; exit 0' USR1; while :; do sleep 0.05; done" &
vmm=$!
topo_track_pid "$vmm"
terminate_case term_tcp tcp "$TOPO_I4:443" "allow@host:udp:53, terminate@198.18.0.0/24:tcp:443, allow@public" \
    1 "tcp 100.96.0.30:40000 -> 198.18.0.1:443" --on-terminate-signal "$vmm:USR1"
for _ in $(seq 100); do [[ -s $sigfile ]] && break; sleep 0.05; done
if [[ $(cat "$sigfile" 2>/dev/null) == USR1 ]] && wait "$vmm"; then
    ok "--on-terminate-signal: the stand-in VMM got SIGUSR1 once and exited"
else
    ko "--on-terminate-signal: pid $vmm got: $(cat "$sigfile" 2>/dev/null)"
fi
# A DNS name: the query to the gateway's resolver is the flow.
terminate_case term_dns dns evil.test "allow@host:udp:53, terminate@domain=evil.test, allow@public" \
    1 "udp 100.96.0.30:40053 -> 100.96.0.29:53"

checks_done
