#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Secrets replaced at run time (issue 14: SetSecrets, msbnetctl secrets set).
# msbnetd run --tls-intercept with secrets K and J for api.test, an HTTPS
# upstream in netns I that logs the Authorization header it receives
# (tls_echo_server.py).  The guest sends K's and J's placeholders in three
# phases; between them the test replaces the secrets from outside:
#   A: K = v1, J = j1        -> the upstream sees v1 and j1;
#   Python grpcio SetSecrets: K = v2 (no placeholder: the guest's is kept),
#      J kept               -> B: the upstream sees v2;
#   msbnetctl secrets set -: K = v3 only (J removed)
#                            -> C: the upstream sees v3; J's placeholder is a
#      violation: reset, never received, counted;
# per-secret counters carry over for a kept name (K: 1, 2, 3 substitutions
# after A, B, C) while a removed one's restart (J's tombstone: its one
# violation only);
# and the refusals: bad JSON and a bad entry are INVALID_ARGUMENT naming the
# field, never a value; without interception FAILED_PRECONDITION.  No value
# shows in ListSecrets, msbnetctl's output, the metrics or msbnetd's log.
#   tls_secrets.sh MSBNETD MSBNETCTL PROTO_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PROTO_DIR}")
ctl=$(realpath "${2:?}")
proto=${3:?}
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl openssl dnsmasq timeout pgrep $py
topo_up || exit 1
source "$here/../lib/checks.sh"
GUEST_TIMEOUT=120

source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1
cat >"$TOPO_DIR/set_secrets.py" <<'PY'
import sys
stubs, sock = sys.argv[1:3]
sys.path.insert(0, stubs)
import grpc
from msbnet.v1 import control_pb2 as pb, control_pb2_grpc as pbg
stub = pbg.NetworkControlStub(grpc.insecure_channel("unix:" + sock))
try:
    if sys.argv[3] == "list":
        print(stub.ListSecrets(pb.ListSecretsRequest(), timeout=5))
    else:
        r = stub.SetSecrets(pb.SetSecretsRequest(json=sys.stdin.read()), timeout=5)
        print("OK secrets=%d removed=%d" % (r.secrets, r.removed))
except grpc.RpcError as e:
    print("%s: %s" % (e.code().name, e.details()))
PY
rpc() { $py "$TOPO_DIR/set_secrets.py" "$TOPO_DIR" "$@"; }
# counters_are NAME WANT: msbnetctl's per-secret counters ("ENV subs viols
# [removed]" each) become WANT within 5 s: the stack thread publishes them
# after each TLS event and a replacement at its next wake.
counters_are() {
    local got
    for _ in $(seq 50); do
        got=$("$ctl" --socket "$sock" --json secrets 2>&1 | $py -c 'import json, sys
print(" ".join("%s %d %d%s" % (s["env"], s["substitutions"], s["violations"],
      " removed" if not s["hosts"] else "") for s in json.load(sys.stdin)["secrets"]))' 2>&1)
        [[ $got == "$2" ]] && break
        sleep 0.1
    done
    expect "$1" "$2" "$got"
}

source "$here/../lib/test_ca.sh"
d=$TOPO_DIR/up
test_ca_make "$d" api.test || { bad "upstream CA"; checks_done; exit 1; }
log=$TOPO_DIR/logs/upstream.requests
: >"$log"
topo_bg I https $py "$here/tls_echo_server.py" 443 "$d/leaf.pem" "$d/leaf.key" "$log"
topo_wait_port I $TOPO_I4 443 10 || exit 1
topo_start_dnsmasq_i --address=/api.test/$TOPO_I4 || exit 1
printf '{"tls": {"intercept": true, "upstream_ca_files": ["%s"]}}\n' "$d/ca.pem" \
    >"$TOPO_DIR/tls.json"

v1=sk-one-$(openssl rand -hex 12)
v2=sk-two-$(openssl rand -hex 12)
v3=sk-three-$(openssl rand -hex 12)
v4=sk-four-$(openssl rand -hex 12)
j1=sk-jay-$(openssl rand -hex 12)
export SECK=$v1 SECJ=$j1
sync=$TOPO_DIR/sync
ctld=$TOPO_DIR/ctl # msbnetd hides the control socket's directory from CMD
mkdir -p "$sync" "$ctld"
chmod 777 "$sync"
sock=$ctld/secrets.sock

# The guest: one request per secret per phase, each phase after a mark.
cat >"$TOPO_DIR/guest.sh" <<'SH'
ask() { curl -sS --max-time 10 -H "Authorization: Bearer $2" https://api.test/$1 2>&1 | head -c 200; echo " rc=$?"; }
for phase in A B C; do
    [ $phase = A ] || while [ ! -e "$SYNC/go$phase" ]; do sleep 0.1; done
    echo "$phase K: $(ask k$phase "$SECK")"
    echo "$phase J: $(ask j$phase "$SECJ")"
    : >"$SYNC/done$phase"
done
while [ ! -e "$SYNC/end" ]; do sleep 0.1; done # the counters are read first
SH
SYNC=$sync guest --dns $TOPO_I4 --config "$TOPO_DIR/tls.json" --control-socket "$sock" \
    --secret-env SECK@api.test --secret-env SECJ@api.test --print-metrics -- \
    sh "$TOPO_DIR/guest.sh" >"$TOPO_DIR/guest.out" 2>&1 &
gpid=$!

wait_mark "$sync/doneA" 60 || bad "phase A ran" "$(cat "$TOPO_DIR/guest.out")"
# The values sit in locked pages (msbnetd runs as root: no RLIMIT_MEMLOCK).
# This test's msbnetd (its own control socket): others run beside it under ctest -j.
mpid=$(pgrep -o -f "^$msbnetd run .*--control-socket $sock")
lck=$(awk '/^VmLck:/ {print $2}' "/proc/$mpid/status")
((lck >= 64)) && ok "msbnetd holds the secrets in locked memory (VmLck $lck kB)" \
    || bad "msbnetd holds the secrets in locked memory" "VmLck ${lck:-?} kB"
printf '[{"env": "SECK", "value": "%s", "hosts": ["api.test"]}, {"env": "SECJ", "value": "%s",
    "hosts": ["api.test"]}]' "$v2" "$j1" | rpc "$sock" set >"$TOPO_DIR/set1.out"
