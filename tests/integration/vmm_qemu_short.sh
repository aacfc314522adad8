#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The QEMU test CI runs (label integration; vmm_qemu.sh keeps the long
# transfers, label vmm): QEMU with TCG boots a Debian cloud kernel and a
# busybox initramfs once, with two virtio-net cards,
#   eth0: -netdev stream (unix)                 -> msbnetd stream --listen
#   eth1: -netdev dgram (unix, both ends bound) -> msbnetd dgram --listen --peer
# and on each card in turn the guest takes a DHCP lease from msbnet
# (udhcpc), resolves a name through the leased DNS server (msbnet's gateway
# forwarding to dnsmasq in I), downloads and uploads 4 MiB over HTTP / TCP
# with SHA-256 compared on both ends, then drops the card's address.
# Prerequisites come from deploy/guest-kernel.sh (bootstrap.sh runs it); the
# test never fetches anything and fails loudly without them.
#   usage: vmm_qemu_short.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: vmm_qemu_short.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
guest=${MSBNET_GUEST_DIR:-/var/cache/msbnet/guest}
source "$here/../lib/topology.sh"
topo_require qemu-system-x86_64 jq timeout gzip /usr/bin/python3
for f in "$guest/vmlinuz" "$guest/modules/order" "$guest/busybox"; do
    if [[ ! -f $f ]]; then
        echo "vmm_qemu_short: missing $f: run deploy/guest-kernel.sh as root" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/transport_lib.sh"
export RUNTIME_DIRECTORY=$TOPO_DIR/run
mkdir -p "$RUNTIME_DIRECTORY"
MB=4 NAME=qemu.test NAME_ADDR=198.18.0.77

head -c $((MB << 20)) /dev/urandom >"$TOPO_WWW/big.bin"
want_down=$(sha256sum "$TOPO_WWW/big.bin" | cut -d' ' -f1)
topo_start_http_i 8080 || exit 1
topo_start_dnsmasq_i "--address=/$NAME/$NAME_ADDR" || exit 1

