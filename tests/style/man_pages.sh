#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The manual pages render without a single groff or man warning:
#   man_pages.sh PAGE...   (server/msbnetd.8, client/msbnetctl.1)
# man --warnings turns groff's warnings on; they go to stderr, so any stderr
# output fails the page.  A missing man or groff fails too (deploy/bootstrap.sh
# installs man-db and groff): a check that cannot run must not pass.
set -u
if [[ $# -eq 0 ]]; then
    echo "usage: man_pages.sh PAGE..." >&2
    exit 2
fi
for cmd in man groff; do
    if ! command -v "$cmd" >/dev/null; then
        echo "FAIL $cmd not found: install man-db and groff (deploy/bootstrap.sh)"
        exit 1
    fi
done
# Fixed locale and width: the same page must give the same verdict anywhere.
export LC_ALL=C.UTF-8 MANWIDTH=80
fail=0
for page in "$@"; do
    if [[ ! -r $page ]]; then
        echo "FAIL $page: not readable"
        fail=1
        continue
    fi
    warnings=$(man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    rc=$?
    if [[ $rc -ne 0 || -n $warnings ]]; then
        echo "FAIL $page (exit $rc):"
        printf '%s\n' "$warnings"
        fail=1
    else
        echo "ok   $page"
    fi
done
exit "$fail"
