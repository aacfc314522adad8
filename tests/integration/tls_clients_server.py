#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The upstream of tls_clients.sh: an HTTPS server offering ALPN h2 and
# http/1.1 (h2 through python3-h2) that logs, outside the sandbox, what it
# really received: one line per request (SNI, protocol, method, path,
# Authorization, body length and SHA-256) and one per connection (SNI, ALPN,
# plaintext bytes received, requests completed, body bytes received, or the
# handshake's failure).  It echoes the Authorization header back (so the
# guest's copy can be checked for the redaction, Basic credentials' base64
# included), and /download?n=N answers N random bytes, their SHA-256 logged.
#   tls_clients_server.py PORT CERT KEY LOG
import hashlib
import os
import socket
import ssl
import sys
import threading
from urllib.parse import parse_qs, urlsplit

PORT, CERT, KEY, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


class Conn:
    def __init__(self, sock):
        self.sock, self.sni, self.nbytes, self.buf = sock, "-", 0, b""
        self.reqs = self.body = 0  # requests completed, body bytes received

    def recv(self):
        b = self.sock.recv(65536)
        self.nbytes += len(b)
        return b

    def log_req(self, proto, method, path, auth, n, digest):
        self.reqs += 1
        log("req sni=%s proto=%s method=%s path=%s auth=%s len=%d sha256=%s"
            % (self.sni, proto, method, path, auth or "-", n, digest))


def answer(conn, path, auth, n):
    """The response body: N random bytes for /download?n=N (their digest
    logged), else the echo of the Authorization header."""
    q = urlsplit(path)
    if q.path == "/download":
        size = int(parse_qs(q.query)["n"][0])
        return size, None
    return None, ("you sent: %s\nlen=%d\n" % (auth or "-", n)).encode()


def random_body(size, write):
    h, left = hashlib.sha256(), size
    while left:
        chunk = os.urandom(min(left, 1 << 16))
        h.update(chunk)
        write(chunk)
        left -= len(chunk)
    return h.hexdigest()


def serve_http1(conn):
    while True:
        while b"\r\n\r\n" not in conn.buf:
            if len(conn.buf) > 65536:
                return "head too long"
            b = conn.recv()
            if not b:
                return "eof"
            conn.buf += b
        head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("expect", "").lower() == "100-continue":
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        left, h, n = int(hdrs.get("content-length", "0")), hashlib.sha256(), 0
        while left:
            if not conn.buf:
                conn.buf = conn.recv()
                if not conn.buf:
                    return "eof in body"
            part, conn.buf = conn.buf[:left], conn.buf[left:]
            h.update(part)
            n += len(part)
            conn.body += len(part)
            left -= len(part)
        auth = hdrs.get("authorization")
        size, body = answer(conn, path, auth, n)
        close = hdrs.get("connection", "").lower() == "close"
        length = size if body is None else len(body)
        conn.sock.sendall(("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: %d\r\n%s\r\n"
                           % (length, "Connection: close\r\n" if close else "")).encode())
        if body is None:
            digest = random_body(size, conn.sock.sendall)
            log("sent sni=%s path=%s len=%d sha256=%s" % (conn.sni, path, size, digest))
        else:
            conn.sock.sendall(body)
        conn.log_req("http/1.1", method, path, auth, n, h.hexdigest())
        if close:
            return "close"


def serve_h2(conn):
    import h2.config
    import h2.connection
    import h2.events
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                             header_encoding="utf-8"))
    c.initiate_connection()
    conn.sock.sendall(c.data_to_send())
    streams = {}
    while True:
        b = conn.recv()
        if not b:
            return "eof"
        for ev in c.receive_data(b):
            if isinstance(ev, h2.events.RequestReceived):
                streams[ev.stream_id] = [dict(ev.headers), hashlib.sha256(), 0]
            elif isinstance(ev, h2.events.DataReceived):
                st = streams[ev.stream_id]
                st[1].update(ev.data)
                st[2] += len(ev.data)
                conn.body += len(ev.data)
                c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                hdrs, h, n = streams.pop(ev.stream_id)
                auth, path = hdrs.get("authorization"), hdrs.get(":path", "")
                _, body = answer(conn, path, auth, n)
                body = body or b"no downloads over h2\n"
                c.send_headers(ev.stream_id, [(":status", "200"),
                                              ("content-length", str(len(body)))])
                c.send_data(ev.stream_id, body, end_stream=True)
                conn.log_req("h2", hdrs.get(":method"), path, auth, n, h.hexdigest())
            elif isinstance(ev, h2.events.ConnectionTerminated):
                conn.sock.sendall(c.data_to_send())
                return "goaway"
        conn.sock.sendall(c.data_to_send())


def handle(ctx, raw):
    conn = Conn(None)

    def sni_cb(sslsock, name, _ctx):
        conn.sni = name or "-"

    ctx.sni_callback = sni_cb
    raw.settimeout(30)
    try:
        conn.sock = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError) as e:
        log("hsfail sni=%s err=%s" % (conn.sni, getattr(e, "reason", None) or type(e).__name__))
        raw.close()
        return
    alpn = conn.sock.selected_alpn_protocol() or "none"
    try:
        end = serve_h2(conn) if alpn == "h2" else serve_http1(conn)
    except (OSError, ssl.SSLError, ValueError, KeyError) as e:
        end = type(e).__name__
    log("conn sni=%s alpn=%s bytes=%d reqs=%d body=%d end=%s"
        % (conn.sni, alpn, conn.nbytes, conn.reqs, conn.body, end))
    try:
        conn.sock.close()
    except OSError:
        pass


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", PORT))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        raw, _ = ls.accept()
        # A context per connection: its SNI callback names this connection.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        threading.Thread(target=handle, args=(ctx, raw), daemon=True).start()


main()