expect "grpcio SetSecrets" "OK secrets=2 removed=0" "$(cat "$TOPO_DIR/set1.out")"
touch "$sync/goB"
wait_mark "$sync/doneB" 60 || bad "phase B ran" "$(cat "$TOPO_DIR/guest.out")"
counters_are "B: both names kept, their counters carried over" "SECK 2 0 SECJ 2 0"

# Refusals, while it runs: nothing changes, no value echoed.
bad1=$(printf '[{"env": "SECK", "value": "%s", "hosts": ["api.test"]' "$v4" | rpc "$sock" set)
expect "bad JSON: INVALID_ARGUMENT" "INVALID_ARGUMENT: secrets: invalid JSON" "$bad1"
bad2=$(printf '[{"env": "SECK", "value": "%s", "hosts": []}]' "$v4" | rpc "$sock" set)
expect "empty hosts: INVALID_ARGUMENT naming the field" \
    'INVALID_ARGUMENT: config: key "secrets"[0] ("SECK"): "hosts" must list' "$bad2"
bad3=$(printf '[{"env": "SECK", "value": "%s", "hosts": ["api.test"], "hots": 1}]' "$v4" |
    "$ctl" --socket "$sock" secrets set - 2>&1)
expect "unknown key: msbnetctl exits with INVALID_ARGUMENT" "INVALID_ARGUMENT" "$bad3"
expect "unknown key named" "hots" "$bad3"
[[ "$bad1$bad2$bad3" != *"${v4:8}"* ]] && ok "refusals never echo the value" \
    || bad "a refusal echoed the value" "$bad1 $bad2 $bad3"

set2=$(printf '[{"env": "SECK", "value": "%s", "hosts": ["api.test"]}]' "$v3" |
    "$ctl" --socket "$sock" secrets set - 2>&1)
expect "msbnetctl secrets set -" "1 secret in force, 1 removed" "$set2"
list=$("$ctl" --socket "$sock" secrets 2>&1)
echo "$list"
expect "msbnetctl secrets: the removed one shown" "SECJ" "$(grep removed <<<"$list")"
counters_are "K kept: its counters stay; J removed: its counters gone" "SECK 2 0 SECJ 0 0 removed"
pylist=$(rpc "$sock" list)
touch "$sync/goC"
wait_mark "$sync/doneC" 60 || bad "phase C ran" "$(cat "$TOPO_DIR/guest.out")"
counters_are "C: K counts on from 2; J's tombstone counts its violation" \
    "SECK 3 0 SECJ 0 1 removed"
touch "$sync/end"
wait "$gpid"
out=$(cat "$TOPO_DIR/guest.out")
echo "$out" | grep -v '^{"schema'
cat "$log"

grep -q "^api.test /kA auth=Bearer $v1\$" "$log" && ok "A: the upstream got v1" || bad "A: v1"
grep -q "^api.test /jA auth=Bearer $j1\$" "$log" && ok "A: the upstream got J's value" \
    || bad "A: J's value"
grep -q "^api.test /kB auth=Bearer $v2\$" "$log" && ok "B: SetSecrets' new value, same placeholder" \
    || bad "B: v2"
grep -q "^api.test /kC auth=Bearer $v3\$" "$log" && ok "C: msbnetctl's new value" || bad "C: v3"
grep -q "/jC" "$log" && bad "C: the removed secret's placeholder reached the upstream" \
    || ok "C: the removed secret's placeholder never reaches the upstream"
expect "C: the removed secret's request is reset" "C J: curl: (" "$out"
tls=$(grep -o '"tls":{[^}]*}' <<<"$out" | tail -1)
expect "tls.violations 1" '"violations":1,' "$tls"
expect "tls.secret_mem_unlocked 0" '"secret_mem_unlocked":0' "$tls"
expect "tls.substitutions 5 (A and B both, C only K)" '"substitutions":5,' "$tls"
all="$out$list$pylist$set2$(cat "$TOPO_DIR/logs/guest.log" 2>/dev/null)"
leak=
for v in "$v1" "$v2" "$v3" "$v4" "$j1"; do [[ $all == *"$v"* ]] && leak+=" ${v:0:7}"; done
[[ -z $leak ]] && ok "no value in the guest, ListSecrets, msbnetctl, metrics or the log" \
    || bad "values leaked:$leak"

# Without interception: FAILED_PRECONDITION.
psock=$ctld/plain.sock
topo_bg H plain "$msbnetd" run --slot 9 --control-socket "$psock" -- \
    sh -c "$(until_term "$TOPO_DIR/plain.up")"
plain=$TOPO_LAST_PID
for _ in $(seq 100); do [[ -S $psock ]] && break; sleep 0.05; done
expect "SetSecrets without interception: FAILED_PRECONDITION" "FAILED_PRECONDITION" \
    "$(echo '[]' | rpc "$psock" set)"
msbnetd_stop plain "$plain"
checks_done
