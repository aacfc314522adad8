#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Everything CI runs, from a fresh Debian machine to a verdict:
#   1. install dependencies (deploy/bootstrap.sh),
#   2. build and run every test (ctest: CUnit suites, ThreadSanitizer
#      targets, valgrind runs, integration tests, style checks),
#   3. build again with AddressSanitizer + UndefinedBehaviorSanitizer and run
#      the unit and integration tests there too,
#   4. build the libFuzzer targets with clang and fuzz each parser for a
#      bounded time (MSBNET_FUZZ_SECONDS, default 20 s per target).
# Build trees go to build/, build-asan/ and build-fuzz/ (override the parent
# directory with MSBNET_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${MSBNET_BUILD_DIR:-$top}
jobs=$(nproc)

./deploy/bootstrap.sh

configure_build_test() { # dir, label filter, cmake args...
    local dir=$1 labels=$2
    shift 2
    echo "== $dir: configure + build"
    cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" ||
        { cat "$dir.configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs"
    echo "== $dir: ctest"
    (cd "$dir" && ctest --output-on-failure -L "$labels" -j "$jobs")
}

mkdir -p "$out"
configure_build_test "$out/build" 'unit|integration|valgrind|style'
configure_build_test "$out/build-asan" 'unit|integration' \
    -DMSBNET_SANITIZE=ON -DMSBNET_TSAN_TESTS=OFF
echo "== $out/build-fuzz: libFuzzer targets (clang)"
cmake -S "$top" -B "$out/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DMSBNET_TSAN_TESTS=OFF -DMSBNET_FUZZ_SECONDS="${MSBNET_FUZZ_SECONDS:-20}" \
    >"$out/build-fuzz.configure.log" || { cat "$out/build-fuzz.configure.log"; exit 1; }
cmake --build "$out/build-fuzz" -j "$jobs" --target fuzz_all
(cd "$out/build-fuzz" && ctest --output-on-failure -L fuzz)
echo "== all test configurations passed"
