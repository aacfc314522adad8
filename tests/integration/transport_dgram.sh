#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd dgram`: a python VMM in netns G (tests/integration/dgram_peer.py)
# binds its own socket, announces itself with "VFKT" as vfkit and libkrun
# do, and bridges the guest's TAP to msbnetd one frame per datagram.
# Checks HTTP, 64 MiB each way with SHA-256 (XPORT_BYTES overrides), the
# handshake consumed, undersize/oversize datagrams and other senders
# dropped and counted, a restarted VMM taking over, and --peer.
#   usage: transport_dgram.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: transport_dgram.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl jq timeout /usr/bin/python3
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/transport_lib.sh"
dpeer="/usr/bin/python3 $here/dgram_peer.py"
bytes=${XPORT_BYTES:-$((64 << 20))}

export RUNTIME_DIRECTORY=$TOPO_DIR/run
sock=$TOPO_DIR/msbnetd.sock
vmm=$TOPO_DIR/vmm.sock
topo_start_http_i 8080 || exit 1
# As a VMM would size its queue: Linux's default of 10 datagrams per socket
# (per namespace) makes every burst of ACKs wait for the python bridge.
ip netns exec "$TOPO_G" sysctl -qw net.unix.max_dgram_qlen=512
guest_tap_up || { bad guest_tap "cannot configure tap0 in G"; checks_done; exit 1; }
want_hello=$(cat "$TOPO_WWW/hello.txt")
want_blob=$(cd "$TOPO_WWW" && sha256sum 1M.bin | cut -d' ' -f1)
gcurl() { timeout 30 ip netns exec "$TOPO_G" curl -sS --max-time 10 "$@" 2>&1; }

topo_bg H msbnetd "$msbnetd" dgram --listen "$sock" --egress allow --mtu "$XPORT_MTU" \
    --print-metrics -v
mpid=$TOPO_LAST_PID
wait_socket "$sock" || { bad msbnetd_binds "$(cat "$TOPO_DIR/logs/msbnetd.log")"; checks_done; exit 1; }
expect socket_mode_0600 "600" "$(stat -c %a "$sock")"

nb=0 bpid=
bridge() { # OWN_PATH [FLAGS]
    nb=$((nb + 1))
    topo_bg G "bridge$nb" $dpeer bridge tap0 "$sock" "$@"
    bpid=$TOPO_LAST_PID
    wait_log "bridge$nb" connected
}

# --- handshake, junk, traffic ----------------------------------------------------
bridge "$vmm" junk # VFKT, then a 10-byte and a 70000-byte datagram
expect curl_ipv4 "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
expect curl_ipv6 "$want_hello" "$(gcurl "http://[$TOPO_I6]:8080/hello.txt")"
expect curl_1MiB_sha256 "$want_blob" "$(gcurl http://$TOPO_I4:8080/1M.bin | sha256sum | cut -d' ' -f1)"
sha_transfer guest_to_internet_sha256 up "$bytes" 9001
up_secs=$XFER_SECS
sha_transfer internet_to_guest_sha256 down "$bytes" 9002
down_secs=$XFER_SECS
echo "info: $bytes bytes up in ${up_secs}s, down in ${down_secs}s (python bridge)"

# Someone else on the same socket: dropped, and the VMM keeps its network.
expect foreign_sender_sent "sent" "$(ip netns exec "$TOPO_G" $dpeer send "$TOPO_DIR/intruder.sock" "$sock" 60)"
expect curl_after_foreign "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"

# --- the VMM restarts on a new socket path: its handshake makes it the peer ------------
stop_job "$bpid"
bridge "$TOPO_DIR/vmm2.sock"
expect curl_after_vmm_restart "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
stop_job "$bpid"

stop_msbnetd msbnetd "$mpid"
m=$(final_metrics msbnetd)
echo "info: msbnetd sends that found the VMM's queue full: $(metric "$m" .msbnetd.transport_blocked)"
metric_is handshakes_consumed "$m" .msbnetd.transport.vfkit_handshakes 2
metric_is undersize_counted "$m" .msbnetd.transport.undersize_drops 1
metric_is oversize_counted "$m" .msbnetd.transport.oversize_drops 1
metric_is foreign_counted "$m" .msbnetd.transport.foreign_drops 1
metric_is handshake_never_a_frame "$m" .drops.tx_bad_length 0
metric_is nothing_refused_by_plugin "$m" .msbnetd.plugin_refused 0
log=$(cat "$TOPO_DIR/logs/msbnetd.log")
expect stderr_names_undersize "10-byte datagram below an Ethernet header dropped" "$log"
expect stderr_names_oversize "70000-byte datagram above 65538 dropped" "$log"
[[ ! -e $sock ]] && ok socket_removed_at_exit || bad socket_removed_at_exit

