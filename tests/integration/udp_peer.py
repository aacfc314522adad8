#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""UDP peers for the data-plane tests: both ends of a check, so the guest
side can state exactly what came back.

  serve PORT                 echo every datagram back (IPv4 and IPv6); a datagram
                             "BIG <n>" is answered with n bytes of a known pattern
  blast HOST PORT N [MAX]    N datagrams of mixed sizes (4..MAX, default 1472: what
                             fits an IPv4 MTU of 1500 unfragmented), at most 32 in
                             flight, each echoed back intact; resends a datagram
                             unanswered for 1 s (at most 5 tries), then waits (5 s
                             at most) for the replies still due: the echo server
                             answers every datagram, so every send, resends
                             included, must come back once.  Prints
                             "ok <n> sent <s> replies <r> resent <k>" when all n
                             came back and r == s, else "lost ..." and exits 1
  big HOST PORT N            ask for an N-byte reply; prints "big <n> ok" or what differed
  refused HOST PORT          send to a closed port; prints "refused <ms>" when recv
                             raises ConnectionRefusedError, "error <errno> <ms>" for
                             another OSError, else what happened
"""
import socket
import struct
import sys
import time


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("::", int(port)))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        if data.startswith(b"BIG "):
            data = pattern(int(data[4:]))
        s.sendto(data, peer)


def payload(seq, biggest=1472):
    """Sizes cycle through small, odd and MTU-sized datagrams; the body is
    derived from the sequence number so a mixed-up reply is caught."""
    size = (1, 7, 64, 100, 512, 999, 1200, 1472)[seq % 8] + (seq * 13) % 200
    size = min(max(size, 4), biggest)
    body = bytes(((seq * 31) + i) & 0xFF for i in range(size - 4))
    return struct.pack("!I", seq) + body


def blast(host, port, n, biggest=1472):
    n, biggest = int(n), int(biggest)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    s.settimeout(0.05)
    pending = {}  # seq -> (sent_at, tries)
    nxt = done = resent = sent = replies = 0

    def receive():
        nonlocal done, replies
        data = s.recv(65535)
        seq = struct.unpack("!I", data[:4])[0]
        if seq >= nxt or data != payload(seq, biggest):
            print(f"corrupt {seq}", flush=True)
            return False
        replies += 1  # a late reply to a resent datagram counts too
        if seq in pending:
            del pending[seq]
            done += 1
        return True

    while done < n:
        while nxt < n and len(pending) < 32:
            s.send(payload(nxt, biggest))
            sent += 1
            pending[nxt] = (time.monotonic(), 1)
            nxt += 1
        try:
            if not receive():
                return 1
        except socket.timeout:
            pass
        now = time.monotonic()
        for seq, (at, tries) in list(pending.items()):
            if now - at > 1.0:
                if tries >= 5:
                    print(f"lost {seq} after {tries} tries, {done} done", flush=True)
                    return 1
                s.send(payload(seq, biggest))
                sent += 1
                pending[seq] = (now, tries + 1)
                resent += 1
    deadline = time.monotonic() + 5
    while replies < sent and time.monotonic() < deadline:
        try:
            if not receive():
                return 1
        except socket.timeout:
            pass
    if replies != sent:
        print(f"lost: {replies} replies to {sent} sent ({resent} resent), {done} done", flush=True)
        return 1
    print(f"ok {done} sent {sent} replies {replies} resent {resent}", flush=True)
    return 0


def big(host, port, n):
    n = int(n)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    s.settimeout(2)
    for _ in range(3):
        s.send(b"BIG %d" % n)
        try:
            data = s.recv(65535)
        except socket.timeout:
            continue
        ok = data == pattern(n)
        print(f"big {len(data)} {'ok' if ok else 'differs'}", flush=True)
        return 0 if ok else 1
    print("big timeout", flush=True)
    return 1


def refused(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    s.settimeout(5)
    start = time.monotonic()
    s.send(b"anyone?")
    try:
        s.recv(100)
        print("answered", flush=True)
    except ConnectionRefusedError:
        print(f"refused {int((time.monotonic() - start) * 1000)}", flush=True)
        return 0
    except socket.timeout:
        print("timeout", flush=True)
    except OSError as e:
        print(f"error {e.errno} {int((time.monotonic() - start) * 1000)}", flush=True)
    return 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"serve": serve, "blast": blast, "big": big, "refused": refused}[cmd]
    sys.exit(fn(*args) or 0)
