#!/usr/bin/env bash
# Everything CI runs, from a fresh Debian machine to a verdict:
#   1. install dependencies (deploy/bootstrap.sh),
#   2. build and run every test (ctest: CUnit suites, ThreadSanitizer
#      targets, valgrind runs, integration tests),
#   3. build again with AddressSanitizer + UndefinedBehaviorSanitizer and run
#      the unit and integration tests there too.
# Build trees go to build/ and build-asan/ (override with MSBNET_BUILD_DIR).
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
configure_build_test "$out/build" 'unit|integration|valgrind'
configure_build_test "$out/build-asan" 'unit|integration' \
    -DMSBNET_SANITIZE=ON -DMSBNET_TSAN_TESTS=OFF
echo "== all test configurations passed"
