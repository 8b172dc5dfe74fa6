#!/usr/bin/python3
"""A real HTTP server for the mss tests (python3 http.server) that records
every request as one JSON line in --log:
  {"method", "path", "headers" (name -> value, names lowercased), "body",
   "signature_ok" (only with --hmac-key: the signature header checked with
   Python's hmac module, independently of the C++ code)}

Prints "PORT <n>" on stdout once listening.

Options:
  --log FILE            where to record requests (required)
  --fail-first N        answer 500 to the first N requests, then 200
  --status CODE         status of the non-failing answers (default 200)
  --reply TEXT          body of the answers (default {"ok":true})
  --silent              accept connections but never answer (timeout tests)
  --hmac-key KEY        verify signatures with this key
  --sig-header NAME     signature header (default X-Courier-Signature)
  --sig-prefix TEXT     text before the hex digest (default sha256=)
  --cert FILE --key FILE  serve https
"""
# First of all: SIGUSR1 prints where every thread is (to stderr), so a test
# that waits too long for "PORT" can show where the start-up stalled.
import faulthandler
import signal
faulthandler.register(signal.SIGUSR1, all_threads=True)

import argparse
import hashlib
import hmac
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--reply", default='{"ok":true}')
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--hmac-key")
    parser.add_argument("--sig-header", default="X-Courier-Signature")
    parser.add_argument("--sig-prefix", default="sha256=")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    if args.silent:
        listener = socket.socket()
        listener.bind(("127.0.0.1", args.port))
        listener.listen(64)
        print("PORT %d" % listener.getsockname()[1], flush=True)
        held = []
        while True:
            connection, _ = listener.accept()
            held.append(connection)  # never read, never answer, never close

    lock = threading.Lock()
    state = {"count": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length > 0 else b""
            record = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            if args.hmac_key is not None:
                expected = args.sig_prefix + hmac.new(args.hmac_key.encode(), body, hashlib.sha256).hexdigest()
                received = self.headers.get(args.sig_header, "")
                record["signature_ok"] = hmac.compare_digest(expected, received)
            with lock:
                state["count"] += 1
                number = state["count"]
                record["number"] = number
                with open(args.log, "a") as out:
                    out.write(json.dumps(record) + "\n")
            status = 500 if number <= args.fail_first else args.status
            reply = args.reply.encode() if status < 500 else b'{"error":"induced failure"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    class Server(http.server.ThreadingHTTPServer):
        # The default listen backlog (5) drops SYNs under parallel tests.
        request_queue_size = 128

        def server_bind(self):
            # HTTPServer.server_bind asks socket.getfqdn() for a name: a
            # reverse DNS lookup that, on a machine whose resolver is slow
            # or unreachable, stalls start-up past the test's 15 s wait.
            # The name is never used here.
            socketserver.TCPServer.server_bind(self)
            self.server_name = "127.0.0.1"
            self.server_port = self.server_address[1]

    server = Server(("127.0.0.1", args.port), Handler)
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