# The guest's init: per card, DHCP (the udhcpc script applies the lease and
# reports it), DNS, the two transfers, then the card goes down.  Results go
# to the serial console behind GUEST- markers; then it powers off.
make_initrd() {
    local d=$TOPO_DIR/initrd
    mkdir -p "$d"/{bin,lib,proc,sys,dev,etc}
    cp "$guest/busybox" "$d/bin/"
    cp "$guest"/modules/*.ko "$d/lib/"
    cat >"$d/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
case $1 in
bound | renew)
    ip addr add "$ip/$mask" dev "$interface"
    ip route add default via "$router" dev "$interface"
    echo "nameserver $dns" >/etc/resolv.conf
    echo "ip=$ip mask=$mask router=$router dns=$dns" >"/lease-$interface"
    ;;
esac
SCRIPT
    cat >"$d/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(tr '\n' ' ' <"$guest/modules/order"); do insmod /lib/\$m.ko || echo "GUEST-INSMOD-FAIL \$m"; done
ip link set lo up
dd if=/dev/urandom of=/up.bin bs=1M count=$MB 2>/dev/null
for i in 0 1; do
    c=eth\$i
    ip link set \$c up
    udhcpc -i \$c -s /udhcpc.sh -f -q -n -t 5 -T 2 >/dev/null 2>&1
    echo "GUEST-LEASE-\$c: \$(cat /lease-\$c 2>&1)"
    echo "GUEST-DNS-\$c: \$(timeout 10 nslookup $NAME 2>&1 | grep -A2 '^Name:' | tr '\n' ' ')"
    echo "GUEST-DOWN-\$c: \$(timeout 60 wget -q -O - http://$TOPO_I4:8080/big.bin | sha256sum)"
    echo "GUEST-UP-\$c: \$(sha256sum /up.bin)"
    timeout 60 nc $TOPO_I4 \$((9001 + i)) </up.bin
    ip addr flush dev \$c
    ip link set \$c down
done
echo "GUEST-DONE"
poweroff -f
INIT
    chmod +x "$d/init" "$d/udhcpc.sh"
    (cd "$d" && find . | "$guest/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$TOPO_DIR/initrd.gz"
}

# verdicts CARD TRANSPORT SINK: the guest's reports on CARD against the servers' view.
verdicts() {
    local log=$TOPO_DIR/logs/qemu.log c=$1 x=$2 up
    expect "${x}_dhcp_lease" "ip=$GUEST4 mask=30 router=$GW4 dns=$GW4" \
        "$(grep -a "GUEST-LEASE-$c:" "$log")"
    expect "${x}_dns_via_lease" "Address: $NAME_ADDR" "$(grep -a "GUEST-DNS-$c:" "$log")"
    expect "${x}_download_${MB}MiB_sha256" "$want_down" "$(grep -a "GUEST-DOWN-$c:" "$log")"
    up=$(grep -a "GUEST-UP-$c:" "$log" | awk '{print $2}')
    if [[ -n $up ]] && wait_log "$3" "^$((MB << 20)) $up\$" 10; then
        ok "${x}_upload_${MB}MiB_sha256"
    else
        bad "${x}_upload_${MB}MiB_sha256" "guest '$up' sink '$(tail -1 "$TOPO_DIR/logs/$3.log")'"
    fi
}

# plane_checks X JSON: the guest's traffic went through this msbnetd: one
# lease, the DNS answers, both transfers in msbnet's TCP counters.
plane_checks() {
    local x=$1 m=$2 n=$((MB << 20)) k
    metric_is "${x}_one_dhcp_ack" "$m" .dhcp.acks 1
    (($(metric "$m" .dns.answered) >= 1)) && ok "${x}_dns_answered" ||
        bad "${x}_dns_answered" ".dns.answered = $(metric "$m" .dns.answered)"
    for k in bytes_to_host bytes_to_guest; do
        (($(metric "$m" .tcp.$k) >= n)) && ok "${x}_tcp_$k" ||
            bad "${x}_tcp_$k" ".tcp.$k = $(metric "$m" .tcp.$k), wanted >= $n"
    done
}

make_initrd
topo_bg I stream-sink /usr/bin/python3 "$here/tcp_peer.py" serve-sink 9001
topo_bg I dgram-sink /usr/bin/python3 "$here/tcp_peer.py" serve-sink 9002
wait_log stream-sink listening && wait_log dgram-sink listening || { checks_done; exit 1; }
ssock=$TOPO_DIR/stream.sock dsock=$TOPO_DIR/dgram.sock qsock=$TOPO_DIR/qemu-dgram.sock
topo_bg H msbnetd-stream "$msbnetd" stream --listen "$ssock" --egress allow --dns "$TOPO_I4" \
    --control-socket "$TOPO_DIR/stream.ctl" --print-metrics
spid=$TOPO_LAST_PID
topo_bg H msbnetd-dgram "$msbnetd" dgram --listen "$dsock" --peer "$qsock" --egress allow \
    --dns "$TOPO_I4" --control-socket "$TOPO_DIR/dgram.ctl" --print-metrics
dpid=$TOPO_LAST_PID
wait_socket "$ssock" && wait_socket "$dsock" || { checks_done; exit 1; }

start=$(date +%s)
timeout 120 qemu-system-x86_64 -accel "${QEMU_ACCEL:-tcg}" -machine q35 -m 256M \
    -nographic -no-reboot -kernel "$guest/vmlinuz" -initrd "$TOPO_DIR/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1" \
    -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$ssock" \
    -device "virtio-net-pci,netdev=n0,mac=$GUEST_MAC" \
    -netdev "dgram,id=n1,local.type=unix,local.path=$qsock,remote.type=unix,remote.path=$dsock" \
    -device "virtio-net-pci,netdev=n1,mac=$GUEST_MAC" </dev/null >"$TOPO_DIR/logs/qemu.log" 2>&1
rc=$?
echo "info: QEMU ran $(($(date +%s) - start)) s (status $rc)"
log=$TOPO_DIR/logs/qemu.log
grep -a GUEST-INSMOD-FAIL "$log" && bad guest_modules "$(grep -a INSMOD "$log")"
verdicts eth0 stream stream-sink
verdicts eth1 dgram dgram-sink
expect guest_finished "GUEST-DONE" "$(grep -a GUEST-DONE "$log")"
[[ $rc -eq 0 ]] && ok qemu_exit_0 || bad qemu_exit_0 "status $rc: $(tail -5 "$log")"

stop_msbnetd msbnetd-stream "$spid"
m=$(final_metrics msbnetd-stream)
metric_is stream_one_connection "$m" .msbnetd.transport.connections_accepted 1
metric_is stream_no_bad_length "$m" .msbnetd.transport.bad_length_drops 0
metric_is stream_plugin_took_all "$m" .msbnetd.plugin_refused 0
plane_checks stream "$m"
stop_msbnetd msbnetd-dgram "$dpid"
m=$(final_metrics msbnetd-dgram)
metric_is dgram_no_foreign "$m" .msbnetd.transport.foreign_drops 0
metric_is dgram_no_undersize "$m" .msbnetd.transport.undersize_drops 0
plane_checks dgram "$m"
checks_done
