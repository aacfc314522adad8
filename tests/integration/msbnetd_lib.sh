# SPDX-License-Identifier: Apache-2.0
# Shared by the msbnetd_* integration tests (sourced).  Usage of a test:
#   TEST.sh MSBNETD REAL_PLUGIN ECHO_PLUGIN
# The real plugin is required wherever a test asks for it: if it does not
# load or has no data plane, require_real_plugin fails the test (never a
# silent switch to the echo plugin).  The echo plugin
# (tests/integration/echo_plugin.c) is used only where a test says so.
# Verdicts, and the judgement of how each msbnetd ended (exit status, no
# sanitizer report), come from tests/lib/checks.sh.
set -u
msbnetd=${1:?usage: $0 MSBNETD REAL_PLUGIN ECHO_PLUGIN}
real_plugin=${2:?}
echo_plugin=${3:?}
. "$(dirname "${BASH_SOURCE[0]}")/../lib/checks.sh"

ko() { bad "$1"; }

# expect NAME GOT WANT: exact comparison with both values shown on failure
# (replaces checks.sh's substring expect in these scripts).
expect() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else ko "$1: got [$2], want [$3]"; fi
}

# check NAME WANT_RC WANT_TEXT CMD...: exit status and a substring of
# stdout+stderr, which must hold no sanitizer report either (CMD may be
# msbnetd itself, ended at once by a refusal).
check() {
    local name=$1 want_rc=$2 want_text=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [[ $out =~ Sanitizer|runtime\ error ]]; then
        ko "$name: sanitizer report: $out"
    elif [[ $rc -eq $want_rc && $out == *"$want_text"* ]]; then
        ok "$name"
    else
        ko "$name: rc=$rc (want $want_rc), output: $out"
    fi
}

finish() { checks_done; }

# wait_file PATH [SECS]: until it exists (a guest and the test take turns),
# 20 s at most.
wait_file() {
    local i
    for ((i = 0; i < ${2:-20} * 20; i++)); do [[ -e $1 ]] && return 0; sleep 0.05; done
    ko "$1 never appeared"
    return 1
}

require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "this test needs root (network namespaces, TAP devices)"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

# The real plugin, loaded and with a data plane, or the test fails here.
require_real_plugin() {
    local v
    v=$("$msbnetd" --plugin "$real_plugin" version 2>&1)
    if [[ $v != *"data plane yes"* ]]; then
        ko "the real plugin $real_plugin does not load or has no data plane: $v"
        finish
        exit 1
    fi
    plugin=$real_plugin
}

# slot -> expected addressing (derived as in plugin/src/model/addressing.c)
expected_addrs() {
    local s=$1 base=$((4 * $1))
    gw4="100.96.$((base / 256)).$((base % 256 + 1))"
    guest4="100.96.$((base / 256)).$((base % 256 + 2))"
    if [[ $s -eq 0 ]]; then gw6="fd42:6d73:62::1"; guest6="fd42:6d73:62::2"
    else gw6="fd42:6d73:62:$(printf %x "$s")::1"; guest6="fd42:6d73:62:$(printf %x "$s")::2"; fi
    mac=$(printf '02:6d:73:%02x:%02x:02' $((s >> 8)) $((s & 255)))
}

# Processes left of one run: those whose environment holds TAG=VALUE (set
# on msbnetd's command line; the sandbox's helper, its init and CMD inherit
# it) and whose network namespace is NS (net:[N]).  An inode alone is no
# proof: the kernel reuses a freed namespace's inode, and a test running
# beside this one may own a namespace with the same number a moment later.
procs_in_netns() { # NS TAG=VALUE
    local want=$1 tag=$2 n=0 l p
    for l in /proc/[0-9]*/ns/net; do
        [[ $(readlink "$l" 2>/dev/null) == "$want" ]] || continue
        p=${l%/ns/net}
        tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "$tag" && n=$((n + 1))
    done
    echo $n
}
