# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# grpc_stubs.sh — the Python grpcio stubs of msbnet's control API, generated
# at test time for the tests' gRPC clients (sourceable).
#   grpc_stubs OUT_DIR PROTO_DIR   OUT_DIR/msbnet/v1/control_pb2{,_grpc}.py
# Prints one FAIL line and returns 1 when grpcio or grpc_tools is missing or
# protoc refuses, so a caller ends with `|| exit 1` and never runs a client
# against stubs that are not there.

# Debian's interpreter, not whatever python3 comes first on PATH: only it
# sees python3-grpcio and python3-grpc-tools (shared/TESTING.md).
GRPC_PY=/usr/bin/python3

grpc_stubs() {
    local out=${1:?grpc_stubs OUT_DIR PROTO_DIR} proto=${2:?grpc_stubs OUT_DIR PROTO_DIR}
    if ! "$GRPC_PY" -c 'import grpc, grpc_tools' 2>/dev/null; then
        echo "FAIL missing python3-grpcio / python3-grpc-tools for $GRPC_PY (deploy/bootstrap.sh)"
        return 1
    fi
    mkdir -p "$out" &&
        "$GRPC_PY" -m grpc_tools.protoc -I"$proto" --python_out="$out" --grpc_python_out="$out" \
            "$proto/msbnet/v1/control.proto" ||
        { echo "FAIL protoc: no stubs from $proto/msbnet/v1/control.proto"; return 1; }
}
