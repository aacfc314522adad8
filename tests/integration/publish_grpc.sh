#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Port publishing over gRPC (issue 15 step 1): `msbnetd run` in netns H with
# web servers in the guest and no --publish; Python grpcio and msbnetctl
# publish host ports at run time, real clients (curl) reach the guest's
# servers through them, a port in use gives FAILED_PRECONDITION, a bad spec
# INVALID_ARGUMENT, an unknown one NOT_FOUND, ListPublishedPorts shows both,
# and unpublishing refuses new peers while a download already forwarded
# finishes intact (the documented behaviour for live TCP flows).
#   publish_grpc.sh MSBNETD MSBNETCTL PLUGIN PROTO_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN PROTO_DIR}")
ctl=$(realpath "${2:?}")
plugin=$(realpath "${3:?}")
proto=${4:?}
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout curl sha256sum
topo_up || exit 1
source "$here/../lib/checks.sh"
py=/usr/bin/python3
tmp=$TOPO_DIR/ctl # the control socket's own directory (hidden from CMD)
mkdir -p "$tmp"
sock=$tmp/control.sock
export RUNTIME_DIRECTORY=$TOPO_DIR/run
mkdir -p "$RUNTIME_DIRECTORY"
source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1
client() { $py "$here/publish_grpc.py" "$TOPO_DIR" "$sock" "$@"; }
c=("$ctl" --socket "$sock")

head -c $((32 << 20)) /dev/urandom >"$TOPO_WWW/big.bin"
chmod 644 "$TOPO_WWW/big.bin"
want_big=$(sha256sum <"$TOPO_WWW/big.bin" | cut -d' ' -f1)
want_hello=$(cat "$TOPO_WWW/hello.txt")

# The guest: web servers on 8000 and 8001, until SIGTERM.
topo_bg H pub "$msbnetd" --plugin "$plugin" run --slot 5 --control-socket "$sock" \
    -- sh -c "$py $TOPO_DIR/httpd.py 8000 $TOPO_WWW :: & $py $TOPO_DIR/httpd.py 8001 \
$TOPO_WWW :: & $(until_term "$TOPO_DIR/pub.up")"
daemon=$TOPO_LAST_PID
wait_mark "$TOPO_DIR/pub.up" || { bad "CMD never started" "$(cat "$TOPO_DIR/logs/pub.log")"; }
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done

fetch() { # PORT PATH: curl from H's loopback, at most 10 s
    topo_exec_h curl -sS --max-time 10 "http://127.0.0.1:$1/$2" 2>&1
}
# The guest's servers take a moment to bind: retry the first fetch.
fetch_ready() { # PORT
    for _ in $(seq 100); do
        topo_exec_h curl -sf --max-time 2 "http://127.0.0.1:$1/hello.txt" && return 0
        sleep 0.1
    done
}

# --- Python grpcio: publish, reach the guest, the error statuses -------------
out=$(client publish 127.0.0.1:8180:8000)
expect python_publish_reply '"host_port": 8180, "guest_port": 8000' "$out"
expect python_port_reaches_guest "$want_hello" "$(fetch_ready 8180)"
out=$(client expect FAILED_PRECONDITION publish 127.0.0.1:8180:8001)
expect python_republish_failed_precondition "already published" "$out"
# A port another process holds: a listener of H's own.
topo_bg H holder $py -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8185)); s.listen(); print("holding", flush=True); time.sleep(600)'
holder=$TOPO_LAST_PID
wait_mark_line() { for _ in $(seq 100); do grep -q holding "$TOPO_DIR/logs/holder.log" && return; sleep 0.05; done; }
wait_mark_line
out=$(client expect FAILED_PRECONDITION publish 127.0.0.1:8185:8000)
expect python_port_in_use_failed_precondition "Address already in use" "$out"
kill "$holder" 2>/dev/null
out=$(client expect INVALID_ARGUMENT publish 127.0.0.1:80x)
expect python_bad_spec_invalid_argument "ports must be numbers" "$out"
out=$(client expect INVALID_ARGUMENT publish '[::1]:8080')
expect python_bad_v6_spec_invalid_argument "INVALID_ARGUMENT" "$out"
out=$(client expect NOT_FOUND unpublish 127.0.0.1:8199)
expect python_unknown_unpublish_not_found "no such published port" "$out"

