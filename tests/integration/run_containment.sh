#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `msbnetd run -- CMD` from the sandboxed command's side, as an attacker: it
# must not reach msbnetd's control plane (the unix socket, the TCP gRPC and
# HTTP listeners through the gateway even under allow@host), must hold no
# capability over the host's namespaces, must see no host process, and must
# not be able to take away what hides the host from it.
#   usage: run_containment.sh PATH_TO_MSBNETD
set -uo pipefail
msbnetd=$(realpath "${1:?usage: run_containment.sh PATH_TO_MSBNETD}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$here/../lib/topology.sh"
topo_require curl $py timeout unshare nsenter
topo_up || exit 1
source "$here/../lib/checks.sh"

GW4=100.96.0.1 GW6=fd42:6d73:62::1
mkdir -p "$TOPO_DIR/ctl"
sock=$TOPO_DIR/ctl/control.sock
http_port=9475 grpc_port=9476
printf '{"policy": "allow@host, allow@public"}\n' >"$TOPO_DIR/host.json"
# A root-owned file CMD may read but must not change, and the host's
# domainname, which a sandbox sharing the host's UTS namespace as uid 0
# could set.
echo original >"$TOPO_DIR/rootfile"
chmod 644 "$TOPO_DIR/rootfile"
domain_before=$(cat /proc/sys/kernel/domainname)

# Everything the attacker tries, one line each.
attack='sock=$1 GW4=$2 GW6=$3 hp=$4 gp=$5 hns=$6
echo "uid=$(id -u)"
echo tampered >>"$7" 2>/dev/null; echo "rootfile_write=$?"
echo evil >/proc/sys/kernel/domainname 2>/dev/null
f=$(mktemp /tmp/msbnet-owner.XXXXXX) && echo "made=$f"
grep CapBnd /proc/self/status
ls -A "$(dirname "$sock")" 2>&1 | sed "s/^/ls: /"
python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print(\"sock=CONNECTED\")
except OSError as e:
    print(\"sock=errno%d\" % e.errno)" "$sock"
umount "$(dirname "$sock")" 2>/dev/null; echo "umount=$?"
unshare -Urm sh -c "umount \"$(dirname "$sock")\"" 2>/dev/null; echo "nested_umount=$?"
unshare -Urm sh -c "umount /proc" 2>/dev/null; echo "nested_umount_proc=$?"
nsenter --net="$hns" true 2>/dev/null; echo "setns_host=$?"
echo "pids=$(ls /proc | grep -c "^[0-9]")"
pat="--print""-metrics"  # one of msbnetd'"'"'s own options, not in this script
for p in /proc/[0-9]*; do
    c=$(tr "\\0" " " <"$p/cmdline" 2>/dev/null)
    case "$c" in *"$pat"*) echo "seen: $p $c" ;; esac
done
echo "init=$(tr "\\0" " " </proc/1/cmdline | cut -c1-12)"
for u in "http://$GW4:$hp/healthz" "http://[$GW6]:$gp/"; do
    curl -sS --max-time 3 -o /dev/null "$u" 2>/dev/null; echo "curl $u rc=$?"
done
curl -sS --max-time 5 -o /dev/null http://198.18.0.1:8080/hello.txt; echo "public rc=$?"'

topo_start_http_i 8080 || exit 1
# msbnetd_fg: msbnetd (and the attack script) must exit 0, with no
# sanitizer report.
out=$(msbnetd_fg msbnetd 0 -- timeout 120 ip netns exec "$TOPO_H" "$msbnetd" run --print-metrics \
    --config "$TOPO_DIR/host.json" --control-socket "$sock" --http "127.0.0.1:$http_port" \
    --control-addr "[::1]:$grpc_port" \
    -- sh -c "$attack" _ "$sock" "$GW4" "$GW6" "$http_port" "$grpc_port" "/var/run/netns/$TOPO_H" \
    "$TOPO_DIR/rootfile")
echo "$out" | sed 's/{"schema".*//'
metrics=$(grep -o '{"schema".*}' <<<"$out" | tail -1)

expect "CMD is root of its own user namespace" "uid=0" "$out"
# ...and nobody on the host: root's files and root's sysctls are not its.
made=$(grep -o 'made=.*' <<<"$out" | cut -d= -f2)
[[ -n $made && $(stat -c %U "$made") == nobody ]] && ok "CMD's files belong to nobody on the host" \
    || bad "CMD's files belong to nobody on the host" "${made:-no file}: $(stat -c %U "$made" 2>&1)"
rm -f "$made"
if grep -q 'rootfile_write=[1-9]' <<<"$out"; then ok "CMD cannot change a root-owned file"
else bad "CMD cannot change a root-owned file" "$(grep rootfile_write <<<"$out")"; fi
[[ $(cat "$TOPO_DIR/rootfile") == original ]] && ok "the root-owned file is unchanged" \
    || bad "the root-owned file is unchanged" "$(cat "$TOPO_DIR/rootfile")"
[[ $(cat /proc/sys/kernel/domainname) == "$domain_before" ]] && ok "the host's domainname is unchanged" \
    || { bad "the host's domainname is unchanged" "$(cat /proc/sys/kernel/domainname)"
         echo "$domain_before" >/proc/sys/kernel/domainname; }
bnd=$(grep -o 'CapBnd:[[:space:]]*[0-9a-f]*' <<<"$out" | awk '{print $2}')
if [[ -n $bnd ]] && (( (0x$bnd >> 21 & 1) == 0 )); then ok "CMD has no CAP_SYS_ADMIN"
else bad "CMD has no CAP_SYS_ADMIN" "CapBnd $bnd"; fi
# Empty, or not even listable (mode 000): either way no socket in it.
if grep '^ls: ' <<<"$out" | grep -qv 'Permission denied'; then
    bad "the socket directory is empty to CMD" "$(grep '^ls: ' <<<"$out")"
else ok "the socket directory is empty to CMD"; fi
if grep -q 'sock=errno' <<<"$out"; then ok "control socket unreachable"
else bad "control socket unreachable" "$(grep 'sock=' <<<"$out")"; fi
expect "cannot unmount what hides it" "umount=32" "$out"
if grep -q 'nested_umount=0\|nested_umount_proc=0' <<<"$out"; then
    bad "a nested user namespace cannot unmount either" "$(grep nested <<<"$out")"
else ok "a nested user namespace cannot unmount either"; fi
if grep -q 'setns_host=0' <<<"$out"; then bad "no setns into the host's netns"
else ok "no setns into the host's netns"; fi
pids=$(grep -o 'pids=[0-9]*' <<<"$out" | cut -d= -f2)
if [[ -n $pids ]] && ((pids <= 8)); then ok "CMD sees only its own processes ($pids)"
else bad "CMD sees only its own processes" "pids=$pids"; fi
grep -q '^seen: ' <<<"$out" && bad "msbnetd and its options are invisible to CMD" "$(grep '^seen: ' <<<"$out")" \
    || ok "msbnetd and its options are invisible to CMD"
expect "pid 1 is a fresh msbnetd-init image" "init=msbnetd-init" "$out"
for u in "http://$GW4:$http_port/healthz" "http://[$GW6]:$grpc_port/"; do
    expect "own listener refused under allow@host: $u" "curl $u rc=7" "$out"
done
expect "allow@public still works" "public rc=0" "$out"
refused=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["policy"]["refused_protected"])' "$metrics" 2>&1)
[[ $refused == 2 ]] && ok "refusals counted (policy.refused_protected)" \
    || bad "refusals counted (policy.refused_protected)" "$refused"

checks_done
