# Shared by the msbnetd_* integration tests (sourced).  Usage of a test:
#   TEST.sh MSBNETD REAL_PLUGIN ECHO_PLUGIN
# The real plugin is used wherever it has a data plane (start/addresses_json);
# until then the echo plugin (tests/integration/echo_plugin.c) stands in, and
# the test says so.
set -u
msbnetd=${1:?usage: $0 MSBNETD REAL_PLUGIN ECHO_PLUGIN}
real_plugin=${2:?}
echo_plugin=${3:?}
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect NAME GOT WANT: exact comparison with both values shown on failure.
expect() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else ko "$1: got [$2], want [$3]"; fi
}

# check NAME WANT_RC WANT_TEXT CMD...: exit status and a substring of stdout+stderr.
check() {
    local name=$1 want_rc=$2 want_text=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [[ $rc -eq $want_rc && $out == *"$want_text"* ]]; then
        ok "$name"
    else
        ko "$name: rc=$rc (want $want_rc), output: $out"
    fi
}

finish() {
    echo "$pass passed, $fail failed"
    [[ $fail -eq 0 ]]
}

require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "this test needs root (network namespaces, TAP devices)"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

pick_plugin() {
    if "$msbnetd" --plugin "$real_plugin" version 2>/dev/null | grep -q "data plane yes"; then
        plugin=$real_plugin
    else
        plugin=$echo_plugin
        echo "note: $real_plugin has no data plane (or does not load); using the echo plugin"
    fi
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

# Processes still in the network namespace with this inode (net:[N]).
procs_in_netns() {
    local want=$1 n=0 l
    for l in /proc/[0-9]*/ns/net; do
        [[ $(readlink "$l" 2>/dev/null) == "$want" ]] && n=$((n + 1))
    done
    echo $n
}
