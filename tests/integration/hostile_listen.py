#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Listeners that say what reached them, for the hostile_guest*.sh tests.

  hostile_listen.py count PORT...   TCP and UDP on 0.0.0.0 and :: (v6only) for
        each PORT, as a host service bound to "every address" would be; one
        line per accepted connection ("tcp PORT FROM") and per datagram
        ("udp PORT FROM PAYLOAD-PREFIX")
  hostile_listen.py sink PORT RCVBUF   TCP on ::, dual stack: accepts and
        never reads, with a small receive buffer (the slow upstream)

Prints "listening" once every socket is bound.
"""
import selectors
import socket
import sys


def count(ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if kind == socket.SOCK_DGRAM:  # keep up with a flood: count, not drop
                    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(128)
                sel.register(s, selectors.EVENT_READ, (kind, port))
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            kind, port = key.data
            if kind == socket.SOCK_STREAM:
                c, peer = key.fileobj.accept()
                print("tcp", port, peer[0], flush=True)
                c.close()
            else:
                data, peer = key.fileobj.recvfrom(65535)
                print("udp", port, peer[0], data[:16], flush=True)


def sink(port, rcvbuf):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    # Inherited by accepted sockets; set before listen so the window is small.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("::", port))
    s.listen(1024)
    print("listening", flush=True)
    held = []
    while True:
        c, peer = s.accept()
        held.append(c)  # never read, never closed
        print("accepted", len(held), peer[0], flush=True)


def main():
    cmd, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    if cmd == "count":
        count(args)
    elif cmd == "sink":
        sink(*args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
