#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One bounded libFuzzer run: seed the corpus from the replay target (every
# target writes its valid inputs with --write-corpus DIR; failing to, or
# writing none, fails the run rather than fuzzing from nothing), fuzz for
# SECONDS, and keep any crash input next to the log.
# Usage: run_libfuzzer.sh FUZZER REPLAY WORKDIR SECONDS
set -euo pipefail
fuzzer=$1 replay=$2 work=$3 secs=$4
name=$(basename "$fuzzer")
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
if ! "$replay" --write-corpus "$work/corpus" >"$work/seed.log" 2>&1; then
    cat "$work/seed.log" >&2
    echo "libfuzzer: $name: $(basename "$replay") --write-corpus failed" >&2
    exit 1
fi
seeds=$(find "$work/corpus" -type f -size +0 | wc -l)
if [[ $seeds -eq 0 ]]; then
    echo "libfuzzer: $name: $(basename "$replay") --write-corpus wrote no seed" >&2
    exit 1
fi
echo "libfuzzer: $name, $secs s, $seeds seeds"
"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" 2>"$work/log" || {
    tail -n 60 "$work/log"
    echo "libfuzzer: $name found a failure; inputs in $work/artifacts" >&2
    exit 1
}
# libFuzzer read the seeds (its INITED line counts the corpus it loaded) and ran.
if ! grep -qE "INFO: seed corpus: files: $seeds " "$work/log"; then
    grep -E 'seed corpus|INITED' "$work/log" >&2
    echo "libfuzzer: $name did not load the $seeds seeds" >&2
    exit 1
fi
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/log"
