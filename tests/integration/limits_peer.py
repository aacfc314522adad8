#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Both ends of rate_limits.sh's bursts: in the guest, new connections and
# DNS queries as fast as it can make them, each outcome counted, one
# summary line per run for the test to judge; in netns I, a listener with a
# deep backlog that accepts and closes (a shallow one would drop SYNs and
# slow the guest's loop for reasons that are not the limit's).
#   limits_peer.py connect HOST PORT SECS -> "connect ok=A reset=B other=C secs=S"
#   limits_peer.py dns SERVER NAME N     -> "dns noerror=A refused=B lost=C secs=S"
#   limits_peer.py accept PORT           -> "listening", then accepts forever
import random
import socket
import struct
import sys
import time


def connects(host, port, duration):
    ok = reset = other = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < duration:
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((host, port))
            ok += 1
        except ConnectionRefusedError:  # the RST msbnet sends over the limit
            reset += 1
        except OSError:
            other += 1
        finally:
            s.close()
    secs = time.monotonic() - t0
    print("connect ok=%d reset=%d other=%d secs=%.3f" % (ok, reset, other, secs), flush=True)


def query(txid, name):
    q = struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


BATCH = 25


def take(b, rcodes):
    txid, flags = struct.unpack(">HH", b[:4])
    rcodes[txid] = flags & 0xF


def dns_flood(server, name, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((server, 53))
    ids = random.sample(range(65536), n)
    rcodes = {}
    t0 = time.monotonic()
    # In batches of BATCH, each drained before the next goes out: the
    # answers in flight then always fit the socket's receive buffer (a
    # flood read only at the end would overflow it on a busy machine and
    # look like loss).
    for k in range(0, n, BATCH):
        for txid in ids[k:k + BATCH]:
            s.send(query(txid, name))
        s.settimeout(3)
        try:
            while len(rcodes) < min(n, k + BATCH):
                take(s.recv(4096), rcodes)
        except socket.timeout:
            pass
    secs = time.monotonic() - t0
    vals = list(rcodes.values())
    print("dns noerror=%d refused=%d lost=%d secs=%.3f"
          % (vals.count(0), vals.count(5), n - len(vals), secs), flush=True)


def accept_forever(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        c.close()


def main():
    if sys.argv[1] == "accept":
        accept_forever(int(sys.argv[2]))
        return
    kind, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
    if kind == "connect":
        connects(a, int(b), float(sys.argv[4]))
    else:
        dns_flood(a, b, int(sys.argv[4]))


main()
