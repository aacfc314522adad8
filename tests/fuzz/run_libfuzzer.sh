#!/usr/bin/env bash
# One bounded libFuzzer run: seed the corpus from the replay target when it
# can write one, fuzz for SECONDS, and keep any crash input next to the log.
# Usage: run_libfuzzer.sh FUZZER REPLAY WORKDIR SECONDS
set -euo pipefail
fuzzer=$1 replay=$2 work=$3 secs=$4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
# Targets without --write-corpus start from libFuzzer's empty input.
"$replay" --write-corpus "$work/corpus" >/dev/null 2>&1 || true
echo "libfuzzer: $(basename "$fuzzer"), $secs s, $(find "$work/corpus" -type f | wc -l) seeds"
"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" 2>"$work/log" || {
    tail -n 60 "$work/log"
    echo "libfuzzer: $(basename "$fuzzer") found a failure; inputs in $work/artifacts" >&2
    exit 1
}
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/log" || true
