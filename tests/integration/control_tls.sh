#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msbnetd's TCP control listener (--control-addr): plain on loopback only,
# TLS anywhere else (refused at start without it), optional client
# certificates.  Certificates are made now by openssl; msbnetd listens on
# netns H's veth address and the clients (python grpcio, msbnetctl) run in
# netns I, so the TLS traffic really crosses a link.
#   usage: control_tls.sh MSBNETD MSBNETCTL PROTO_DIR
set -uo pipefail
msbnetd=$(realpath "${1:?usage: control_tls.sh MSBNETD MSBNETCTL PROTO_DIR}")
ctl=$(realpath "${2:?}")
proto=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require openssl /usr/bin/python3 timeout
topo_up || exit 1
source "$here/../lib/checks.sh"
d=$TOPO_DIR
# Control sockets in a directory of their own: msbnetd hides it from CMD,
# which leaves its readiness mark in $d.
sd=$d/ctl
mkdir -p "$sd"
source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$d" "$proto" || exit 1

# --- certificates: a self-signed server cert for H's address, a client CA
# with one client cert, and an unrelated self-signed pair (the wrong CA). ---
mk() { openssl "$@" >>"$d/openssl.log" 2>&1 || { echo "FAIL openssl $*"; exit 1; }; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1)
mk req -x509 "${ec[@]}" -keyout "$d/server.key" -out "$d/server.pem" -subj /CN=msbnetd \
    -addext "subjectAltName=IP:$TOPO_H4,IP:127.0.0.1"
mk req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" -subj /CN=test-client-ca
mk req "${ec[@]}" -keyout "$d/client.key" -out "$d/client.csr" -subj /CN=vmm
mk x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
    -out "$d/client.pem"
mk req -x509 "${ec[@]}" -keyout "$d/other.key" -out "$d/other.pem" -subj /CN=other \
    -addext "subjectAltName=IP:$TOPO_H4"

start() { # NAME OPTIONS...: msbnetd run in H until stopped
    local name=$1
    shift
    topo_bg H "$name" "$msbnetd" run --control-socket "$sd/$name.sock" "$@" -- \
        sh -c "$(until_term "$d/$name.up")"
    wait_mark "$d/$name.up" && for _ in $(seq 100); do [[ -S $sd/$name.sock ]] && return 0; sleep 0.05; done
    bad "$name did not start" "$(cat "$d/logs/$name.log")"
    return 1
}
stop() { # PID NAME: SIGTERM; exit 0 and no sanitizer report (checks.sh)
    msbnetd_stop "$2" "$1"
}
py() { # NS TARGET [TLS OPTIONS]
    local ns=$1
    shift
    ip netns exec "$(_topo_ns "$ns")" /usr/bin/python3 "$here/control_tls.py" "$d" "$@" 2>&1
}
refused() { # NAME WANT_TEXT OPTIONS...: msbnetd must refuse at start with status 2
    local name=$1 want=$2 out
    shift 2
    out=$(msbnetd_fg refused 2 -- topo_exec_h "$msbnetd" run --control-socket "$sd/refused.sock" \
        "$@" -- true)
    [[ $out == *"$want"* && ! -e $sd/refused.sock ]] && ok "$name: refused, saying why" \
        || bad "$name" "$out"
}

# --- refused at start --------------------------------------------------------
refused "non-loopback without TLS" "needs TLS" --control-addr "$TOPO_H4:7443"
refused "any-address without TLS" "needs TLS" --control-addr "0.0.0.0:7443"
refused "IPv6 non-loopback without TLS" "needs TLS" --control-addr "[$TOPO_H6]:7443"
refused "TLS without --control-addr" "need --control-addr" \
    --tls-cert "$d/server.pem" --tls-key "$d/server.key"
refused "--tls-cert without --tls-key" "go together" --control-addr "$TOPO_H4:7443" \
    --tls-cert "$d/server.pem"
refused "--tls-client-ca alone" "needs --tls-cert" --control-addr 127.0.0.1:7443 \
    --tls-client-ca "$d/ca.pem"
refused "unreadable --tls-key" "cannot read" --control-addr "$TOPO_H4:7443" \
    --tls-cert "$d/server.pem" --tls-key "$d/none.key"
