#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One GetStatus and one metrics snapshot from msbnetd's TCP listener with
python grpcio, for control_tls.sh.

  control_tls.py STUBS_DIR HOST:PORT [--ca FILE] [--cert FILE --key FILE]

Without --ca the channel is plain.  Prints "OK <version> <snapshot schema>"
or "ERR <STATUS>: <details>"; the exit status is 0 either way (the script
reports, the caller judges).
"""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("stubs")
ap.add_argument("target")
ap.add_argument("--ca")
ap.add_argument("--cert")
ap.add_argument("--key")
a = ap.parse_args()
sys.path.insert(0, a.stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


if a.ca:
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(a.ca),
        private_key=read(a.key) if a.key else None,
        certificate_chain=read(a.cert) if a.cert else None)
    channel = grpc.secure_channel(a.target, creds)
else:
    channel = grpc.insecure_channel(a.target)
stub = pbg.NetworkControlStub(channel)
try:
    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    it = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=5)
    schema = json.loads(next(it).json)["schema"]
    it.cancel()
    print("OK %s %d" % (st.version, schema))
except grpc.RpcError as e:
    print("ERR %s: %s" % (e.code().name, e.details()))
channel.close()
