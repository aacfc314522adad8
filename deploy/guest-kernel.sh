#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prepares what tests/integration/vmm_qemu.sh boots (run as root, once):
# QEMU and a static busybox from Debian, and a Debian cloud kernel package
# fetched with apt (no VM image is downloaded) from which only vmlinuz and
# the virtio-net modules are kept, in DIR (default /var/cache/msbnet/guest).
# The test itself never touches the network: it builds its initramfs from
# these files at run time.  Idempotent.
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
for p in qemu-system-x86 busybox-static; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ -f $dir/vmlinuz && -f $dir/modules/virtio_net.ko ]]; then
    echo "guest-kernel: $dir ready"
    exit 0
fi
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
[[ -n $pkg ]] || { echo "guest-kernel: no linux-image-cloud-amd64 in apt's lists" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "$pkg" 2>/dev/null)
dpkg-deb -x "$tmp"/*.deb "$tmp/x"
mkdir -p "$dir/modules"
cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz"
for m in "${modules[@]}"; do
    f=$(find "$tmp/x/lib/modules" -name "$m.ko" | head -1)
    [[ -n $f ]] || { echo "guest-kernel: $m.ko not in $pkg" >&2; exit 1; }
    cp "$f" "$dir/modules/"
done
printf '%s\n' "${modules[@]}" >"$dir/modules/order"
echo "$pkg" >"$dir/package"
echo "guest-kernel: $dir ready ($pkg)"
