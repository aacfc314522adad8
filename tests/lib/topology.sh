# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# topology.sh — the standard msbnet test topology (tests/README.md), as a
# sourceable bash library. Safe under `set -euo pipefail`.
#
#   netns G ("guest")     netns H ("host")                     netns I ("internet")
#   (empty, lo up;        lo up, 127.0.0.1/::1 services         198.18.0.1/24
#    the stack under  --- veth 198.18.0.2/24, fd42::2/64 ------ fd42::1/64
#    test adds tap0)      default via 198.18.0.1 / fd42::1      http, iperf3, dnsmasq
#
# Every packet stays inside these namespaces: H's only route leads to I, and I
# has no route anywhere else. Names carry this shell's pid and a random suffix so
# parallel ctest runs never collide, and the pid lets a later run reap what a
# SIGKILLed run left behind.
#
# Usage:
#   source tests/lib/topology.sh
#   topo_up                          # creates G, H, I; installs the EXIT/INT/TERM trap
#   topo_start_http_i 8080
#   topo_exec_h curl http://198.18.0.1:8080/hello.txt
#   topo_down                        # optional: the trap does it anyway
#
# Public functions (details above each one):
#   topo_up / topo_down              build / tear down (idempotent, also on signals)
#   topo_exec_g|h|i CMD...           run CMD in G, H or I
#   topo_bg NS NAME CMD...           background CMD in NS, logged, pid tracked
#   topo_start_http_i PORT [DIR]     http.server in I on [::] (198.18.0.1 + fd42::1)
#   topo_start_http_h_loopback PORT [DIR]  http.server on H's 127.0.0.1 and ::1
#   topo_start_iperf3_i PORT         iperf3 -s in I
#   topo_start_dnsmasq_i ARGS...     dnsmasq in I, no upstream, ARGS passed through
#   topo_wait_port NS HOST PORT SECS wait until HOST:PORT accepts TCP from NS
#   topo_require CMD...              exit 1 naming the package of a missing CMD
#   topo_track_pid PID... / topo_defer SHELLCMD   more cleanup for topo_down
# Exported: TOPO_G TOPO_H TOPO_I (namespace names), TOPO_DIR (logs in
# $TOPO_DIR/logs), TOPO_WWW (served files + SHA256SUMS), TOPO_I4 TOPO_I6
# TOPO_H4 TOPO_H6 (addresses). The topo_start_* functions leave the server's
# pid in TOPO_LAST_PID. Each namespace also gets /etc/netns/NS/resolv.conf
# pointing at I's dnsmasq, so nothing in it can fall back to the host resolver.
#
# Call topo_up and topo_start_* in the main shell, not inside $(...) or a
# pipeline: the trap, the pid list and TOPO_LAST_PID must live in the shell
# that runs the test.

# Guard against double sourcing (the state below must not be reset mid-run).
if [[ -n ${_TOPO_SOURCED:-} ]]; then
    return 0
fi
_TOPO_SOURCED=1

# Debian's interpreter: the `python3` first on PATH may be a separate build,
# and the library only needs the standard library anyway.
TOPO_PYTHON=${TOPO_PYTHON:-/usr/bin/python3}

# Addresses of the topology, exported so tests do not hard-code them twice.
export TOPO_I4=198.18.0.1 TOPO_H4=198.18.0.2 TOPO_I6=fd42::1 TOPO_H6=fd42::2

# State (not exported: it belongs to the shell that ran topo_up).
_TOPO_STATE=down        # down | up
_TOPO_PIDS=()           # background processes this library started (or was given)
_TOPO_DEFERRED=()       # caller cleanup commands, run LIFO by topo_down
_TOPO_PREV_EXIT_TRAP='' # the caller's own EXIT trap, chained after ours
_TOPO_OWNER_PID=''      # $$ of the shell that ran topo_up (subshells must not tear down)

# ---------------------------------------------------------------- messages

_topo_log() { printf 'topology: %s\n' "$*" >&2; }
_topo_die() {
    printf 'topology: ERROR: %s\n' "$*" >&2
    return 1
}
# Run a command; on failure say which one (ip's own message is often terse).
_topo_x() { "$@" || _topo_die "failed ($?): $*"; }

# ---------------------------------------------------------------- prerequisites

