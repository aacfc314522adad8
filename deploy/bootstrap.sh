#!/usr/bin/env bash
# Installs what msbnet's build and tests need on a fresh Debian bookworm
# machine (run as root).  Idempotent: packages already present are skipped,
# and apt-get update runs at most once, only when something is missing.
set -euo pipefail

# Build: compiler, CMake, and the libraries msbnet links.
build_pkgs=(gcc make cmake pkg-config
    libevent-dev liblwip-dev libjansson-dev libgrpc-dev
    libprotobuf-c-dev protobuf-c-compiler libcunit1-dev)
# Tests: the real peers they talk to, and the checkers they run under
# (clang and its runtime libraries build the libFuzzer targets).
# dnsmasq-base is the binary without the system service, so nothing starts
# listening on the host's port 53.
# prometheus provides promtool (checks /metrics); openssl makes the TLS
# tests' throwaway certificates.
test_pkgs=(iproute2 curl iperf3 dnsmasq-base bind9-dnsutils iputils-ping
    python3 python3-grpcio python3-grpc-tools valgrind openssl prometheus jq
    busybox ndisc6 # DHCP client (udhcpc) and RA reader (rdisc6) for guest_autoconf
    clang libclang-rt-14-dev
    man-db groff) # the manual-page check (ctest -L style): man --warnings
# Benchmarks: the stacks msbnet is compared with.
perf_pkgs=(slirp4netns passt)

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

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "bootstrap: all ${#build_pkgs[@]} build, ${#test_pkgs[@]} test and ${#perf_pkgs[@]} benchmark packages already installed"
    exit 0
fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages such as prometheus and dnsmasq would start system services from
# their postinst; we only want their binaries.  policy-rc.d says "no" to
# every service start for the length of the install (unless one exists).
guard=/usr/sbin/policy-rc.d
if [[ ! -e $guard ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 755 "$guard"
    trap 'rm -f "$guard"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
