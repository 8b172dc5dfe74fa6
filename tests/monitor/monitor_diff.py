#!/usr/bin/env python3
"""Differential monitoring test: Courier's HTTP monitoring against nats-server 2.9.10.

Each case (monitor_cases.py) starts the reference and the candidate at the same
time, each as `BIN -a 127.0.0.1 -p PORT -c CONF` with the monitoring port in the
config (`http_port: N`, or `-m N` where a case says so), drives both with the
same raw-protocol client activity, fetches the same monitoring URLs from both
and compares every response:

  * HTTP status, Content-Type (and X-Content-Type-Options);
  * text bodies (errors, 404) byte for byte; the index page by its links;
  * JSON bodies: the text must be laid out exactly as Go's json.MarshalIndent
    (or json.Marshal, for /healthz) writes it, which the reference's own
    documents prove on every run; then the trees are compared recursively:
    same keys in the same order, same JSON types, same values, except
      - volatile values (ids, clocks, durations, ports, memory, cpu), checked by
        format or against what the harness knows (a server's own ports, the
        local port of each client socket);
      - server-wide counters that include nats-server's internal system-account
        subscriptions and traffic, compared as a delta against a baseline
        document fetched before the client activity (see README.md);
      - arrays whose order is a Go map's iteration order, compared as sets;
      - connections that tie under a /connz sort key, compared in cid order.
  * a short transcript of what each client saw (connect result, received
    messages), so a protocol difference is reported as such.

Usage:
    python3 tests/monitor/monitor_diff.py --candidate build/courier [--case NAME ...]
    python3 tests/monitor/monitor_diff.py --reference-only --case connz_sort   # show nats-server's documents
    python3 tests/monitor/monitor_diff.py --list

Exit status: 0 every selected case matched, 1 some case differed, 2 a binary
is missing or would not start, or its monitoring port never opened.
"""

import argparse
import fnmatch
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, ".."))
import gojson  # noqa: E402
from free_port import free_port, start_on_free_ports, wait_logged  # noqa: E402

REFERENCE_DEFAULT = "/usr/sbin/nats-server"
# Generous bounds for a loaded 2-core CI machine; nothing waits this long
# when the servers behave.
START_TIMEOUT = 30.0
IO_TIMEOUT = 15.0
POLL_TIMEOUT = 15.0


class HarnessError(Exception):
    """The harness could not run a case (binary missing, no start, bad case)."""


# --------------------------------------------------------------------------
# Servers and clients


class Server:
    """One server process with its client port and monitoring port."""

    def __init__(self, binary, config, workdir, http_flag=False, http_line=None):
        if not binary or not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            raise HarnessError("server binary not found or not executable: %r" % binary)
        self.binary = binary
        # Another process can take a picked port before the server binds it:
        # then the start is retried on new ports.
        start_on_free_ports(lambda: self._start(config, workdir, http_flag, http_line))

    def _start(self, config, workdir, http_flag, http_line):
        self.port = free_port()
        self.http_port = free_port()
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        text = config or ""
        if http_flag:
            args += ["-m", str(self.http_port)]
        elif http_line:
            text = http_line.replace("{port}", str(self.http_port)) + "\n" + text
        else:
            text = "http_port: %d\n" % self.http_port + text
        path = os.path.join(workdir, "server.conf")
        with open(path, "w") as f:
            f.write(text)
        args += ["-c", path]
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        """Ready when the log says "Server is ready" and the monitoring port
        accepts a TCP connection.  No client connection is made (it would
        take a cid and show in /connz), no HTTP request either (it would
        count in /varz http_req_stats)."""
        deadline = time.time() + START_TIMEOUT
        wait_logged(self.proc, self.log_path, deadline, HarnessError, self.binary)
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise HarnessError("%s exited with %s at start; log:\n%s" % (
                        self.binary, self.proc.returncode, self.read_log()))
                time.sleep(0.05)
        raise HarnessError("%s: monitoring port %d never accepted a connection; log:\n%s"
                           % (self.binary, self.http_port, self.read_log()))

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


MSG_HEAD_RE = re.compile(rb"(H?MSG) [^\r\n]* (\d+)\r\n")


def split_frames(data):
    """Complete protocol frames at the start of data, and the rest."""
    frames = []
    pos = 0
    while pos < len(data):
        m = MSG_HEAD_RE.match(data, pos)
        if m:
            end = m.end() + int(m.group(2)) + 2
            if end > len(data):
                break
            frames.append(data[pos:end])
            pos = end
            continue
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            break
        frames.append(data[pos:nl + 2])
        pos = nl + 2
    return frames, data[pos:]


class Client:
    """A raw NATS client socket."""

    def __init__(self, name, sock):
        self.name = name
        self.sock = sock
        self.local_port = sock.getsockname()[1]
        self.buf = b""
        self.closed = False

    def read_frames(self, until, timeout=IO_TIMEOUT):
        """Read frames until `until(frame)` is true for one of them or the
        server closes; returns (frames, found)."""
        got = []
        deadline = time.time() + timeout
        while True:
            frames, self.buf = split_frames(self.buf)
            for i, f in enumerate(frames):
                got.append(f)
                if until(f):
                    # keep what follows for the next read
                    self.buf = b"".join(frames[i + 1:]) + self.buf
                    return got, True
            left = deadline - time.time()
            if left <= 0 or self.closed:
                return got, False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return got, False
            except OSError:
                data = b""
            if not data:
                self.closed = True
            self.buf += data


