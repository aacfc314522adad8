#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A StreamFlowRecords client for flow_records_cost.sh.

  flow_reader.py STUBS_DIR SOCKET read SECS SINCE_MS
        reads for SECS seconds; prints "records N" (those closed at or after
        SINCE_MS, unix milliseconds) and "dropped D"
  flow_reader.py STUBS_DIR SOCKET stall SECS SINCE_MS
        opens the stream and reads nothing for SECS seconds (a reader that
        stopped), then reads what is left for 2 s and prints the same lines:
        dropped is what msbnetd counted for this stream while it stalled
"""
import json
import sys
import threading
import time

stubs, socket_path, mode = sys.argv[1:4]
secs, since = float(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402


def drain(call, until, seen):
    """Reads batches until `until` (monotonic); the call is cancelled by a
    timer so a quiet stream cannot hold the reader past it."""
    timer = threading.Timer(max(0.0, until - time.monotonic()), call.cancel)
    timer.start()
    try:
        for batch in call:
            seen["records"] += sum(json.loads(r).get("closed_unix_ms", 0) >= since
                                   for r in batch.records)
            seen["dropped"] = batch.dropped_records
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            raise
    finally:
        timer.cancel()


def main():
    with grpc.insecure_channel("unix:" + socket_path) as ch:
        call = pbg.NetworkControlStub(ch).StreamFlowRecords(pb.StreamFlowRecordsRequest())
        seen = {"records": 0, "dropped": 0}
        if mode == "stall":
            print("stalled", flush=True)
            time.sleep(secs)
            drain(call, time.monotonic() + 2, seen)
        else:
            print("reading", flush=True)
            drain(call, time.monotonic() + secs, seen)
        print("records", seen["records"])
        print("dropped", seen["dropped"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
