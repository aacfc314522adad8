#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Direct TAP mode (the default of `run` and `tap`): the plugin's stack thread
# reads and writes tap0 itself (set_frame_fds) and msbnetd's pump carries
# nothing; --tap-pump brings the pump back.  Real peers both ways: ping to the
# gateway, UDP round trips and an HTTP download from servers on the host's
# loopback (reached through the gateway).  An idle msbnetd uses no CPU.
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
tmp=$(mktemp -d)
chmod 1777 "$tmp" # CMD under a root msbnetd runs as nobody: reads its script, leaves marks
LOG_DIR=$tmp # msbnetd's stderr of each run (checks.sh's msbnetd_fg)
srv=()
cleanup() {
    ((${#srv[@]})) && kill "${srv[@]}" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
PY=/usr/bin/python3
m() { jq -r "$1" "$tmp/metrics"; }

head -c 300000 /dev/urandom >"$tmp/blob"
want_sum=$(sha256sum <"$tmp/blob" | cut -d' ' -f1)
# The peers bind port 0 and say the port the kernel gave them (this test
# runs in the host's namespace, beside other tests: no port is guessed).
$PY -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    d, peer = s.recvfrom(65535)
    s.sendto(d, peer)' >"$tmp/udp.port" &
srv+=("$!")
$PY -c 'import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()' "$tmp" >"$tmp/http.port" 2>/dev/null &
srv+=("$!")
UDP_PORT='' HTTP_PORT=''
for _ in $(seq 100); do
    read -r UDP_PORT <"$tmp/udp.port"
    read -r HTTP_PORT <"$tmp/http.port"
    [[ -n $UDP_PORT && -n $HTTP_PORT ]] && break
    sleep 0.05
done
if [[ -z $UDP_PORT || -z $HTTP_PORT ]]; then ko "peers did not start"; finish; exit 1; fi

cat >"$tmp/guest.sh" <<EOF
ping -c3 -i0.2 -W1 100.96.0.1 >/dev/null && echo ping-ok
$PY -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect(("100.96.0.1", $UDP_PORT))
ok = 0
for i in range(200):
    m = b"%d" % i * 50
    s.send(m)
    try:
        ok += s.recv(65535) == m
    except socket.timeout:
        pass
print("udp", ok)'
curl -sf --max-time 10 http://100.96.0.1:$HTTP_PORT/blob | sha256sum | cut -d' ' -f1
EOF

# Metrics are the last line of stderr; how msbnetd ended is judged.
run_guest() {
    FG_STDOUT=pass msbnetd_fg run_guest cmd -- "$msbnetd" --plugin "$real_plugin" run \
        --egress allow --metrics-json "$@" -- sh "$tmp/guest.sh" >"$tmp/out" 2>/dev/null
    local rc=$?
    tail -n1 "$FG_LOG" >"$tmp/metrics"
    return $rc
}

for mode in direct pump; do
    args=()
    [[ $mode == pump ]] && args=(--tap-pump)
    run_guest "${args[@]}"
    expect "$mode: guest exits 0" "$?" "0"
    expect "$mode: ping, UDP and HTTP through the gateway" "$(cat "$tmp/out")" "ping-ok
udp 200
$want_sum"
    expect "$mode: no frame lost on tap0 writes" "$(m .drops.rx_fd_error)" "0"
    tx=$(m .guest.tx_frames) rx=$(m .guest.rx_frames)
    # 3 pings + 200 UDP exchanges + the HTTP flow: more than 203 each way
    # (TSO to the guest makes the 300 KB download only a few frames).
    if [[ $tx -gt 203 && $rx -gt 203 ]]; then ok "$mode: frames both ways ($tx in, $rx out)"
    else ko "$mode: too few frames: $tx in, $rx out"; fi
    if [[ $mode == direct ]]; then
        # The pump is not on the path: its counters are absent, not 0.
        expect "direct: no pump counters" "$(m '.msbnetd | keys | join(",")')" "data_path,transport"
        expect "direct: metrics name the data path" "$(m .msbnetd.data_path)" "plugin"
    else
        expect "pump: every guest frame went through the pump" "$(m .msbnetd.guest_frames_in)" "$tx"
        expect "pump: every frame for the guest too" "$(m .msbnetd.guest_frames_out)" "$rx"
        expect "pump: metrics name the data path" "$(m .msbnetd.data_path)" "pump"
    fi
done

# Idle: 3 s of a sleeping guest must cost msbnetd next to nothing (a busy
# poll would burn about 3 s of CPU here).  Counted over the guest's sleep
# only -- msbnetd's user + system time, all its threads (/proc/PID/stat) --
# not its start and exit, which a sanitizer build makes far costlier.
cpu_ticks() { # PID: utime + stime (fields 14 and 15), in clock ticks
    local s f
    read -r s <"/proc/$1/stat" || return 1
    f=(${s##*) }) # from field 3 on
    echo $((f[11] + f[12]))
}
"$msbnetd" --plugin "$real_plugin" run --egress allow -- sh -c "touch $tmp/idle.start; sleep 3
    sleep 60 & s=\$!; trap 'kill \$s; exit 0' TERM; touch $tmp/idle.end; wait" \
    >/dev/null 2>"$tmp/idle.log" &
pid=$!
if wait_file "$tmp/idle.start" && t0=$(cpu_ticks "$pid") && wait_file "$tmp/idle.end" &&
    t1=$(cpu_ticks "$pid"); then
    used_ms=$(((t1 - t0) * 1000 / $(getconf CLK_TCK)))
    if [[ $used_ms -lt 400 ]]; then ok "idle run used ${used_ms} ms of CPU in 3 s"
    else ko "idle run used ${used_ms} ms of CPU in 3 s"; fi
else
    ko "idle run: could not read msbnetd's CPU time around the guest's sleep"
fi
msbnetd_stop "idle run" "$pid" 0 "$tmp/idle.log"
finish