class Run:
    """One case's client activity and document fetches against one server.
    The case's scenario calls these methods; both servers get the same calls."""

    def __init__(self, server, base_path=""):
        self.server = server
        self.base_path = base_path
        self.clients = {}
        self.local_ports = {}
        self.transcript = []
        self.docs = []
        self.polls = 0
        self.activity = 0
        self.error = None  # the scenario stopped with this exception

    # -- clients -----------------------------------------------------------

    def connect(self, name, user=None, password=None, lang="python", version="1.2.3",
                rcvbuf=None, connect=True, **fields):
        """Open a client, read INFO, send CONNECT (name/lang/version and
        verbose/pedantic off, plus user/pass or other fields) and a PING;
        record whether PONG or an error came back."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(IO_TIMEOUT)
        s.connect(("127.0.0.1", self.server.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Client(name, s)
        self.clients[name] = c
        self.local_ports[c.local_port] = name
        self.activity += 1
        frames, ok = c.read_frames(lambda f: f.startswith(b"INFO "))
        if not ok:
            self.transcript.append("%s: no INFO" % name)
            return c
        if not connect:
            self.transcript.append("%s connected without CONNECT" % name)
            return c
        opts = {"verbose": False, "pedantic": False, "name": name, "lang": lang,
                "version": version, "protocol": 1}
        if user is not None:
            opts["user"] = user
            opts["pass"] = password
        opts.update(fields)
        self._send(c, b"CONNECT " + json.dumps(opts, separators=(",", ":")).encode() + b"\r\nPING\r\n")
        frames, ok = c.read_frames(lambda f: f in (b"PONG\r\n",) or f.startswith(b"-ERR"))
        if frames and frames[-1].startswith(b"-ERR"):
            c.read_frames(lambda f: False, timeout=IO_TIMEOUT)  # until closed
        self._record(name, "connect", frames, c)
        return c

    def _send(self, c, data):
        try:
            c.sock.sendall(data)
        except OSError as e:
            self.transcript.append("%s send failed: %s" % (c.name, type(e).__name__))

    def _record(self, name, what, frames, c):
        shown = [f for f in frames if f != b"PING\r\n"]
        text = b"".join(shown)
        if len(text) > 400:
            text = text[:200] + b"...(%d bytes)" % len(text)
        self.transcript.append("%s %s: %r%s" % (name, what, text, " closed" if c.closed else ""))

    def send(self, name, data):
        """Send raw bytes (no wait)."""
        self.activity += 1
        self._send(self.clients[name], data.encode() if isinstance(data, str) else data)

    def sync(self, name, record=True):
        """PING and read everything up to the PONG: the server has processed
        all that this client sent before."""
        c = self.clients[name]
        self._send(c, b"PING\r\n")
        frames, ok = c.read_frames(lambda f: f == b"PONG\r\n")
        if record:
            self._record(name, "sync", frames, c)
        return frames

    def sub(self, name, subject, sid, queue=None):
        self.send(name, "SUB %s %s%s\r\n" % (subject, queue + " " if queue else "", sid))

    def unsub(self, name, sid, max_msgs=None):
        self.send(name, "UNSUB %s%s\r\n" % (sid, " %d" % max_msgs if max_msgs else ""))

    def pub(self, name, subject, payload, reply=None):
        if isinstance(payload, str):
            payload = payload.encode()
        self.send(name, b"PUB %s %s%d\r\n%s\r\n" % (
            subject.encode(), (reply + " ").encode() if reply else b"", len(payload), payload))

    def close(self, name):
        """A client closing its connection cleanly (the server sees EOF:
        reason "Client Closed"): everything received is read first, since
        closing with unread data would send a reset ("Read Error")."""
        c = self.clients[name]
        self.sync(name, record=False)
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.read_frames(lambda f: False)  # until the server closes
        c.sock.close()
        self.activity += 1
        self.transcript.append("%s closed by client" % name)

    def wait_closed_by_server(self, name):
        """Read (discarding) until the server closes this client."""
        c = self.clients[name]
        c.read_frames(lambda f: False, timeout=POLL_TIMEOUT)
        self.transcript.append("%s %s" % (name, "closed by server" if c.closed else "still open"))

    # -- monitoring --------------------------------------------------------

    def http(self, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=IO_TIMEOUT)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            headers = {k.lower(): v for k, v in r.getheaders()}
            return r.status, headers, body
        finally:
            conn.close()

    def fetch(self, path, label=None):
        """Fetch a URL and keep the response for comparison."""
        status, headers, body = self.http(path)
        self.docs.append(Doc(label or path, path, status, headers, body, self.activity,
                             self.base_path))

    def fetch_on_one_connection(self, paths):
        """Several requests on one kept-alive HTTP/1.1 connection (as
        browsers and metric exporters send them); a request that fails is
        kept as status 0 with the error as its body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=IO_TIMEOUT)
        try:
            for path in paths:
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                    status, headers = r.status, {k.lower(): v for k, v in r.getheaders()}
                except (OSError, http.client.HTTPException) as e:
                    status, headers, body = 0, {}, ("%s" % type(e).__name__).encode()
                    conn.close()
                self.docs.append(Doc(path + " (kept-alive)", path, status, headers, body,
                                     self.activity, self.base_path))
        finally:
            conn.close()

    def poll(self, path, predicate, what):
        """Fetch a JSON URL until predicate(document) holds (or POLL_TIMEOUT).
        These requests are not compared, but they count in /varz
        http_req_stats, which a case that polls compares by type only."""
        deadline = time.time() + POLL_TIMEOUT
        ok = False
        while time.time() < deadline:
            self.polls += 1
            status, _, body = self.http(path)
            if status == 200:
                try:
                    if predicate(json.loads(body)):
                        ok = True
                        break
                except ValueError:
                    pass
            time.sleep(0.05)
        self.transcript.append("wait for %s: %s" % (what, "ok" if ok else "timed out"))
        return ok


