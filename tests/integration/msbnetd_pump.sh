#!/usr/bin/env bash
# The frame pump, on the echo plugin (every guest frame comes straight back):
# frames flow both ways, and with a 2-frame ring the plugin's backpressure
# holds frames instead of losing them — every frame read from tap0 is
# accepted by the plugin exactly once, every frame the plugin hands out
# reaches tap0 or is counted.
. "$(dirname "$0")/msbnetd_lib.sh"
require_root
tmp=$(mktemp -d)
chmod 755 "$tmp" # CMD under a root msbnetd runs as nobody and reads its script here
trap 'rm -rf "$tmp"' EXIT
plugin=$echo_plugin
m() { jq -r "$1" "$tmp/metrics"; }

# Metrics are the last line of stderr.
run_metrics() {
    "$msbnetd" --plugin "$plugin" run --metrics-json "$@" 2>"$tmp/err" >"$tmp/out"
    local rc=$?
    tail -n1 "$tmp/err" >"$tmp/metrics"
    return $rc
}

# 1. Both directions: ARP requests for the gateway go out and come back.
run_metrics -- sh -c 'ping -c2 -i0.2 -W1 100.96.0.1 >/dev/null 2>&1; sleep 0.2;
    cat /sys/class/net/tap0/statistics/rx_packets'
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

# 3. Frames that arrive while the guest link is down are dropped by the
# kernel on write and counted by msbnetd, not lost silently.
run_metrics -- sh -c 'ping -c1 -W1 100.96.0.1 >/dev/null 2>&1 & sleep 0.05; ip link set tap0 down; sleep 0.5'
expect "frames out + counted drops = frames from the plugin (link down)" \
    "$(( $(m .msbnetd.guest_frames_out) + $(m .msbnetd.transport_write_drops) ))" "$(m .guest.rx_frames)"
finish
