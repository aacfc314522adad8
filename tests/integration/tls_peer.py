#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TLS peer for the SNI policy check.

  tls_peer.py server PORT CERT KEY   accept forever on [::]; after each
                                     handshake send "tls ok", log the SNI, close
  tls_peer.py client HOST PORT SNI   connect, handshake claiming SNI (the
                                     certificate is not checked: the test is
                                     about what msbnet lets through), print
                                     what the server said or "error: ..."
"""
import socket
import ssl
import sys


def server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    names = []

    def on_sni(_sslobj, name, _ctx):
        names.append(name)

    ctx.sni_callback = on_sni
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        c.settimeout(5)
        try:
            t = ctx.wrap_socket(c, server_side=True)
            t.sendall(b"tls ok\n")
            print("handshake sni=%s" % (names[-1] if names else "-"), flush=True)
            t.close()
        except (OSError, ssl.SSLError) as e:
            print("failed: %s" % e, flush=True)
            c.close()


def client(host, port, sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname=sni) as t:
                print(t.recv(100).decode().strip())
    except (OSError, ssl.SSLError) as e:
        print("error: %s" % e)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
