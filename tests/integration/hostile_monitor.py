#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Watches msbnetd while the hostile_guest*.sh attacks run (run in netns H).

  hostile_monitor.py watch STUBS PID SOCKET MSBNETCTL HTTP_PORT PHASE_FILE OUT
      every 100 ms: msbnetd's VmRSS (/proc/PID/status), the time msbnetd takes
      to answer GetStatus (the RPC behind `msbnetctl status`) on a channel
      kept open, as a VMM's controller would (grpcio, stubs generated into
      STUBS), with the time the kernel kept the client's and msbnetd's
      threads waiting for a CPU meanwhile (schedstat run_delay: on a shared
      2-core machine other work stalls either; msbnetd's busiest thread, the
      plugin's stack thread, is not counted), and the gauges of http://127.0.0.1:HTTP_PORT/metrics.json; once
      3 seconds also the wall time and exit status of a whole `msbnetctl
      --socket SOCKET status` (process start and channel setup included:
      reported, not held to the bound, since on a loaded 2-core machine the
      client's own start dominates it).  One JSON line per sample in OUT,
      tagged with the phase named in PHASE_FILE.  Ends when PID does.
  hostile_monitor.py summary OUT PHASE
      the peaks of PHASE's samples as "key value" lines: samples, rss_kb,
      status_ms (max), status_net_ms (max of status_ms less cpu_wait_ms),
      cpu_wait_ms (max), status_failures, ctl_ms (max msbnetctl wall time),
      ctl_failures and each gauge's max
"""
import json
import subprocess
import sys
import time
import urllib.request

GAUGES = {"tcp": ["flows", "connecting", "buffered_bytes", "lwip_held_bytes"], "udp": ["sessions"],
          "dns": ["in_flight"], "reassembly": ["pending", "bytes"], "icmp": ["echoes_outstanding"]}


def rss_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def schedstat(paths):
    """Per schedstat file: (time on a CPU, time waiting on a run queue), ms."""
    out = []
    for p in paths:
        try:
            with open(p) as f:
                v = f.read().split()
            out.append((int(v[0]) / 1e6, int(v[1]) / 1e6))
        except (OSError, IndexError, ValueError):
            out.append((0.0, 0.0))
    return out


def threads(pid):
    import os
    return ["/proc/%s/task/%s/schedstat" % (pid, t) for t in os.listdir("/proc/%s/task" % pid)]


def watch(stubs, pid, sock, ctl, port, phase_file, out):
    sys.path.insert(0, stubs)
    import grpc
    from msbnet.v1 import control_pb2 as pb
    from msbnet.v1 import control_pb2_grpc as pbg
    stub = pbg.NetworkControlStub(grpc.insecure_channel("unix:" + sock))
    url = "http://127.0.0.1:%s/metrics.json" % port
    tick = 0
    with open(out, "a") as log:
        while True:
            t0 = time.time()
            try:
                rss = rss_kb(pid)
            except OSError:
                return
            try:
                theirs = threads(pid)
            except OSError:
                return
            mine = threads("self")
            w0, m0 = schedstat(theirs), schedstat(mine)
            s0 = time.monotonic()
            try:
                st = stub.GetStatus(pb.GetStatusRequest(), timeout=5)
                status_ok = st.mtu >= 576
            except grpc.RpcError:
                status_ok = False
            status_ms = (time.monotonic() - s0) * 1000
            # How long the kernel kept the threads of this client and of
            # msbnetd runnable but off a CPU during the call: the call passes
            # through them one after another.  msbnetd's busiest thread (most
            # CPU time so far: the plugin's stack thread, which does not
            # serve the call) is left out.
            w1, m1 = schedstat(theirs), schedstat(mine)
            busiest = max(range(len(w1)), key=lambda i: w1[i][0]) if w1 else -1
            waited = sum(b[1] - a[1] for a, b in zip(m0, m1)) + sum(
                b[1] - a[1] for i, (a, b) in enumerate(zip(w0, w1)) if i != busiest)
            sample = {"t": round(t0, 3), "rss_kb": rss, "status_ms": round(status_ms, 1),
                      "cpu_wait_ms": round(waited, 1), "status_ok": status_ok}
            if tick % 30 == 0:
                s0 = time.monotonic()
                r = subprocess.run([ctl, "--socket", sock, "--deadline", "5000", "status"],
                                   capture_output=True, text=True)
                sample["ctl_ms"] = round((time.monotonic() - s0) * 1000, 1)
                sample["ctl_ok"] = r.returncode == 0 and "flows" in r.stdout
            tick += 1
            try:
                m = json.load(urllib.request.urlopen(url, timeout=5))
                for sec, keys in GAUGES.items():
                    for k in keys:
                        sample["%s.%s" % (sec, k)] = m[sec][k]
            except (OSError, ValueError, KeyError) as e:
                sample["http_error"] = str(e)
            try:
                with open(phase_file) as f:
                    sample["phase"] = f.read().strip()
            except OSError:
                sample["phase"] = ""
            log.write(json.dumps(sample) + "\n")
            log.flush()
            time.sleep(max(0.0, 0.1 - (time.time() - t0)))


def summary(out, phase):
    rows = [json.loads(line) for line in open(out)]
    rows = [r for r in rows if r.get("phase") == phase]
    print("samples", len(rows))
    if not rows:
        return
    print("rss_kb", max(r["rss_kb"] for r in rows))
    print("status_ms", max(r["status_ms"] for r in rows))
    # The answer time less the run-queue wait of the client and of msbnetd's
    # most delayed thread: what msbnetd itself took.
    print("status_net_ms", max(r["status_ms"] - r.get("cpu_wait_ms", 0) for r in rows))
    print("cpu_wait_ms", max(r.get("cpu_wait_ms", 0) for r in rows))
    print("status_failures", sum(not r["status_ok"] for r in rows))
    print("ctl_ms", max([r["ctl_ms"] for r in rows if "ctl_ms" in r] or ["-"]))
    print("ctl_failures", sum(not r.get("ctl_ok", True) for r in rows))
    print("http_errors", sum("http_error" in r for r in rows))
    for sec, keys in GAUGES.items():
        for k in keys:
            name = "%s.%s" % (sec, k)
            print(name, max(r.get(name, 0) for r in rows))


def main():
    if sys.argv[1] == "watch":
        watch(*sys.argv[2:9])
    elif sys.argv[1] == "summary":
        summary(*sys.argv[2:4])
    else:
        sys.exit("usage: hostile_monitor.py watch|summary ...")


if __name__ == "__main__":
    main()
