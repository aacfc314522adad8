#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd run`'s process contract (server/README.md, "Signals in run" and
# non-root run): SIGINT, SIGTERM and SIGHUP sent to msbnetd reach CMD (pid 2
# under the sandbox's init) and msbnetd exits with CMD's status, a handled
# signal's exit code or 128+N when CMD dies of it; SIGKILL to msbnetd takes
# CMD and every process of the sandbox down (PDEATHSIG); and `run` works
# without root (a user namespace), given a /dev/net/tun the caller may open.
#   usage: run_signals.sh MSBNETD REAL_PLUGIN ECHO_PLUGIN
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
tmp=$(mktemp -d /tmp/msbnet-signals.XXXXXX)
chmod 1777 "$tmp" # CMD (nobody under a root msbnetd) leaves its marks here
# Control sockets in a directory of their own: msbnetd hides it from CMD,
# which must still see $tmp (its "ready" files).
mkdir -p "$tmp/ctl"
pids=()
cleanup() {
    ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

wait_file() { # PATH SECS
    local i
    for ((i = 0; i < $2 * 20; i++)); do [[ -e $1 ]] && return 0; sleep 0.05; done
    return 1
}

# start NAME CMD_SCRIPT [RUN_PREFIX...]: msbnetd run in the background (pid
# in MPID), CMD `sh -c CMD_SCRIPT`, output in $tmp/NAME.out and .err.
start() {
    local name=$1 script=$2
    shift 2
    "$@" "$msbnetd" --plugin "$real_plugin" run --egress allow \
        --control-socket "${CTL_DIR:-$tmp/ctl}/$name.sock" -- sh -c "$script" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    MPID=$!
    pids+=("$MPID")
}

# reap NAME PID SECS: msbnetd's exit status in RC (none: "running" after
# SECS), and no sanitizer report in its stderr.
reap() {
    if ! timeout "$3" tail --pid="$2" -f /dev/null; then
        RC=running
        return
    fi
    wait "$2"
    RC=$?
    if grep -q Sanitizer "$tmp/$1.err"; then ko "$1: sanitizer report: $(grep -m3 Sanitizer "$tmp/$1.err")"; fi
}

# --- a signal to msbnetd reaches CMD; msbnetd exits with CMD's status -----
code=70
for sig in INT TERM HUP; do
    code=$((code + 1))
    start "trap-$sig" "trap 'echo got-$sig; exit $code' $sig; touch $tmp/ready-trap-$sig
        while :; do sleep 0.05; done"
    if wait_file "$tmp/ready-trap-$sig" 30; then
        kill -"$sig" "$MPID"
        reap "trap-$sig" "$MPID" 20
        expect "SIG$sig reaches CMD's handler, msbnetd exits with CMD's status" \
            "$RC $(cat "$tmp/trap-$sig.out")" "$code got-$sig"
    else
        ko "SIG$sig: CMD never started: $(cat "$tmp/trap-$sig.err")"
    fi
done

# CMD without a handler dies of the forwarded signal: 128+N, as shells say.
for sig in INT TERM HUP; do
    start "dfl-$sig" "touch $tmp/ready-dfl-$sig; exec sleep 300"
    if wait_file "$tmp/ready-dfl-$sig" 30; then
        kill -"$sig" "$MPID"
        reap "dfl-$sig" "$MPID" 20
        expect "SIG$sig kills a CMD without a handler: msbnetd exits 128+N" \
            "$RC" "$((128 + $(kill -l "$sig")))"
    else
        ko "SIG$sig (default action): CMD never started: $(cat "$tmp/dfl-$sig.err")"
    fi
done

# --- SIGKILL to msbnetd: nothing of the sandbox outlives it ------------------
# descendants PID: every process below PID, breadth first.
descendants() {
    local queue=("$1") p kids
    while ((${#queue[@]})); do
        p=${queue[0]} queue=("${queue[@]:1}")
        kids=$(cat "/proc/$p/task/"*/children 2>/dev/null)
        for k in $kids; do echo "$k"; queue+=("$k"); done
    done
}
# alive PID START: PID still names the process that started at START
# (field 22 of its stat) and it is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    [[ ${f[0]} != Z && ${f[19]} == "$2" ]]
}
start kill "touch $tmp/ready-kill; exec sleep 300"
if wait_file "$tmp/ready-kill" 30; then
    procs=() cmd_pid=''
    for p in $(descendants "$MPID"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        procs+=("$p:${f[19]}")
        [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "sleep 300 " ]] && cmd_pid=$p
    done
    if [[ -n $cmd_pid ]]; then ok "CMD found among msbnetd's ${#procs[@]} descendants"
    else ko "CMD (sleep 300) not among msbnetd's descendants: ${procs[*]}"; fi
    kill -KILL "$MPID"
    reap kill "$MPID" 10
    expect "msbnetd died of SIGKILL" "$RC" 137
    left=("${procs[@]}")
    for ((i = 0; i < 200 && ${#left[@]}; i++)); do
        still=()
        for e in "${left[@]}"; do alive "${e%%:*}" "${e#*:}" && still+=("$e"); done
        left=("${still[@]}")
        ((${#left[@]})) && sleep 0.05
    done
    if ((${#procs[@]} && ${#left[@]} == 0)); then ok "SIGKILL to msbnetd: CMD and the sandbox's processes are gone"
    else ko "processes outlived msbnetd's SIGKILL: ${left[*]:-none recorded}"; fi
else
    ko "SIGKILL case: CMD never started: $(cat "$tmp/kill.err")"
fi

# --- run without root ----------------------------------------------------------
# nobody may not open this machine's /dev/net/tun (0600): in a mount
# namespace of this test only, a node of its own (0666, on a tmpfs) is
# bound over it; nothing outside changes.  CMD is root in its user
# namespace, has tap0 and reaches the gateway.
nobody=$(id -u nobody) nogroup=$(id -g nobody)
mkdir -p "$tmp/dev" "$tmp/nr"
chown "$nobody" "$tmp/nr"
chmod 755 "$tmp/nr"
CTL_DIR=$tmp/nr start nonroot "id -u; ip -o link show tap0 | grep -o tap0; ping -c1 -W5 100.96.0.1 >/dev/null && echo ping-ok; exit 5" \
    unshare -m --propagation private sh -c "mount -t tmpfs -o mode=755 tundev $tmp/dev &&
        mknod -m 666 $tmp/dev/tun c 10 200 && mount --bind $tmp/dev/tun /dev/net/tun &&
        exec setpriv --reuid=$nobody --regid=$nogroup --clear-groups env RUNTIME_DIRECTORY=$tmp/nr \"\$@\"" sh
reap nonroot "$MPID" 60
expect "run as nobody: CMD is root in its namespace, has tap0, pings the gateway; its status" \
    "$RC $(tr '\n' ' ' <"$tmp/nonroot.out")" "5 0 tap0 ping-ok "
[[ $RC == 5 ]] || echo "nonroot stderr: $(cat "$tmp/nonroot.err")"
finish
