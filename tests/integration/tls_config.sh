#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS interception and secrets, configuration and control plane (issue 14
# step 2; the data path does not intercept yet): msbnetd run --tls-intercept
# with --secret-env / --secret-file / --secret in netns H.  Inside CMD (as
# nobody under a root msbnetd): each ENV holds a placeholder, never the
# value; SSL_CERT_FILE & co. name a readable bundle whose last certificate
# is the sandbox CA; no private key is readable where CMD looks.  Outside:
# msbnetctl ca and Python grpcio GetCaCertificate give that same CA;
# ListSecrets / msbnetctl secrets list names and hosts, never a value; no
# value in metrics, status or ps; FAILED_PRECONDITION without interception;
# bad configs exit 2 naming the problem, never the value; a user CA is
# served as given, a missing one fails start.  Every msbnetd is judged.
#   tls_config.sh MSBNETD MSBNETCTL PLUGIN PROTO_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
msbnetd=$(realpath "${1:?usage: $0 MSBNETD MSBNETCTL PLUGIN PROTO_DIR}")
ctl=$(realpath "${2:?}")
plugin=$(realpath "${3:?}")
proto=${4:?}
source "$here/../lib/topology.sh"
topo_require /usr/bin/python3 timeout openssl
topo_up || exit 1
source "$here/../lib/checks.sh"
py=/usr/bin/python3
tmp=$TOPO_DIR/ctl # control sockets: msbnetd hides this directory from CMD
mkdir -p "$tmp"
source "$here/../lib/grpc_stubs.sh"
grpc_stubs "$TOPO_DIR" "$proto" || exit 1
cat >"$TOPO_DIR/tls_client.py" <<'PY'
import sys
stubs, sock, mode = sys.argv[1:4]
sys.path.insert(0, stubs)
import grpc
from msbnet.v1 import control_pb2 as pb, control_pb2_grpc as pbg
stub = pbg.NetworkControlStub(grpc.insecure_channel("unix:" + sock))
try:
    if mode == "ca":
        sys.stdout.write(stub.GetCaCertificate(pb.GetCaCertificateRequest(), timeout=5).pem)
    else:  # the whole reply, text and wire bytes, for the caller to search
        r = stub.ListSecrets(pb.ListSecretsRequest(), timeout=5)
        print(r)
        print(r.SerializeToString().decode("latin-1"))
except grpc.RpcError as e:
    print("%s: %s" % (e.code().name, e.details()))
