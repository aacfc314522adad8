# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# test_ca.sh — a throwaway CA and one leaf for the TLS tests' upstream
# servers (sourceable).
#   test_ca_make DIR NAME...   DIR/ca.pem (+ ca.key), DIR/leaf.pem (+ leaf.key)
#                              with a SAN entry per NAME; one day's validity,
#                              P-256; the PEM files readable by all (a command
#                              under `msbnetd run` runs as nobody).
test_ca_make() {
    local d=$1 san='' n
    shift
    for n in "$@"; do san+="${san:+,}DNS:$n"; done
    mkdir -p "$d" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
            -subj "/CN=upstream test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
            -keyout "$d/leaf.key" -out "$d/leaf.csr" 2>/dev/null &&
        printf 'subjectAltName=%s\n' "$san" >"$d/ext" &&
        openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 1 -extfile "$d/ext" -out "$d/leaf.pem" 2>/dev/null &&
        chmod 644 "$d"/*.pem
}