# The Debian package that provides a command, for the error message.
_topo_pkg_for() {
    case $1 in
    ip | ss | bridge) echo iproute2 ;;
    dnsmasq) echo dnsmasq-base ;;
    dig) echo bind9-dnsutils ;;
    rdisc6) echo ndisc6 ;;
    udhcpc) echo busybox ;;
    ping) echo iputils-ping ;;
    pasta | passt) echo passt ;;
    python3 | /usr/bin/python3) echo python3 ;;
    timeout | stat | mktemp | sha256sum) echo coreutils ;;
    *) echo "${1##*/}" ;;
    esac
}

# topo_require CMD...: every CMD must be runnable, else print which package is
# missing and exit non-zero. A missing tool is a failure, never a skip: CI
# must not turn green because a test quietly did nothing.
topo_require() {
    local c missing=()
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            missing+=("$c (Debian package $(_topo_pkg_for "$c"))")
        fi
    done
    if ((${#missing[@]})); then
        local m
        for m in "${missing[@]}"; do
            printf 'topology: ERROR: missing prerequisite: %s\n' "$m" >&2
        done
        printf 'topology: ERROR: install the packages above; this test fails rather than skips\n' >&2
        exit 1
    fi
}

# ---------------------------------------------------------------- namespaces

# Map the short names G/H/I (any case) to the real namespace names; anything
# else is taken as a namespace name already.
_topo_ns() {
    case $1 in
    G | g) echo "$TOPO_G" ;;
    H | h) echo "$TOPO_H" ;;
    I | i) echo "$TOPO_I" ;;
    *) echo "$1" ;;
    esac
}

topo_exec_g() { ip netns exec "$TOPO_G" "$@"; }
topo_exec_h() { ip netns exec "$TOPO_H" "$@"; }
topo_exec_i() { ip netns exec "$TOPO_I" "$@"; }

# Delete namespaces left by earlier runs whose shell no longer exists (a run
# killed with SIGKILL cannot run its trap). Live runs are never touched.
_topo_reap_stale() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ $ns =~ ^msbt-[GHI]-([0-9]+)- ]] || continue
        pid=${BASH_REMATCH[1]}
        if ! kill -0 "$pid" 2>/dev/null; then
            _topo_log "reaping stale namespace $ns (owner pid $pid is gone)"
            _topo_kill_ns_procs "$ns"
            ip netns del "$ns" 2>/dev/null || true
            rm -rf "/etc/netns/$ns" "${TMPDIR:-/tmp}/msbt-$pid-"*
        fi
    done
}

# Per-namespace resolv.conf: `ip netns exec` bind-mounts /etc/netns/NS/* over
# /etc, so any program in our namespaces that falls back to "the system
# resolver" (slirp4netns, pasta, a stray getaddrinfo) asks I's dnsmasq instead
# of the host's real resolver, which tests must never use.
_topo_write_resolv() {
    local ns=$1
    mkdir -p "/etc/netns/$ns"
    printf 'nameserver %s\nnameserver %s\n' "$TOPO_I4" "$TOPO_I6" >"/etc/netns/$ns/resolv.conf"
}

