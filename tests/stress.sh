#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# stress.sh — shakes out tests that depend on timing: runs the unit and
# integration suites round after round while one busy process per core
# competes for the CPU, then names every test that ever failed, how often,
# and the log of each round it failed in.  Exit status 1 when any failed.
#
#   usage: tests/stress.sh [-n ROUNDS] [-b BUILD_DIR] [-L LABEL_REGEX] [-R TEST_REGEX]
#                          [-j JOBS] [-o LOG_DIR]
#     -n  rounds (default 20)
#     -b  an existing build directory; without it the source tree is built
#         into a fresh one (RelWithDebInfo, -j2)
#     -L  ctest label regex (default ^(unit|integration)$)
#     -R  ctest test-name regex (default: every test with those labels)
#     -j  ctest jobs per round (default 2)
#     -o  where the round logs go (default a new /tmp/msbnet-stress.XXXXXX)
# Each round is one `ctest -j JOBS --output-on-failure`; the hog is
# `yes >/dev/null` per core at the caller's nice level, killed at exit.
# Needs root for the integration label, as the tests themselves do.
set -uo pipefail
rounds=20 build='' labels='^(unit|integration)$' regex='' jobs=2 logdir=''
usage() { sed -n "8,16p" "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts n:b:L:R:j:o:h opt; do
    case $opt in
    n) rounds=$OPTARG ;;
    b) build=$OPTARG ;;
    L) labels=$OPTARG ;;
    R) regex=$OPTARG ;;
    j) jobs=$OPTARG ;;
    o) logdir=$OPTARG ;;
    *) usage ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ ]] || usage
src=$(cd "$(dirname "$0")/.." && pwd)

if [[ -z $build ]]; then
    build=$(mktemp -d /tmp/msbnet-stress-build.XXXXXX)
    echo "building $src into $build"
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/cmake.log" 2>&1 &&
        cmake --build "$build" -j2 >"$build/build.log" 2>&1 ||
        { echo "build failed: see $build/cmake.log and $build/build.log" >&2; exit 2; }
fi
[[ -f $build/CTestTestfile.cmake ]] || { echo "$build is not a build directory" >&2; exit 2; }
[[ -n $logdir ]] || logdir=$(mktemp -d /tmp/msbnet-stress.XXXXXX)
mkdir -p "$logdir"

hogs=()
stop_hogs() {
    ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null && wait "${hogs[@]}" 2>/dev/null
    hogs=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
for ((c = 0; c < $(nproc); c++)); do
    yes >/dev/null &
    hogs+=("$!")
done
nhog=${#hogs[@]}
echo "hog: $nhog busy processes (pids ${hogs[*]}); logs in $logdir"

declare -A failed_count=() failed_logs=()
ctest_args=(--test-dir "$build" -L "$labels" -j "$jobs" --output-on-failure)
[[ -n $regex ]] && ctest_args+=(-R "$regex")
total_runs=0 total_failed=0
for ((r = 1; r <= rounds; r++)); do
    log=$logdir/round-$r.log
    start=$(date +%s)
    ctest "${ctest_args[@]}" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # ctest's own list: "  12 - name (Failed)" lines after "tests FAILED:".
    names=$(sed -n '/The following tests FAILED:/,$p' "$log" |
        sed -n 's/^[[:space:]]*[0-9]\{1,\} - \(.*\) (\(.*\))[[:space:]]*$/\1\t\2/p')
    ran=$(grep -o 'tests failed out of [0-9]*' "$log" | grep -o '[0-9]*$')
    nfail=0
    while IFS=$'\t' read -r t how; do
        [[ -z $t ]] && continue
        nfail=$((nfail + 1))
        failed_count[$t]=$((${failed_count[$t]:-0} + 1))
        failed_logs[$t]+=" $log ($how)"
    done <<<"$names"
    if [[ $rc -ne 0 && $nfail -eq 0 ]]; then # ctest itself failed (no test list)
        failed_count["(ctest exit $rc)"]=$((${failed_count["(ctest exit $rc)"]:-0} + 1))
        failed_logs["(ctest exit $rc)"]+=" $log"
        nfail=1
    fi
    total_runs=$((total_runs + ${ran:-0})) total_failed=$((total_failed + nfail))
    echo "round $r/$rounds: ${ran:-?} tests, $nfail failed, ${secs}s ($log)"
done
stop_hogs

echo
echo "stress: $rounds rounds of ctest -L '$labels'${regex:+ -R '$regex'} -j $jobs beside $nhog busy processes"
if ((${#failed_count[@]} == 0)); then
    echo "no test failed"
else
    echo "tests that failed (times; each round's log and ctest's verdict):"
    for t in "${!failed_count[@]}"; do
        echo "  $t: ${failed_count[$t]}x —${failed_logs[$t]}"
    done | sort
fi
echo "$((total_runs - total_failed)) passed, $total_failed failed"
((${#failed_count[@]} == 0))
