#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prepares what tests/integration/vmm_qemu*.sh boot (run as root, once;
# deploy/bootstrap.sh runs it): QEMU from Debian, and two packages fetched
# with apt-get download (no VM image is downloaded), unpacked, not installed:
# a Debian cloud kernel, of which only vmlinuz and the virtio-net modules
# are kept, and busybox-static, of which only bin/busybox is kept (installing
# it would remove the dynamic busybox the other tests use), all in DIR
# (default /var/cache/msbnet/guest).  The tests never touch the network:
# they build their initramfs from these files at run time.  Idempotent.
set -euo pipefail
dir=${1:-/var/cache/msbnet/guest}
# Load order matters: each module needs the ones before it.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    failover net_failover virtio_net)

if [[ $(id -u) -ne 0 ]]; then
    echo "guest-kernel: must run as root" >&2
    exit 1
fi
missing=()
for p in qemu-system-x86; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ -f $dir/vmlinuz && -f $dir/modules/virtio_net.ko && -x $dir/busybox ]]; then
    echo "guest-kernel: $dir ready"
    exit 0
fi
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
[[ -n $pkg ]] || { echo "guest-kernel: no linux-image-cloud-amd64 in apt's lists" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "$pkg" busybox-static 2>/dev/null)
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/x"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"
mkdir -p "$dir/modules"
install -m 755 "$tmp/bb/bin/busybox" "$dir/busybox"
cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz"
for m in "${modules[@]}"; do
    f=$(find "$tmp/x/lib/modules" -name "$m.ko" | head -1)
    [[ -n $f ]] || { echo "guest-kernel: $m.ko not in $pkg" >&2; exit 1; }
    cp "$f" "$dir/modules/"
done
printf '%s\n' "${modules[@]}" >"$dir/modules/order"
echo "$pkg" >"$dir/package"
echo "guest-kernel: $dir ready ($pkg)"