PY
client() { $py "$TOPO_DIR/tls_client.py" "$TOPO_DIR" "$@"; }
fp() { openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
# The last PEM certificate of a bundle on stdin.
last_cert() { awk '/-----BEGIN CERTIFICATE-----/ { c = "" } { c = c $0 "\n" } END { printf "%s", c }'; }

# Values: random, so a match can only be a leak.
val_env=sk-env-$(openssl rand -hex 16)
val_file=sk-file-$(openssl rand -hex 16)
val_arg=sk-arg-$(openssl rand -hex 16)
val_short=sk-s-$(openssl rand -hex 4) # jansson quotes up to 20 bytes "near" an error
printf '%s\n' "$val_file" >"$TOPO_DIR/file.secret"
chmod 600 "$TOPO_DIR/file.secret" # msbnetd (root) reads it; CMD (nobody) cannot
export TLSCFG_KEY=$val_env
no_value() { # NAME TEXT: none of the values (nor a 12-byte piece of one) in TEXT
    local v leaked=
    for v in "$val_env" "$val_file" "$val_arg" "$val_short"; do
        [[ $2 == *"$v"* || $2 == *"${v:7:12}"* ]] && leaked+=" ${v:0:7}..."
    done
    [[ -z $leaked ]] && ok "$1: no secret value" || bad "$1: value leaked:$leaked"
}

sys_bundle=/etc/ssl/certs/ca-certificates.crt
sys_sum=$(sha256sum <"$sys_bundle")
sys_n=$(grep -c 'BEGIN CERTIFICATE' "$sys_bundle")

# CMD writes what it sees, then waits for SIGTERM.
cat >"$TOPO_DIR/inner.sh" <<'SH'
out=$TOPO_OUT
{
    echo "env=$TLSCFG_KEY"
    echo "file=$FILEKEY"
    echo "arg=$ARGKEY"
    echo "vars=$SSL_CERT_FILE|$CURL_CA_BUNDLE|$NODE_EXTRA_CA_CERTS|$REQUESTS_CA_BUNDLE"
    [ -r "$SSL_CERT_FILE" ] && echo "readable=yes"
    echo "certs=$(grep -c 'BEGIN CERTIFICATE' "$SSL_CERT_FILE")"
    echo "uid_outside=$(awk '{print $2}' /proc/self/uid_map)"
    # Where a key could be left for CMD: the shared temp directories (not
    # recursing into /tmp, whose other tests' trees are not ours to judge),
    # the trust store, msbnetd's runtime directories, the environment.
    keys=$( { find /tmp -maxdepth 1 -type f -readable; find /var/tmp /dev/shm /run /etc/ssl \
              "$TOPO_DIR" -type f -readable 2>/dev/null; } | xargs -r grep -l 'PRIVATE[ ]KEY' 2>/dev/null)
    env | grep -q 'PRIVATE[ ]KEY' && keys="$keys environ"
    echo "keys=[$keys]"
    env | grep -cE 'sk-(env|file|arg)-' | sed 's/^/sk_in_env=/'
} >"$out.tmp" 2>&1
awk '/-----BEGIN CERTIFICATE-----/ { c = "" } { c = c $0 "\n" } END { printf "%s", c }' \
    "$SSL_CERT_FILE" >"$out.ca"
mv "$out.tmp" "$out"
SH
chmod 644 "$TOPO_DIR/inner.sh"

start_daemon() { # NAME SOCKET OPTIONS...: msbnetd run in H, CMD = inner.sh + until_term
    local name=$1 sock=$2
    shift 2
    # The CA variables come from msbnetd alone, not from this environment.
    topo_bg H "$name" env -u SSL_CERT_FILE -u CURL_CA_BUNDLE -u NODE_EXTRA_CA_CERTS \
        -u REQUESTS_CA_BUNDLE TOPO_OUT="$TOPO_DIR/$name.cmd" "$msbnetd" --plugin "$plugin" run \
        --slot 9 --control-socket "$sock" "$@" \
        -- sh -c ". $TOPO_DIR/inner.sh; $(until_term "$TOPO_DIR/$name.up")"
    daemon=$TOPO_LAST_PID
    wait_mark "$TOPO_DIR/$name.up" || { bad "$name: CMD never started" \
        "$(cat "$TOPO_DIR/logs/$name.log")"; return 1; }
    for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.05; done
    bad "$name: no control socket" "$(cat "$TOPO_DIR/logs/$name.log")"
    return 1
}

# ---- interception on, three secrets ------------------------------------------
sock=$tmp/tls.sock
if start_daemon tls "$sock" --tls-intercept --tls-port 443 --tls-port 8443 \
    --secret-env TLSCFG_KEY@api.example.com,*.example.org \
    --secret-file "FILEKEY=$TOPO_DIR/file.secret@files.example" \
    --secret "ARGKEY=$val_arg@args.example" --on-secret-violation block-and-log; then
    cmd_out=$(cat "$TOPO_DIR/tls.cmd")
    ph_env=$(sed -n 's/^env=//p' <<<"$cmd_out")
    ph_file=$(sed -n 's/^file=//p' <<<"$cmd_out")
    ph_arg=$(sed -n 's/^arg=//p' <<<"$cmd_out")
    no_value "CMD's environment and view" "$cmd_out"
    for ph in "$ph_env" "$ph_file" "$ph_arg"; do
        if [[ $ph =~ ^[g-zG-Z][A-Za-z0-9]{7,127}$ && ! $ph =~ ^[bfnrtu] ]]; then
            ok "CMD holds a placeholder (${#ph} bytes)"
        else bad "CMD's variable is not a placeholder: '$ph'"; fi
    done
    [[ ${#ph_env} -eq ${#val_env} ]] && ok "placeholder as long as its value (${#val_env})" \
        || bad "placeholder length ${#ph_env}, value ${#val_env}"
    expect "CA variables name the bundle" \
        "vars=$sys_bundle|$sys_bundle|$sys_bundle|$sys_bundle" "$cmd_out"
    expect "bundle readable by CMD" "readable=yes" "$cmd_out"
    expect "bundle = system bundle + 1" "certs=$((sys_n + 1))" "$cmd_out"
    expect "CMD is nobody outside" "uid_outside=65534" "$cmd_out"
    expect "no private key readable by CMD" "keys=[]" "$cmd_out"
    expect "no sk- value in CMD's environment" "sk_in_env=0" "$cmd_out"
    subj=$(openssl x509 -noout -subject <"$TOPO_DIR/tls.cmd.ca")
    expect "bundle's last certificate is the sandbox CA" "msbnet sandbox CA" "$subj"
    [[ $(sha256sum <"$sys_bundle") == "$sys_sum" ]] && ok "host's bundle unchanged" \
        || bad "host's $sys_bundle changed"

    cmdline=$(tr '\0' ' ' <"/proc/$daemon/cmdline")
    no_value "msbnetd's argv (ps)" "$cmdline"
    expect "argv still names the secrets" "ARGKEY=" "$cmdline"

    in_cmd=$(fp <"$TOPO_DIR/tls.cmd.ca")
    via_ctl=$("$ctl" --socket "$sock" ca | fp)
    via_py=$(client "$sock" ca | fp)
    [[ -n $in_cmd && $in_cmd == "$via_ctl" ]] && ok "msbnetctl ca = CMD's CA ($in_cmd)" \
        || bad "msbnetctl ca" "CMD '$in_cmd', msbnetctl '$via_ctl'"
    [[ -n $in_cmd && $in_cmd == "$via_py" ]] && ok "grpcio GetCaCertificate = CMD's CA" \
        || bad "grpcio GetCaCertificate" "'$via_py' $(client "$sock" ca | head -2)"
    expect "msbnetctl ca is a certificate, no key" "-----END CERTIFICATE-----" \
        "$("$ctl" --socket "$sock" ca)"
    [[ $("$ctl" --socket "$sock" ca) != *PRIVATE* ]] && ok "msbnetctl ca: no key" \
        || bad "msbnetctl ca printed a key"
    expect "msbnetctl --json ca" '{"pem":"-----BEGIN CERTIFICATE-----' \
        "$("$ctl" --socket "$sock" --json ca)"

    sec=$("$ctl" --socket "$sock" secrets 2>&1)
    expect "msbnetctl secrets: TLSCFG_KEY and hosts" \
        "hosts api.example.com,*.example.org" "$(grep TLSCFG_KEY <<<"$sec")"
    expect "msbnetctl secrets: FILEKEY" "hosts files.example" "$(grep FILEKEY <<<"$sec")"
    expect "msbnetctl secrets: on_violation" "on_violation block-and-log" "$sec"
    expect "msbnetctl secrets: interception on" "interception on" "$sec"
    jsec=$("$ctl" --socket "$sock" --json secrets 2>&1)
    expect "msbnetctl --json secrets" '"env":"ARGKEY","hosts":["args.example"]' "$jsec"
    pysec=$(client "$sock" secrets)
    expect "grpcio ListSecrets" 'env: "FILEKEY"' "$pysec"
    all="$sec$jsec$pysec$("$ctl" --socket "$sock" --json metrics)$("$ctl" --socket "$sock" --json status)"
    all+=$("$ctl" --socket "$sock" policy get)$(cat "$TOPO_DIR/logs/tls.log")
    no_value "secrets, metrics, status, policy, msbnetd's log" "$all"
    for ph in "$ph_env" "$ph_file" "$ph_arg"; do
        [[ -n $ph && $all != *"$ph"* ]] && ok "no placeholder in the control plane's output" \
            || bad "placeholder '$ph' in the control plane's output"
    done
    msbnetd_stop tls "$daemon"
fi

# ---- interception off: no CA --------------------------------------------------
sock=$tmp/plain.sock
if start_daemon plain "$sock"; then
    expect "grpcio GetCaCertificate without interception" "FAILED_PRECONDITION" \
        "$(client "$sock" ca)"
    out=$("$ctl" --socket "$sock" ca 2>&1)
    rc=$?
    [[ $rc -eq 1 && $out == *FAILED_PRECONDITION* ]] && ok "msbnetctl ca without interception: exit 1" \
        || bad "msbnetctl ca without interception" "rc=$rc $out"
    expect "msbnetctl secrets: none" "interception off, scan_plaintext off, 0 secrets" \
        "$("$ctl" --socket "$sock" secrets)"
    cmd_out=$(cat "$TOPO_DIR/plain.cmd")
    expect "no CA variables without interception" "vars=|||" "$cmd_out"
    msbnetd_stop plain "$daemon"
fi

# ---- refusals: exit 2, the problem named, no value ------------------------------
refuse() { # NAME WANT_TEXT MSBNETD-OPTIONS...
    local name=$1 want=$2 out
    shift 2
    out=$(msbnetd_fg "$name" 2 -- timeout 60 ip netns exec "$TOPO_H" "$msbnetd" --plugin "$plugin" \
        run --slot 9 --control-socket "$tmp/refused.sock" "$@" -- true)
    expect "$name: message" "$want" "$out"
    no_value "$name" "$out"
}
cfg() { printf '%s' "$2" >"$TOPO_DIR/$1.json"; echo "$TOPO_DIR/$1.json"; }
refuse "secret with empty hosts (config)" '"hosts" must list at least one host' \
    --config "$(cfg empty_hosts "{\"tls\":{\"intercept\":true},\"secrets\":[{\"env\":\"K\",\"value\":\"$val_arg\",\"hosts\":[]}]}")"
refuse "secret with no host (option)" 'expected ENV=VALUE@HOST[,HOST]' \
    --tls-intercept --secret "K=$val_arg@"
refuse "verify_upstream false with secrets" '"tls.verify_upstream" may be false only without secrets' \
    --config "$(cfg noverify '{"tls":{"intercept":true,"verify_upstream":false}}')" \
    --secret-env TLSCFG_KEY@api.example.com
refuse "only ca_cert" '"tls.ca_cert" and "tls.ca_key" go together' \
    --tls-intercept --config "$(cfg only_cert '{"tls":{"ca_cert":"/etc/hostname"}}')"
refuse "secrets without --tls-intercept" 'key "secrets" needs "tls": {"intercept": true}' \
    --secret-env TLSCFG_KEY@api.example.com
refuse "value with a control byte" 'the value must be 1..4096 bytes without control characters' \
    --config "$(cfg ctrl "{\"tls\":{\"intercept\":true},\"secrets\":[{\"env\":\"K\",\"value\":\"$val_arg\\u0007\",\"hosts\":[\"a.example\"]}]}")"
# A raw control byte inside the value: jansson would quote the value "near"
# it, in the plugin's parser and in msbnetd's own reading of the file.
refuse "JSON syntax error inside a value (file)" 'control character 0x7' \
    --config "$(cfg syntax "{\"tls\":{\"intercept\":true},\"secrets\":[{\"env\":\"K\",\"value\":\"$val_short"$'\a'"\"}]}")"
refuse "unset --secret-env variable" 'environment variable TLSCFG_UNSET (value_env) is not set' \
    --tls-intercept --secret-env TLSCFG_UNSET@a.example
refuse "unreadable --secret-file" 'cannot read' \
    --tls-intercept --secret-file "K=$TOPO_DIR/none.secret@a.example"
refuse "--tls-port 0" '"0" is not a port' --tls-port 0
refuse "--on-secret-violation bogus" 'must be block, block-and-log or block-and-terminate' \
    --on-secret-violation bogus

# ---- a user CA: served as given; a missing one fails start ------------------------
mkdir -m 700 "$TOPO_DIR/userca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=tlscfg user CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$TOPO_DIR/userca/ca.key" -out "$TOPO_DIR/userca/ca.pem" 2>/dev/null
sock=$tmp/userca.sock
if start_daemon userca "$sock" --config "$(cfg userca \
    "{\"tls\":{\"intercept\":true,\"ca_cert\":\"$TOPO_DIR/userca/ca.pem\",\"ca_key\":\"$TOPO_DIR/userca/ca.key\"}}")"; then
    want=$(fp <"$TOPO_DIR/userca/ca.pem")
    [[ -n $want && $("$ctl" --socket "$sock" ca | fp) == "$want" ]] && ok "user CA served by msbnetctl ca" \
        || bad "user CA" "$("$ctl" --socket "$sock" ca 2>&1 | head -3)"
    [[ $(fp <"$TOPO_DIR/userca.cmd.ca") == "$want" ]] && ok "user CA last in CMD's bundle" \
        || bad "user CA in CMD's bundle"
    msbnetd_stop userca "$daemon"
fi
out=$(msbnetd_fg missing_ca 1 -- timeout 60 ip netns exec "$TOPO_H" "$msbnetd" --plugin "$plugin" \
    run --slot 9 --control-socket "$tmp/missing.sock" --config "$(cfg missing \
    '{"tls":{"intercept":true,"ca_cert":"/nonexistent/ca.pem","ca_key":"/nonexistent/ca.key"}}')" -- true)
expect "missing user CA: start fails naming the file" "cannot load the sandbox CA" "$out"
expect "missing user CA: the path" "/nonexistent/ca.pem" "$out"

checks_done
