#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PublishPort / UnpublishPort / ListPublishedPorts from Python grpcio, for publish_grpc.sh.

  publish_grpc.py STUBS_DIR SOCKET publish SPEC         publish; prints the port as JSON
  publish_grpc.py STUBS_DIR SOCKET unpublish SPEC       unpublish; prints "ok"
  publish_grpc.py STUBS_DIR SOCKET list                 prints {"ports": [...]} as JSON
  publish_grpc.py STUBS_DIR SOCKET expect CODE (publish|unpublish) SPEC
                                                        the call fails with CODE; prints
                                                        "CODE: details" (exit 1 otherwise)
"""
import json
import sys

stubs, socket_path, mode = sys.argv[1:4]
args = sys.argv[4:]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402


def port_dict(p):
    return {"protocol": p.protocol, "host_address": p.host_address, "host_port": p.host_port,
            "guest_port": p.guest_port, "real_peer": p.real_peer}


def call(stub, what, spec):
    if what == "publish":
        return stub.PublishPort(pb.PublishPortRequest(spec=spec), timeout=5)
    return stub.UnpublishPort(pb.UnpublishPortRequest(spec=spec), timeout=5)


def main():
    with grpc.insecure_channel("unix:" + socket_path) as ch:
        stub = pbg.NetworkControlStub(ch)
        if mode == "publish":
            print(json.dumps(port_dict(call(stub, "publish", args[0]).port)))
        elif mode == "unpublish":
            call(stub, "unpublish", args[0])
            print("ok")
        elif mode == "list":
            r = stub.ListPublishedPorts(pb.ListPublishedPortsRequest(), timeout=5)
            print(json.dumps({"ports": [port_dict(p) for p in r.ports]}))
        elif mode == "expect":
            want, what, spec = args
            try:
                call(stub, what, spec)
            except grpc.RpcError as e:
                print("%s: %s" % (e.code().name, e.details()))
                return 0 if e.code().name == want else 1
            print("succeeded, want %s" % want)
            return 1
        else:
            print("unknown mode " + mode)
            return 2
    return 0


sys.exit(main())
