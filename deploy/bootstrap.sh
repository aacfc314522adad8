#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what msbnet's build and tests need on a fresh Debian bookworm
# machine (run as root), and fetches the lwIP source package msbnet's build
# compiles with its own options (plugin/lwip/README.md).  Idempotent:
# packages already present are skipped, apt-get update runs only when
# something is missing, and a source tree already unpacked is kept.
set -euo pipefail

# Build: compiler, CMake, the libraries msbnet links, and dpkg-dev for
# `apt-get source` (lwIP is built from Debian's source package, not linked
# from liblwip-dev, whose fixed options cap TCP: plugin/lwip/README.md).
build_pkgs=(gcc make cmake pkg-config dpkg-dev
    libevent-dev libjansson-dev libgrpc-dev
    libprotobuf-c-dev protobuf-c-compiler libcunit1-dev libssl-dev)
# The lwIP source package, pinned: CMake refuses any other version.
lwip_version=2.1.3+dfsg1-2
lwip_dir=${MSBNET_LWIP_CACHE:-/var/cache/msbnet}
# Tests: the real peers they talk to, and the checkers they run under
# (clang and its runtime libraries build the libFuzzer targets).
# dnsmasq-base is the binary without the system service, so nothing starts
# listening on the host's port 53.
# prometheus provides promtool (checks /metrics); openssl makes the TLS
# tests' throwaway certificates.
test_pkgs=(iproute2 curl iperf3 dnsmasq-base bind9-dnsutils iputils-ping
    python3 python3-grpcio python3-grpc-tools valgrind openssl prometheus jq
    busybox ndisc6 # DHCP client (udhcpc) and RA reader (rdisc6) for guest_autoconf
    qemu-system-x86 # the VMM of vmm_qemu_short / vmm_qemu (guest: guest-kernel.sh below)
    dante-server tinyproxy # upstream proxies (SOCKS5, HTTP CONNECT) for upstream_proxy
    python3-requests python3-h2 # tls_clients: a requests client, an h2 upstream
    clang libclang-rt-14-dev
    man-db groff) # the manual-page check (ctest -L style): man --warnings
# Benchmarks: the stacks msbnet is compared with, and gnuplot (without X)
# for tests/perf/targets.sh's chart.
perf_pkgs=(slirp4netns passt gnuplot-nox)

if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: must run as root (it installs Debian packages)" >&2
    exit 1
fi

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}" "${perf_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

export DEBIAN_FRONTEND=noninteractive
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "bootstrap: all ${#build_pkgs[@]} build, ${#test_pkgs[@]} test and ${#perf_pkgs[@]} benchmark packages already installed"
else
    echo "bootstrap: installing ${missing[*]}"
    apt-get update -qq
    # Packages such as prometheus and dnsmasq would start system services
    # from their postinst; we only want their binaries.  policy-rc.d says
    # "no" to every service start for the length of the install (unless
    # one exists).
    guard=/usr/sbin/policy-rc.d
    if [[ ! -e $guard ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$guard"
        chmod 755 "$guard"
        trap 'rm -f "$guard"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- lwIP's source package ---------------------------------------------------

# deb-src entries for the release this machine runs, derived from its own
# deb entries (same archive, suites, components and keyring), so nothing
# in this repository names an archive host.
src_list=/etc/apt/sources.list.d/msbnet-deb-src.sources
write_deb_src() {
    local codename
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    /usr/bin/python3 - "$codename" >"$src_list.new" <<'PY'
import glob, re, sys
codename = sys.argv[1]
out = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    if path.endswith("msbnet-deb-src.sources"):
        continue
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, re.M))
        types = fields.get("Types", "").split()
        suites = fields.get("Suites", "").split()
        if "deb" in types and "deb-src" not in types and any(s.startswith(codename) for s in suites):
            keep = [l for l in stanza.strip().splitlines() if not l.startswith("Types:")]
            out.append("Types: deb-src\n" + "\n".join(keep))
for line in open("/etc/apt/sources.list").read().splitlines() if glob.glob("/etc/apt/sources.list") else []:
    if re.match(r"^deb\s", line) and codename in line:
        out.append("# from /etc/apt/sources.list\n" + re.sub(r"^deb\s", "deb-src ", line))
if not out:
    sys.exit("bootstrap: no deb entry for " + codename + " in /etc/apt to derive a deb-src entry from")
print("# Written by msbnet's deploy/bootstrap.sh: source entries for `apt-get source lwip`,\n"
      "# derived from this machine's own deb entries.\n")
print("\n\n".join(out))
PY
    mv "$src_list.new" "$src_list"
}

lwip_tree=$lwip_dir/lwip-${lwip_version%-*}
if [[ -f $lwip_tree/debian/changelog ]] &&
    head -1 "$lwip_tree/debian/changelog" | grep -qF "($lwip_version)"; then
    echo "bootstrap: lwIP source $lwip_version already in $lwip_tree"
else
    [[ -f $src_list ]] || write_deb_src
    apt-get update -qq # the Sources index the new entries name
    mkdir -p "$lwip_dir"
    rm -rf "$lwip_tree"
    # apt checks the .dsc against the archive's signed Sources index.
    (cd "$lwip_dir" && apt-get source -qq "lwip=$lwip_version")
    echo "bootstrap: lwIP source $lwip_version in $lwip_tree"
fi
ln -sfn "$lwip_tree" "$lwip_dir/lwip"

# ---- the QEMU tests' guest ----------------------------------------------------
# A Debian cloud kernel and busybox-static, fetched with apt-get download and
# unpacked into /var/cache/msbnet/guest (kept when already there).
"$(dirname "$0")/guest-kernel.sh"
echo "bootstrap: done"
