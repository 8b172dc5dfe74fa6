#!/usr/bin/python3
"""The authorize backend of the notification gateway: a small HTTP server
(python3 standard library only) that maps tokens to users.

The gateway POSTs {"token": "<token>"} to --path, with the header
"Authorization: Bearer <token>". Answers:
  200 {"user": "<name>"}         the token is known (the body's "token",
                                 else the Bearer header)
  401 {"error": "invalid token"} it is not, or there is no token
  404 {"error": "not found"}     any other path
  405 {"error": "method not allowed"}  a method other than POST on --path

Prints one line "PORT <n>" on stdout once listening, and one line per
request on stderr (never the token).

  python3 auth_backend.py --port 8096 --token secret-alice=alice --token secret-bob=bob
"""
import argparse
import http.server
import json
import socket
import socketserver
import sys
import urllib.parse

# SIGUSR1 prints every thread's stack to stderr, so that a test waiting too
# long for "PORT" can show where start-up stalled.
import faulthandler, signal  # noqa: E401
faulthandler.register(signal.SIGUSR1)

MAX_BODY = 64 * 1024


def parse_token(text):
    """TOKEN=USER; the user is after the last '=' (tokens may end in '=')."""
    token, separator, user = text.rpartition("=")
    if not separator or not token or not user:
        raise argparse.ArgumentTypeError("expected TOKEN=USER, got %r" % text)
    return token, user


def make_handler(tokens, path):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self):
            return "courier-auth-backend"

        def log_message(self, *unused):
            pass  # one line per request is written by handle_any

        def reply(self, status, document, note="-"):
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 405:
                self.send_header("Allow", "POST")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            sys.stderr.write("%s %s %s %d %s\n" % (self.client_address[0], self.command,
                                                    self.path, status, note))
            sys.stderr.flush()

        def read_body(self):
            """The request's body, or None when it is too large or malformed
            (the connection is then closed after the answer)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                body = b""
                while True:
                    line = self.rfile.readline(1024)
                    try:
                        size = int(line.split(b";")[0].strip(), 16)
                    except ValueError:
                        return None
                    if size == 0:
                        while self.rfile.readline(1024).strip():
                            pass  # trailers
                        return body
                    if len(body) + size > MAX_BODY:
                        return None
                    body += self.rfile.read(size)
                    self.rfile.readline(1024)
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                return None
            if length < 0 or length > MAX_BODY:
                return None
            return self.rfile.read(length) if length else b""

        def handle_any(self):
            body = self.read_body()
            if body is None:
                self.close_connection = True
                self.reply(413, {"error": "body too large or malformed"})
                return
            if urllib.parse.urlsplit(self.path).path != path:
                self.reply(404, {"error": "not found"})
                return
            if self.command != "POST":
                self.reply(405, {"error": "method not allowed"})
                return
            token = None
            try:
                document = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError):
                document = None
            if isinstance(document, dict) and isinstance(document.get("token"), str):
                token = document["token"]
            else:
                scheme, _, value = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() == "bearer" and value.strip():
                    token = value.strip()
            user = tokens.get(token) if token is not None else None
            if user is None:
                self.reply(401, {"error": "invalid token"},
                           "refused (no token)" if token is None else "refused")
                return
            self.reply(200, {"user": user}, "user=" + user)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    return Handler


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default (5) drops connections under parallel tests
    daemon_threads = True

    def server_bind(self):
        # http.server's server_bind calls socket.getfqdn(), a reverse DNS
        # lookup that can stall start-up; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    parser = argparse.ArgumentParser(description="Authorize backend of the notification gateway")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--token", action="append", type=parse_token, default=[], metavar="TOKEN=USER",
                        help="a token and the user it authorizes (repeatable)")
    parser.add_argument("--path", default="/authorize", help="the path that answers (default /authorize)")
    args = parser.parse_args()

    server_class = Server6 if ":" in args.host else Server
    server = server_class((args.host, args.port), make_handler(dict(args.token), args.path))
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stderr.write("authorize backend on %s port %d, path %s, %d token(s)\n"
                     % (args.host, server.server_address[1], args.path, len(args.token)))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
