#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Self-test of one style checker: a checker that cannot fail is worthless.
# fixtures/CHECK.sh builds a small tree in a fresh git repository (clean:
# the checker must pass and print nothing), then injects violations and
# prints the "path:line" each must be reported at (dirty: the checker must
# exit 1 and report exactly those places, each as "path:line: what").
#
# Usage: selftest.sh CHECK [ARGS...]   (CHECK: layers, func_length,
# purpose_line, exports, readmes, spdx, test_honesty; ARGS go to the
# fixture, e.g. the C compiler for exports)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=${1:?usage: selftest.sh CHECK [ARGS...]}
shift
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

# put PATH: write stdin to PATH inside the fixture tree.
put() { mkdir -p "$(dirname "$tree/$1")" && cat >"$tree/$1"; }
# checker: run the checker under test on the fixture (fixtures may
# redefine it, e.g. exports takes binaries rather than a tree).
checker() { "$here/$check.py" "$tree"; }
# shellcheck source=/dev/null
source "$here/fixtures/$check.sh"

git -C "$tree" init -q
fixture "$@"
git -C "$tree" add -A
if ! out=$(checker 2>&1) || [[ -n $out ]]; then
    echo "FAIL $check: the clean fixture is reported:"; echo "$out"; exit 1
fi
echo "ok   $check passes the clean fixture"

want=$(inject "$@" | sort -u)
git -C "$tree" add -A
rc=0
out=$(checker 2>&1) || rc=$?
echo "     | ${out//$'\n'/$'\n     | '}"
got=$(sed -E 's/^([^:]+:[0-9]+): .+/\1/' <<<"$out" | sort -u)
if [[ $rc -ne 1 ]]; then
    echo "FAIL $check: exit status $rc with violations injected (want 1)"; exit 1
elif grep -vE '^[^:]+:[0-9]+: .+' <<<"$out"; then
    echo "FAIL $check: the lines above are not 'path:line: what is wrong'"; exit 1
elif [[ $got != "$want" ]]; then
    echo "FAIL $check: reported places differ from the injected ones:"
    diff <(echo "$want") <(echo "$got") | sed 's/^</  missed:/; s/^>/  extra: /' | grep -v '^[0-9-]'
    exit 1
fi
echo "ok   $check reports each injected violation ($(wc -l <<<"$want") places)"