# --- msbnetctl: publish, ports, reach the guest ------------------------------
out=$("${c[@]}" publish 127.0.0.1:8181:8001 2>&1)
expect ctl_publish "tcp 127.0.0.1:8181 -> 8001" "$out"
expect ctl_port_reaches_guest "$want_hello" "$(fetch_ready 8181)"
out=$("${c[@]}" publish 127.0.0.1:8181:8000 2>&1)
rc=$?
expect ctl_republish_exit_1 "1 msbnetctl: publish: FAILED_PRECONDITION" "$rc $out"
out=$("${c[@]}" publish 'nonsense' 2>&1)
rc=$?
expect ctl_bad_spec_exit_1 "1 msbnetctl: publish: INVALID_ARGUMENT" "$rc $out"
out=$("${c[@]}" ports 2>&1)
expect ctl_ports_lists_python_one "tcp 127.0.0.1:8180 -> 8000" "$out"
expect ctl_ports_lists_ctl_one "tcp 127.0.0.1:8181 -> 8001" "$out"
out=$("${c[@]}" --json ports 2>&1)
if $py -c 'import json,sys
d = json.loads(sys.argv[1])["ports"]
assert [(p["host_port"], p["guest_port"], p["protocol"], p["host_address"]) for p in d] == \
    [(8180, 8000, "tcp", "127.0.0.1"), (8181, 8001, "tcp", "127.0.0.1")], d' "$out"
then ok ctl_ports_json_in_publish_order; else bad ctl_ports_json_in_publish_order "$out"; fi
out=$(client list)
if $py -c 'import json,sys
d = json.loads(sys.argv[1])["ports"]
assert sorted(p["host_port"] for p in d) == [8180, 8181], d' "$out"
then ok python_list_shows_both; else bad python_list_shows_both "$out"; fi

# --- unpublish: new peers refused, a live download finishes ------------------
# A rate-limited download through 8180 is in flight when 8180 is unpublished.
topo_exec_h sh -c "curl -sS --max-time 60 --limit-rate 4M http://127.0.0.1:8180/big.bin \
    | sha256sum | cut -d' ' -f1 >$TOPO_DIR/live.sum" &
live=$!
sleep 1.5
out=$(client unpublish 127.0.0.1:8180)
expect python_unpublish "ok" "$out"
out=$(topo_exec_h curl -sS --max-time 5 http://127.0.0.1:8180/hello.txt 2>&1)
expect unpublished_refuses_new_peers "curl: (7)" "$out"
wait "$live"
expect live_download_survives_unpublish "$want_big" "$(cat "$TOPO_DIR/live.sum")"
out=$("${c[@]}" unpublish 127.0.0.1:8181 2>&1)
expect ctl_unpublish "ok" "$out"
out=$("${c[@]}" unpublish 127.0.0.1:8181 2>&1)
rc=$?
expect ctl_unpublish_again_not_found "1 msbnetctl: unpublish: NOT_FOUND" "$rc $out"
out=$("${c[@]}" --json ports 2>&1)
expect ctl_ports_empty '{"ports":[]}' "$out"
out=$(topo_exec_h curl -sS --max-time 5 http://127.0.0.1:8181/hello.txt 2>&1)
expect ctl_unpublished_refuses "curl: (7)" "$out"
# Republishing the same port works at once (no TIME_WAIT wait).
"${c[@]}" publish 127.0.0.1:8181:8000 >/dev/null 2>&1
expect republish_reaches_guest "$want_hello" "$(fetch 8181 hello.txt)"

msbnetd_stop pub "$daemon"
checks_done
