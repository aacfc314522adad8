#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msbnetd's TAP when the kernel refuses part of the offloads: a seccomp
# filter (deny_ioctl.py) makes TUNSETOFFLOAD with every flag, or
# TUNSETVNETHDRSZ, fail with EINVAL.  msbnetd must say so, carry on with
# what it got (fewer offloads; a header it adds and strips itself) and
# still move data intact both ways.
#   usage: tap_offload_fallback.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: tap_offload_fallback.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
peer="/usr/bin/python3 $here/tcp_peer.py"
deny="/usr/bin/python3 $here/deny_ioctl.py"
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout
topo_up || exit 1
source "$here/../lib/checks.sh"

TUNSETOFFLOAD=0x400454d0 TUNSETVNETHDRSZ=0x400454d8
ALL_OFFLOADS=7 # TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6
MiB256=$((256 << 20))

# msbnetd run under the filter; prints CMD's output, msbnetd's notices and
# metrics; checks.sh's msbnetd_fg judges how msbnetd ended.
guest_denied() { # deny rule, -- CMD...
    local rule=$1 FG_SECS=330
    shift 2
    msbnetd_fg guest_denied cmd -- timeout 300 ip netns exec "$TOPO_H" $deny "$rule" -- \
        "$msbnetd" run --egress allow --print-metrics -- "$@"
}
# Both ways, 256 MiB each, under one deny rule: sets OUT (both runs' output).
transfer() { # name, deny rule, port
    local name=$1 rule=$2 port=$3 got saw
    serve "sink$name" serve-sink "$port" || return
    OUT=$(guest_denied "$rule" -- $peer send 198.18.0.1 "$port" "$MiB256" 5)
    got=$(grep -v '^{' <<<"$OUT" | grep -v '^msbnetd' | tail -1)
    sleep 0.5
    saw=$(tail -1 "$TOPO_DIR/logs/sink$name.log")
    if [[ $got == "$MiB256 "* && $got == "$saw" ]]; then ok "${name}_guest_to_host_sha256"
    else bad "${name}_guest_to_host_sha256" "sent '$got' got '$saw'"; fi
    serve "source$name" serve-source "$((port + 1))" "$MiB256" 6 || return
    OUT+=$'\n'$(guest_denied "$rule" -- $peer recv 198.18.0.1 "$((port + 1))")
    got=$(grep -v '^{' <<<"$OUT" | grep -v '^msbnetd' | tail -1)
    sleep 0.5
    saw=$(tail -1 "$TOPO_DIR/logs/source$name.log")
    if [[ $got == "$MiB256 "* && $got == "$saw" ]]; then ok "${name}_host_to_guest_sha256"
    else bad "${name}_host_to_guest_sha256" "got '$got' sent '$saw'"; fi
}
counter() { # key, output: the largest value of "key" over the runs
    grep -o "\"$1\":[0-9]*" <<<"$2" | cut -d: -f2 | sort -n | tail -1
}

# TSO6 refused: the next step (csum + tso4) is taken, and said.
transfer fewer_offloads "$TUNSETOFFLOAD=$ALL_OFFLOADS" 9201
expect fewer_offloads_notice "offloads: csum tso4" "$OUT"
expect fewer_offloads_kernel_header '"vnet_hdr":"kernel"' "$OUT"
gso=$(counter gso_frames "$OUT")
if [[ ${gso:-0} -gt 0 ]]; then ok fewer_offloads_tso4_still_used; else bad fewer_offloads_tso4_still_used "gso_frames=${gso:-none}"; fi

# No 12-byte header: msbnetd emulates it; the guest's frames arrive plain,
# the super-frames to the guest leave with their checksum completed.
transfer no_header "$TUNSETVNETHDRSZ" 9211
expect no_header_notice "refused virtio-net headers" "$OUT"
expect no_header_emulated '"vnet_hdr":"emulated"' "$OUT"
gso=$(counter gso_frames "$OUT") tso=$(counter rx_tso_frames "$OUT")
if [[ ${gso:-1} -eq 0 && ${tso:-0} -gt 0 ]]; then ok no_header_tso_to_guest_completed
else bad no_header_tso_to_guest_completed "gso_frames=${gso:-none} rx_tso_frames=${tso:-none}"; fi

checks_done
