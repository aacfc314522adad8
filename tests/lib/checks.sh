# shellcheck shell=bash
# checks.sh — the shared vocabulary of the data-plane scripts: count checks,
# say each verdict on its own line, and run one command sandboxed by msbnetd.
# The caller sets $msbnetd and sources tests/lib/topology.sh first.

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
expect() { # name, wanted substring, actual text
    if [[ $3 == *"$2"* ]]; then ok "$1"; else bad "$1" "wanted '$2', got '$3'"; fi
}

# The closing line CI reads, and the script's status.
checks_done() {
    echo "$pass passed, $fail failed"
    [[ $fail -eq 0 ]]
}

# guest [MSBNETD-OPTIONS] -- CMD...: CMD in a fresh sandbox whose only
# network is msbnetd in netns H (egress allowed unless an option says
# otherwise); stdout and stderr captured.  GUEST_TIMEOUT bounds it.
guest() {
    local opts=()
    while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    timeout "${GUEST_TIMEOUT:-300}" ip netns exec "$TOPO_H" "$msbnetd" run --egress allow \
        "${opts[@]}" -- "$@" 2>&1
}

# serve NAME ARGS...: `$peer ARGS...` (tcp_peer.py, whose one-shot servers
# print "listening" once bound) in netns I, waited for by that line rather
# than by probing the port, which would use up its single accept.
serve() {
    local name=$1
    shift
    topo_bg I "$name" $peer "$@"
    for _ in $(seq 100); do
        grep -q listening "$TOPO_DIR/logs/$name.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server $name never listened: $(cat "$TOPO_DIR/logs/$name.log")" >&2
    return 1
}
