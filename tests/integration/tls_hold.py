#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The guest of tls_cap.sh: opens N TLS connections to HOST:443 one after
# another (trusting the sandbox CA through SSL_CERT_FILE, which msbnetd run
# sets), keeps those whose handshake completed, and counts those reset.  It
# syncs with the test outside the sandbox through files in DIR, so the test
# can read msbnetd's RSS idle and with the connections held:
#   DIR/idle written, then DIR/go awaited; DIR/held written, DIR/done awaited.
# Then each held connection carries one request (answered = it really is a
# live intercepted connection), all are closed, and K new ones are opened
# (the slots came back).  Prints "held=H reset=R other=O answered=A again=G".
#   tls_hold.py HOST N K DIR
import os
import socket
import ssl
import sys
import time


def wait_for(path, secs=60):
    for _ in range(secs * 20):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    sys.exit("tls_hold: %s never came" % path)


def open_one(ctx, host):
    raw = socket.create_connection((host, 443), timeout=15)
    try:
        return ctx.wrap_socket(raw, server_hostname=host), None
    except (ConnectionResetError, ssl.SSLError, OSError) as e:
        raw.close()
        return None, e


def open_many(ctx, host, n):
    held, reset, other = [], 0, 0
    for _ in range(n):
        s, e = open_one(ctx, host)
        if s:
            held.append(s)
        elif isinstance(e, ConnectionResetError):
            reset += 1
        else:
            other += 1
            print("error: %r" % e, file=sys.stderr)
    return held, reset, other


def ask(s, host):
    s.sendall(b"GET /x HTTP/1.1\r\nHost: %s\r\nAuthorization: held\r\n\r\n" % host.encode())
    return b"200" in s.recv(4096)


def main():
    host, n, k, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    ctx = ssl.create_default_context()
    open(os.path.join(d, "idle"), "w").close()
    wait_for(os.path.join(d, "go"))
    held, reset, other = open_many(ctx, host, n)
    open(os.path.join(d, "held"), "w").close()
    wait_for(os.path.join(d, "done"))
    answered = sum(1 for s in held if ask(s, host))
    for s in held:
        s.close()
    time.sleep(1)  # the stack frees a connection once both sides closed
    again, _, _ = open_many(ctx, host, k)
    print("held=%d reset=%d other=%d answered=%d again=%d" %
          (len(held), reset, other, answered, len(again)))
    for s in again:
        s.close()


main()