class Doc:
    def __init__(self, label, path, status, headers, body, activity, base_path=""):
        self.label = label
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body
        self.activity = activity
        url = urllib.parse.urlsplit(path)
        self.query = urllib.parse.parse_qs(url.query)
        # the endpoint without the configured http_base_path
        self.endpoint = url.path
        if base_path and url.path.startswith(base_path):
            self.endpoint = url.path[len(base_path):] or "/"
        if self.endpoint == "/subscriptionsz":  # nats-server's alias
            self.endpoint = "/subsz"

    def param(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


# --------------------------------------------------------------------------
# Comparison rules


TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?(Z|[+-]\d\d:\d\d)$")
UPTIME_RE = re.compile(r"^(\d+y\d+d\d+h\d+m|\d+d\d+h\d+m|\d+h\d+m|\d+m)?\d+s$")
GO_DURATION_RE = re.compile(
    r"^(0s|\d+(\.\d*[1-9])?(ns|µs|ms)|(\d+h)?(\d+m)?\d+(\.\d*[1-9])?s|(\d+h)?\d+m0s|\d+h0m0s)$")
SERVER_ID_RE = re.compile(r"^N[A-Z2-7]{55}$")


def check_time(v):
    return isinstance(v, str) and bool(TIME_RE.match(v))


def check_uptime(v):
    return isinstance(v, str) and bool(UPTIME_RE.match(v))


def check_duration(v):
    return isinstance(v, str) and bool(GO_DURATION_RE.match(v))


def check_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_string(v):
    return isinstance(v, str)


def check_server_id(v):
    return isinstance(v, str) and bool(SERVER_ID_RE.match(v))


# key name (anywhere) -> (description, checker): compared by format only.
VOLATILE = {
    "server_id": ("a server id (N + 55 base32 characters)", check_server_id),
    "now": ("an RFC 3339 time with nanoseconds", check_time),
    "start": ("an RFC 3339 time with nanoseconds", check_time),
    "config_load_time": ("an RFC 3339 time with nanoseconds", check_time),
    "last_activity": ("an RFC 3339 time with nanoseconds", check_time),
    "stop": ("an RFC 3339 time with nanoseconds", check_time),
    "update_time": ("an RFC 3339 time with nanoseconds", check_time),
    "uptime": ("an uptime like 1h2m3s", check_uptime),
    "idle": ("an uptime like 1h2m3s", check_uptime),
    "rtt": ("a Go duration like 443µs", check_duration),
    "mem": ("a number", check_number),
    "cpu": ("a number", check_number),
    "go": ("a string", check_string),
}

# Server-wide counters that include nats-server's own system-account
# subscriptions or traffic: (endpoint, path pattern) compared as the change
# from the baseline document (same endpoint, same acc=) of the same run.
DELTA = [
    ("/varz", "subscriptions"), ("/varz", "total_connections"), ("/varz", "connections"),
    ("/varz", "in_msgs"), ("/varz", "out_msgs"), ("/varz", "in_bytes"), ("/varz", "out_bytes"),
    ("/varz", "slow_consumers"),
    ("/subsz", "num_subscriptions"), ("/subsz", "num_inserts"), ("/subsz", "num_removes"),
    ("/accountz", "account_detail.subscriptions"),
    ("/accountz", "account_detail.sublist_stats.num_subscriptions"),
    ("/accountz", "account_detail.sublist_stats.num_inserts"),
    ("/accountz", "account_detail.sublist_stats.num_removes"),
]
# Sublist cache statistics: in a per-account view (/subsz?acc=, /accountz
# ?acc=) only the clients use the cache, so they are compared as deltas, and
# the derived rates exactly when the baseline had an empty cache; in the
# server-wide /subsz they also count nats-server's internal system-account
# event publishes (two per client connect), so there they are checked by
# type only.
CACHE_COUNTS = {"num_cache"}
CACHE_DERIVED = {"max_fanout", "avg_fanout"}
# How many lookups reached the account's shared sublist, and how many of them
# its cache answered, depend on the caches in front of it: nats-server keeps
# one per client connection, Courier one per event loop (shared by the
# connections of that loop), so the same traffic makes different numbers on
# each. Checked as numbers only.
LOOKUP_STATS = {"num_matches", "cache_hit_rate"}

# Arrays filled from a Go map (random order in nats-server): compared as
# multisets.  Patterns over the path with indices written as [].
UNORDERED = [
    "connections[].subscriptions_list",
    "connections[].subscriptions_list_detail",
    "subscriptions_list",
    "accounts",
    "account_detail.imports",
    "account_detail.exports",
    "account_statz",
    "leafs",
    "routes",
]

def time_ns(value):
    """An RFC 3339 time as integer nanoseconds since the epoch (None when
    absent or malformed)."""
    if not isinstance(value, str) or not TIME_RE.match(value):
        return None
    import calendar
    date, _, rest = value.partition("T")
    m = re.match(r"(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|([+-])(\d\d):(\d\d))$", rest)
    y, mo, d = (int(x) for x in date.split("-"))
    secs = calendar.timegm((y, mo, d, int(m.group(1)), int(m.group(2)), int(m.group(3))))
    if m.group(6):
        off = (int(m.group(7)) * 60 + int(m.group(8))) * 60
        secs -= off if m.group(6) == "+" else -off
    return secs * 10**9 + int((m.group(4) or "").ljust(9, "0"))


def _elapsed(conn, later, earlier, now=None):
    a = time_ns(conn.get(later)) if later else now
    b = time_ns(conn.get(earlier))
    return None if a is None or b is None else a - b


# /connz ?sort= value -> (key of a connection, descending, deterministic).
# nats-server 2.9.10's orders, as observed (README.md): idle sorts by the
# time between start and last activity, descending (not by idleness);
# uptime by stop (or now) minus start, ascending (newest first); stop
# descending; reason ascending.  Deterministic keys (counts, cids, reasons) must give the same
# order on both servers, ties compared in cid order; time keys (and
# pending bytes, a transient) differ between two runs, so each server's order is checked against its own
# values and the connections are then compared in cid order.
SORTS = {
    "cid": (lambda c, now: c.get("cid"), False, True),
    "start": (lambda c, now: time_ns(c.get("start")), False, False),
    "subs": (lambda c, now: c.get("subscriptions"), True, True),
    "pending": (lambda c, now: c.get("pending_bytes"), True, False),
    "msgs_to": (lambda c, now: c.get("out_msgs"), True, True),
    "msgs_from": (lambda c, now: c.get("in_msgs"), True, True),
    "bytes_to": (lambda c, now: c.get("out_bytes"), True, True),
    "bytes_from": (lambda c, now: c.get("in_bytes"), True, True),
    "last": (lambda c, now: time_ns(c.get("last_activity")), True, False),
    "idle": (lambda c, now: _elapsed(c, "last_activity", "start"), True, False),
    "uptime": (lambda c, now: _elapsed(c, "stop" if c.has("stop") else None, "start", now),
               False, False),
    "stop": (lambda c, now: time_ns(c.get("stop")), True, False),
    "reason": (lambda c, now: c.get("reason"), False, True),
}


def sort_violation(conns, sort, now):
    """None when conns are in nats-server's order for this sort, else a
    description of the first pair out of order."""
    keyf, desc, _ = SORTS[sort]
    keys = [keyf(c, now) for c in conns]
    for i in range(1, len(keys)):
        a, b = keys[i - 1], keys[i]
        if a is None or b is None:
            return "connection %d has no value for sort=%s" % (i if a is None else i + 1, sort)
        if (a < b) if desc else (a > b):
            return "cid %s (%s) before cid %s (%s) under sort=%s" % (
                conns[i - 1].get("cid"), a, conns[i].get("cid"), b, sort)
    return None


COMPARED_HEADERS = ["content-type", "x-content-type-options"]


def glob(name, pattern):
    """Shell-style match where only * is special ([] in paths is literal)."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None


def pattern_of(path):
    """connections[3].port -> connections[].port"""
    return re.sub(r"\[\d+\]", "[]", path)


def join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return key if not path else path + "." + key


def lookup(tree, dotted):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, gojson.Object) or not node.has(part):
            return None
        node = node.get(part)
    return node


def is_internal_sub(entry):
    """A /subsz subscriptions_list entry of nats-server's own: the system
    account's, or an import of a $SYS subject into a client account."""
    if not isinstance(entry, gojson.Object):
        return False
    return entry.get("account") == "$SYS" or str(entry.get("subject", "")).startswith("$SYS.")


def canonical(value):
    """Sort key for multiset comparison of array elements."""
    return json.dumps(gojson.to_plain(value), sort_keys=True, ensure_ascii=False)


class Context:
    """What the comparison of one document pair needs to know."""

    def __init__(self, ref_run, cand_run, ref_doc, cand_doc, ref_base, cand_base, case):
        self.runs = (ref_run, cand_run)
        self.docs = (ref_doc, cand_doc)
        self.bases = (ref_base, cand_base)
        self.case = case
        self.endpoint = ref_doc.endpoint
        self.base_doc = None
        self.per_account = ref_doc.param("acc") is not None
        self.polled = ref_run.polls or cand_run.polls


def volatile_extra(case, endpoint, pattern):
    for ep, pat in case.get("volatile", []):
        if glob(endpoint, ep) and glob(pattern, pat):
            return True
    return False


# Values compared so far (leaves and key lists), for the summary line.
COMPARED = [0]


def compare_values(ctx, path, ref, cand, problems, trees):
    """Recursive comparison; appends human-readable problems."""
    COMPARED[0] += 1
    pattern = pattern_of(path)
    key = path.rsplit(".", 1)[-1] if path else ""
    key = re.sub(r"\[\d+\]$", "", key)
    rt, ct = gojson.type_name(ref), gojson.type_name(cand)

    def differ(what):
        problems.append("%s: %s" % (path or "(document)", what))

    # Values the harness can check against each server's own facts.
    if ctx.endpoint == "/varz" and path in ("port", "http_port"):
        for run, v, who in ((ctx.runs[0], ref, "reference"), (ctx.runs[1], cand, "candidate")):
            want = run.server.port if path == "port" else run.server.http_port
            if v != want:
                differ("%s has %s, its own port is %d" % (who, json.dumps(v), want))
        return
    if pattern == "connections[].port":
        names = []
        for run, v in zip(ctx.runs, (ref, cand)):
            names.append(run.local_ports.get(v, "an unknown port %s" % json.dumps(v)))
        if names[0] != names[1]:
            differ("the port of client %s in the reference, of %s in the candidate" % tuple(names))
        return
    if key == "server_name" and ctx.endpoint == "/varz":
        rid, cid = trees[0].get("server_id"), trees[1].get("server_id")
        if ref == rid:
            if cand != cid:
                differ("reference names itself by its server_id, candidate has %s (server_id %s)"
                       % (json.dumps(cand), json.dumps(cid)))
        elif ref != cand:
            differ("reference %s, candidate %s" % (json.dumps(ref), json.dumps(cand)))
        return
    if key == "cid" and ctx.endpoint in ("/connz", "/subsz") and check_number(ref):
        rr = ctx.runs[0].cid_rank.get(ref)
        cr = ctx.runs[1].cid_rank.get(cand)
        if rr is None:
            raise HarnessError("%s: reference cid %s not among the client cids" % (path, ref))
        if rr != cr:
            differ("the reference's %s client cid (%s), the candidate's %s (%s)"
                   % (ordinal(rr), ref, ordinal(cr) if cr is not None else "non-client", cand))
        return
    if key in VOLATILE and ref == "":
        # e.g. server_id of a /connz filtered by an unknown account
        if cand != "":
            differ("reference \"\", candidate %s" % json.dumps(cand))
        return
    if key in VOLATILE or volatile_extra(ctx.case, ctx.endpoint, pattern):
        desc, check = VOLATILE.get(key, ("the same JSON type", None))
        if check is None:
            ok_ref, ok_cand = True, (rt == ct or (check_number(ref) and check_number(cand)))
        else:
            ok_ref, ok_cand = check(ref), check(cand)
        if not ok_ref:
            raise HarnessError("%s: the reference's %s is not %s; fix the rule"
                               % (path, json.dumps(ref), desc))
        if not ok_cand:
            differ("candidate %s is not %s (reference e.g. %s)"
                   % (json.dumps(cand, ensure_ascii=False), desc, json.dumps(ref, ensure_ascii=False)))
        return
    if pattern.startswith("http_req_stats") and ctx.endpoint == "/varz" and ctx.polled and path != "http_req_stats":
        # the polls of this case counted as requests too
        if not check_number(cand):
            differ("candidate %s is not a number" % json.dumps(cand))
        return
    if ctx.endpoint in ("/subsz", "/accountz") and key in LOOKUP_STATS:
        if not check_number(cand):
            differ("candidate %s is not a number" % json.dumps(cand))
        return
    delta_keys = [p for ep, p in DELTA if ep == ctx.endpoint]
    cache_key = ctx.endpoint in ("/subsz", "/accountz") and key in (CACHE_COUNTS | CACHE_DERIVED)
    if pattern in delta_keys or (cache_key and ctx.per_account and key in CACHE_COUNTS):
        if ctx.base_doc is ctx.docs[0] and ctx.docs[0].activity:
            raise HarnessError("%s: the first %s document of the case comes after client "
                               "activity; fetch a baseline first" % (ctx.docs[0].label, ctx.endpoint))
        if ctx.bases[0] is None:
            raise HarnessError("%s %s: no baseline document (fetch the same endpoint with the "
                               "same acc= before any client activity)" % (ctx.docs[0].label, path))
        rb, cb = lookup(ctx.bases[0], path), lookup(ctx.bases[1], path)
        if not (check_number(ref) and check_number(rb)):
            raise HarnessError("%s: reference value or baseline is not a number" % path)
        if not (check_number(cand) and check_number(cb)):
            differ("candidate %s (baseline %s) is not a number" % (json.dumps(cand), json.dumps(cb)))
            return
        if ref - rb != cand - cb:
            differ("change from baseline: reference %s (%s -> %s), candidate %s (%s -> %s)"
                   % (ref - rb, rb, ref, cand - cb, cb, cand))
        return
    if cache_key:
        base_cache = lookup(ctx.bases[0], path.rsplit(".", 1)[0] + ".num_cache"
                            if "." in path else "num_cache") if ctx.bases[0] is not None else None
        if not ctx.per_account or base_cache not in (0, None) or ctx.bases[0] is None:
            if not (check_number(cand)):
                differ("candidate %s is not a number" % json.dumps(cand))
            return
        # per-account view with an empty baseline cache: exact, below

    if rt != ct:
        # Go writes an integral float64 as an integer token.
        if {rt, ct} <= {"int", "float"}:
            # Go writes an integral float64 as an integer token
            if float(ref) != float(cand):
                differ("reference %s, candidate %s" % (short(ref), short(cand)))
            return
        differ("type differs: reference %s %s, candidate %s %s"
               % (rt, short(ref), ct, short(cand)))
        return
    if rt == "object":
        rk, ck = ref.keys(), cand.keys()
        missing = [k for k in rk if k not in ck]
        extra = [k for k in ck if k not in rk]
        if missing:
            differ("keys missing in candidate: %s" % ", ".join(missing))
        if extra:
            differ("keys only in candidate: %s" % ", ".join(extra))
        common_r = [k for k in rk if k in ck]
        common_c = [k for k in ck if k in rk]
        if common_r != common_c:
            differ("key order differs: reference %s; candidate %s"
                   % (",".join(common_r), ",".join(common_c)))
        for k in common_r:
            if k == "pending_bytes" and ctx.endpoint == "/connz":
                # bytes queued but not yet written: a server PING or an
                # -ERR in flight, or what was left unsent when the server
                # closed the connection; timing decides, so type only
                if not check_number(cand.get(k)):
                    differ("pending_bytes: candidate %s is not a number" % json.dumps(cand.get(k)))
                continue
            compare_values(ctx, join(path, k), ref.get(k), cand.get(k), problems, trees)
        return
    if rt == "array":
        if len(ref) != len(cand):
            differ("%d elements in the reference, %d in the candidate:\n        reference %s\n"
                   "        candidate %s" % (len(ref), len(cand), short(ref, 600), short(cand, 600)))
            return
        if any(glob(pattern, p) for p in UNORDERED):
            ref = sorted(ref, key=canonical)
            cand = sorted(cand, key=canonical)
            if not any(isinstance(v, list) for v in ref + cand):
                # scalars: one message naming what differs
                rs, cs = [canonical(v) for v in ref], [canonical(v) for v in cand]
                if rs != cs and all(gojson.type_name(v) not in ("object",) for v in ref + cand):
                    only_r = [v for v in rs if v not in cs]
                    only_c = [v for v in cs if v not in rs]
                    differ("as a set: only in the reference %s, only in the candidate %s"
                           % (", ".join(only_r) or "-", ", ".join(only_c) or "-"))
                    return
        for i, (r, c) in enumerate(zip(ref, cand)):
            compare_values(ctx, join(path, i), r, c, problems, trees)
        return
    if isinstance(ref, (int, float)) and not isinstance(ref, bool):
        same = ref == cand and (getattr(ref, "raw", None) == getattr(cand, "raw", None)
                                or rt == "float")
    else:
        same = ref == cand
    if not same:
        differ("reference %s, candidate %s" % (short(ref), short(cand)))


def ordinal(i):
    return "%d%s" % (i + 1, {0: "st", 1: "nd", 2: "rd"}.get(i if i < 3 else 9, "th"))


def short(v, limit=200):
    s = json.dumps(gojson.to_plain(v), ensure_ascii=False)
    return s if len(s) <= limit else s[:limit] + "..."


SUBSZ_LIST_PART = ("server_id", "now", "total", "offset", "limit", "subscriptions_list")


def normalise_doc(doc, tree, problems):
    """Reshape a parsed document before comparison: drop nats-server's
    internal subscriptions from /subsz lists, and order connections that
    tie under the requested /connz sort by cid."""
    if doc.endpoint == "/subsz" and isinstance(tree, gojson.Object) and tree.has("subscriptions_list"):
        lst = tree.get("subscriptions_list")
        if isinstance(lst, list):
            kept = [e for e in lst if not is_internal_sub(e)]
            full = tree.get("offset") == 0 and tree.get("total") == len(lst)
            if full and lst and not kept:
                # only internal subscriptions: nats-server without them
                # would leave the list part out, as it does for an empty page
                tree[:] = [(k, v) for k, v in tree if k not in SUBSZ_LIST_PART]
            else:
                total = tree.get("total")
                if full:
                    # the whole list is here: total counts client entries
                    total = gojson.Int(len(kept))
                    total.raw = str(len(kept))
                tree[:] = [(k, kept if k == "subscriptions_list" else total if k == "total" else v)
                           for k, v in tree]
    if doc.endpoint == "/connz" and isinstance(tree, gojson.Object):
        conns = tree.get("connections")
        sort = doc.param("sort") or "cid"
        if (sort in SORTS and isinstance(conns, list) and conns
                and all(isinstance(c, gojson.Object) for c in conns)):
            keyf, _, deterministic = SORTS[sort]
            now = time_ns(tree.get("now"))
            bad = sort_violation(conns, sort, now)
            if bad:
                problems.append("connections not in nats-server's sort=%s order: %s" % (sort, bad))
            if deterministic:
                # runs of equal keys in cid order
                out, i = [], 0
                while i < len(conns):
                    j = i
                    while j < len(conns) and keyf(conns[j], now) == keyf(conns[i], now):
                        j += 1
                    out += sorted(conns[i:j], key=lambda c: c.get("cid") or 0)
                    i = j
            else:
                out = sorted(conns, key=lambda c: c.get("cid") or 0)
            tree[:] = [(k, out if k == "connections" else v) for k, v in tree]
    return tree


def body_kind(doc):
    ctype = doc.headers.get("content-type", "")
    if doc.param("callback") and ctype.startswith("application/javascript"):
        return "jsonp"
    if ctype.startswith("application/json"):
        return "json"
    if ctype.startswith("text/html"):
        return "html"
    return "text"


def split_jsonp(doc):
    cb = doc.param("callback")
    body = doc.body.decode("utf-8", errors="replace")
    if body.startswith(cb + "(") and body.endswith(")"):
        return body[len(cb) + 1:-1]
    return None


def check_form(text):
    """'indented' or 'compact' when text is exactly what Go's encoding/json
    writes for it, else None."""
    tree = gojson.parse(text)
    if gojson.marshal(tree, indent=True) == text:
        return "indented", tree
    if gojson.marshal(tree, indent=False) == text:
        return "compact", tree
    return None, tree


HREF_RE = re.compile(r"""<a\s[^>]*?href=("[^"]*"|'[^']*'|[^\s>]+)""", re.I)


def index_links(doc):
    """The same-server pages an HTML page links to, as absolute paths."""
    out = set()
    for href in HREF_RE.findall(doc.body.decode(errors="replace")):
        href = href.strip("\"'")
        url = urllib.parse.urlsplit(urllib.parse.urljoin(doc.path, href))
        if not url.netloc:
            out.add(url.path)
    return out


def first_text_difference(a, b):
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
        if x != y:
            return "line %d: reference %r, candidate %r" % (i + 1, x, y)
    return "lengths %d and %d" % (len(a), len(b))


def parse_json_doc(doc, who):
    kind = body_kind(doc)
    text = doc.body.decode("utf-8", errors="replace")
    if kind == "jsonp":
        text = split_jsonp(doc)
        if text is None:
            return None, None, "%s body is not %s(...)" % (who, doc.param("callback"))
    try:
        form, tree = check_form(text)
    except ValueError as e:
        return None, None, "%s body is not JSON (%s): %r" % (who, e, text[:200])
    return form, tree, None


def client_cids(run):
    """The cids of client connections shown anywhere in a run's /connz and
    /subsz documents (nats-server's internal subscriptions left out)."""
    found = set()
    for doc in run.docs:
        if doc.status != 200 or body_kind(doc) not in ("json", "jsonp"):
            continue
        text = split_jsonp(doc) if body_kind(doc) == "jsonp" else doc.body.decode(errors="replace")
        try:
            tree = gojson.parse(text or "")
        except ValueError:
            continue
        if not isinstance(tree, gojson.Object):
            continue
        if doc.endpoint == "/connz":
            for c in tree.get("connections") or []:
                if isinstance(c, gojson.Object) and isinstance(c.get("cid"), int):
                    found.add(int(c.get("cid")))
        elif doc.endpoint == "/subsz":
            for e in tree.get("subscriptions_list") or []:
                if not is_internal_sub(e) and isinstance(e, gojson.Object) \
                        and isinstance(e.get("cid"), int):
                    found.add(int(e.get("cid")))
    return found


def compare_docs(case, ref_run, cand_run, notes=None):
    """Problems found comparing two runs of a case (empty when they match);
    remarks that are not failures go to notes."""
    problems = []
    notes = [] if notes is None else notes
    # Client cids are compared by rank: nats-server gives cids to its
    # internal clients concurrently with the first client connections, so
    # even two nats-servers number the first client 3 or 4.
    ref_cids, cand_cids = sorted(client_cids(ref_run)), sorted(client_cids(cand_run))
    ref_run.cid_rank = {c: i for i, c in enumerate(ref_cids)}
    cand_run.cid_rank = {c: i for i, c in enumerate(cand_cids)}
    if ref_cids and cand_cids and ref_cids[0] != cand_cids[0]:
        notes.append("client cids start at %d in the reference, at %d in the candidate "
                     "(compared by rank)" % (ref_cids[0], cand_cids[0]))
    if getattr(ref_run, "error", None):
        raise HarnessError("the scenario failed against the reference: %s" % ref_run.error)
    if getattr(cand_run, "error", None):
        problems.append("the scenario stopped against the candidate: %s" % cand_run.error)
    if ref_run.transcript != cand_run.transcript:
        problems.append("client transcript differs:\n      reference: %s\n      candidate: %s" % (
            "\n                 ".join(ref_run.transcript),
            "\n                 ".join(cand_run.transcript)))
    if len(ref_run.docs) != len(cand_run.docs):
        problems.append("fetched %d documents from the reference, %d from the candidate"
                        % (len(ref_run.docs), len(cand_run.docs)))
    trees = {}  # id(doc) -> normalised tree, for baselines
    baselines = {}
    for ref, cand in zip(ref_run.docs, cand_run.docs):
        where = "GET %s" % ref.path
        doc_problems = []
        if ref.status != cand.status:
            doc_problems.append("status: reference %d, candidate %d" % (ref.status, cand.status))
        for h in COMPARED_HEADERS:
            if ref.headers.get(h) != cand.headers.get(h):
                doc_problems.append("header %s: reference %r, candidate %r"
                                    % (h, ref.headers.get(h), cand.headers.get(h)))
        rkind, ckind = body_kind(ref), body_kind(cand)
        if rkind in ("json", "jsonp"):
            rform, rtree, err = parse_json_doc(ref, "reference")
            if err or rform is None:
                raise HarnessError("%s: reference document is not Go-formatted JSON (%s); "
                                   "the harness's Go emulation is wrong" % (where, err))
            cform, ctree, err = (None, None, None)
            if ckind == rkind:
                cform, ctree, err = parse_json_doc(cand, "candidate")
            else:
                err = "candidate body is %s, not %s: %r" % (ckind, rkind, cand.body[:200])
            if err:
                doc_problems.append(err)
            else:
                if cform != rform:
                    doc_problems.append(
                        "layout: reference is %s as Go's json.%s writes it, candidate %s" % (
                            rform, "MarshalIndent(v, \"\", \"  \")" if rform == "indented" else "Marshal",
                            "is " + cform if cform else "is neither (first difference from Go's: %s)"
                            % first_text_difference(gojson.marshal(ctree, rform == "indented"),
                                                    split_jsonp(cand) if ckind == "jsonp"
                                                    else cand.body.decode(errors="replace"))))
                ref_problems = []
                rtree = normalise_doc(ref, rtree, ref_problems)
                if ref_problems:
                    raise HarnessError("%s: reference: %s; the harness's rule is wrong"
                                       % (where, "; ".join(ref_problems)))
                ctree = normalise_doc(cand, ctree, doc_problems)
                # The baseline of a document: the first one of the case from
                # the same endpoint for the same account, with or without
                # lists as this one (its list totals count too).
                bkey = (ref.endpoint, ref.param("acc"), bool(ref.param("subs")))
                if bkey not in baselines:
                    baselines[bkey] = (rtree, ctree, ref)
                ctx = Context(ref_run, cand_run, ref, cand, baselines[bkey][0],
                              baselines[bkey][1], case)
                ctx.base_doc = baselines[bkey][2]
                compare_values(ctx, "", rtree, ctree, doc_problems, (rtree, ctree))
        elif rkind == "html":
            # The index page: it must link every page nats-server's links
            # on this server (resolved against the page's URL); wording,
            # styling and extra links (nats-server's version and help
            # links, a candidate's own pages) are not compared.
            rl = index_links(ref)
            cl = index_links(cand) if ckind == "html" else set()
            if not rl:
                raise HarnessError("%s: no local links in the reference's index page" % where)
            if rl - cl:
                doc_problems.append("index page: no link to %s (candidate links %s)"
                                    % (", ".join(sorted(rl - cl)), ", ".join(sorted(cl)) or "nothing"))
        else:
            if ref.body != cand.body:
                doc_problems.append("body: reference %r, candidate %r" % (ref.body[:300], cand.body[:300]))
        for p in doc_problems:
            problems.append("%s: %s" % (where, p))
    return problems


# --------------------------------------------------------------------------
# Running cases


def run_case(binary, case):
    workdir = tempfile.mkdtemp(prefix="monitordiff-")
    server = None
    try:
        server = Server(binary, case.get("config"), workdir, case.get("http_flag", False),
                        case.get("http_line"))
        run = Run(server, case.get("base_path", ""))
        try:
            case["scenario"](run)
        except (OSError, KeyError, ValueError, TypeError) as e:
            # e.g. a client reset by the candidate; reported by compare_docs
            import traceback
            run.error = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=4))
        finally:
            for c in run.clients.values():
                try:
                    c.sock.close()
                except OSError:
                    pass
        return run
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_both(reference, candidate, case):
    results = {}

    def work(key, binary):
        try:
            results[key] = run_case(binary, case)
        except BaseException as e:  # re-raised in the caller's thread
            results[key] = e

    threads = [threading.Thread(target=work, args=("ref", reference)),
               threading.Thread(target=work, args=("cand", candidate))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for key in ("ref", "cand"):
        if isinstance(results[key], BaseException):
            raise results[key]
    return results["ref"], results["cand"]


def diff_case(reference, candidate, case, retries=1):
    """Compare one case; a mismatch is re-run `retries` times before it is
    reported, and a match on retry is reported as a note."""
    retried = []
    for attempt in range(retries + 1):
        ref_run, cand_run = run_both(reference, candidate, case)
        notes = []
        before = COMPARED[0]
        problems = compare_docs(case, ref_run, cand_run, notes)
        values = COMPARED[0] - before
        if not problems:
            if attempt:
                retried.append("matched only on retry %d (timing-sensitive)" % attempt)
            break
    return problems, notes + retried, (len(ref_run.docs), values)


def group_problems(problems):
    """The same difference seen in several documents of a case is printed
    once, with the other URLs it was seen in."""
    groups = {}
    order = []
    for p in problems:
        m = re.match(r"GET (\S+): (.*)$", p, re.S)
        if not m:
            order.append((p, None))
            continue
        key = re.sub(r"\[\d+\]", "[]", m.group(2))
        key = re.sub(r'"(port|start|last_activity|stop|now)": [^,]*, ', "", key)
        if key not in groups:
            groups[key] = [m.group(1), m.group(2), []]
            order.append((None, key))
        else:
            groups[key][2].append(m.group(1))
    out = []
    for plain, key in order:
        if plain is not None:
            out.append(plain)
            continue
        path, text, others = groups[key]
        more = ""
        if others:
            shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
            more = " (also in %d more: %s)" % (len(others), shown)
        out.append("GET %s: %s%s" % (path, text, more))
    return out


def show_reference(binary, case):
    run = run_case(binary, case)
    out = ["# %s: %s" % (case["name"], case.get("doc", ""))]
    out += ["  " + t for t in run.transcript]
    for d in run.docs:
        out.append("=== GET %s -> %d %s" % (d.path, d.status, d.headers.get("content-type")))
        out.append(d.body.decode(errors="replace"))
    return "\n".join(out)


def load_cases():
    import monitor_cases
    names = [c["name"] for c in monitor_cases.CASES]
    if len(set(names)) != len(names):
        raise HarnessError("duplicate case names in monitor_cases.py")
    return monitor_cases.CASES


def select_cases(patterns):
    cases = load_cases()
    if not patterns:
        return cases
    chosen = [c for c in cases if any(fnmatch.fnmatch(c["name"], p) for p in patterns)]
    if not chosen:
        raise HarnessError("no case matches %s" % patterns)
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", help="server binary under test (e.g. build/courier)")
    ap.add_argument("--reference", default=REFERENCE_DEFAULT,
                    help="reference server binary (default %(default)s)")
    ap.add_argument("--case", action="append", default=[],
                    help="case name or glob; repeatable (default: all)")
    ap.add_argument("--reference-only", action="store_true",
                    help="run the reference only and print its documents")
    ap.add_argument("--list", action="store_true", help="list the cases")
    ap.add_argument("--names", action="store_true", help="print bare case names (for CTest)")
    ap.add_argument("--retries", type=int, default=1,
                    help="re-run a mismatching case this many times (default %(default)s)")
    args = ap.parse_args()
    try:
        chosen = select_cases(args.case)
        if args.names:
            print(";".join(c["name"] for c in chosen))
            return 0
        if args.list:
            for c in chosen:
                print("%-28s %s" % (c["name"], c.get("doc", "")))
            return 0
        if args.reference_only:
            for c in chosen:
                print(show_reference(args.reference, c))
            return 0
        if not args.candidate:
            raise HarnessError("--candidate BINARY is required (or use --reference-only)")
        for b in (args.reference, args.candidate):
            if not os.path.isfile(b) or not os.access(b, os.X_OK):
                raise HarnessError("server binary not found or not executable: %s" % b)
        failed, errors, total_docs, total_values = [], [], 0, 0
        for case in chosen:
            t0 = time.time()
            try:
                problems, notes, checks = diff_case(args.reference, args.candidate, case, args.retries)
            except HarnessError as e:
                print("ERR  %-28s %s" % (case["name"], e), flush=True)
                errors.append(case["name"])
                continue
            total_docs += checks[0]
            total_values += checks[1]
            print("%-4s %-28s %3d documents, %5d values, %.1fs" % (
                "FAIL" if problems else "ok", case["name"], checks[0], checks[1],
                time.time() - t0), flush=True)
            for n in notes:
                print("     note: " + n)
            for p in group_problems(problems):
                print("     " + p)
            if problems:
                failed.append(case["name"])
            sys.stdout.flush()
        print()
        if failed:
            print("mismatching cases: " + " ".join(failed))
        if errors:
            print("cases that could not run: " + " ".join(errors))
        print("%d passed, %d failed (%d documents, %d values compared)"
              % (len(chosen) - len(failed) - len(errors), len(failed) + len(errors),
                 total_docs, total_values))
        return 2 if errors else 1 if failed else 0
    except HarnessError as e:
        print("monitor_diff: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