# topo_up: create G, H, I and the veth, generate the web files, install the
# cleanup trap. Fails (non-zero) with a message if anything cannot be built.
topo_up() {
    if [[ $_TOPO_STATE == up ]]; then
        _topo_die "topo_up called twice without topo_down"
        return 1
    fi
    if [[ $(id -u) -ne 0 ]]; then
        _topo_die "must run as root (network namespaces, veth, TAP)"
        return 1
    fi
    topo_require ip timeout "$TOPO_PYTHON" sha256sum

    _topo_reap_stale

    local rnd
    rnd=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    export TOPO_G="msbt-G-$$-$rnd" TOPO_H="msbt-H-$$-$rnd" TOPO_I="msbt-I-$$-$rnd"
    TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/msbt-$$-$rnd.XXXXXX")
    # Readable and writable by all (sticky): a command under `msbnetd run`
    # started as root runs as nobody on the host; it reads the scripts kept
    # here and leaves its marks (until_term, readiness files) here.
    chmod 1777 "$TOPO_DIR"
    export TOPO_DIR
    export TOPO_WWW="$TOPO_DIR/www"
    mkdir -p "$TOPO_DIR/logs" "$TOPO_WWW"

    # Trap first, so a failure half-way through building still tears down.
    _TOPO_OWNER_PID=$$
    _TOPO_STATE=up
    _topo_install_traps

    # Every step checks its own status: when the caller writes
    # `topo_up || ...`, bash turns `set -e` off inside the function.
    local ns
    for ns in "$TOPO_G" "$TOPO_H" "$TOPO_I"; do
        _topo_write_resolv "$ns" || return 1
        _topo_x ip netns add "$ns" || return 1
        _topo_x ip -n "$ns" link set lo up || return 1
    done

    # Created directly inside H with the peer inside I: the root namespace never
    # holds the interfaces, so fixed short names cannot collide between runs.
    _topo_x ip -n "$TOPO_H" link add veth-i type veth peer name veth-h netns "$TOPO_I" || return 1
    # nodad: the addresses are usable at once (no tentative state that would
    # make the first bind() to fd42::1 fail with EADDRNOTAVAIL).
    _topo_x ip -n "$TOPO_H" addr add "$TOPO_H4/24" dev veth-i || return 1
    _topo_x ip -n "$TOPO_H" addr add "$TOPO_H6/64" dev veth-i nodad || return 1
    _topo_x ip -n "$TOPO_I" addr add "$TOPO_I4/24" dev veth-h || return 1
    _topo_x ip -n "$TOPO_I" addr add "$TOPO_I6/64" dev veth-h nodad || return 1
    _topo_x ip -n "$TOPO_H" link set veth-i up || return 1
    _topo_x ip -n "$TOPO_I" link set veth-h up || return 1
    _topo_x ip -n "$TOPO_H" route add default via "$TOPO_I4" || return 1
    _topo_x ip -n "$TOPO_H" -6 route add default via "$TOPO_I6" || return 1

    # Unprivileged ICMP echo sockets (ping without CAP_NET_RAW) in H only: the
    # sysctl is per namespace, so the host and G keep the default "1 0".
    _topo_x ip netns exec "$TOPO_H" sh -c 'echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range' || return 1

    _topo_make_www || return 1
    _topo_write_helpers || return 1
    _topo_log "up: G=$TOPO_G H=$TOPO_H I=$TOPO_I dir=$TOPO_DIR"
}

# Files for the HTTP servers: small text, a 1 MiB random blob (spans many
# segments at any MTU) and their checksums, so tests can verify bodies.
_topo_make_www() {
    # Grouped with && so a failure returns even where `set -e` is off.
    printf 'hello from the msbnet test topology\n' >"$TOPO_WWW/hello.txt" &&
        head -c 1048576 /dev/urandom >"$TOPO_WWW/1M.bin" &&
        # index.html so "GET /" returns a fixed, checksummable body, not a listing.
        printf '<html><body>msbnet test topology</body></html>\n' >"$TOPO_WWW/index.html" &&
        (cd "$TOPO_WWW" && sha256sum hello.txt 1M.bin index.html >SHA256SUMS)
}

# The HTTP server: http.server on several addresses in one process (one pid to
# track). It overrides server_bind because HTTPServer's version calls
# socket.getfqdn(), a reverse DNS lookup through the system resolver.
_topo_write_helpers() {
    cat >"$TOPO_DIR/httpd.py" <<'EOF'
import functools, http.server, socket, socketserver, sys, threading

port, root, addrs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        if self.address_family == socket.AF_INET6 and self.server_address[0] == "::":
            # "::" serves IPv4 too (v4-mapped), whatever the sysctl default is.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "topology", self.server_address[1]

servers = []
for a in addrs:
    cls = type("S", (Server,), {"address_family": socket.AF_INET6 if ":" in a else socket.AF_INET})
    servers.append(cls((a, port), handler))
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("httpd listening on", addrs, "port", port, flush=True)
servers[0].serve_forever()
EOF
}

# ---------------------------------------------------------------- processes

# topo_track_pid PID...: have topo_down kill these too (for processes a caller
# starts itself, e.g. the stack under test).
topo_track_pid() { _TOPO_PIDS+=("$@"); }

# topo_defer CMD: run the shell command CMD during topo_down (LIFO), e.g. to
# restore a file mode the test changed. Runs after the processes are killed
# and before the namespaces go.
topo_defer() { _TOPO_DEFERRED+=("$1"); }

