#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd stream`: a python VMM in netns G (tests/integration/stream_peer.py)
# bridges the guest's TAP to msbnetd's unix socket with the 4-byte big-endian
# length framing of QEMU -netdev stream / libkrun / passt.  Checks HTTP both
# families, 1 GiB each way with SHA-256 on both ends (XPORT_BYTES overrides),
# one VMM at a time, a VMM that dies mid-frame and comes back, garbage
# lengths (0, 3, 0xFFFFFFFF) dropping only that connection, and --fd.
#   usage: transport_stream.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL
set -uo pipefail
msbnetd=$(realpath "${1:?usage: transport_stream.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL}")
msbnetctl=$(realpath "${2:?usage: transport_stream.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl jq timeout /usr/bin/python3
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/transport_lib.sh"
speer="/usr/bin/python3 $here/stream_peer.py"
bytes=${XPORT_BYTES:-$((1 << 30))}

export RUNTIME_DIRECTORY=$TOPO_DIR/run # this test's own control socket
sock=$TOPO_DIR/vmm.sock
topo_start_http_i 8080 || exit 1
guest_tap_up || { bad guest_tap "cannot configure tap0 in G"; checks_done; exit 1; }
want_hello=$(cat "$TOPO_WWW/hello.txt")
want_blob=$(cd "$TOPO_WWW" && sha256sum 1M.bin | cut -d' ' -f1)
gcurl() { timeout 30 ip netns exec "$TOPO_G" curl -sS --max-time "${CURL_MAX:-10}" "$@" 2>&1; }

topo_bg H msbnetd "$msbnetd" stream --listen "$sock" --egress allow --mtu "$XPORT_MTU" \
    --print-metrics -v
mpid=$TOPO_LAST_PID
wait_socket "$sock" || { bad msbnetd_listens "$(cat "$TOPO_DIR/logs/msbnetd.log")"; checks_done; exit 1; }
expect socket_mode_0600 "600" "$(stat -c %a "$sock")"

nb=0 bpid=
bridge() { # [CUT]: a fresh VMM connection
    nb=$((nb + 1))
    topo_bg G "bridge$nb" $speer bridge tap0 "$sock" "$@"
    bpid=$TOPO_LAST_PID
    wait_log "bridge$nb" connected
}

# --- traffic ------------------------------------------------------------------
bridge
expect curl_ipv4 "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
expect curl_ipv6 "$want_hello" "$(gcurl "http://[$TOPO_I6]:8080/hello.txt")"
expect curl_1MiB_sha256 "$want_blob" "$(gcurl http://$TOPO_I4:8080/1M.bin | sha256sum | cut -d' ' -f1)"

# --- the control socket works as with run/tap ---------------------------------------
expect grpc_status_guest_ipv4 "100.96.0.2" "$("$msbnetctl" --socket "$RUNTIME_DIRECTORY/slot-0.sock" status 2>&1)"
m=$("$msbnetctl" --socket "$RUNTIME_DIRECTORY/slot-0.sock" --json metrics 2>&1)
if [[ $(jq -r '.guest.tx_frames // (.json | fromjson | .guest.tx_frames)' <<<"$m" 2>/dev/null) -gt 0 ]]; then
    ok grpc_metrics_count_guest_frames
else bad grpc_metrics_count_guest_frames "$m"; fi

# --- one VMM at a time -----------------------------------------------------------
expect second_vmm_closed "closed" "$(timeout 10 $speer probe "$sock")"
expect first_vmm_unaffected "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"

# --- integrity, both directions ------------------------------------------------------
sha_transfer guest_to_internet_sha256 up "$bytes" 9001
up_secs=$XFER_SECS
sha_transfer internet_to_guest_sha256 down "$bytes" 9002
down_secs=$XFER_SECS
echo "info: $bytes bytes up in ${up_secs}s, down in ${down_secs}s (python bridge)"

# --- a VMM that dies in the middle of a frame, then comes back ----------------------
stop_job "$bpid"
bridge 20 # cut after 20 guest frames
# Downloads until the guest has sent 20 frames: one is usually enough, but
# on a loaded machine the first may still be resolving the gateway when it
# gives up.  The cut itself is what is checked.
for ((try = 0; try < 10; try++)); do
    CURL_MAX=3 gcurl http://$TOPO_I4:8080/1M.bin >/dev/null
    grep -q "cut after 20 frames" "$TOPO_DIR/logs/bridge$nb.log" && break
done
wait_log "bridge$nb" "cut after 20 frames" 5 && ok vmm_cut_mid_frame || bad vmm_cut_mid_frame
wait_log "bridge$nb" "bridge ended" 5 || stop_job "$bpid" # the tap must be free for the next
bridge
expect curl_after_reconnect "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
stop_job "$bpid"

# --- garbage lengths: that connection is dropped, msbnetd stays --------------------------
for len in 0 3 0xFFFFFFFF 0x10003; do
    expect "garbage_length_${len}_dropped" "closed" "$(timeout 10 $speer garbage "$sock" "$len")"
done
if kill -0 "$mpid" 2>/dev/null; then ok msbnetd_survives_garbage; else bad msbnetd_survives_garbage; fi
bridge
expect curl_after_garbage "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"

# --- the same counters live, while msbnetd runs: gRPC metrics and /metrics.json --------------
m=$("$msbnetctl" --socket "$RUNTIME_DIRECTORY/slot-0.sock" --json metrics 2>&1)
metric_is live_bad_lengths "$m" .msbnetd.transport.bad_length_drops 4
metric_is live_second_vmm "$m" .msbnetd.transport.connections_refused_busy 1
metric_is live_vmm_connected "$m" .msbnetd.transport.connected true
metric_is live_frames_counted "$m" '.msbnetd.guest_frames_in > 0 and .msbnetd.guest_frames_out > 0' true
stop_job "$bpid" # the VMM leaves: the link goes down, the gauge follows
for _ in $(seq 100); do
    m=$("$msbnetctl" --socket "$RUNTIME_DIRECTORY/slot-0.sock" --json metrics 2>&1)
    [[ $(jq -r .msbnetd.transport.connected <<<"$m") == false ]] && break
    sleep 0.05
done
metric_is live_vmm_gone "$m" .msbnetd.transport.connected false

# --- counters, from the metrics printed at exit -----------------------------------------------
stop_msbnetd msbnetd "$mpid"
m=$(final_metrics msbnetd)
metric_is bad_lengths_counted "$m" .msbnetd.transport.bad_length_drops 4
metric_is second_vmm_counted "$m" .msbnetd.transport.connections_refused_busy 1
metric_is truncated_frame_counted "$m" .msbnetd.transport.truncated_frames 1
metric_is connections_counted "$m" .msbnetd.transport.connections_accepted 8
metric_is link_ups_counted "$m" .msbnetd.link_ups 8
metric_is nothing_refused_by_plugin "$m" .msbnetd.plugin_refused 0
log=$(cat "$TOPO_DIR/logs/msbnetd.log")
expect stderr_names_bad_length "frame length 4294967295 outside 14..65538, dropping the connection" "$log"
expect stderr_names_second_vmm "refused a second VMM connection while one is active" "$log"
expect stderr_names_mid_frame "in the middle of a frame" "$log"
[[ ! -e $sock ]] && ok socket_removed_at_exit || bad socket_removed_at_exit

# --- --fd: a pre-connected socket from the VMM (libkrun, passt --fd) ------------------------
topo_bg G fdvmm $speer spawn tap0 ip netns exec "$TOPO_H" "$msbnetd" stream --fd '{fd}' \
    --egress allow --mtu "$XPORT_MTU" --control-socket "$TOPO_DIR/fd.sock"
fpid=$TOPO_LAST_PID
wait_log fdvmm connected
expect fd_curl "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
# SIGTERM to the VMM (stream_peer.py) shuts its end down and reports how
# msbnetd, its child, ended: exit 0, having said why.
stop_job "$fpid"
expect fd_msbnetd_exits_0_with_vmm "child exited 0" "$(grep '^child exited' "$TOPO_DIR/logs/fdvmm.log")"
expect fd_exit_said "the VMM's socket (--fd) closed; exiting" "$(cat "$TOPO_DIR/logs/fdvmm.log")"
if grep -qE 'Sanitizer|runtime error' "$TOPO_DIR/logs/fdvmm.log"; then
    bad fd_sanitizer_clean "$(grep -E -A5 'Sanitizer|runtime error' "$TOPO_DIR/logs/fdvmm.log")"
fi

# --- backpressure: an 8-frame ring in the plugin, 16 MiB each way -----------------------
# A full tx ring makes msbnetd stop reading the socket (the VMM waits); every
# frame still arrives once, in order, and nothing is refused.
echo '{"queue_capacity": 8}' >"$TOPO_DIR/small.json"
sock=$TOPO_DIR/vmm-small.sock
topo_bg H msbnetd-small "$msbnetd" stream --listen "$sock" --config "$TOPO_DIR/small.json" \
    --egress allow --mtu "$XPORT_MTU" --print-metrics --control-socket "$TOPO_DIR/small.sock"
mpid=$TOPO_LAST_PID
wait_socket "$sock"
bridge
sha_transfer small_ring_guest_to_internet_sha256 up $((16 << 20)) 9003
sha_transfer small_ring_internet_to_guest_sha256 down $((16 << 20)) 9004
stop_job "$bpid"
stop_msbnetd msbnetd-small "$mpid"
m=$(final_metrics msbnetd-small)
busy=$(metric "$m" .msbnetd.plugin_busy)
if [[ $busy -gt 0 ]]; then ok "small_ring_full_seen_and_waited ($busy retries)"; else bad small_ring_full_seen_and_waited "plugin_busy=$busy"; fi
metric_is small_ring_nothing_refused "$m" .msbnetd.plugin_refused 0
metric_is small_ring_every_frame_taken "$m" '.msbnetd.guest_frames_in == .msbnetd.plugin_accepted' true

# --- backpressure the other way: a VMM that reads slowly --------------------------------
# msbnetd's output buffer and the socket fill; frames wait in the pump and the
# plugin's rx ring (the stack stops sending), and arrive intact.
sock=$TOPO_DIR/vmm-slow.sock
topo_bg H msbnetd-slow "$msbnetd" stream --listen "$sock" --egress allow --mtu "$XPORT_MTU" \
    --print-metrics --control-socket "$TOPO_DIR/slow.sock"
mpid=$TOPO_LAST_PID
wait_socket "$sock"
bridge slow
sha_transfer slow_vmm_internet_to_guest_sha256 down $((32 << 20)) 9005
# TCP's window keeps what is in flight below msbnetd's buffers; 100 echo
# replies of 60 KB at once (the gateway answers them itself) do not: they
# wait, and every one arrives.
out=$(timeout 60 ip netns exec "$TOPO_G" ping -q -n -c 300 -l 100 -i 0 -s 60000 -W 5 "$GW4" 2>&1)
expect slow_vmm_ping_burst_all_answered "300 packets transmitted, 300 received," "$out"
stop_job "$bpid"
stop_msbnetd msbnetd-slow "$mpid"
m=$(final_metrics msbnetd-slow)
blocked=$(metric "$m" .msbnetd.transport_blocked)
if [[ $blocked -gt 0 ]]; then ok "slow_vmm_writes_waited ($blocked times)"; else bad slow_vmm_writes_waited "transport_blocked=$blocked"; fi
metric_is slow_vmm_nothing_dropped "$m" .msbnetd.transport_write_drops 0

# --- usage errors ------------------------------------------------------------------------------
out=$("$msbnetd" stream 2>&1); expect usage_needs_listen_or_fd "--listen PATH or --fd N is required" "$out"
out=$("$msbnetd" stream --fd 1 --listen x 2>&1); expect usage_fd_excludes_listen "--fd excludes" "$out"
out=$("$msbnetd" stream --listen "$TOPO_WWW/hello.txt" 2>&1); expect refuses_non_socket "exists and is not a socket" "$out"
out=$("$msbnetd" stream --fd 0 </dev/null 2>&1); expect fd_must_be_socket "not a socket" "$out"
checks_done
