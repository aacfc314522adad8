#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The upstream of tls_intercept.sh: an HTTPS server (HTTP/1.1) that logs
# every request's Authorization header to a file outside the sandbox and
# echoes it back in the body, so the test sees both what the upstream got
# (the real value) and what the guest got back (a redaction).
#   tls_echo_server.py PORT CERT KEY LOG
import http.server
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        with open(sys.argv[4], "a") as log:
            log.write("%s %s auth=%s\n" % (self.headers.get("Host"), self.path, auth))
        body = ("you sent: %s\n" % auth).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = __import__("socket").AF_INET


def main():
    srv = Server(("0.0.0.0", int(sys.argv[1])), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", flush=True)
    srv.serve_forever()


main()