# topo_bg NS NAME CMD...: start CMD in namespace NS (G/H/I or a name) in the
# background, output to $TOPO_DIR/logs/NAME.log, pid tracked and left in
# TOPO_LAST_PID. Like all topo_start_*, call it directly, not inside $(...):
# a subshell would record the pid in its own copy of the list.
topo_bg() {
    local ns log
    ns=$(_topo_ns "$1")
    log="$TOPO_DIR/logs/$2.log"
    shift 2
    # `ip netns exec` execs the command in place (no fork), so $! is the
    # server itself, not a wrapper: killing it kills the server.
    ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
    TOPO_LAST_PID=$!
    _TOPO_PIDS+=("$TOPO_LAST_PID")
}

# Make sure a just-started process did not die at once (port in use, bad
# argument): fail with its log rather than time out later, puzzled.
_topo_check_alive() {
    local pid=$1 name=$2
    if ! kill -0 "$pid" 2>/dev/null; then
        _topo_die "$name (pid $pid) exited at start; log $TOPO_DIR/logs/$name.log:"
        sed 's/^/    /' "$TOPO_DIR/logs/$name.log" >&2 || true
        return 1
    fi
}

# topo_wait_port NS HOST PORT TIMEOUT: poll (every 50 ms) until a TCP
# connection from NS to HOST:PORT succeeds; fail loudly after TIMEOUT seconds.
topo_wait_port() {
    local ns host=$2 port=$3 timeout=${4:-10}
    ns=$(_topo_ns "$1")
    local deadline=$((SECONDS + timeout))
    while :; do
        # bash's /dev/tcp: no dependency on nc; `timeout` bounds one attempt
        # in case SYNs are dropped rather than refused.
        # shellcheck disable=SC2016 # $0/$1 belong to the inner bash
        if ip netns exec "$ns" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            _topo_die "nothing accepts TCP on $host:$port in namespace $ns after ${timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# topo_start_http_i PORT [DIR]: http.server in I on :: (dual stack: reachable at
# 198.18.0.1 and fd42::1), serving DIR (default $TOPO_WWW, which has
# hello.txt, 1M.bin, index.html and SHA256SUMS). Pid in TOPO_LAST_PID.
topo_start_http_i() {
    local port=$1 dir=${2:-$TOPO_WWW} pid
    topo_bg I "http-i-$port" "$TOPO_PYTHON" "$TOPO_DIR/httpd.py" "$port" "$dir" ::
    pid=$TOPO_LAST_PID
    if ! { topo_wait_port I "$TOPO_I4" "$port" 10 && topo_wait_port I "$TOPO_I6" "$port" 10; }; then
        _topo_check_alive "$pid" "http-i-$port"
        return 1
    fi
}

# topo_start_http_h_loopback PORT [DIR]: http.server in H on 127.0.0.1 and ::1
# only (the "host" service group: reachable from H itself, not from I).
topo_start_http_h_loopback() {
    local port=$1 dir=${2:-$TOPO_WWW} pid
    topo_bg H "http-h-$port" "$TOPO_PYTHON" "$TOPO_DIR/httpd.py" "$port" "$dir" 127.0.0.1 ::1
    pid=$TOPO_LAST_PID
    if ! { topo_wait_port H 127.0.0.1 "$port" 10 && topo_wait_port H ::1 "$port" 10; }; then
        _topo_check_alive "$pid" "http-h-$port"
        return 1
    fi
}

# topo_start_iperf3_i PORT: iperf3 server in I (listens on all of I's
# addresses, both families). Pid in TOPO_LAST_PID.
topo_start_iperf3_i() {
    local port=$1 pid
    topo_require iperf3
    topo_bg I "iperf3-i-$port" iperf3 -s -p "$port"
    pid=$TOPO_LAST_PID
    topo_wait_port I "$TOPO_I4" "$port" 10 || { _topo_check_alive "$pid" "iperf3-i-$port"; return 1; }
}

# topo_start_dnsmasq_i ARGS...: dnsmasq in I answering on 198.18.0.1 and
# fd42::1 (port 53 unless ARGS has --port=N), with no upstream and no
# /etc/hosts: it only knows what ARGS says (--address=/name/ip ...). Pid in TOPO_LAST_PID.
topo_start_dnsmasq_i() {
    local port=53 a pid
    topo_require dnsmasq
    for a in "$@"; do
        [[ $a == --port=* ]] && port=${a#--port=}
    done
    # --conf-file=/dev/null: ignore /etc/dnsmasq.conf and /etc/dnsmasq.d, which
    # could add upstream servers. --user=root: no need to drop to "dnsmasq"/
    # "nobody", which may not exist on a minimal machine.
    topo_bg I "dnsmasq-i-$port" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
        --keep-in-foreground --bind-interfaces --user=root \
        --listen-address="$TOPO_I4" --listen-address="$TOPO_I6" \
        --pid-file="$TOPO_DIR/dnsmasq-$port.pid" --log-queries \
        --log-facility="$TOPO_DIR/logs/dnsmasq-i-$port.queries.log" "$@"
    pid=$TOPO_LAST_PID
    # dnsmasq answers TCP on the same port, so a TCP probe tells it is ready.
    topo_wait_port I "$TOPO_I4" "$port" 10 || { _topo_check_alive "$pid" "dnsmasq-i-$port"; return 1; }
}

# ---------------------------------------------------------------- teardown

# Kill every process inside namespace NS: whatever runs there was started by
# this run (the namespaces are ours), including children of tracked pids.
_topo_kill_ns_procs() {
    local ns=$1 pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    local i
    for i in $(seq 1 40); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -n $pids ]] || return 0
        sleep 0.05
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# Wait (bounded) for a pid to go away; it may not be our child (e.g. a pid
# given to topo_track_pid), so poll rather than `wait`.
_topo_wait_gone() {
    local pid=$1 i
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# topo_down: kill every process the library started (and everything left in
# the namespaces), run deferred cleanups, delete the namespaces and TOPO_DIR
# (kept if TOPO_KEEP=1, for reading logs). Idempotent; safe from a trap.
topo_down() {
    [[ $_TOPO_STATE == up ]] || return 0
    # A subshell (e.g. $(...) in the caller) inherits the trap and the state;
    # only the shell that built the topology may take it down.
    [[ ${BASHPID:-$$} == "$_TOPO_OWNER_PID" ]] || return 0
    _TOPO_STATE=down
    # From here on nothing may abort the cleanup half-way.
    local had_e=0
    [[ $- == *e* ]] && had_e=1
    set +e

    local pid ns i
    for pid in "${_TOPO_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${_TOPO_PIDS[@]}"; do
        _topo_wait_gone "$pid"
        wait "$pid" 2>/dev/null # reap our own children quietly
    done
    _TOPO_PIDS=()
    for ns in "$TOPO_G" "$TOPO_H" "$TOPO_I"; do
        _topo_kill_ns_procs "$ns"
    done

    for ((i = ${#_TOPO_DEFERRED[@]} - 1; i >= 0; i--)); do
        eval "${_TOPO_DEFERRED[i]}"
    done
    _TOPO_DEFERRED=()

    for ns in "$TOPO_G" "$TOPO_H" "$TOPO_I"; do
        if [[ -e /var/run/netns/$ns ]]; then
            ip netns del "$ns" || _topo_log "warning: could not delete namespace $ns"
        fi
        rm -rf "/etc/netns/$ns"
    done
    if [[ ${TOPO_KEEP:-0} == 1 ]]; then
        _topo_log "down; kept $TOPO_DIR (TOPO_KEEP=1)"
    else
        rm -rf "$TOPO_DIR"
    fi
    ((had_e)) && set -e
    return 0
}

# The traps: EXIT covers normal ends and `set -e` failures; INT/TERM tear down,
# then exit with the conventional 128+signal status (which runs EXIT again,
# harmlessly, since topo_down is idempotent). A caller's earlier EXIT trap is
# kept and run after ours.
_topo_install_traps() {
    local prev words
    prev=$(trap -p EXIT)
    if [[ -n $prev && $prev != *_topo_on_exit* ]]; then
        # `trap -p` prints "trap -- 'CMD' EXIT"; let the shell unquote CMD.
        eval "words=($prev)"
        _TOPO_PREV_EXIT_TRAP=${words[2]}
    fi
    trap '_topo_on_exit' EXIT
    trap 'topo_down; exit 130' INT
    trap 'topo_down; exit 143' TERM
}

_topo_on_exit() {
    local rc=$?
    topo_down
    if [[ -n $_TOPO_PREV_EXIT_TRAP ]]; then
        eval "$_TOPO_PREV_EXIT_TRAP"
    fi
    exit "$rc"
}
