#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# peers.sh — side-by-side benchmark of user-mode network stacks on the standard
# test topology (tests/lib/topology.sh): the guest talks through the stack to
# servers in I (198.18.0.1). A benchmark, not a test: numbers are not verdicts
# (it is never run by ctest), but the exit status is 1 when any measurement
# failed, so a broken stack or setup does not go unnoticed.
#
# Measures, per stack and per MTU (1500, 65520):
#   - iperf3 TCP throughput guest->host and host->guest (-R), 5 s each
#   - TCP connections per second: sequential connect, 1-byte echo, close
#   - request/response latency: 1-byte ping-pong on one connection, p50/p99
#
# Usage (root): tests/perf/peers.sh
#   STACKS="msbnet slirp4netns pasta pasta_root"  stacks to run, one column each
#                      (msbnet_plain: msbnetd --no-offload, plain frames on tap0)
#   BASE=slirp4netns   the column the ratios are relative to
#   MTUS="1500 65520"  SECS=5  CONNS=2000  RTTS=2000
#   CLIENT=c           the connections/s and round-trip ends: c = tcp_rr (client)
#                      and conn_rate (echo server), built with the project next to
#                      MSBNETD; python = the threaded Python ends of earlier runs,
#                      whose own cost (tens of µs a round trip) pulls every ratio to 1
#   REPEAT=1           rounds; >1 prints the median and [min..max] per cell
#                      (about 65 s per round with the three default stacks)
#   OUT=file.json      also write the raw numbers there (read by targets.sh)
#   PEERS_TARGETS=0    leave out the targets table at the end (targets.sh
#                      prints the whole one)
#   TOPO_KEEP=1        keep the logs directory
#
# Adding a stack (e.g. msbnet) = defining one function and naming it in STACKS:
#   run_in_guest_<stack> CMD...   run CMD in a guest whose only network is
#                                 <stack> at MTU $MTU; CMD's stdout is the result.
#   stack_prepare_<stack>         optional, run once before the first use.
# Everything else (topology, servers, metrics, table) is shared.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/topology.sh
source "$here/../lib/topology.sh"

STACKS=${STACKS:-msbnet slirp4netns pasta pasta_root}
BASE=${BASE:-slirp4netns}
MTUS=${MTUS:-1500 65520}
SECS=${SECS:-5}
CONNS=${CONNS:-2000}
RTTS=${RTTS:-2000}
REPEAT=${REPEAT:-1}
CLIENT=${CLIENT:-c}
OUT=${OUT:-}
IPERF_PORT=5201
ECHO_PORT=7007
BENCH_USER=bench # pasta will not keep root in command mode; it runs as this user

log() { printf 'peers: %s\n' "$*" >&2; }
die() {
    printf 'peers: ERROR: %s\n' "$*" >&2
    exit 1
}

# Shared needs here; each stack's own needs in its stack_prepare_<stack>.
topo_require ip iperf3 setsid timeout "$TOPO_PYTHON"

# ------------------------------------------------------------------ stacks
# Each run_in_guest_<stack> brings the stack up for one command and takes it
# down again, so the stacks never overlap and each starts from a clean state.
# $MTU is the MTU to configure; the guest must reach 198.18.0.1 (I) through it.

# Wait for NS to have a default route (the stack configured the guest's side).
wait_default_route() { # NS TIMEOUT_S
    local i
    for i in $(seq 1 $(($2 * 20))); do
        [[ -n $(ip -n "$1" route show default 2>/dev/null) ]] && return 0
        sleep 0.05
    done
    return 1
}

# Wait for G's tap0 to disappear, so the next stack can create its own.
wait_tap_gone() {
    local i
    for i in $(seq 1 100); do
        ip -n "$TOPO_G" link show tap0 >/dev/null 2>&1 || return 0
        sleep 0.05
    done
    log "warning: tap0 still in G after its stack stopped"
}

