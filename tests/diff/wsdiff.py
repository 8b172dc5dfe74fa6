#!/usr/bin/env python3
"""Differential WebSocket test: Courier against nats-server 2.9.10.

Each case starts both servers with the same `websocket {}` block (on free
loopback ports) and replays the same raw session against each: HTTP upgrade
requests, then client frames (masked unless the case says otherwise). What a
client receives is recorded per step and compared:

    c1 http HTTP/1.1 101 Switching Protocols | Upgrade: websocket | ...
    c1 <- b'PONG\\r\\n'          the data frames' payload (inflated), by line
    c1 frame close 1008 'Authentication Timeout'
    c1 frame pong b'hi'
    c1 closed                   the server closed the TCP connection

The Date header is masked; INFO is compared as in difftest.py (volatile
values masked, Courier's own key allowed). Frame boundaries of data are not
compared (they follow each server's write batching), except where a case asks
for the largest frame size (browsers get frames of at most 4 KiB).

    python3 tests/diff/wsdiff.py --candidate build/courier [--case NAME]
    python3 tests/diff/wsdiff.py --list

Exit status: 0 all matched, 1 some case differed, 2 a binary is missing or
would not start.
"""

import argparse
import base64
import fnmatch
import json
import os
import re
import selectors
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difftest  # noqa: E402

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(extra="", method="GET", version="1.1", host="x", key=KEY, path="/"):
    """An upgrade request; `extra` adds header lines ("Name: value\\r\\n")."""
    lines = "%s %s HTTP/%s\r\n" % (method, path, version)
    if host is not None:
        lines += "Host: %s\r\n" % host
    lines += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    if key is not None:
        lines += "Sec-WebSocket-Key: %s\r\n" % key
    lines += "Sec-WebSocket-Version: 13\r\n" + extra + "\r\n"
    return lines.encode()


def frame(payload, opcode=2, fin=True, mask=True, rsv1=False, first=True):
    """A client frame."""
    b0 = (opcode if first else 0) | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    n = len(payload)
    if n <= 125:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = b"\x11\x22\x33\x44"
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'


# Steps: ("open", name), ("raw", name, bytes), ("wait", seconds),
# ("close", name), ("tcp", name, bytes) for a plain NATS client on the
# server's TCP port.
def ws_session(*ops, name="c1", request=None):
    return [("open", name), ("raw", name, request or upgrade())] + list(ops)


def send(data, name="c1", **kw):
    return ("raw", name, frame(data, **kw))


CASES = []


def case(name, steps, doc="", ws="", config="", frame_sizes=False, racy_close=False, tls=False):
    """`racy_close`: a framing error, after which nats-server's close frame
    (1002 and the error) leaves or not depending on a race between its
    read and write loops (seen both ways in a row); such frames are left
    out of the comparison (Courier always sends it). `tls`: the listener is
    wss:// (a self-signed certificate made with the openssl CLI; the
    clients verify it) and every WebSocket client speaks TLS."""
    CASES.append({"name": name, "steps": steps, "doc": doc, "ws": ws, "config": config,
                  "frame_sizes": frame_sizes, "racy_close": racy_close, "tls": tls})


# ---- the upgrade ----
case("ws_upgrade_info_ping", ws_session(send(CONNECT + b"PING\r\n")),
     doc="101, the INFO in a binary frame, CONNECT and PING answered")
