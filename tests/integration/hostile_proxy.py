#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A hostile upstream proxy for upstream_proxy.sh: accepts forever and, per
# connection, reads the client's first bytes and answers with MODE:
#   httphuge    an HTTP head that never ends (bytes without a blank line)
#   socksatyp   a SOCKS5 greeting accepted, then a reply with an unknown
#               address type
#   socksbig    a SOCKS5 greeting answered with a non-SOCKS version
#   usage: hostile_proxy.py PORT MODE
import socket
import sys


def serve(c, mode):
    c.settimeout(5)
    c.recv(4096)
    if mode == "httphuge":
        c.sendall(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 4000)
    elif mode == "socksatyp":
        c.sendall(b"\x05\x00")
        c.recv(4096)
        c.sendall(b"\x05\x00\x00\x09" + b"\x00" * 32)
    else:
        c.sendall(b"\x04\x5a" + b"\x00" * 64)
    try:
        c.recv(4096)  # until msbnet gives up on us
    except OSError:
        pass


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(sys.argv[1])))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        with c:
            try:
                serve(c, sys.argv[2])
            except OSError:  # a readiness probe that hung up at once
                pass


main()
