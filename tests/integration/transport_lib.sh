# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# transport_lib.sh — shared by transport_stream.sh and transport_dgram.sh:
# the guest's TAP in netns G (what the VMM's virtio-net card would be),
# msbnetd in netns H serving a unix socket, and a python "VMM" bridging the
# two.  Source after topology.sh and checks.sh; needs $msbnetd.

GW4=100.96.0.1 GW6=fd42:6d73:62::1
GUEST4=100.96.0.2 GUEST6=fd42:6d73:62::2 GUEST_MAC=02:6d:73:00:00:02
XPORT_MTU=${XPORT_MTU:-65520}

# A persistent tap0 in G configured as msbnetd's slot 0 expects; the bridge
# attaches to it (and may come and go) while the addresses stay.
guest_tap_up() {
    ip -n "$TOPO_G" tuntap add dev tap0 mode tap &&
        ip -n "$TOPO_G" link set tap0 address "$GUEST_MAC" mtu "$XPORT_MTU" up &&
        ip -n "$TOPO_G" addr add "$GUEST4/30" dev tap0 &&
        ip -n "$TOPO_G" -6 addr add "$GUEST6/64" dev tap0 nodad &&
        ip -n "$TOPO_G" route add default via "$GW4" dev tap0 onlink &&
        ip -n "$TOPO_G" -6 route add default via "$GW6" dev tap0 onlink
}

# wait_log NAME TEXT [SECS]: until TEXT shows in the log of background job NAME.
wait_log() {
    local log="$TOPO_DIR/logs/$1.log" i
    for ((i = 0; i < ${3:-10} * 20; i++)); do
        grep -q -- "$2" "$log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "no '$2' in $log after ${3:-10}s: $(tail -5 "$log" 2>/dev/null)" >&2
    return 1
}

# wait_socket PATH: until msbnetd has bound it.
wait_socket() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -S $1 ]] && return 0
        sleep 0.05
    done
    echo "socket $1 never appeared" >&2
    return 1
}

# stop_job PID: SIGTERM and wait (our child: `wait` reaps it).
stop_job() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# stop_msbnetd NAME PID: SIGTERM; msbnetd must exit 0 with no sanitizer
# report in its log (the ASan build runs these tests too): checks.sh's
# msbnetd_stop, the one judge of how an msbnetd ended.
stop_msbnetd() { msbnetd_stop "$1" "$2"; }

# The metrics msbnetd prints at exit: the last JSON line of its log.
final_metrics() { grep '^{' "$TOPO_DIR/logs/$1.log" | tail -1; }
metric() { jq -r "$2" <<<"$1"; }

# metric_is NAME JSON JQ WANT: one counter, compared exactly.
metric_is() {
    local got
    got=$(jq -r "$3" <<<"$2")
    if [[ $got == "$4" ]]; then ok "$1"; else bad "$1" "$3 = '$got', wanted '$4'"; fi
}

# sha_transfer NAME DIR BYTES PORT: BYTES through the guest's TCP with both
# ends' SHA-256 compared (DIR up = guest -> I, down = I -> guest); seconds
# taken left in XFER_SECS.
sha_transfer() {
    local name=$1 dir=$2 n=$3 port=$4 got saw start peer="/usr/bin/python3 $here/tcp_peer.py"
    if [[ $dir == up ]]; then
        topo_bg I "$name" $peer serve-sink "$port"
    else
        topo_bg I "$name" $peer serve-source "$port" "$n" 9
    fi
    wait_log "$name" listening || { bad "$name" "server did not start"; return; }
    start=$(date +%s%N)
    if [[ $dir == up ]]; then
        got=$(timeout 600 ip netns exec "$TOPO_G" $peer send "$TOPO_I4" "$port" "$n" 7 | tail -1)
    else
        got=$(timeout 600 ip netns exec "$TOPO_G" $peer recv "$TOPO_I4" "$port" | tail -1)
    fi
    XFER_SECS=$(( ($(date +%s%N) - start) / 1000000 ))
    XFER_SECS=$((XFER_SECS / 1000)).$(printf %03d $((XFER_SECS % 1000)))
    sleep 0.3
    saw=$(tail -1 "$TOPO_DIR/logs/$name.log")
    if [[ $got == "$n "* && $got == "$saw" ]]; then
        ok "$name ($n bytes in ${XFER_SECS}s)"
    else
        bad "$name" "guest '$got' server '$saw'"
    fi
}