refused "host name instead of an address" "names are not resolved" --control-addr localhost:7443
out=$(msbnetd_fg garbage_pem 1 -- topo_exec_h "$msbnetd" run --control-socket "$sd/garbage.sock" \
    --control-addr "$TOPO_H4:7443" --tls-cert "$d/openssl.log" --tls-key "$d/openssl.log" -- true)
[[ $out == *"cannot listen"* && ! -e $sd/garbage.sock ]] \
    && ok "garbage PEM: msbnetd says it cannot listen, no socket left" \
    || bad "garbage PEM" "$out"

# --- plain TCP on loopback ---------------------------------------------------
if start plain --control-addr 127.0.0.1:7000; then
    pid=$TOPO_LAST_PID
    expect "python grpcio, plain loopback" "OK " "$(py H 127.0.0.1:7000)"
    expect "msbnetctl --addr 127.0.0.1:7000 status" "guest_ipv4" \
        "$(topo_exec_h "$ctl" --addr 127.0.0.1:7000 status 2>&1)"
    expect "not reachable from I (bound to loopback)" "ERR UNAVAILABLE" "$(py I "$TOPO_H4:7000")"
    stop "$pid" plain
fi
if start plain6 --control-addr '[::1]:7001'; then
    pid=$TOPO_LAST_PID
    expect "msbnetctl --addr [::1]:7001 status" "guest_ipv4" \
        "$(topo_exec_h "$ctl" --addr '[::1]:7001' status 2>&1)"
    stop "$pid" plain6
fi

# --- TLS on H's veth address, clients in I ------------------------------------
if start tls --control-addr "$TOPO_H4:7443" --tls-cert "$d/server.pem" --tls-key "$d/server.key"; then
    pid=$TOPO_LAST_PID
    expect "python grpcio over TLS from I: status and a snapshot" "OK " \
        "$(py I "$TOPO_H4:7443" --ca "$d/server.pem")"
    expect "python plain client to the TLS port fails" "ERR UNAVAILABLE" "$(py I "$TOPO_H4:7443")"
    expect "python with the wrong CA fails" "ERR UNAVAILABLE" \
        "$(py I "$TOPO_H4:7443" --ca "$d/other.pem")"
    expect "msbnetctl --addr --tls-ca status from I" "guest_ipv4" \
        "$(topo_exec_i "$ctl" --addr "$TOPO_H4:7443" --tls-ca "$d/server.pem" status 2>&1)"
    out=$(topo_exec_i "$ctl" --addr "$TOPO_H4:7443" status 2>&1)
    rc=$?
    [[ $rc -eq 69 ]] && ok "msbnetctl without TLS to the TLS port: 69" || bad "plain msbnetctl" "rc $rc $out"
    expect "msbnetctl TLS flags need --addr" "need --addr" \
        "$("$ctl" --tls-ca "$d/server.pem" status 2>&1)"
    expect "the unix socket still serves" "guest_ipv4" "$("$ctl" --socket "$sd/tls.sock" status 2>&1)"
    stop "$pid" tls
fi

# --- TLS with client certificates required ------------------------------------
if start mtls --control-addr "$TOPO_H4:7444" --tls-cert "$d/server.pem" --tls-key "$d/server.key" \
    --tls-client-ca "$d/ca.pem"; then
    pid=$TOPO_LAST_PID
    expect "client cert signed by the CA: OK" "OK " \
        "$(py I "$TOPO_H4:7444" --ca "$d/server.pem" --cert "$d/client.pem" --key "$d/client.key")"
    expect "no client cert: refused" "ERR UNAVAILABLE" "$(py I "$TOPO_H4:7444" --ca "$d/server.pem")"
    expect "client cert from another CA: refused" "ERR UNAVAILABLE" \
        "$(py I "$TOPO_H4:7444" --ca "$d/server.pem" --cert "$d/other.pem" --key "$d/other.key")"
    expect "msbnetctl --tls-cert/--tls-key" "guest_ipv4" \
        "$(topo_exec_i "$ctl" --addr "$TOPO_H4:7444" --tls-ca "$d/server.pem" \
            --tls-cert "$d/client.pem" --tls-key "$d/client.key" status 2>&1)"
    stop "$pid" mtls
fi
checks_done
