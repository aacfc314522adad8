#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msbnetd's command line on the real plugin: version, config validation,
# and exit codes (0 ok, 2 bad usage or config, 1 cannot load the plugin).
set -u
msbnetd=${1:?usage: msbnetd_cli.sh PATH_TO_MSBNETD}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, expected exit code, expected text in output, command...
    local name=$1 want_rc=$2 want_text=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [[ $rc -eq $want_rc && $out == *"$want_text"* ]]; then
        pass=$((pass + 1)); echo "ok   $name"
    else
        fail=$((fail + 1)); echo "FAIL $name: rc=$rc (want $want_rc), output: $out"
    fi
}

echo '{"mtu": 9000, "queue_capacity": 256}' >"$tmp/good.json"
echo '{"mtu": 9000, "colour": "blue"}' >"$tmp/bad.json"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$tmp/huge.json"

check version 0 "ABI 1" "$msbnetd" version
check good_config 0 "config ok" "$msbnetd" check-config "$tmp/good.json"
check good_config_stdin 0 "config ok" sh -c "'$msbnetd' check-config - <'$tmp/good.json'"
check bad_config_names_key 2 'unknown key "colour"' "$msbnetd" check-config "$tmp/bad.json"
check huge_config_refused 2 "larger than" "$msbnetd" check-config "$tmp/huge.json"
check missing_file 2 "cannot open" "$msbnetd" check-config "$tmp/nope.json"
check unknown_command 2 'unknown command "fly"' "$msbnetd" fly
check no_command 2 "usage:" "$msbnetd"
check help 0 "check-config" "$msbnetd" --help
check bad_plugin_path 1 "cannot load" "$msbnetd" --plugin "$tmp/none.so" version
check not_a_plugin 1 "no msbnet_get_api" "$msbnetd" --plugin "$(ldd "$msbnetd" | awk '/libc.so/{print $3}')" version

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