# --- --peer: both sides bound, each sends to the other (QEMU -netdev dgram) -------------
# The VMM's socket must exist first: a bridge with no handshake binds it.
rm -f "$vmm"
topo_bg H msbnetd2 "$msbnetd" dgram --listen "$sock" --peer "$vmm" --egress allow \
    --mtu "$XPORT_MTU" --print-metrics
mpid=$TOPO_LAST_PID
wait_socket "$sock"
bridge "$vmm" novfkt
expect peer_curl "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
expect peer_foreign_sent "sent" "$(ip netns exec "$TOPO_G" $dpeer send "$TOPO_DIR/intruder2.sock" "$sock" 60)"
# 40 more: each drop is counted, but stderr says only the first eight and
# then the powers of two (16, 32), so a hostile sender cannot flood the log.
expect peer_foreign_flood_sent "sent" \
    "$(ip netns exec "$TOPO_G" $dpeer send "$TOPO_DIR/intruder3.sock" "$sock" 60 40)"
stop_job "$bpid"
stop_msbnetd msbnetd2 "$mpid"
m=$(final_metrics msbnetd2)
metric_is peer_fixed_foreign_dropped "$m" .msbnetd.transport.foreign_drops 41
said=$(grep -c 'not the VMM, dropped' "$TOPO_DIR/logs/msbnetd2.log")
last=$(grep -o 'not the VMM, dropped ([0-9]* so far)' "$TOPO_DIR/logs/msbnetd2.log" | tail -1)
if [[ $said == 10 && $last == *"(32 so far)" ]]; then ok foreign_drops_stderr_rate_limited
else bad foreign_drops_stderr_rate_limited "$said lines for 41 drops (want 10), last '$last'"; fi
metric_is peer_no_handshake_needed "$m" .msbnetd.transport.vfkit_handshakes 0

# --- --fd: a connected datagram socketpair from the VMM (libkrun unixgram fd) ------------
topo_bg G fdvmm $dpeer spawn tap0 ip netns exec "$TOPO_H" "$msbnetd" dgram --fd '{fd}' \
    --egress allow --mtu "$XPORT_MTU" --print-metrics --control-socket "$TOPO_DIR/fd.sock"
wait_log fdvmm connected
expect fd_curl "$want_hello" "$(gcurl http://$TOPO_I4:8080/hello.txt)"
expect fd_curl_1MiB_sha256 "$want_blob" "$(gcurl http://$TOPO_I4:8080/1M.bin | sha256sum | cut -d' ' -f1)"
child=$(awk '/^child [0-9]/ {print $2}' "$TOPO_DIR/logs/fdvmm.log")
kill -TERM "$child"
# The spawner reaps msbnetd and says its status (kill -0 would still find
# an unreaped zombie, which made this check fail at random).
if wait_log fdvmm '^child exited' 20; then
    rc=$(awk '/^child exited/ {print $3}' "$TOPO_DIR/logs/fdvmm.log")
    if [[ $rc == 0 ]]; then ok fd_msbnetd_stops_on_sigterm
    else bad fd_msbnetd_stops_on_sigterm "exit status $rc"; fi
else bad fd_msbnetd_stops_on_sigterm "still running 20 s after SIGTERM"; fi
m=$(grep '^{' "$TOPO_DIR/logs/fdvmm.log" | tail -1)
metric_is fd_peer_known "$m" .msbnetd.transport.peer_known true
if grep -qE 'Sanitizer|runtime error' "$TOPO_DIR/logs/fdvmm.log"; then
    bad fd_sanitizer_clean "$(grep -E -A5 'Sanitizer|runtime error' "$TOPO_DIR/logs/fdvmm.log")"
fi

out=$("$msbnetd" dgram 2>&1); expect usage_needs_an_address "--listen PATH, --peer PATH or --fd N is required" "$out"
out=$("$msbnetd" stream --peer x --listen y 2>&1); expect usage_peer_is_dgram_only "--peer is for dgram" "$out"
checks_done
