#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The Python clients tls_clients.sh runs inside `msbnetd run --tls-intercept`
# (each trusting the sandbox CA the way a program would: the default
# context, or REQUESTS_CA_BUNDLE for requests).  One line per run:
#   NAME: answered STATUS BODY...   or   NAME: reset EXCEPTION
#   tls_clients_guest.py httpclient NAME URL      http.client GET, Bearer $KEY
#   tls_clients_guest.py requests NAME URL        requests GET, Bearer $KEY
#   tls_clients_guest.py basic NAME URL           requests GET, Basic user:$KEY
#   tls_clients_guest.py json NAME URL            http.client POST of a JSON body
#                                                 holding $KEY, every other
#                                                 character as a \u00XX escape
#   tls_clients_guest.py split NAME HOST PATH     a raw ssl socket writing the
#                                                 request in small pieces, 50 ms
#                                                 apart, cut inside $KEY
#   tls_clients_guest.py alpn NAME HOST PROTO...  a handshake offering only
#                                                 PROTO...; says the protocol
#                                                 chosen (none: "-")
# The placeholder comes from the environment variable KEY_VAR names
# (default TLSC_KEY).
import http.client
import json
import os
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

KEY = os.environ[os.environ.get("KEY_VAR", "TLSC_KEY")]


def say(name, status, body):
    text = body.decode("latin-1") if isinstance(body, bytes) else body
    print("%s: answered %s %s" % (name, status, text.replace("\n", " | ")), flush=True)


def httpclient(name, url, method="GET", body=None, headers=None):
    u = urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=10,
                                    context=ssl.create_default_context())
    c.request(method, u.path + ("?" + u.query if u.query else ""), body=body,
              headers=headers or {"Authorization": "Bearer " + KEY})
    r = c.getresponse()
    say(name, r.status, r.read())


def requests_get(name, url, **kw):
    import requests
    r = requests.get(url, timeout=10, **kw)
    say(name, r.status_code, r.content)


def json_post(name, url):
    # Every other character of the placeholder escaped: the two forms mixed.
    esc = "".join("\\u%04x" % ord(ch) if i % 2 == 0 else ch for i, ch in enumerate(KEY))
    body = ('{"note": "hello", "api_key": "%s"}' % esc).encode()
    assert KEY not in body.decode() and json.loads(body)["api_key"] == KEY
    httpclient(name, url, "POST", body, {"Content-Type": "application/json"})


def split(name, host, path):
    ctx = ssl.create_default_context()
    raw = socket.create_connection((host, 443), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    head = ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " % (path, host)).encode()
    key, tail = KEY.encode(), b"\r\nConnection: close\r\n\r\n"
    # Pieces: the head up to the placeholder, the placeholder in 4-byte
    # bits (each its own TLS record and segment), then the rest.
    pieces = [head] + [key[i:i + 4] for i in range(0, len(key), 4)] + [tail]
    for p in pieces:
        s.sendall(p)
        time.sleep(0.05)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    if not got:
        raise ConnectionError("closed without an answer")
    status = got.split(b" ", 2)[1].decode()
    say(name, status, got.split(b"\r\n\r\n", 1)[-1])


def alpn(name, host, protos):
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(protos)
    with ctx.wrap_socket(socket.create_connection((host, 443), timeout=10),
                         server_hostname=host) as s:
        print("%s: alpn %s" % (name, s.selected_alpn_protocol() or "-"), flush=True)


def main():
    cmd, name = sys.argv[1], sys.argv[2]
    try:
        if cmd == "httpclient":
            httpclient(name, sys.argv[3])
        elif cmd == "requests":
            requests_get(name, sys.argv[3], headers={"Authorization": "Bearer " + KEY})
        elif cmd == "basic":
            requests_get(name, sys.argv[3], auth=("user", KEY))
        elif cmd == "json":
            json_post(name, sys.argv[3])
        elif cmd == "split":
            split(name, sys.argv[3], sys.argv[4])
        elif cmd == "alpn":
            alpn(name, sys.argv[3], sys.argv[4:])
        else:
            sys.exit("unknown command " + cmd)
    except Exception as e:  # requests wraps resets in exceptions of its own
        # A certificate the guest refused is not a reset: said apart.
        what = "certfail" if "CERTIFICATE_VERIFY_FAILED" in str(e) else "reset"
        print("%s: %s %s %s" % (name, what, type(e).__name__, str(e)[:160]), flush=True)


main()
