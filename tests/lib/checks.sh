# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# checks.sh — the shared vocabulary of the test scripts: count checks, say
# each verdict on its own line, run one command sandboxed by msbnetd, and
# judge how every msbnetd a test started ended (its exit status and its
# stderr: a sanitizer report or a LeakSanitizer exit fails the test).
# The caller sets $msbnetd; scripts that use guest or serve source
# tests/lib/topology.sh first (and call topo_up) before this file.

pass=0 fail=0
# Verdicts given inside $(...) or a pipeline would be lost with the
# subshell: they go to the script's own stdout and are tallied in a file
# that checks_done reads.
_checks_pid=$$
_checks_tally=${TOPO_DIR:-${TMPDIR:-/tmp}}/.checks-tally.$$
exec {_checks_out}>&1
_checks_count() {
    if [[ $BASHPID == "$_checks_pid" ]]; then
        if [[ $1 == ok ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    else
        echo "$1" >>"$_checks_tally"
    fi
}
ok() { _checks_count ok; echo "ok   $1" >&"$_checks_out"; }
bad() { _checks_count bad; echo "FAIL $1${2:+: $2}" >&"$_checks_out"; }
expect() { # name, wanted substring, actual text
    if [[ $3 == *"$2"* ]]; then ok "$1"; else bad "$1" "wanted '$2', got '$3'"; fi
}

# The closing line CI reads, and the script's status.
checks_done() {
    if [[ -f $_checks_tally ]]; then
        pass=$((pass + $(grep -c '^ok$' "$_checks_tally")))
        fail=$((fail + $(grep -c '^bad$' "$_checks_tally")))
        rm -f "$_checks_tally"
    fi
    echo "$pass passed, $fail failed"
    [[ $fail -eq 0 ]]
}

# ---- how msbnetd ended -----------------------------------------------------
#
# Every msbnetd a test starts is judged when it ends: its exit status, and
# its stderr must hold no sanitizer report ("...Sanitizer" from ASan, LSan
# and TSan, "runtime error" from UBSan).  A LeakSanitizer report at exit
# also turns the status into 23.
#
# WANT is an exit status, or "cmd" for `msbnetd run`, which exits with its
# CMD's status: then any status but those only msbnetd's own failure gives
# -- 23 (LeakSanitizer), 124 (timeout(1) had to stop it), 125 (the
# namespace could not be set up), 128 + SIGILL/SIGABRT/SIGBUS/SIGFPE/SIGSEGV.

# msbnetd_done NAME PID [WANT] [LOG] [SECS]: wait (at most SECS, default
# 30; then SIGKILL and fail) for the background msbnetd PID -- a child of
# this shell, e.g. started with topo_bg -- to end by itself, and judge it
# (WANT default 0, LOG default $TOPO_DIR/logs/NAME.log).  Says ok when WANT
# is a status and it ended so; returns its status.
msbnetd_done() {
    local name=$1 pid=$2 want=${3:-0} log=${4:-$TOPO_DIR/logs/$1.log} secs=${5:-30} rc stat i
    for ((i = 0; i < secs * 20; i++)); do
        read -r stat 2>/dev/null <"/proc/$pid/stat" || break # builtin: no fork per poll
        stat=${stat##*) }
        [[ ${stat%% *} == Z ]] && break # ended, waiting for us
        sleep 0.05
    done
    if ((i >= secs * 20)); then
        kill -KILL "$pid" 2>/dev/null
        bad "$name ends" "still running after ${secs}s (killed): $(tail -5 "$log" 2>/dev/null)"
    fi
    wait "$pid"
    rc=$?
    if [[ ! -f $log ]]; then
        bad "$name: no log to check" "$log is missing (exit status $rc)"
    elif grep -qE 'Sanitizer|runtime error' "$log"; then
        bad "$name: sanitizer report" "$(grep -E -m1 -A12 'Sanitizer|runtime error' "$log")"
    elif [[ $want == cmd ]]; then
        case $rc in
        23 | 124 | 125 | 132 | 134 | 135 | 136 | 139)
            bad "$name: msbnetd itself failed" "exit status $rc: $(tail -5 "$log" 2>/dev/null)" ;;
        esac
    elif [[ $rc -eq $want ]]; then
        ok "$name exits $want, no sanitizer report"
    else
        bad "$name exits $want" "exit status $rc: $(tail -5 "$log" 2>/dev/null)"
    fi
    return "$rc"
}

# msbnetd_stop NAME PID [WANT] [LOG]: SIGTERM, then msbnetd_done (WANT
# default 0: a clean shutdown).
# until_term MARK: a shell command line for `msbnetd run -- sh -c ...`
# that installs its SIGTERM handler first, then makes MARK and waits;
# SIGTERM (msbnetd forwards it) ends it with status 0.  A test that waits
# for MARK (wait_mark) before it signals never races the handler: a shell
# killed before its trap is set would make msbnetd exit 143.
until_term() {
    printf 'trap "kill \\$s 2>/dev/null; exit 0" TERM; sleep 600 & s=$!; : >%q; wait' "$1"
}
# wait_mark PATH [SECS]: until PATH exists (0) or SECS (default 30) pass (1).
wait_mark() {
    local i
    for ((i = 0; i < ${2:-30} * 20; i++)); do
        [[ -e $1 ]] && return 0
        sleep 0.05
    done
    return 1
}

msbnetd_stop() {
    kill -TERM "$2" 2>/dev/null
    msbnetd_done "$1" "$2" "${3:-0}" "${4:-}" 
}

# msbnetd_fg NAME WANT -- CMD...: run CMD (a command line that runs
# msbnetd, e.g. `timeout 60 ip netns exec NS "$msbnetd" run ...`) with
# stdout and stderr in a log; print the log when it ends, judge it
# (msbnetd_done, deadline FG_SECS, default 600) and return its status.
# FG_STDOUT=pass: only stderr goes to the log, replayed on stderr at the
# end; stdout passes straight through.  The log (path left in FG_LOG when
# not called in a subshell) stays in LOG_DIR, default $TOPO_DIR/logs.
msbnetd_fg() {
    local name=$1 want=$2 log rc
    shift 3
    log=$(mktemp "${LOG_DIR:-$TOPO_DIR/logs}/$name.XXXXXX") || return 125
    FG_LOG=$log
    if [[ ${FG_STDOUT:-} == pass ]]; then
        "$@" <&0 2>"$log" &
    else
        "$@" <&0 >"$log" 2>&1 &
    fi
    msbnetd_done "$name" $! "$want" "$log" "${FG_SECS:-600}"
    rc=$?
    if [[ ${FG_STDOUT:-} == pass ]]; then cat "$log" >&2; else cat "$log"; fi
    return "$rc"
}

# guest [MSBNETD-OPTIONS] -- CMD...: CMD in a fresh sandbox whose only
# network is msbnetd in netns H; prints what CMD and msbnetd wrote (stdout
# and stderr) and returns the status.  msbnetd's end is judged (WANT "cmd",
# or GUEST_STATUS when set).  Egress is allowed unless an option says
# otherwise; GUEST_EGRESS= (empty) passes no --egress at all, so the default
# policy or a --config one applies.  GUEST_TIMEOUT bounds it.
guest() {
    local opts=() egress=() secs=${GUEST_TIMEOUT:-300}
    local FG_SECS=$((secs + 30)) # msbnetd_fg's deadline, past timeout(1)'s
    [[ -n ${GUEST_EGRESS-allow} ]] && egress=(--egress "${GUEST_EGRESS-allow}")
    while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    msbnetd_fg guest "${GUEST_STATUS:-cmd}" -- \
        timeout "$secs" ip netns exec "$TOPO_H" "$msbnetd" run "${egress[@]}" "${opts[@]}" -- "$@"
}

# serve NAME ARGS...: `$peer ARGS...` (tcp_peer.py, whose one-shot servers
# print "listening" once bound) in netns I, waited for by that line rather
# than by probing the port, which would use up its single accept.
serve() {
    local name=$1
    shift
    topo_bg I "$name" $peer "$@"
    for _ in $(seq 100); do
        grep -q listening "$TOPO_DIR/logs/$name.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server $name never listened: $(cat "$TOPO_DIR/logs/$name.log")" >&2
    return 1
}
