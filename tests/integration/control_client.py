#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Python grpcio client of msbnetd's NetworkControl service, for control_grpc.sh.

  control_client.py STUBS_DIR SOCKET suite        every RPC's happy path and error statuses
  control_client.py STUBS_DIR SOCKET stream-end   open a metrics and a termination stream,
                                                  print "streaming", then how each ended
  control_client.py STUBS_DIR SOCKET termination GO RULE FLOW
                                                  two callbacks installed, then the file GO
                                                  made (the guest then breaks a `terminate`
                                                  rule of the real plugin); each gets exactly
                                                  one event naming RULE and FLOW; one more
                                                  callback installed after it fired too
  control_client.py STUBS_DIR SOCKET growing      snapshots' byte counters grow (guest busy)
  control_client.py STUBS_DIR SOCKET churn        3 x 100 clients open streams and vanish
  control_client.py STUBS_DIR SOCKET churn-for SECS PAUSE_MS   the same for SECS (perf)

STUBS_DIR holds the modules generated at test time by grpc_tools.protoc.
"""
import json
import sys
import threading
import time

stubs, socket_path, mode = sys.argv[1:4]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from msbnet.v1 import control_pb2 as pb  # noqa: E402
from msbnet.v1 import control_pb2_grpc as pbg  # noqa: E402

SVC = "/msbnet.v1.NetworkControl/"
results = {"pass": 0, "fail": 0}


def ok(name):
    results["pass"] += 1
    print("ok   " + name, flush=True)


def ko(name, why):
    results["fail"] += 1
    print("FAIL %s: %s" % (name, why), flush=True)


def expect_code(name, want, fn):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() == want:
            ok("%s -> %s" % (name, want.name))
        else:
            ko(name, "got %s (%s), want %s" % (e.code().name, e.details(), want.name))
        return
    ko(name, "succeeded, want %s" % want.name)


def raw(channel, method, kind="unary"):
    ident = lambda b: b  # noqa: E731
    make = channel.unary_unary if kind == "unary" else channel.unary_stream
    return make(SVC + method, request_serializer=ident, response_deserializer=ident)


def check_status(stub):
    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    if st.version and st.plugin_version and st.guest_ipv4 and st.guest_ipv6 and st.mtu >= 576:
        ok("GetStatus fields: version %s, guest %s / %s, mtu %d"
           % (st.version, st.guest_ipv4, st.guest_ipv6, st.mtu))
    else:
        ko("GetStatus fields", str(st))
    if st.gateway_ipv4 and st.gateway_ipv6:
        ok("GetStatus gateways active at start: %s %s" % (st.gateway_ipv4, st.gateway_ipv6))
    else:
        ko("GetStatus gateways", str(st))
    time.sleep(0.05)
    st2 = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    if st2.uptime_ms > st.uptime_ms and st2.flows == 0:
        ok("GetStatus uptime grows (%d -> %d), flows 0" % (st.uptime_ms, st2.uptime_ms))
    else:
        ko("GetStatus uptime/flows", "%s -> %s" % (st, st2))
    return st


def check_gateways(stub, st):
    try:
        stub.SetGateways(pb.SetGatewaysRequest(ipv4=st.gateway_ipv4, ipv6=st.gateway_ipv6),
                         timeout=5)
        ok("SetGateways identical repeat -> OK")
    except grpc.RpcError as e:
        ko("SetGateways identical repeat", "%s %s" % (e.code(), e.details()))
    expect_code("SetGateways different ipv4", grpc.StatusCode.ALREADY_EXISTS,
                lambda: stub.SetGateways(pb.SetGatewaysRequest(ipv4="100.96.200.1"), timeout=5))
    expect_code("SetGateways malformed ipv6", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: stub.SetGateways(pb.SetGatewaysRequest(ipv6="fd42::zz"), timeout=5))
    expect_code("SetGateways wrong family", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: stub.SetGateways(pb.SetGatewaysRequest(ipv4="fd42::1"), timeout=5))
    expect_code("SetGateways empty", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: stub.SetGateways(pb.SetGatewaysRequest(), timeout=5))


def check_hostnames(stub):
    r = stub.QueryResolvedHostnames(pb.QueryResolvedHostnamesRequest(all=True, limit=10),
                                    timeout=5)
    if r.total == 0 and len(r.entries) == 0:
        ok("QueryResolvedHostnames all -> empty index, total 0")
    else:
        ko("QueryResolvedHostnames all", str(r))
    r = stub.QueryResolvedHostnames(pb.QueryResolvedHostnamesRequest(hostname="example.com"),
                                    timeout=5)
    if r.total == 0:
        ok("QueryResolvedHostnames hostname -> total 0")
    else:
        ko("QueryResolvedHostnames hostname", str(r))
    expect_code("QueryResolvedHostnames no selector", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: stub.QueryResolvedHostnames(pb.QueryResolvedHostnamesRequest(),
                                                    timeout=5))
    expect_code("QueryResolvedHostnames address not an IP", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: stub.QueryResolvedHostnames(
                    pb.QueryResolvedHostnamesRequest(address="not-an-ip"), timeout=5))


def check_metrics(stub):
    it = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=10)
    snaps = []
    for m in it:
        snaps.append(json.loads(m.json))
        if len(snaps) == 3:
            it.cancel()
            break
    if len(snaps) == 3 and all(s["schema"] == 1 and "tcp" in s for s in snaps):
        ok("StreamMetrics: 3 JSON snapshots that parse")
    else:
        ko("StreamMetrics", repr(snaps)[:200])
    for bad in (5, 99, 60001):
        expect_code("StreamMetrics interval %d" % bad, grpc.StatusCode.INVALID_ARGUMENT,
                    lambda b=bad: list(stub.StreamMetrics(
                        pb.StreamMetricsRequest(interval_ms=b), timeout=5)))


def concurrent_streams(stub):
    """Four streams at once, one of them never read, while unary calls go on."""
    idle = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=10)
    counts = [0, 0, 0]

    def reader(i):
        it = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=10)
        for _ in it:
            counts[i] += 1
            if counts[i] == 5:
                it.cancel()
                return

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    unary_ms = (time.monotonic() - t0) * 1000
    for t in threads:
        t.join(15)
    idle.cancel()
    if counts == [5, 5, 5] and unary_ms < 1000:
        ok("3 concurrent streams got 5 snapshots each, plus an unread one; "
           "GetStatus meanwhile in %.1f ms" % unary_ms)
    else:
        ko("concurrent streams", "counts %s, GetStatus %.1f ms" % (counts, unary_ms))


def slow_reader():
    """A reader that stops reading: with a small HTTP/2 window the daemon's
    sends back up, so it must drop (and count) snapshots, not queue them,
    and keep answering others."""
    channel = grpc.insecure_channel("unix:" + socket_path,
                                    options=[("grpc.http2.lookahead_bytes", 1024),
                                             ("grpc.http2.bdp_probe", 0)])
    stub = pbg.NetworkControlStub(channel)
    it = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=20)
    next(it)
    time.sleep(2)
    t0 = time.monotonic()
    pbg.NetworkControlStub(grpc.insecure_channel("unix:" + socket_path)).GetStatus(
        pb.GetStatusRequest(), timeout=5)
    unary_ms = (time.monotonic() - t0) * 1000
    dropped = 0
    for _ in range(100):
        dropped = next(it).dropped_snapshots
        if dropped:
            break
    it.cancel()
    channel.close()
    if dropped > 0 and unary_ms < 1000:
        ok("slow reader: %d snapshots dropped and counted; GetStatus meanwhile in %.1f ms"
           % (dropped, unary_ms))
    else:
        ko("slow reader", "dropped %d, GetStatus %.1f ms" % (dropped, unary_ms))


def check_errors(channel, stub):
    expect_code("unknown method", grpc.StatusCode.UNIMPLEMENTED,
                lambda: raw(channel, "NoSuchMethod")(b"", timeout=5))
    expect_code("unknown service", grpc.StatusCode.UNIMPLEMENTED,
                lambda: channel.unary_unary("/other.Svc/Get", request_serializer=lambda b: b,
                                            response_deserializer=lambda b: b)(b"", timeout=5))
    expect_code("garbage SetPolicy body", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: raw(channel, "SetPolicy")(b"\x0a\x05ab", timeout=5))
    expect_code("garbage SetGateways body", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: raw(channel, "SetGateways")(b"\xff\xff\xff\xff\x0f", timeout=5))
    expect_code("garbage StreamMetrics body", grpc.StatusCode.INVALID_ARGUMENT,
                lambda: list(raw(channel, "StreamMetrics", "stream")(b"\x0a\x80", timeout=5)))
    expect_code("1 MiB request (limit 64 KiB)", grpc.StatusCode.RESOURCE_EXHAUSTED,
                lambda: raw(channel, "GetStatus")(b"\x0a" + b"\x00" * (1 << 20), timeout=5))
    expect_code("InstallTerminationCallback deadline honoured",
                grpc.StatusCode.DEADLINE_EXCEEDED,
                lambda: list(stub.InstallTerminationCallback(
                    pb.InstallTerminationCallbackRequest(client="test"), timeout=0.5)))
    # The daemon survived all of it.
    stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    ok("daemon still answers after the error cases")


def check_policy(stub):
    before = json.loads(stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).json)
    if before.get("default_egress") and isinstance(before.get("rules"), list):
        ok("GetPolicy: a policy object with %d rules" % len(before["rules"]))
    else:
        ko("GetPolicy", str(before))
    r = stub.SetPolicy(pb.SetPolicyRequest(rules="allow@public,deny@public:tcp:80"), timeout=5)
    if len(r.warnings) == 1 and "shadowed" in r.warnings[0]:
        ok("SetPolicy rules: the shadowed rule is warned about: %s" % r.warnings[0][:60])
    else:
        ko("SetPolicy rules warnings", str(list(r.warnings)))
    now = json.loads(stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).json)
    if [x["action"] for x in now["rules"]] == ["allow", "deny"] and now["default_egress"] == "deny":
        ok("GetPolicy shows the token policy (egress deny by default)")
    else:
        ko("GetPolicy after SetPolicy rules", str(now))
    doc = {"default_egress": "allow", "default_ingress": "allow",
           "rules": [{"direction": "egress", "destination": {"cidr": "198.18.9.0/24"},
                      "protocols": ["tcp"], "ports": [{"start": 443, "end": 443}],
                      "action": "deny"}]}
    r = stub.SetPolicy(pb.SetPolicyRequest(json=json.dumps(doc)), timeout=5)
    now = json.loads(stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).json)
    if not r.warnings and now["default_egress"] == "allow" and len(now["rules"]) == 1:
        ok("SetPolicy json replaces it, no warnings")
    else:
        ko("SetPolicy json", "%s %s" % (list(r.warnings), now))
    st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    if st.policy_summary.startswith("1 rules, default egress allow"):
        ok("GetStatus policy_summary: %s" % st.policy_summary)
    else:
        ko("GetStatus policy_summary", st.policy_summary)
    for name, req, want in (
            ("unknown key", pb.SetPolicyRequest(json='{"rules":[{"bogus":1}]}'), "bogus"),
            ("bad token", pb.SetPolicyRequest(rules="allow@nowhere"), "nowhere"),
            ("not JSON", pb.SetPolicyRequest(json="{nope"), "policy"),
            ("tokens in the json field", pb.SetPolicyRequest(json="allow@public"), "json"),
            ("JSON in the rules field", pb.SetPolicyRequest(rules="{}"), "rules"),
            ("neither", pb.SetPolicyRequest(), "json or rules")):
        try:
            stub.SetPolicy(req, timeout=5)
            ko("SetPolicy %s" % name, "accepted")
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT and want in e.details():
                ok("SetPolicy %s -> INVALID_ARGUMENT: %s" % (name, e.details()[:70]))
            else:
                ko("SetPolicy %s" % name, "%s %s" % (e.code().name, e.details()))
    # Whole messages: the parser's "policy:" prefix appears once.
    for name, req, want in (
            ("top-level unknown key", pb.SetPolicyRequest(json='{"x":1}'),
             'policy: unknown key "x"'),
            ("rule unknown key", pb.SetPolicyRequest(json='{"rules":[{"bogus":1}]}'),
             'policy: rules[0]: unknown key "bogus"')):
        try:
            stub.SetPolicy(req, timeout=5)
            ko("SetPolicy %s" % name, "accepted")
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details() == want:
                ok("SetPolicy %s -> exactly %r" % (name, want))
            else:
                ko("SetPolicy %s" % name, "%s %r" % (e.code().name, e.details()))
    kept = json.loads(stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).json)
    if kept == now:
        ok("a refused SetPolicy leaves the policy unchanged")
    else:
        ko("policy after refused SetPolicy", str(kept))


def suite():
    channel = grpc.insecure_channel("unix:" + socket_path)
    stub = pbg.NetworkControlStub(channel)
    st = check_status(stub)
    check_gateways(stub, st)
    check_hostnames(stub)
    check_metrics(stub)
    concurrent_streams(stub)
    slow_reader()
    check_policy(stub)
    check_errors(channel, stub)
    channel.close()
    print("python: %d passed, %d failed" % (results["pass"], results["fail"]))
    return 1 if results["fail"] else 0


def stream_end():
    """Both kinds of stream open; msbnetd gets SIGTERM; each must end, not hang."""
    channel = grpc.insecure_channel("unix:" + socket_path)
    stub = pbg.NetworkControlStub(channel)
    metrics = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=20)
    term = stub.InstallTerminationCallback(pb.InstallTerminationCallbackRequest(client="t"),
                                           timeout=20)
    next(metrics)
    print("streaming", flush=True)
    ends = {}

    def drain(name, it):
        try:
            for _ in it:
                pass
            ends[name] = "OK"
        except grpc.RpcError as e:
            ends[name] = e.code().name

    threads = [threading.Thread(target=drain, args=a) for a in
               (("metrics", metrics), ("termination", term))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    print("metrics ended %s" % ends.get("metrics", "NOT"), flush=True)
    print("termination ended %s" % ends.get("termination", "NOT"), flush=True)
    return 0


def collect(it, out):
    try:
        out["events"] = list(it)
        out["end"] = "OK"
    except grpc.RpcError as e:
        out["end"] = e.code().name


def check_event(name, res, rule, flow):
    """Exactly one event, the real plugin's (MSBNET_REASON_*: reason
    "policy_terminate", the rule's index, the flow from the guest's
    address:port to the destination:port), then the stream ends OK."""
    evs = res.get("events", [])
    if res.get("end") != "OK" or len(evs) != 1:
        ko(name, "end %s, %d events %r (want exactly one, then OK)"
           % (res.get("end"), len(evs), evs))
        return
    e = evs[0]
    if e.unix_time_ms > 0 and e.reason == "policy_terminate" and e.rule == rule and e.flow == flow:
        ok("%s: exactly one event (%s, rule %s, flow %s) then OK" % (name, e.reason, e.rule, e.flow))
    else:
        ko(name, "event reason %r rule %r flow %r, want 'policy_terminate' rule %r flow %r"
           % (e.reason, e.rule, e.flow, rule, flow))


def termination():
    go, rule, flow = sys.argv[4:7]
    channel = grpc.insecure_channel("unix:" + socket_path)
    stub = pbg.NetworkControlStub(channel)
    before = [{}, {}]
    threads = []
    installed_ms = time.time() * 1000
    for i in range(2):
        it = stub.InstallTerminationCallback(
            pb.InstallTerminationCallbackRequest(client="early%d" % i), timeout=30)
        threads.append(threading.Thread(target=collect, args=(it, before[i])))
        threads[-1].start()
    # A call answered after the two on the same connection: the daemon has
    # taken them; only now may the guest break the rule.
    stub.GetStatus(pb.GetStatusRequest(), timeout=5)
    with open(go, "w"):
        pass
    for t in threads:
        t.join(40)
    for i in range(2):
        check_event("callback %d installed before the rule was broken" % i, before[i], rule, flow)
    fired_ms = before[0]["events"][0].unix_time_ms if before[0].get("events") else 0
    if fired_ms > installed_ms:
        ok("the hook fired %.0f ms after the early callbacks were installed"
           % (fired_ms - installed_ms))
    else:
        ko("early callbacks", "hook fired before they were installed")
    after = {}
    t0 = time.monotonic()
    collect(stub.InstallTerminationCallback(
        pb.InstallTerminationCallbackRequest(client="late"), timeout=5), after)
    check_event("callback installed after it fired (%.0f ms)" % ((time.monotonic() - t0) * 1000),
                after, rule, flow)
    m = json.loads(next(stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100),
                                           timeout=5)).json)
    if m["termination"]["count"] == 1:
        ok("metrics termination.count 1")
    else:
        ko("metrics termination.count", str(m["termination"]))
    channel.close()
    print("python: %d passed, %d failed" % (results["pass"], results["fail"]))
    return 1 if results["fail"] else 0


def growing():
    """While the guest transfers: at least 3 consecutive snapshots whose byte
    counters (guest rx, TCP to guest) strictly grow."""
    channel = grpc.insecure_channel("unix:" + socket_path)
    stub = pbg.NetworkControlStub(channel)
    it = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=400), timeout=20)
    run, best, seen = 1, 1, []
    prev = None
    for m in it:
        s = json.loads(m.json)
        cur = (s["guest"]["rx_bytes"], s["tcp"]["bytes_to_guest"])
        seen.append(cur)
        if prev and cur[0] > prev[0] and cur[1] > prev[1]:
            run += 1
            best = max(best, run)
        else:
            run = 1
        prev = cur
        if best >= 4 or len(seen) >= 30:
            it.cancel()
            break
    channel.close()
    if best >= 3:
        ok("%d snapshots in a row with growing rx_bytes and tcp.bytes_to_guest: %s"
           % (best, seen[-best:]))
    else:
        ko("growing counters", str(seen))
    return 1 if results["fail"] else 0


def churn_client(i, got):
    """One client on its own connection: a metrics and a termination stream,
    one snapshot, then the connection is closed mid-stream."""
    ch = grpc.insecure_channel("unix:" + socket_path)
    stub = pbg.NetworkControlStub(ch)
    m = stub.StreamMetrics(pb.StreamMetricsRequest(interval_ms=100), timeout=20)
    stub.InstallTerminationCallback(pb.InstallTerminationCallbackRequest(client="c%d" % i),
                                    timeout=20)
    try:
        next(m)
        got[i] = 1
    except grpc.RpcError:
        pass
    ch.close()


def churn_round(n):
    """n clients at once; returns how many got their snapshot."""
    got = [0] * n
    threads = [threading.Thread(target=churn_client, args=(i, got)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sum(got)


def churn_for():
    """tests/perf/control_load.sh: rounds of 100 clients at once for
    argv[4] seconds, argv[5] ms apart; prints what was done."""
    secs, pause = float(sys.argv[4]), float(sys.argv[5]) / 1000
    end = time.monotonic() + secs
    rounds = snaps = 0
    while time.monotonic() < end:
        snaps += churn_round(100)
        rounds += 1
        time.sleep(pause)
    print("churn: %d rounds, %d clients, %d snapshots" % (rounds, rounds * 100, snaps))
    return 0 if snaps == rounds * 100 else 1


def churn():
    """100 clients at once, each on its own connection, open a metrics and a
    termination stream and vanish (channel closed mid-stream), three rounds;
    then the daemon must answer at once."""

    total = 0
    for _ in range(3):
        total += churn_round(100)
    t0 = time.monotonic()
    ch = grpc.insecure_channel("unix:" + socket_path)
    pbg.NetworkControlStub(ch).GetStatus(pb.GetStatusRequest(), timeout=5)
    ms = (time.monotonic() - t0) * 1000
    ch.close()
    if total == 300 and ms < 1000:
        ok("300 clients opened streams, got a snapshot and vanished; GetStatus then in %.1f ms"
           % ms)
    else:
        ko("churn", "%d of 300 got a snapshot, GetStatus %.1f ms" % (total, ms))
    return 1 if results["fail"] else 0


modes = {"growing": growing, "churn": churn, "churn-for": churn_for, "suite": suite, "stream-end": stream_end, "termination": termination}
sys.exit(modes[mode]())
