#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The frame pump, on the echo plugin (every guest frame comes straight back):
# frames flow both ways, and with a 2-frame ring the plugin's backpressure
# holds frames instead of losing them — every frame read from tap0 is
# accepted by the plugin exactly once, every frame the plugin hands out
# reaches tap0 or is counted -- and frames for a guest whose link is down
# are dropped and counted.
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
tmp=$(mktemp -d)
chmod 1777 "$tmp" # CMD under a root msbnetd runs as nobody: reads its script, leaves marks
trap 'rm -rf "$tmp"' EXIT
LOG_DIR=$tmp # msbnetd's stderr of each run (checks.sh's msbnetd_fg)
plugin=$echo_plugin
m() { jq -r "$1" "$tmp/metrics"; }

# Metrics are the last line of stderr; how msbnetd ended is judged.
run_metrics() {
    FG_STDOUT=pass msbnetd_fg pump cmd -- "$msbnetd" --plugin "$plugin" run --metrics-json "$@" \
        >"$tmp/out" 2>/dev/null
    local rc=$?
    tail -n1 "$FG_LOG" >"$tmp/metrics"
    return $rc
}

# 1. Both directions: ARP requests for the gateway go out and come back;
# the guest waits (5 s at most) until as many came back as it sent.
run_metrics -- sh -c 'ping -c2 -i0.2 -W1 100.96.0.1 >/dev/null 2>&1; cd /sys/class/net/tap0/statistics
    for i in $(seq 100); do [ "$(cat rx_packets)" -ge "$(cat tx_packets)" ] && break; sleep 0.05; done
    cat rx_packets'
in=$(m .msbnetd.guest_frames_in)
if [[ $in -gt 0 ]]; then ok "frames read from tap0 ($in)"; else ko "no frames read from tap0"; fi
expect "plugin took them all" "$(m .guest.tx_frames)" "$in"
expect "echoed frames written to tap0" "$(m .msbnetd.guest_frames_out)" "$in"
expect "guest received them" "$(cat "$tmp/out")" "$in"
expect "no write drops" "$(m .msbnetd.transport_write_drops)" "0"

# 2. Backpressure: a burst of raw frames into a 2-frame ring.
echo '{"queue_capacity": 2}' >"$tmp/small.json"
start=$(date +%s%N)
run_metrics --config "$tmp/small.json" -- /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
frame = bytes.fromhex("ffffffffffff026d7300000288b5") + b"x" * 200
for _ in range(5000):
    try:
        s.send(frame)
    except OSError:
        pass  # the kernel queue of tap0 is full: its drop, not ours
'
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect "burst run exits 0" "$rc" "0"
in=$(m .msbnetd.guest_frames_in) acc=$(m .msbnetd.plugin_accepted) busy=$(m .msbnetd.plugin_busy)
held=$(m 'if .msbnetd.tx_frame_held then 1 else 0 end')
if [[ $busy -gt 0 ]]; then ok "ring full seen and retried ($busy times)"; else ko "backpressure never happened"; fi
expect "every frame read was accepted or is still held" "$((acc + held))" "$in"
expect "plugin counted each accepted frame once" "$(m .guest.tx_frames)" "$acc"
expect "plugin's refusals = msbnetd's retries" "$(m .guest.tx_ring_full)" "$busy"
expect "frames from the plugin = frames to tap0 + counted drops" \
    "$(( $(m .msbnetd.guest_frames_out) + $(m .msbnetd.transport_write_drops) ))" "$(m .guest.rx_frames)"
if [[ $elapsed_ms -lt 20000 ]]; then ok "burst done in ${elapsed_ms} ms"; else ko "burst took ${elapsed_ms} ms"; fi

# 3. Frames that come back while the guest's link is down are refused by
# the kernel on write (EIO) and counted by msbnetd, not lost silently.  To
# have frames in flight when the link goes down, msbnetd is stopped
# (SIGSTOP) while the guest queues N frames in tap0 and takes the link
# down; once continued, msbnetd reads them, the echo plugin returns them,
# and every write to tap0 fails.  The guest waits until its tap0 has
# counted N refused frames (rx_dropped).
cat >"$tmp/down.py" <<'EOF'
import os, socket, subprocess, sys, time
d, n = sys.argv[1], int(sys.argv[2])
def wait_file(name):
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(d, name)):
        if time.monotonic() > deadline:
            sys.exit("no %s from the test" % name)
        time.sleep(0.02)
def dropped():
    with open("/sys/class/net/tap0/statistics/rx_dropped") as f:
        return int(f.read())
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
open(os.path.join(d, "ready"), "w").close()
wait_file("stopped")
before = dropped()
frame = bytes.fromhex("ffffffffffff026d7300000288b5") + b"x" * 200
for _ in range(n):
    s.send(frame)
subprocess.run(["ip", "link", "set", "tap0", "down"], check=True)
open(os.path.join(d, "down"), "w").close()
deadline = time.monotonic() + 20
while dropped() - before < n and time.monotonic() < deadline:
    time.sleep(0.02)
print("rx_dropped", dropped() - before)
EOF
n=10
"$msbnetd" --plugin "$plugin" run --metrics-json -- /usr/bin/python3 "$tmp/down.py" "$tmp" "$n" \
    >"$tmp/out" 2>"$tmp/down.log" &
pid=$!
wait_file "$tmp/ready" && kill -STOP "$pid" && touch "$tmp/stopped" && wait_file "$tmp/down"
kill -CONT "$pid"
msbnetd_done "link-down run: msbnetd" "$pid" 0 "$tmp/down.log"
tail -n1 "$tmp/down.log" >"$tmp/metrics"
got=$(awk '/^rx_dropped/ {print $2}' "$tmp/out")
if [[ ${got:-0} -ge $n ]]; then ok "guest's kernel refused the $n frames that came back ($got)"
else ko "guest's kernel refused ${got:-no} frames, want $n or more: $(cat "$tmp/out")"; fi
drops=$(m .msbnetd.transport_write_drops)
if [[ $drops -ge $n ]]; then ok "msbnetd counted the refused writes ($drops)"
else ko "msbnetd counted $drops refused writes, want $n or more"; fi
expect "frames out + counted drops = frames from the plugin (link down)" \
    "$(( $(m .msbnetd.guest_frames_out) + drops ))" "$(m .guest.rx_frames)"
finish
