#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TCP peers for the data-plane tests: both ends of a check, so each side
can state what it saw (bytes, SHA-256, errors) and the test compares them.

  serve-sink PORT            accept one connection, read to EOF, print "<n> <sha256>"
  serve-source PORT N SEED   accept one, send N bytes of the SEED stream, close
  serve-halfclose PORT       accept one, read to EOF, then reply "got <n>" and close
  serve-reset PORT N         accept one, send N bytes, then reset (SO_LINGER 0)
  serve-expect-reset PORT    accept one, read until error; print "reset" or "eof"
  serve-hold PORT            accept forever; keep each connection until the peer closes it
  send HOST PORT N SEED      connect, send N bytes of the SEED stream, print "<n> <sha256>"
  recv HOST PORT             connect, read to EOF, print "<n> <sha256>"
  halfclose HOST PORT MSG    connect, send MSG, shutdown(WR), print the reply
  reset-after HOST PORT N    connect, send N bytes, then reset
  expect-reset HOST PORT     connect, read until error; print "reset" or "eof <n>"
  churn HOST PORT N          N sequential connect+close; print "ok <n>" / fail
  concurrent HOST PORT N     open N connections at once, hold, then close; print "open <k>"
"""
import hashlib
import random
import resource
import selectors
import socket
import struct
import sys

CHUNK = 1 << 20


def stream_block(seed):
    """A 1 MiB pseudo-random block; the stream is this block repeated."""
    return random.Random(seed).randbytes(CHUNK)


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(port)))
    s.listen(4096)
    print("listening", flush=True)
    return s


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=60)


def read_all(c):
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(CHUNK)
        if not b:
            return n, h.hexdigest()
        h.update(b)
        n += len(b)


def send_stream(c, n, seed):
    block, h, left = stream_block(seed), hashlib.sha256(), n
    while left:
        part = block[: min(left, CHUNK)]
        c.sendall(part)
        h.update(part)
        left -= len(part)
    return h.hexdigest()


def set_reset_on_close(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def read_until_error(c):
    n = 0
    try:
        while True:
            b = c.recv(CHUNK)
            if not b:
                return "eof %d" % n
            n += len(b)
    except ConnectionResetError:
        return "reset"


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "serve-sink":
        c, _ = listener(args[0]).accept()
        print("%d %s" % read_all(c), flush=True)
    elif cmd == "serve-source":
        c, _ = listener(args[0]).accept()
        print("%s %s" % (args[1], send_stream(c, int(args[1]), int(args[2]))), flush=True)
        c.close()
    elif cmd == "serve-halfclose":
        c, _ = listener(args[0]).accept()
        n, _ = read_all(c)
        c.sendall(b"got %d" % n)
        c.close()
    elif cmd == "serve-reset":
        c, _ = listener(args[0]).accept()
        send_stream(c, int(args[1]), 1)
        set_reset_on_close(c)
        c.close()
    elif cmd == "serve-expect-reset":
        c, _ = listener(args[0]).accept()
        print(read_until_error(c), flush=True)
    elif cmd == "serve-hold":
        raise_fd_limit()
        serve_hold(listener(args[0]))
    elif cmd == "send":
        c = connect(args[0], args[1])
        digest = send_stream(c, int(args[2]), int(args[3]))
        c.shutdown(socket.SHUT_WR)
        read_all(c)
        print("%s %s" % (args[2], digest), flush=True)
    elif cmd == "recv":
        print("%d %s" % read_all(connect(args[0], args[1])), flush=True)
    elif cmd == "halfclose":
        c = connect(args[0], args[1])
        c.sendall(args[2].encode())
        c.shutdown(socket.SHUT_WR)
        print(read_all_bytes(c).decode(), flush=True)
    elif cmd == "reset-after":
        c = connect(args[0], args[1])
        c.sendall(b"x" * int(args[2]))
        set_reset_on_close(c)
        c.close()
    elif cmd == "expect-reset":
        print(read_until_error(connect(args[0], args[1])), flush=True)
    elif cmd == "churn":
        for i in range(int(args[2])):
            c = connect(args[0], args[1])
            c.close()
        print("ok %s" % args[2], flush=True)
    elif cmd == "concurrent":
        raise_fd_limit()
        conns = []
        try:
            for i in range(int(args[2])):
                conns.append(connect(args[0], args[1]))
        except OSError as e:
            print("open %d (%s)" % (len(conns), e.strerror), flush=True)
        else:
            print("open %d" % len(conns), flush=True)
        for c in conns:
            c.close()
    else:
        sys.exit("unknown command " + cmd)


def serve_hold(lst):
    """Holds every connection open and closes it when its peer does, so the
    flows end the way the guest ends them (a server that never closed would
    leave them half-open on purpose)."""
    sel = selectors.DefaultSelector()
    sel.register(lst, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is lst:
                c, _ = lst.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def read_all_bytes(c):
    out = b""
    while True:
        b = c.recv(CHUNK)
        if not b:
            return out
        out += b


if __name__ == "__main__":
    main(sys.argv)