case("ws_refuse_post", [("open", "c1"), ("raw", "c1", upgrade(method="POST"))], doc="405")
case("ws_refuse_no_upgrade_header",
     [("open", "c1"), ("raw", "c1", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")], doc="400")
case("ws_refuse_no_key", [("open", "c1"), ("raw", "c1", upgrade(key=None))], doc="400 key missing")
case("ws_refuse_bad_version",
     [("open", "c1"), ("raw", "c1", upgrade().replace(b"Version: 13", b"Version: 8"))], doc="400")
case("ws_refuse_connection_header",
     [("open", "c1"), ("raw", "c1", upgrade().replace(b"Connection: Upgrade", b"Connection: keep-alive"))])
case("ws_refuse_http10_no_host", [("open", "c1"), ("raw", "c1", upgrade(version="1.0", host=None))],
     doc="400, and HTTP/1.0 closes")
case("ws_refuse_http11_no_host", [("open", "c1"), ("raw", "c1", upgrade(host=None))],
     doc="Go's own 400 for a missing Host")
case("ws_refuse_garbage", [("open", "c1"), ("raw", "c1", b"HELLO\r\n\r\n")], doc="malformed: 400, close")
case("ws_refused_then_upgraded_same_connection",
     [("open", "c1"), ("raw", "c1", upgrade(method="PUT")), ("raw", "c1", upgrade()),
      send(CONNECT + b"PING\r\n")], doc="a refusal keeps HTTP/1.1 open")
case("ws_origin_same_ok", ws_session(send(CONNECT + b"PING\r\n"), request=upgrade("Origin: http://x\r\n")),
     ws="same_origin: true")
case("ws_origin_same_refused", [("open", "c1"), ("raw", "c1", upgrade("Origin: http://y\r\n"))],
     ws="same_origin: true", doc="403")
case("ws_origin_allowed", ws_session(send(CONNECT + b"PING\r\n"),
                                     request=upgrade("Origin: https://app.example.com\r\n")),
     ws='allowed_origins: ["https://app.example.com"]')
case("ws_origin_not_allowed_port",
     [("open", "c1"), ("raw", "c1", upgrade("Origin: https://app.example.com:8443\r\n"))],
     ws='allowed_origins: ["https://app.example.com"]', doc="403")
case("ws_origin_absent_is_accepted", ws_session(send(CONNECT + b"PING\r\n")), ws="same_origin: true")
case("ws_compression_agreed",
     ws_session(("raw", "c1", frame(deflate(CONNECT + b"PING\r\n"), rsv1=True)),
                request=upgrade("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")),
     ws="compression: true", doc="the extension in the 101, INFO and PONG compressed")
case("ws_compression_not_asked", ws_session(send(CONNECT + b"PING\r\n")), ws="compression: true")
case("ws_compression_not_configured",
     ws_session(send(CONNECT + b"PING\r\n"),
                request=upgrade("Sec-WebSocket-Extensions: permessage-deflate\r\n")))
case("ws_no_masking_header",
     ws_session(send(CONNECT + b"PING\r\n", mask=False), request=upgrade("Nats-No-Masking: true\r\n")),
     doc="nats-server honours it for clients too")

# ---- frames ----
case("ws_ping_pong", ws_session(("raw", "c1", frame(b"hello", opcode=9)), send(CONNECT + b"PING\r\n")))
case("ws_client_close", ws_session(send(CONNECT), ("raw", "c1", frame(b"\x03\xe8bye", opcode=8))),
     doc="the status and reason echoed, then closed")
case("ws_client_close_empty", ws_session(("raw", "c1", frame(b"", opcode=8))), doc="echoed as 1005")
case("ws_client_close_bad_utf8", ws_session(("raw", "c1", frame(b"\x03\xe8\xff\xfe", opcode=8))),
     doc="1007")
case("ws_unmasked_frame", ws_session(send(CONNECT, mask=False)), doc="read error: closed", racy_close=True)
case("ws_fragmented_message",
     ws_session(("raw", "c1", frame(CONNECT + b"SUB a 1\r\nPUB a 5\r\nhe", fin=False)),
                ("raw", "c1", frame(b"llo\r\nPI", opcode=0, fin=False, first=False)),
                ("raw", "c1", frame(b"NG\r\n", opcode=0, first=False))))
case("ws_ping_between_fragments",
     ws_session(("raw", "c1", frame(CONNECT + b"PI", fin=False)),
                ("raw", "c1", frame(b"x", opcode=9)),
                ("raw", "c1", frame(b"NG\r\n", opcode=0, first=False))))
case("ws_text_frame", ws_session(send(CONNECT + b"PING\r\n", opcode=1)))
case("ws_continuation_without_start", ws_session(("raw", "c1", frame(b"PING\r\n", opcode=0))), racy_close=True)
case("ws_new_message_before_final",
     ws_session(("raw", "c1", frame(CONNECT, fin=False)), send(b"PING\r\n")), racy_close=True)
case("ws_control_too_long", ws_session(("raw", "c1", frame(b"x" * 126, opcode=9))), racy_close=True)
case("ws_control_not_final", ws_session(("raw", "c1", frame(b"x", opcode=9, fin=False))), racy_close=True)
case("ws_unknown_opcode", ws_session(("raw", "c1", frame(b"x", opcode=3))), racy_close=True)
case("ws_split_frame_bytes",
     ws_session(*[("raw", "c1", bytes([b])) for b in frame(CONNECT + b"PING\r\n")]),
     doc="a frame arriving a byte at a time")

# ---- the NATS protocol over WebSocket, and close codes ----
case("ws_pubsub_with_tcp_client",
     ws_session(send(CONNECT + b"SUB foo 1\r\nPING\r\n"),
                ("tcp", "t1", b'CONNECT {"verbose":false}\r\nPUB foo 5\r\nhello\r\nPING\r\n'),
                send(b"PUB bar 2\r\nhi\r\nPING\r\n")))
case("ws_auth_violation", ws_session(send(b'CONNECT {"verbose":false,"user":"a","pass":"bad"}\r\n')),
     config="authorization { users = [ {user: a, password: b} ] }", doc="-ERR then close 1008")
case("ws_auth_ok_users", ws_session(send(b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\nPING\r\n')),
     config="authorization { users = [ {user: a, password: b} ] }")
case("ws_auth_override_token",
     ws_session(send(b'CONNECT {"verbose":false,"auth_token":"wst"}\r\nPING\r\n')),
     ws="authorization { token: wst }", doc="INFO auth_required for websocket clients only")
case("ws_auth_override_refused", ws_session(send(b'CONNECT {"verbose":false}\r\nPING\r\n')),
     ws="authorization { token: wst }")
case("ws_connection_type_refused",
     ws_session(send(b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\n')),
     config='authorization { users = [ {user: a, password: b, allowed_connection_types: ["STANDARD"]} ] }')
case("ws_auth_timeout", ws_session(("wait", 1.6)),
     config="authorization { users = [ {user: a, password: b} ], timeout: 1 }", doc="close 1008")
case("ws_max_payload", ws_session(send(CONNECT + b"PUB a 2000\r\n")), config="max_payload: 1000",
     doc="-ERR then close 1009")
case("ws_unknown_operation", ws_session(send(CONNECT + b"BOGUS\r\n")), doc="-ERR then close 1002")
case("ws_permission_violation",
     ws_session(send(b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\nPUB no 1\r\nx\r\nPING\r\n')),
     config='authorization { users = [ {user: a, password: b, permissions: {publish: {deny: ["no"]}}} ] }')
case("ws_browser_frames",
     ws_session(send(CONNECT + b"SUB big 1\r\nPING\r\n"),
                ("tcp", "t1", b'CONNECT {"verbose":false}\r\nPUB big 10000\r\n' + b"z" * 10000 + b"\r\nPING\r\n"),
                request=upgrade("User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n")),
     frame_sizes=True, doc="frames of at most 4 KiB for browsers")


# ---- wss:// ----
case("wss_upgrade_info_ping", ws_session(send(CONNECT + b"PING\r\n")), tls=True,
     doc="TLS, then the same 101 and INFO as over ws://")
case("wss_refuse_post", [("open", "c1"), ("raw", "c1", upgrade(method="POST"))], tls=True, doc="405 over TLS")
case("wss_pubsub_with_tcp_client",
     ws_session(send(CONNECT + b"SUB foo 1\r\nPING\r\n"),
                ("tcp", "t1", b'CONNECT {"verbose":false}\r\nPUB foo 5\r\nhello\r\nPING\r\n'),
                send(b"PUB bar 2\r\nhi\r\nPING\r\n")), tls=True)
case("wss_max_payload", ws_session(send(CONNECT + b"PUB a 2000\r\n")), config="max_payload: 1000", tls=True,
     doc="-ERR then close 1009, over TLS")


# ---- the harness ----

DATE_RE = re.compile(rb"Date: [^\r\n]*")


class Client:
    def __init__(self, port, tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.setblocking(False)
        self.raw = b""
        self.upgraded = False
        self.compress = False
        self.pending_fragments = b""
        self.fragment_compressed = False
        self.data = b""
        self.max_frame = 0


class WsSession:
    def __init__(self, ws_port, tcp_port, frame_sizes, tls=None):
        self.tls = tls
        self.ws_port = ws_port
        self.tcp_port = tcp_port
        self.frame_sizes = frame_sizes
        self.clients = {}
        self.sel = selectors.DefaultSelector()
        self.lines = []

    def open(self, name):
        c = Client(self.ws_port, self.tls)
        self.clients[name] = c
        self.sel.register(c.sock, selectors.EVENT_READ, name)

    def open_tcp(self, name):
        s = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=2)
        s.setblocking(False)
        self.clients[name] = s
        self.sel.register(s, selectors.EVENT_READ, name)

    def send(self, name, data):
        c = self.clients[name]
        s = c.sock if isinstance(c, Client) else c
        s.setblocking(True)
        try:
            s.sendall(data)
        except OSError as e:
            self.lines.append("%s send failed: %s" % (name, type(e).__name__))
        s.setblocking(False)

    def parse(self, name, c):
        """Consumes what `c` received: the HTTP response, then frames."""
        if not c.upgraded:
            end = c.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = c.raw[:end]
            length = 0
            m = re.search(rb"Content-Length: (\d+)", head)
            if m:
                length = int(m.group(1))
            if not head.startswith(b"HTTP/1.1 101") and m is None and b"Connection: close" in head:
                length = len(c.raw) - end - 4  # body until close
            if len(c.raw) < end + 4 + length:
                return
            body = c.raw[end + 4:end + 4 + length]
            c.raw = c.raw[end + 4 + length:]
            text = DATE_RE.sub(b"Date: <masked>", head).replace(b"\r\n", b" | ")
            self.lines.append("%s http %s%s" % (name, text.decode(), (" || " + repr(body)) if body else ""))
            if head.startswith(b"HTTP/1.1 101"):
                c.upgraded = True
                c.compress = b"permessage-deflate" in head
        while c.upgraded and len(c.raw) >= 2:
            b0, b1 = c.raw[0], c.raw[1]
            n = b1 & 0x7F
            at = 2
            if n == 126:
                if len(c.raw) < 4:
                    return
                n = struct.unpack(">H", c.raw[2:4])[0]
                at = 4
            elif n == 127:
                if len(c.raw) < 10:
                    return
                n = struct.unpack(">Q", c.raw[2:10])[0]
                at = 10
            if b1 & 0x80:
                self.lines.append("%s server frame masked" % name)
                at += 4
            if len(c.raw) < at + n:
                return
            payload = c.raw[at:at + n]
            c.raw = c.raw[at + n:]
            op = b0 & 0x0F
            fin = bool(b0 & 0x80)
            if op in (8, 9, 10):
                kind = {8: "close", 9: "ping", 10: "pong"}[op]
                if op == 8 and len(payload) >= 2:
                    self.lines.append("%s frame close %d %r" % (name, struct.unpack(">H", payload[:2])[0],
                                                              payload[2:]))
                else:
                    self.lines.append("%s frame %s %r" % (name, kind, payload))
                continue
            if op not in (0, 2):
                self.lines.append("%s frame opcode %d" % (name, op))
            c.max_frame = max(c.max_frame, n)
            if op != 0:
                c.fragment_compressed = bool(b0 & 0x40)
            c.pending_fragments += payload
            if fin:
                message = c.pending_fragments
                c.pending_fragments = b""
                if c.fragment_compressed:
                    d = zlib.decompressobj(-15)
                    message = d.decompress(message + b"\x00\x00\xff\xff")
                c.data += message

    def collect(self, quiet=0.3, minimum=0.0):
        start = time.time()
        last = start
        while True:
            now = time.time()
            if now - last >= quiet and now - start >= minimum:
                break
            if not self.sel.get_map():
                break
            for key, _ in self.sel.select(timeout=0.02):
                name = key.data
                c = self.clients[name]
                s = c.sock if isinstance(c, Client) else c
                try:
                    data = s.recv(65536)
                    # TLS: what OpenSSL has decrypted already is not on the socket.
                    while data and isinstance(s, ssl.SSLSocket) and s.pending():
                        data += s.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except OSError:
                    data = b""
                last = time.time()
                if isinstance(c, Client):
                    c.raw += data
                    self.parse(name, c)
                if not data:
                    self.flush_data()
                    self.lines.append("%s closed" % name)
                    self.sel.unregister(s)
        self.flush_data()

    def flush_data(self):
        for name, c in self.clients.items():
            if isinstance(c, Client) and c.data:
                for line in c.data.split(b"\r\n")[:-1] if c.data.endswith(b"\r\n") else c.data.split(b"\r\n"):
                    self.lines.append("%s <- %r" % (name, line))
                c.data = b""

    def run(self, steps):
        for step in steps:
            op = step[0]
            if op == "open":
                self.open(step[1])
                self.collect(quiet=0.05)
            elif op == "raw":
                self.send(step[1], step[2])
                self.collect()
            elif op == "tcp":
                if step[1] not in self.clients:
                    self.open_tcp(step[1])
                self.send(step[1], step[2])
                self.collect()
            elif op == "wait":
                self.collect(minimum=step[1])
        self.collect()
        if self.frame_sizes:
            for name, c in self.clients.items():
                if isinstance(c, Client):
                    self.lines.append("%s frames <= 4096: %s" % (name, c.max_frame <= 4096))
        for c in self.clients.values():
            (c.sock if isinstance(c, Client) else c).close()
        return self.lines


def run_case(binary, case):
    workdir = tempfile.mkdtemp(prefix="wsdiff-")
    server = None
    try:
        tls_context = None
        security = "no_tls: true"
        if case.get("tls"):
            cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", key, "-out", cert], check=True, capture_output=True)
            security = 'tls { cert_file: "%s", key_file: "%s" }' % (cert, key)
            tls_context = ssl.create_default_context(cafile=cert)
        config = "websocket {\n  port: {ws_port}\n  %s\n  %s\n}\n%s\n" % (security, case["ws"], case["config"])

        def start():
            started = difftest.Server(binary, config, workdir)
            # The WebSocket listener starts with the server; wait until it
            # accepts.  Both servers listen for clients before they try the
            # WebSocket port, so a taken WebSocket port shows here, as an exit.
            deadline = time.time() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", started.ws_port), timeout=0.5).close()
                    return started
                except OSError:
                    if started.proc.poll() is not None or time.time() > deadline:
                        started.stop()
                        raise difftest.HarnessError("no websocket listener on %d; log:\n%s"
                                                    % (started.ws_port, started.read_log()))
                    time.sleep(0.05)

        server = difftest.start_on_free_ports(start)
        ws_port = server.ws_port
        time.sleep(0.1)
        return WsSession(ws_port, server.port, case["frame_sizes"], tls_context).run(case["steps"])
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


INFO_LINE_RE = re.compile(r"^(\S+) <- b'INFO (\{.*\}) '$")


RACY_CLOSE_RE = re.compile(r"^\S+ frame close 1002 ")


def normalise(lines, case):
    text, infos = [], []
    for line in lines:
        if case["racy_close"] and RACY_CLOSE_RE.match(line):
            continue
        m = INFO_LINE_RE.match(line)
        if m:
            infos.append((m.group(1), json.loads(m.group(2))))
            text.append("%s <- INFO" % m.group(1))
        else:
            text.append(line)
    return text, infos


def diff_once(reference, candidate, case):
    results = {}

    def work(key, binary):
        try:
            results[key] = run_case(binary, case)
        except BaseException as e:
            results[key] = e

    threads = [threading.Thread(target=work, args=(k, b)) for k, b in (("ref", reference), ("cand", candidate))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in ("ref", "cand"):
        if isinstance(results[k], BaseException):
            raise results[k]
    ref_text, ref_infos = normalise(results["ref"], case)
    cand_text, cand_infos = normalise(results["cand"], case)
    problems = []
    if ref_text != cand_text:
        problems.append("transcript differs")
        problems.append("  reference transcript:\n" + difftest.format_lines(ref_text))
        problems.append("  candidate transcript:\n" + difftest.format_lines(cand_text))
    info_problems, notes = difftest.compare_infos(ref_infos, cand_infos)
    return problems + info_problems, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate")
    ap.add_argument("--reference", default=difftest.REFERENCE_DEFAULT)
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--names", action="store_true")
    ap.add_argument("--reference-only", action="store_true")
    args = ap.parse_args()
    chosen = [c for c in CASES if not args.case or any(fnmatch.fnmatch(c["name"], p) for p in args.case)]
    if args.names:
        print(";".join(c["name"] for c in CASES))
        return 0
    if args.list:
        for c in CASES:
            print("%-45s %s" % (c["name"], c["doc"]))
        return 0
    if not chosen:
        print("no case matches %s" % args.case)
        return 2
    try:
        if args.reference_only:
            for c in chosen:
                print("== %s" % c["name"])
                print(difftest.format_lines(run_case(args.reference, c)))
            return 0
        if not args.candidate:
            print("--candidate is required")
            return 2
        failed = 0
        for c in chosen:
            problems, notes = diff_once(args.reference, args.candidate, c)
            if problems:
                # One retry: a timing accident is not a behaviour difference.
                problems, notes = diff_once(args.reference, args.candidate, c)
            print("%s %s" % ("FAIL" if problems else "ok  ", c["name"]))
            for n in notes:
                print("  note: " + n)
            for p in problems:
                print("  " + p)
            failed += bool(problems)
        print("%d/%d cases matched" % (len(chosen) - failed, len(chosen)))
        return 1 if failed else 0
    except difftest.HarnessError as e:
        print("harness error: %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
