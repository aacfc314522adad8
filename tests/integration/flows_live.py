#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ListFlows from Python grpcio, for flows_live.sh.

  flows_live.py STUBS_DIR SOCKET list OFFSET LIMIT PROTOCOL
        one page as JSON: {"total", "offset", "flows": [record objects]}
  flows_live.py STUBS_DIR SOCKET expect CODE OFFSET LIMIT PROTOCOL
        the call fails with CODE; prints "CODE: details" (exit 1 otherwise)
"""
import json
import sys

stubs, socket_path, mode = sys.argv[1:4]
args = sys.argv[4:]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402


def call(stub, offset, limit, protocol):
    req = pb.ListFlowsRequest(offset=int(offset), limit=int(limit), protocol=protocol)
    return stub.ListFlows(req, timeout=5)


def main():
    with grpc.insecure_channel("unix:" + socket_path) as ch:
        stub = pbg.NetworkControlStub(ch)
        if mode == "list":
            r = call(stub, *args)
            print(json.dumps({"total": r.total, "offset": r.offset,
                              "flows": [json.loads(f) for f in r.flows]}))
            return 0
        if mode == "expect":
            want = args[0]
            try:
                call(stub, *args[1:])
            except grpc.RpcError as e:
                print("%s: %s" % (e.code().name, e.details()))
                return 0 if e.code().name == want else 1
            print("succeeded, want %s" % want)
            return 1
        print("unknown mode " + mode)
        return 2


sys.exit(main())
