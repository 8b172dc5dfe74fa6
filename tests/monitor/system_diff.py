#!/usr/bin/env python3
"""Differential test of the system account's request subjects and advisories.

Runs the same session against nats-server 2.9.10 (the reference) and against
Courier (the candidate), each started with the same configuration (system
account SYS, users in SYS and APP), and compares what a system user receives:
the $SYS.REQ.* replies and the $SYS.ACCOUNT.* advisories. Keys, their order and
their JSON types must match; values must match except where they cannot
(ids, times, sequence numbers, round trips, memory, CPU, ports, traffic
counters that include the servers' own internal messages). Server-wide
subscription counts are compared as deltas (nats-server counts its own
internal subscriptions). Never depends on timing: every wait polls with a
generous deadline.

    python3 tests/monitor/system_diff.py --reference /usr/sbin/nats-server --candidate build/courier
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from free_port import free_port, start_on_free_ports, wait_logged  # noqa: E402

DEADLINE = 20.0  # seconds for anything expected to arrive

CONFIG = """listen: 127.0.0.1:{port}
system_account: SYS
accounts {{
  SYS {{ users = [ {{user: s, password: s}} ] }}
  APP {{ users = [ {{user: a, password: a}} ] }}
}}
"""

# Values that differ from run to run (or between two servers' internals).
VOLATILE = {
    "id", "time", "timestamp", "seq", "start", "stop", "rtt", "mem", "cpu", "cores", "now", "last_activity",
    "uptime", "idle", "port", "cid", "server_id", "pending_bytes", "in_msgs", "out_msgs", "in_bytes",
    "out_bytes", "sent", "received", "total_connections", "num_subscriptions", "num_cache", "num_inserts",
    "num_removes", "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout", "subscriptions", "msgs", "sid",
    "update_time", "config_load_time", "server_name",
    "go",  # Courier names itself there, by design
}


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


class Client:
    """A raw NATS client: CONNECT, then protocol lines and messages."""

    def __init__(self, port, user, password, name):
        deadline = time.time() + DEADLINE
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.info = json.loads(self.line()[5:])
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "protocol": 1,
                   "user": user, "pass": password, "name": name}
        self.send("CONNECT " + json.dumps(connect) + "\r\n")
        self.flush()

    def send(self, text):
        self.sock.sendall(text.encode())

    def fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            raise EOFError("connection closed")
        self.buf += data
        return True

    def line(self, deadline=None):
        deadline = deadline or time.time() + DEADLINE
        while b"\r\n" not in self.buf:
            if not self.fill(deadline) and time.time() >= deadline:
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def next_message(self, deadline):
        """(subject, headers, payload) of the next MSG/HMSG, or None at the deadline."""
        while True:
            line = self.line(deadline)
            if line is None:
                return None
            if line == "PING":
                self.send("PONG\r\n")
                continue
            if line.startswith(("PONG", "+OK", "INFO")):
                self.pongs = getattr(self, "pongs", 0) + (line == "PONG")
                continue
            if line.startswith("-ERR"):
                raise RuntimeError(line)
            parts = line.split()
            total = int(parts[-1])
            header_size = int(parts[-2]) if parts[0] == "HMSG" else 0
            while len(self.buf) < total + 2:
                self.fill(time.time() + DEADLINE)
            body, self.buf = self.buf[:total], self.buf[total + 2:]
            return parts[1], body[:header_size].decode(), body[header_size:].decode()

    def flush(self):
        """PING and wait for its PONG (messages before it are kept)."""
        self.send("PING\r\n")
        deadline = time.time() + DEADLINE
        while True:
            line = self.line(deadline)
            if line is None:
                raise TimeoutError("no PONG")
            if line == "PONG":
                return
            if line == "PING":
                self.send("PONG\r\n")
                continue
            if line.startswith(("MSG", "HMSG")):
                total = int(line.split()[-1])  # a message of the session's own: skipped
                while len(self.buf) < total + 2:
                    self.fill(time.time() + DEADLINE)
                self.buf = self.buf[total + 2:]
                continue
            if line.startswith("-ERR"):
                raise RuntimeError(line)


class Session:
    """One server, and the system user's view of it."""

    def __init__(self, binary, workdir):
        self.events = []  # advisories received, in order
        # Another process can take the picked port before the server binds
        # it: then the start is retried on a new port.
        start_on_free_ports(lambda: self._start(binary, workdir))

    def _start(self, binary, workdir):
        self.port = free_port()
        conf = os.path.join(workdir, "sys.conf")
        with open(conf, "w") as f:
            f.write(CONFIG.format(port=self.port))
        self.log = open(os.path.join(workdir, "server.log"), "w")
        self.process = subprocess.Popen([binary, "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_logged(self.process, self.log.name, time.time() + DEADLINE, name=binary)
        except RuntimeError:
            self.close()
            raise

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        # A sanitizer build reports into the log: any report fails the test.
        with open(self.log.name, errors="replace") as f:
            text = f.read()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                raise RuntimeError("sanitizer report in the server's log:\n" + text[-20000:])

    def wanted(self, subject):
        # Requests echoed to our own $SYS.> subscription, the periodic statsz
        # and nats-server's $G account counts (sent for every client while it
        # authenticates) are not part of the comparison.
        # So are the system user's own connect advisories: both servers send
        # them asynchronously, so they may come before or after its SUB.
        if subject.startswith("$SYS.REQ.") or subject.endswith(".STATSZ"):
            return False
        return ".$G." not in subject and ".SYS." not in subject

    def collect(self, client, until, deadline):
        """Reads the system user's messages until `until(message)` is true."""
        while True:
            message = client.next_message(deadline)
            if message is None:
                raise TimeoutError("nothing arrived")
            subject, headers, payload = message
            if subject.startswith("_R."):
                if until(message):
                    return message
                continue
            if self.wanted(subject):
                self.events.append((subject, payload))
            if until(message):
                return message

    def request(self, client, subject, body="", system=True):
        """A request and its reply; for a non-system client, the reply only."""
        inbox = "_R." + subject
        client.send(f"PUB {subject} {inbox} {len(body.encode())}\r\n{body}\r\n")
        deadline = time.time() + DEADLINE
        if system:
            return self.collect(client, lambda m: m[0] == inbox, deadline)
        while True:
            message = client.next_message(deadline)
            if message is None:
                raise TimeoutError("no reply to " + subject)
            if message[0] == inbox:
                return message

    def wait_events(self, client, count):
        deadline = time.time() + DEADLINE
        while len(self.events) < count:
            self.collect(client, lambda m: len(self.events) >= count, deadline)


def run(binary):
    """The session; returns a list of (label, what was received)."""
    out = []
    with tempfile.TemporaryDirectory() as workdir:
        session = Session(binary, workdir)
        try:
            sys_client = Client(session.port, "s", "s", "sysmon")
            server_id = sys_client.info["server_id"]
            sys_client.send("SUB $SYS.> 1\r\nSUB _R.> 2\r\n")
            sys_client.flush()

            def ask(label, subject, body=""):
                _, headers, payload = session.request(sys_client, subject, body)
                out.append((label, headers, payload))
                return payload

            first = json.loads(ask("ping", "$SYS.REQ.SERVER.PING"))
            ask("statsz", "$SYS.REQ.SERVER.PING.STATSZ")
            ask("healthz", "$SYS.REQ.SERVER.PING.HEALTHZ")
            ask("connz subscriptions", "$SYS.REQ.SERVER.PING.CONNZ", '{"subscriptions":true}')
            ask("connz bad json", "$SYS.REQ.SERVER.PING.CONNZ", "{bad")
            ask("connz bad type", "$SYS.REQ.SERVER.PING.CONNZ", '{"limit":"x"}')
            ask("connz not an object", "$SYS.REQ.SERVER.PING.CONNZ", "[1]")
            ask("connz bad sort", "$SYS.REQ.SERVER.PING.CONNZ", '{"sort":"bogus"}')
            ask("connz truncated", "$SYS.REQ.SERVER.PING.CONNZ", '{"limit":')
            ask("connz by id", f"$SYS.REQ.SERVER.{server_id}.CONNZ")
            ask("varz by id", f"$SYS.REQ.SERVER.{server_id}.VARZ")
            ask("jsz", "$SYS.REQ.SERVER.PING.JSZ")
            ask("varz", "$SYS.REQ.SERVER.PING.VARZ")
            ask("subsz", "$SYS.REQ.SERVER.PING.SUBSZ")
            ask("subsz bad test subject", "$SYS.REQ.SERVER.PING.SUBSZ", '{"subscriptions":true,"test":"a.*"}')
            ask("accountz", "$SYS.REQ.SERVER.PING.ACCOUNTZ")
            ask("accountz APP", "$SYS.REQ.SERVER.PING.ACCOUNTZ", '{"account":"APP"}')
            ask("account APP info", "$SYS.REQ.ACCOUNT.APP.INFO")
            ask("account APP subsz", "$SYS.REQ.ACCOUNT.APP.SUBSZ")
            ask("account APP leafz", "$SYS.REQ.ACCOUNT.APP.LEAFZ")
            ask("routez", "$SYS.REQ.SERVER.PING.ROUTEZ")
            ask("gatewayz", "$SYS.REQ.SERVER.PING.GATEWAYZ")
            ask("leafz", "$SYS.REQ.SERVER.PING.LEAFZ")
            ask("account APP connz (no connections)", "$SYS.REQ.ACCOUNT.APP.CONNZ")
            ask("account unknown connz", "$SYS.REQ.ACCOUNT.NOPE.CONNZ")
            ask("account APP jsz", "$SYS.REQ.ACCOUNT.APP.JSZ")

            # An APP user connects: account_connections (two subjects) and client_connect.
            app = Client(session.port, "a", "a", "app1")
            app.send("SUB foo 1\r\nSUB _R.> 2\r\nPUB foo 2\r\nhi\r\n")
            app.flush()
            session.wait_events(sys_client, 3)
            second = json.loads(ask("ping with APP", "$SYS.REQ.SERVER.PING"))

            # What an APP user may ask: only the imported, account-scoped ones.
            for label, subject in (("app ping", "$SYS.REQ.SERVER.PING"),
                                   ("app varz", "$SYS.REQ.SERVER.PING.VARZ"),
                                   ("app connz", "$SYS.REQ.SERVER.PING.CONNZ"),
                                   ("app account ping connz", "$SYS.REQ.ACCOUNT.PING.CONNZ"),
                                   ("app account ping statz", "$SYS.REQ.ACCOUNT.PING.STATZ"),
                                   ("app account APP connz", "$SYS.REQ.ACCOUNT.APP.CONNZ")):
                _, headers, payload = session.request(app, subject, system=False)
                out.append((label, headers, payload))

            ask("account APP connz", "$SYS.REQ.ACCOUNT.APP.CONNZ")
            ask("account ping statz", "$SYS.REQ.ACCOUNT.PING.STATZ")
            ask("account APP statz", "$SYS.REQ.ACCOUNT.APP.STATZ")

            # The APP user leaves: account_connections again and client_disconnect.
            app.sock.shutdown(socket.SHUT_WR)
            try:
                while app.fill(time.time() + DEADLINE):
                    pass
            except EOFError:
                pass  # the server closed its side: all read
            app.sock.close()
            session.wait_events(sys_client, 6)
            ask("connz closed", "$SYS.REQ.SERVER.PING.CONNZ", '{"state":1}')
            ask("account APP connz closed", "$SYS.REQ.ACCOUNT.APP.CONNZ", '{"state":1}')
        finally:
            # The server goes whatever happened (a failed check included).
            session.close()
    # Per phase (the APP user arriving, then leaving), in subject order:
    # nats-server sends the account_connections pair and the client's own
    # advisory from different goroutines, in either order.
    for phase in (session.events[:3], session.events[3:]):
        for subject, payload in sorted(phase, key=lambda e: e[0]):
            out.append(("advisory " + subject, "", payload))
    delta = second["statsz"]["subscriptions"] - first["statsz"]["subscriptions"]
    out.append(("subscriptions delta", "", json.dumps(delta)))
    return out


def normalize(value, key=None, volatile=False):
    """Keys in order and JSON types everywhere; values too, except volatile ones."""
    volatile = volatile or key in VOLATILE
    if isinstance(value, dict):
        return {"{}": [(k, normalize(v, k, volatile)) for k, v in value.items()]}
    if isinstance(value, list):
        if volatile:
            return "<list>"
        return [normalize(v) for v in value]
    if volatile:
        # Go writes a float64 without a fraction as an integer (cpu 2).
        return "<number>" if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            "<%s>" % type(value).__name__
    return value


def canonical(document):
    """What the comparison may not depend on: a client's round trip (nats-server
    measures it with a PING at once, Courier later) and the order of accounts
    in account_statz (nats-server walks a Go map)."""
    if isinstance(document, dict):
        client = document.get("client")
        if isinstance(client, dict):
            client.pop("rtt", None)
        data = document.get("data")
        if isinstance(data, dict) and isinstance(data.get("account_statz"), list):
            data["account_statz"].sort(key=lambda a: a.get("acc", ""))
        if isinstance(data, dict):
            # Lists nats-server builds from Go maps, in no fixed order.
            if isinstance(data.get("accounts"), list):
                data["accounts"].sort()
            for holder in (data, data.get("account_detail") or {}):
                for name in ("imports", "subscriptions_list"):
                    if isinstance(holder.get(name), list):
                        holder[name].sort(key=lambda item: json.dumps(item, sort_keys=True) if not isinstance(
                            item, dict) else item.get("subject", ""))
            connections = data.get("connections")
            for connection in connections if isinstance(connections, list) else []:
                if isinstance(connection.get("subscriptions_list"), list):
                    connection["subscriptions_list"].sort()
    return document


def differences(r, c, path="$"):
    """Where two normalized documents differ, as paths."""
    if isinstance(r, dict) and isinstance(c, dict) and "{}" in r and "{}" in c:
        r_items, c_items = r["{}"], c["{}"]
        if [k for k, _ in r_items] != [k for k, _ in c_items]:
            return ["%s keys %s vs %s" % (path, [k for k, _ in r_items], [k for k, _ in c_items])]
        out = []
        for (k, rv), (_, cv) in zip(r_items, c_items):
            out += differences(rv, cv, path + "." + k)
        return out
    if isinstance(r, list) and isinstance(c, list) and len(r) == len(c):
        out = []
        for i, (rv, cv) in enumerate(zip(r, c)):
            out += differences(rv, cv, "%s[%d]" % (path, i))
        return out
    return [] if r == c else ["%s: %r vs %r" % (path, r, c)]


def compare(reference, candidate):
    failures = []
    if len(reference) != len(candidate):
        failures.append("message count: reference %d, candidate %d\n  reference: %s\n  candidate: %s" % (
            len(reference), len(candidate), [r[0] for r in reference], [c[0] for c in candidate]))
    for (label, r_headers, r_payload), (c_label, c_headers, c_payload) in zip(reference, candidate):
        if label != c_label:
            failures.append("order: reference %r, candidate %r" % (label, c_label))
            continue
        if r_headers != c_headers:
            failures.append("%s: headers %r vs %r" % (label, r_headers, c_headers))
        try:
            r = json.loads(r_payload) if r_payload else None
            c = json.loads(c_payload) if c_payload else None
        except ValueError:
            failures.append("%s: not JSON: %r / %r" % (label, r_payload, c_payload))
            continue
        r, c = canonical(r), canonical(c)
        r_server = r.pop("server", None) if isinstance(r, dict) else None
        c_server = c.pop("server", None) if isinstance(c, dict) else None
        for name in ("name", "host", "id"):  # the server's own identity differs
            for s in (r_server, c_server):
                if isinstance(s, dict) and name in s:
                    s[name] = "<str>"
        if normalize(r_server) != normalize(c_server):
            failures.append("%s: server object\n  reference: %s\n  candidate: %s" % (label, r_server, c_server))
        if normalize(r) != normalize(c):
            failures.append("%s: %s\n  reference: %s\n  candidate: %s" % (
                label, "; ".join(differences(normalize(r), normalize(c))), json.dumps(r), json.dumps(c)))
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="/usr/sbin/nats-server")
    parser.add_argument("--candidate", required=True)
    args = parser.parse_args()
    reference = run(args.reference)
    candidate = run(args.candidate)
    failures = compare(reference, candidate)
    for failure in failures:
        print("FAIL", failure)
    print("%d checks, %d differences" % (len(reference), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
