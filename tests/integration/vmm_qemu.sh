#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real VMM on msbnetd's transports: QEMU (Debian's 7.2) boots a Debian
# cloud kernel with a busybox initramfs built here, its virtio-net card on
#   1. -netdev stream,server=off,addr.type=unix   -> msbnetd stream --listen
#   2. -netdev dgram,local/remote unix paths      -> msbnetd dgram --listen --peer
# and the guest fetches over HTTP (IPv4 and IPv6), downloads 64 MiB and
# uploads 32 MiB with SHA-256 compared on both ends.  QEMU runs with TCG
# (QEMU_ACCEL=kvm where nested KVM works).  Prerequisites come from
# deploy/guest-kernel.sh (the test never fetches anything).
#   usage: vmm_qemu.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: vmm_qemu.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
guest=${MSBNET_GUEST_DIR:-/var/cache/msbnet/guest}
source "$here/../lib/topology.sh"
topo_require qemu-system-x86_64 jq timeout gzip /usr/bin/python3
for f in "$guest/vmlinuz" "$guest/modules/order" "$guest/busybox"; do
    if [[ ! -f $f ]]; then
        echo "vmm_qemu: missing $f: run deploy/guest-kernel.sh as root (qemu-system-x86," \
            "busybox-static, a Debian cloud kernel via apt)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/transport_lib.sh"
export RUNTIME_DIRECTORY=$TOPO_DIR/run
DOWN_MB=64 UP_MB=32

head -c $((DOWN_MB << 20)) /dev/urandom >"$TOPO_WWW/big.bin"
want_down=$(sha256sum "$TOPO_WWW/big.bin" | cut -d' ' -f1)
want_hello=$(cat "$TOPO_WWW/hello.txt")
topo_start_http_i 8080 || exit 1

# The guest: busybox, the virtio-net modules, and an init that configures
# eth0 statically (as msbnetd -v prints it; no DAD, as the tests' TAPs),
# reports each result on the
# serial console behind a GUEST- marker, and powers off.
make_initrd() {
    local d=$TOPO_DIR/initrd
    mkdir -p "$d"/{bin,lib,proc,sys,dev}
    cp "$guest/busybox" "$d/bin/"
    cp "$guest"/modules/*.ko "$d/lib/"
    cat >"$d/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(tr '\n' ' ' <"$guest/modules/order"); do insmod /lib/\$m.ko || echo "GUEST-INSMOD-FAIL \$m"; done
ip link set lo up
ip link set eth0 up
ip addr add $GUEST4/30 dev eth0
echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_dad
ip -6 addr add $GUEST6/64 dev eth0
ip route add default via $GW4
ip -6 route add default via $GW6 dev eth0
echo "GUEST-MAC: \$(cat /sys/class/net/eth0/address)"
echo "GUEST-HELLO4: \$(timeout 30 wget -q -O - http://$TOPO_I4:8080/hello.txt)"
echo "GUEST-HELLO6: \$(timeout 30 wget -q -O - http://[$TOPO_I6]:8080/hello.txt)"
echo "GUEST-DOWN: \$(timeout 120 wget -q -O - http://$TOPO_I4:8080/big.bin | sha256sum)"
dd if=/dev/urandom of=/up.bin bs=1M count=$UP_MB 2>/dev/null
echo "GUEST-UP: \$(sha256sum /up.bin)"
nc $TOPO_I4 9001 </up.bin
echo "GUEST-DONE"
poweroff -f
INIT
    chmod +x "$d/init"
    (cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$TOPO_DIR/initrd.gz"
}

# boot NAME NETDEV: QEMU with the guest's card on NETDEV, console to NAME.log.
boot() {
    local start
    start=$(date +%s)
    timeout 600 qemu-system-x86_64 -accel "${QEMU_ACCEL:-tcg}" -machine q35 -m 512M \
        -nographic -no-reboot -kernel "$guest/vmlinuz" -initrd "$TOPO_DIR/initrd.gz" \
        -append "console=ttyS0 quiet panic=-1" -netdev "$2" \
        -device virtio-net-pci,netdev=n0,mac=$GUEST_MAC </dev/null >"$TOPO_DIR/logs/$1.log" 2>&1
    echo "info: $1: QEMU ran $(($(date +%s) - start)) s"
}

# verdicts NAME: the guest's reports against the servers' view.
verdicts() {
    local log=$TOPO_DIR/logs/$1.log up
    grep -a 'GUEST-INSMOD-FAIL' "$log" && bad "$1_modules" "$(grep -a INSMOD "$log")"
    expect "$1_guest_mac" "$GUEST_MAC" "$(grep -a GUEST-MAC "$log")"
    expect "$1_http_ipv4" "$want_hello" "$(grep -a GUEST-HELLO4 "$log")"
    expect "$1_http_ipv6" "$want_hello" "$(grep -a GUEST-HELLO6 "$log")"
    expect "$1_download_${DOWN_MB}MiB_sha256" "$want_down" "$(grep -a GUEST-DOWN "$log")"
    up=$(grep -a GUEST-UP "$log" | awk '{print $2}')
    sleep 0.3
    if [[ -n $up && $(tail -1 "$TOPO_DIR/logs/$1-sink.log") == "$((UP_MB << 20)) $up" ]]; then
        ok "$1_upload_${UP_MB}MiB_sha256"
    else
        bad "$1_upload_${UP_MB}MiB_sha256" "guest '$up' sink '$(tail -1 "$TOPO_DIR/logs/$1-sink.log")'"
    fi
    expect "$1_guest_finished" "GUEST-DONE" "$(grep -a GUEST-DONE "$log")"
}

make_initrd

# --- 1. QEMU -netdev stream ----------------------------------------------------------
topo_bg I stream-sink /usr/bin/python3 "$here/tcp_peer.py" serve-sink 9001
wait_log stream-sink listening
sock=$TOPO_DIR/stream.sock
topo_bg H msbnetd-stream "$msbnetd" stream --listen "$sock" --egress allow --print-metrics
mpid=$TOPO_LAST_PID
wait_socket "$sock"
boot stream "stream,id=n0,server=off,addr.type=unix,addr.path=$sock"
verdicts stream
stop_msbnetd msbnetd-stream "$mpid"
m=$(final_metrics msbnetd-stream)
metric_is stream_one_connection "$m" .msbnetd.transport.connections_accepted 1
metric_is stream_no_bad_length "$m" .msbnetd.transport.bad_length_drops 0
metric_is stream_plugin_took_all "$m" .msbnetd.plugin_refused 0

# --- 2. QEMU -netdev dgram: both ends bound, each sends to the other ------------------
topo_bg I dgram-sink /usr/bin/python3 "$here/tcp_peer.py" serve-sink 9001
wait_log dgram-sink listening
sock=$TOPO_DIR/dgram.sock qsock=$TOPO_DIR/qemu-dgram.sock
topo_bg H msbnetd-dgram "$msbnetd" dgram --listen "$sock" --peer "$qsock" --egress allow --print-metrics
mpid=$TOPO_LAST_PID
wait_socket "$sock"
boot dgram "dgram,id=n0,local.type=unix,local.path=$qsock,remote.type=unix,remote.path=$sock"
verdicts dgram
stop_msbnetd msbnetd-dgram "$mpid"
m=$(final_metrics msbnetd-dgram)
metric_is dgram_no_foreign "$m" .msbnetd.transport.foreign_drops 0
metric_is dgram_no_undersize "$m" .msbnetd.transport.undersize_drops 0
echo "info: dgram sends that found QEMU's queue full: $(metric "$m" .msbnetd.transport_blocked)"
checks_done
