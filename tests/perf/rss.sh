#!/usr/bin/env bash
# msbnetd's memory: resident set size idle and with N open guest TCP flows
# (default 1000), next to slirp4netns holding the same flows in the same
# topology.  A benchmark, not a test: it prints numbers, it judges nothing.
#   usage: tests/perf/rss.sh [N]     (MSBNETD=path overrides build/bin/msbnetd)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${1:-1000}
MSBNETD=${MSBNETD:-$top/build/bin/msbnetd}
peer="/usr/bin/python3 $top/tests/integration/tcp_peer.py"
source "$top/tests/lib/topology.sh"
topo_require slirp4netns /usr/bin/python3
[[ -x $MSBNETD ]] || { echo "msbnetd not built: $MSBNETD" >&2; exit 1; }
topo_up
topo_bg I hold $peer serve-hold 9100
sleep 1

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

# One stack attached to G: idle RSS, then RSS while G holds N flows open.
measure() { # name, daemon command...
    local name=$1
    shift
    topo_bg H "$name" "$@"
    local pid=$TOPO_LAST_PID
    for _ in $(seq 100); do
        ip -n "$TOPO_G" route show default | grep -q . && break
        sleep 0.1
    done
    sleep 1
    # topo_bg's `ip netns exec` execs in place: pid is the daemon itself.
    local dpid=$pid idle
    idle=$(rss_kib "$dpid")
    ip netns exec "$TOPO_G" /usr/bin/python3 -c "
import socket, sys, time, resource
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE); resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
c = [socket.create_connection(('198.18.0.1', 9100)) for _ in range($N)]
print('open', len(c), flush=True)
time.sleep(4)
" >"$TOPO_DIR/$name.hold" &
    local holder=$!
    sleep 3
    local busy
    busy=$(rss_kib "$dpid")
    wait "$holder" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ip -n "$TOPO_G" link show tap0 >/dev/null 2>&1 || break; sleep 0.1; done
    printf '%-12s idle %7d KiB   with %s flows %7d KiB   (%s)\n' "$name" "$idle" "$N" "$busy" \
        "$(cat "$TOPO_DIR/$name.hold")"
}

measure msbnet "$MSBNETD" tap --netns "/var/run/netns/$TOPO_G" --egress allow
measure slirp4netns slirp4netns --configure --mtu=1500 --netns-type=path "/var/run/netns/$TOPO_G" tap0