# Stop a daemon started by start_daemon: its whole process group, by pgid.
stop_daemon() { # PID
    kill -TERM -- "-$1" 2>/dev/null || true
    local i
    for i in $(seq 1 40); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Start CMD in its own session/process group (setsid execs in place, so $! is
# both the daemon's pid and its pgid): stopping it then takes its children too.
# The daemon writes its own pid to $TOPO_DIR/daemons before exec'ing CMD, so
# teardown can kill its whole group even when a signal lands between the fork
# and our bookkeeping; that matters for pasta, whose children live in pasta's
# own namespace, out of reach of the topology's per-namespace sweep.
start_daemon() { # LOGNAME CMD... ; pid in DAEMON_PID
    local name=$1
    shift
    # shellcheck disable=SC2016 # expanded by the inner sh
    setsid sh -c 'echo $$ >>"$0"; exec "$@"' "$TOPO_DIR/daemons" "$@" \
        </dev/null >>"$TOPO_DIR/logs/$name.log" 2>&1 &
    DAEMON_PID=$!
    topo_track_pid "$DAEMON_PID"
}
# Run CMD as a background job and wait for it: `wait` returns as soon as a
# trapped signal arrives, where a foreground command would delay the INT/TERM
# teardown until it finished on its own.
run_fg() {
    "$@" &
    local pid=$!
    wait "$pid"
}
kill_daemons() {
    local pid
    [[ -f $TOPO_DIR/daemons ]] || return 0
    while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$TOPO_DIR/daemons"
}

# (a) slirp4netns, as root in H, attached to G (10.0.2.100/24 via 10.0.2.2).
stack_prepare_slirp4netns() { topo_require slirp4netns; }
run_in_guest_slirp4netns() {
    start_daemon "slirp4netns-$MTU" ip netns exec "$TOPO_H" \
        slirp4netns --configure --mtu="$MTU" --netns-type=path "/var/run/netns/$TOPO_G" tap0
    local pid=$DAEMON_PID rc=0
    if ! wait_default_route "$TOPO_G" 10; then
        stop_daemon "$pid"
        log "slirp4netns did not configure tap0; log: $TOPO_DIR/logs/slirp4netns-$MTU.log"
        return 1
    fi
    run_fg timeout "$GUEST_TIMEOUT" ip netns exec "$TOPO_G" "$@" || rc=$?
    stop_daemon "$pid"
    wait_tap_gone
    return "$rc"
}

# (msbnet) msbnetd attaches a TAP to G from H, like slirp4netns; the guest
# reaches I through it.  MSBNETD overrides the binary (default: build/bin).
MSBNETD=${MSBNETD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin/msbnetd}
stack_prepare_msbnet() { [[ -x $MSBNETD ]] || die "msbnetd not built: $MSBNETD (set MSBNETD=)"; }
run_in_guest_msbnet() {
    local extra=()
    read -ra extra <<<"${MSBNET_OPTS:-}" # extra msbnetd options (msbnet_plain)
    # Its own control socket: another msbnetd on the machine may hold slot 0's.
    start_daemon "msbnet-$MTU" ip netns exec "$TOPO_H" \
        "$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --mtu "$MTU" --egress allow \
        --control-socket "$BENCH_DIR/msbnet.sock" "${extra[@]}"
    local pid=$DAEMON_PID rc=0
    if ! wait_default_route "$TOPO_G" 10; then
        stop_daemon "$pid"
        log "msbnetd did not configure tap0; log: $TOPO_DIR/logs/msbnet-$MTU.log"
        return 1
    fi
    run_fg timeout "$GUEST_TIMEOUT" ip netns exec "$TOPO_G" "$@" || rc=$?
    stop_daemon "$pid"
    wait_tap_gone
    return "$rc"
}

# (msbnet_plain) the same with --no-offload: plain frames on tap0, no
# virtio-net header, so the kernel segments and checksums everything itself
# (msbnetd's default before the TAP offloads).
stack_prepare_msbnet_plain() { stack_prepare_msbnet; }
run_in_guest_msbnet_plain() { MSBNET_OPTS=--no-offload run_in_guest_msbnet "$@"; }

# (b) pasta as most people run it: unprivileged, command mode. pasta makes a
# new user+network namespace for CMD, copies H's addresses (198.18.0.2,
# fd42::2) and routes into it. --no-map-gw: otherwise the gateway address
# 198.18.0.1 means H's loopback, not I. G is not used: pasta brings its own.
stack_prepare_pasta() {
    topo_require pasta setpriv useradd
    if ! id "$BENCH_USER" >/dev/null 2>&1; then
        log "creating user $BENCH_USER (pasta refuses root in command mode)"
        useradd -m "$BENCH_USER"
    fi
    # The user namespace's root has no rights over the host's /dev/net/tun:
    # with mode 0600 pasta prints "Failed to open tun socket in namespace"
    # and then hangs. Open it up for the run, restore at teardown.
    local mode
    mode=$(stat -c %a /dev/net/tun)
    topo_defer "chmod $mode /dev/net/tun"
    chmod 0666 /dev/net/tun
}
run_in_guest_pasta() {
    local rc=0
    # setpriv, not su: it execs pasta in place (su forks and starts a new
    # session we cannot see), so the session started by start_daemon holds
    # pasta and everything it runs, and a timeout can stop all of it.
    # -l: log to a file, else pasta writes to a syslog that is not there.
    start_daemon "pasta-$MTU" ip netns exec "$TOPO_H" \
        setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --clear-groups \
        env HOME="/home/$BENCH_USER" \
        pasta -f -q -l "$BENCH_DIR/pasta-$MTU.daemon.log" --config-net -m "$MTU" --no-map-gw -- "$@"
    local pid=$DAEMON_PID i
    # Bounded wait (pasta's exit status is CMD's); CMD's stdout is in the log.
    for ((i = 0; i < GUEST_TIMEOUT * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pasta run timed out after ${GUEST_TIMEOUT}s"
        rc=124
    else
        wait "$pid" || rc=$?
    fi
    stop_daemon "$pid" # also whatever CMD left behind in the session
    cat "$TOPO_DIR/logs/pasta-$MTU.log"
    : >"$TOPO_DIR/logs/pasta-$MTU.log"
    return "$rc"
}

# (c) pasta attached to G like slirp4netns and msbnetd are: as root in H with
# --netns G. Plain root fails ("Don't run as root. Changing to nobody...",
# then "Couldn't switch to pasta namespaces"): nobody may not enter G. --runas 0
# keeps root. Same guest namespace and tap0 as the other stacks.
stack_prepare_pasta_root() { topo_require pasta; }
run_in_guest_pasta_root() {
    start_daemon "pasta_root-$MTU" ip netns exec "$TOPO_H" \
        pasta --runas 0 -f -q -l "$BENCH_DIR/pasta_root-$MTU.daemon.log" --config-net -m "$MTU" \
        --no-map-gw -I tap0 --netns "/var/run/netns/$TOPO_G"
    local pid=$DAEMON_PID rc=0
    if ! wait_default_route "$TOPO_G" 10; then
        stop_daemon "$pid"
        log "pasta (root, --netns G) did not configure tap0; log: $BENCH_DIR/pasta_root-$MTU.daemon.log"
        return 1
    fi
    run_fg timeout "$GUEST_TIMEOUT" ip netns exec "$TOPO_G" "$@" || rc=$?
    stop_daemon "$pid"
    wait_tap_gone
    return "$rc"
}

# (kernel) no user-mode stack at all, for scale: a veth from G straight to I
# (198.18.1.2 -> 198.18.1.1, G's default route), so the guest's packets reach
# I's servers at 198.18.0.1 through the kernels alone. Removed after CMD, so
# the next stack finds G without a default route.
run_in_guest_kernel() {
    local rc=0
    ip -n "$TOPO_G" link add veth-k mtu "$MTU" type veth peer name veth-g netns "$TOPO_I" mtu "$MTU"
    ip -n "$TOPO_G" addr add 198.18.1.2/24 dev veth-k
    ip -n "$TOPO_I" addr add 198.18.1.1/24 dev veth-g
    ip -n "$TOPO_G" link set veth-k up
    ip -n "$TOPO_I" link set veth-g up
    ip -n "$TOPO_G" route add default via 198.18.1.1
    run_fg timeout "$GUEST_TIMEOUT" ip netns exec "$TOPO_G" "$@" || rc=$?
    ip -n "$TOPO_G" link del veth-k
    return "$rc"
}

# ------------------------------------------------------------------ guest-side programs

# The TCP echo server (in I) and both clients (in the guest). Connections/s:
# connect, send 1 byte, read it back, close — the byte proves the connection
# reached the server, since a user-mode stack may complete the guest's
# handshake before its own connect() to the server is done.
write_tcpbench() {
    cat >"$BENCH_DIR/tcpbench.py" <<'EOF'
import socket, sys, threading, time

def serve(port):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(1024)
    def echo(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()

def crr(host, port, n):
    t0 = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit("echo server did not answer")
        s.close()
    print("crr %.1f" % (n / (time.perf_counter() - t0)))

def rtt(host, port, n):
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for i in range(n + 100):  # the first 100 warm up (ARP, caches)
        t0 = time.perf_counter_ns()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit("echo server did not answer")
        if i >= 100:
            samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    print("rtt_p50 %.1f" % (samples[len(samples) // 2] / 1000))
    print("rtt_p99 %.1f" % (samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000))

mode = sys.argv[1]
if mode == "server":
    serve(int(sys.argv[2]))
else:
    {"crr": crr, "rtt": rtt}[mode](sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
EOF
}

# One guest run per (stack, MTU): all measurements in sequence, each printing
# "metric value" lines (or "metric fail reason"). One stack start per MTU keeps
# the run short, and a failing measurement does not hide the others.
write_guest_suite() {
    cat >"$BENCH_DIR/guest_suite.sh" <<'EOF'
#!/bin/bash
# Runs inside the guest. Args: DIR SERVER IPERF_PORT ECHO_PORT SECS CONNS RTTS
set -u
dir=$1 srv=$2 iport=$3 eport=$4 secs=$5 conns=$6 rtts=$7
py=/usr/bin/python3
cd "$dir"
# The MTU the guest really has on its default route (netlink, not /sys: inside
# pasta's namespace /sys still shows H's interfaces), so a stack that ignores
# the requested MTU cannot pass unnoticed.
dev=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
echo "guest_mtu $(ip -o link show dev "$dev" | awk '{for (i = 1; i < NF; i++) if ($i == "mtu") print $(i + 1)}')"
iperf() { # METRIC [iperf3 args]: Gbit/s received, from iperf3's JSON
    local name=$1 json
    shift
    json=$(timeout $((secs + 20)) iperf3 -c "$srv" -p "$iport" -t "$secs" -J "$@" 2>&1)
    "$py" -c '
import json, sys
try:
    j = json.loads(sys.stdin.read())
    if "error" in j:
        print(sys.argv[1], "fail", j["error"].replace(" ", "_"))
    else:
        print(sys.argv[1], j["end"]["sum_received"]["bits_per_second"] / 1e9)
except Exception as e:
    print(sys.argv[1], "fail", type(e).__name__)
' "$name" <<<"$json"
}
iperf tput_g2h
iperf tput_h2g -R
if [[ -x ./tcp_rr ]]; then rr=(./tcp_rr); else rr=("$py" tcpbench.py); fi
timeout 60 "${rr[@]}" crr "$srv" "$eport" "$conns" 2>&1 || echo "crr fail client_error"
timeout 60 "${rr[@]}" rtt "$srv" "$eport" "$rtts" 2>&1 || echo "rtt_p50 fail client_error"
EOF
    chmod 0755 "$BENCH_DIR/guest_suite.sh"
}

# ------------------------------------------------------------------ table

# Read "stack mtu metric value" lines; print one row per metric and MTU, one
# column per stack, then each stack's ratio to BASE; the raw numbers as JSON
# to $1.
print_table() {
    # shellcheck disable=SC2086 # STACKS is a list of words
    "$TOPO_PYTHON" - "$RESULTS" "$BASE" "$1" $STACKS <<'EOF'
import json, sys
results, base, out, stacks = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
METRICS = [  # key, label, higher is better
    ("tput_g2h", "TCP guest->host, Gbit/s", True),
    ("tput_h2g", "TCP host->guest, Gbit/s", True),
    ("crr", "TCP connections/s", True),
    ("rtt_p50", "1-byte RTT p50, us", False),
    ("rtt_p99", "1-byte RTT p99, us", False),
]
samples, mtus = {}, []
for line in open(results):
    f = line.split()
    if len(f) < 4:
        continue
    stack, mtu, key, v = f[0], int(f[1]), f[2], f[3]
    if mtu not in mtus:
        mtus.append(mtu)
    try:
        samples.setdefault((stack, mtu, key), []).append(float(v))
    except ValueError:
        samples.setdefault((stack, mtu, key), [])  # "fail"
# With REPEAT > 1 each cell is the median, and the spread is shown too.
vals, spread = {}, {}
for k, xs in samples.items():
    xs.sort()
    vals[k] = xs[len(xs) // 2] if len(xs) % 2 else (sum(xs[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2 if xs else None)
    spread[k] = (xs[0], xs[-1]) if len(xs) > 1 else None
others = [s for s in stacks if s != base]
ratio_cols = others if base in stacks else []
head = ["metric", "MTU"] + stacks + ["%s/%s" % (s, base) for s in ratio_cols]
rows = []
def fmt(v):
    if v is None:
        return "fail"
    return "%.2f" % v if v < 100 else "%.0f" % v
for key, label, higher in METRICS:
    for mtu in mtus:
        cells = [label + ("" if higher else " (lower is better)"), str(mtu)]
        for s in stacks:
            k = (s, mtu, key)
            c = fmt(vals[k]) if k in vals else "-"  # "-": the stack never got that far
            if spread.get(k):
                c += " [%s..%s]" % (fmt(spread[k][0]), fmt(spread[k][1]))
            cells.append(c)
        b = vals.get((base, mtu, key))
        for s in ratio_cols:
            v = vals.get((s, mtu, key))
            cells.append("%.2fx" % (v / b) if v is not None and b else "-")
        rows.append(cells)
w = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"
print(line(head))
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in rows:
    print(line(r))
if out:
    json.dump({"%s/%d/%s" % k: {"median": vals[k], "samples": samples[k]} for k in vals},
              open(out, "w"), indent=1, sort_keys=True)
EOF
}

# The topology, and BENCH_DIR for the programs each stack's guest runs (the
# guest side may run as $BENCH_USER under pasta: let it reach them).  Call
# in the main shell (topo_up's trap and state live there).
bench_up() {
    topo_up
    BENCH_DIR="$TOPO_DIR/bench"
    mkdir -p "$BENCH_DIR"
    chmod 0711 "$TOPO_DIR"
    chmod 1777 "$BENCH_DIR"
    topo_defer kill_daemons
}

# bench_collect COLUMN REGEX CMD...: CMD's "metric value" lines matching
# REGEX go to $results prefixed with COLUMN; a failed CMD or no matching
# line counts in $failures (the script's exit status says so).
bench_collect() {
    local col=$1 re=$2 out rc=0
    shift 2
    out=$("$@") || rc=$?
    ((rc == 0)) || { log "$col: run failed (rc=$rc)"; failures=$((failures + 1)); }
    grep -E "$re" <<<"$out" | sed "s/^/$col /" >>"$results" ||
        { log "$col: no result"; failures=$((failures + 1)); }
}

# Sourced by another benchmark (dns_qps.sh, udp_rr.sh): the stacks and the
# helpers above only, no run.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then return 0; fi

# ------------------------------------------------------------------ main

for s in $STACKS; do
    declare -F "run_in_guest_$s" >/dev/null || die "unknown stack '$s': define run_in_guest_$s"
done

start=$SECONDS
bench_up
RESULTS="$TOPO_DIR/results.txt"
: >"$RESULTS"
write_tcpbench
write_guest_suite
# Per guest run: 2 iperf3 runs plus the two python clients, with room to spare.
GUEST_TIMEOUT=$((2 * (SECS + 20) + 120))

topo_start_iperf3_i "$IPERF_PORT"
# The C ends are copied into BENCH_DIR (reachable by pasta's user); their
# absence there is what makes the guest suite use the Python ones.
rm -f "$BENCH_DIR/tcp_rr" "$BENCH_DIR/conn_rate"
case $CLIENT in
c)
    for b in tcp_rr conn_rate; do
        [[ -x $(dirname "$MSBNETD")/$b ]] || die "$b not built next to $MSBNETD (or CLIENT=python)"
        install -m 0755 "$(dirname "$MSBNETD")/$b" "$BENCH_DIR/$b"
    done
    topo_bg I "echo-$ECHO_PORT" "$BENCH_DIR/conn_rate" server "$ECHO_PORT"
    ;;
python) topo_bg I "echo-$ECHO_PORT" "$TOPO_PYTHON" "$BENCH_DIR/tcpbench.py" server "$ECHO_PORT" ;;
*) die "CLIENT is c or python, not '$CLIENT'" ;;
esac
topo_wait_port I "$TOPO_I4" "$ECHO_PORT" 10

for s in $STACKS; do
    if declare -F "stack_prepare_$s" >/dev/null; then "stack_prepare_$s"; fi
done

# One guest run of the suite through stack $1 at $MTU: results to $RESULTS,
# anything else to stderr; failures counted.
run_stack() {
    local s=$1 rc=0 out got_mtu
    # Not inside $(...): in the main shell the stack's pids are tracked by
    # topo_track_pid, and INT/TERM traps are not held up by a subshell.
    "run_in_guest_$s" "$BENCH_DIR/guest_suite.sh" "$BENCH_DIR" "$TOPO_I4" \
        "$IPERF_PORT" "$ECHO_PORT" "$SECS" "$CONNS" "$RTTS" >"$TOPO_DIR/guest.out" || rc=$?
    ((rc == 0)) || { log "$s: guest run failed (rc=$rc)"; failures=$((failures + 1)); }
    out=$(<"$TOPO_DIR/guest.out")
    grep -E "^$METRIC_RE " <<<"$out" | sed "s/^/$s $MTU /" >>"$RESULTS" || true
    grep -vE "^($METRIC_RE|guest_mtu) " <<<"$out" | sed "s/^/[$s $MTU] /" >&2 || true
    # A stack that ignored the MTU would put its numbers in the wrong row.
    got_mtu=$(awk '$1 == "guest_mtu" {print $2}' <<<"$out")
    if [[ $got_mtu != "$MTU" ]]; then
        log "$s: asked for MTU $MTU, the guest has '$got_mtu'"
        failures=$((failures + 1))
    fi
    if grep -qE "^$METRIC_RE fail" <<<"$out"; then
        failures=$((failures + 1))
        grep -E "^$METRIC_RE fail" <<<"$out" | sed "s/^/peers: $s MTU $MTU: /" >&2
    fi
}
METRIC_RE='(tput_g2h|tput_h2g|crr|rtt_p50|rtt_p99)'

failures=0
# Rounds interleave the stacks, so a burst of load on the machine hits them
# alike rather than one stack's every sample.
for ((round = 1; round <= REPEAT; round++)); do
    for MTU in $MTUS; do
        for s in $STACKS; do
            log "$s, MTU $MTU, round $round/$REPEAT ..."
            run_stack "$s"
        done
    done
done

echo
echo "msbnet peers benchmark: $(nproc) cores, kernel $(uname -r), iperf3 ${SECS}s, $CONNS connections, $RTTS round trips, $REPEAT round(s)"
echo "versions: slirp4netns $(slirp4netns --version | awk 'NR==1{print $3}') (libslirp $(slirp4netns --version | awk '/libslirp/{print $2}')), passt $(dpkg-query -W -f='${Version}' passt 2>/dev/null || echo '?')"
echo
json=${OUT:-$TOPO_DIR/peers.json}
print_table "$json"
echo
if [[ ${PEERS_TARGETS:-1} != 0 ]]; then
    echo "msbnet's targets (tests/perf/README.md; the best peer is the best of slirp4netns, pasta, pasta_root run here):"
    "$TOPO_PYTHON" "$here/targets.py" peers="$json"
    echo
fi
log "done in $((SECONDS - start)) s"
if ((failures)); then
    log "$failures failure(s); see the messages above (TOPO_KEEP=1 keeps the logs)"
    exit 1
fi
