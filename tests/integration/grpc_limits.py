#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""msbnetd's gRPC server limits (server/README.md), for control_grpc_limits.sh.

  grpc_limits.py STUBS_DIR SOCKET per-connection  128 metrics streams on one
      connection get their first snapshot at once; a 129th waits (the server's
      SETTINGS_MAX_CONCURRENT_STREAMS) and is served when one of them ends
  grpc_limits.py STUBS_DIR SOCKET live-calls      550 streams over 5 connections:
      exactly 512 are served, the rest and a unary call get RESOURCE_EXHAUSTED;
      once one ends a new call is served again
  grpc_limits.py STUBS_DIR SOCKET stuck           a stream whose reader stopped
      reading (a 1 KiB HTTP/2 window): prints "stuck" once the server's sends
      have backed up, then holds the connection until killed

Prints "ok   ..." / "FAIL ..." lines; exit status 1 on any failure.
"""
import asyncio
import os
import sys
import time

stubs, socket_path, mode = sys.argv[1:4]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402

TARGET = "unix:" + socket_path
failed = []


def check(name, good, detail):
    print(("ok   %s" if good else "FAIL %s: " + detail) % name, flush=True)
    if not good:
        failed.append(name)


def channel():
    # A subchannel pool of its own: a connection of its own.
    return grpc.aio.insecure_channel(TARGET, options=[("grpc.use_local_subchannel_pool", 1)])


def stream(stub):
    # One snapshot at once, the next a minute later: a live call that costs nothing.
    return stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=60000), timeout=120)


async def first(call, secs):
    """What a stream's first read gives: ok, eof, timeout or a status name."""
    try:
        msg = await asyncio.wait_for(call.read(), secs)
        return "eof" if msg is grpc.aio.EOF else "ok"
    except asyncio.TimeoutError:
        return "timeout"
    except grpc.aio.AioRpcError as e:
        return e.code().name


async def per_connection():
    async with channel() as ch:
        stub = pbg.NetworkControlStub(ch)
        calls = [stream(stub) for _ in range(128)]
        got = await asyncio.gather(*(first(c, 30) for c in calls))
        check("128 streams on one connection each get their first snapshot",
              got.count("ok") == 128, "results %s" % {r: got.count(r) for r in set(got)})
        extra = asyncio.ensure_future(first(stream(stub), 30))
        done, _ = await asyncio.wait([extra], timeout=1.0)
        check("a 129th stream on that connection waits while 128 are open", not done,
              "it got %s" % (extra.result() if done else ""))
        calls[0].cancel()
        t0 = time.monotonic()
        r = await extra
        check("the 129th is served once one of the 128 ends", r == "ok",
              "got %s after %.1f s" % (r, time.monotonic() - t0))
        for c in calls:
            c.cancel()


async def live_calls():
    chans = [channel() for _ in range(5)]
    stubs_ = [pbg.NetworkControlStub(c) for c in chans]
    calls = [stream(s) for s in stubs_ for _ in range(110)]
    got = await asyncio.gather(*(first(c, 60) for c in calls))
    counts = {r: got.count(r) for r in set(got)}
    check("550 streams over 5 connections: 512 served, 38 RESOURCE_EXHAUSTED",
          counts == {"ok": 512, "RESOURCE_EXHAUSTED": 38}, "results %s" % counts)
    try:
        await stubs_[0].GetStatus(pb.GetStatusRequest(), timeout=10)
        unary = "OK"
    except grpc.aio.AioRpcError as e:
        unary = "%s (%s)" % (e.code().name, e.details())
    check("GetStatus with 512 calls live: RESOURCE_EXHAUSTED", unary.startswith("RESOURCE_EXHAUSTED"),
          "got %s" % unary)
    served = [c for c, r in zip(calls, got) if r == "ok"]
    if served:
        served[0].cancel()
    # The server learns of the cancel asynchronously: a new call is tried
    # until it is served (10 s deadline).
    deadline, r = time.monotonic() + 10, "none"
    while time.monotonic() < deadline:
        r = await first(stream(stubs_[1]), 10)
        if r == "ok":
            break
        await asyncio.sleep(0.05)
    check("one of the 512 ended: a new call is served", r == "ok", "got %s" % r)


async def stuck():
    ch = grpc.aio.insecure_channel(TARGET, options=[("grpc.http2.lookahead_bytes", 1024),
                                                    ("grpc.http2.bdp_probe", 0)])
    stub = pbg.NetworkControlStub(ch)
    call = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=120)
    r = await first(call, 10)
    check("the stuck reader's stream started", r == "ok", "got %s" % r)
    # Twenty snapshots of a few KiB each against a 1 KiB window: the
    # server's sends back up (control_grpc's slow reader sees them dropped).
    await asyncio.sleep(2)
    print("stuck", flush=True)
    await asyncio.sleep(120)


asyncio.run({"per-connection": per_connection, "live-calls": live_calls, "stuck": stuck}[mode]())
# No orderly teardown of hundreds of calls: the process ends, the kernel
# closes the connections, and msbnetd must cope with that too.
sys.stdout.flush()
os._exit(1 if failed else 0)
