#!/usr/bin/env python3
"""Soak and churn harness: a long mixed load against one server process.

One asyncio process speaks the NATS client protocol over raw sockets to a
server started on a free loopback port (tests/diff/difftest.py's Server), and
runs, all at once, for --duration seconds:

  * idle connections (most of --connections): each subscribes to soak.bcast,
    which a broadcaster publishes once a second, so every one of them must
    see every broadcast (a fan-out that reaches each connection);
  * publishers: each publishes a stream to soak.data.<k> and one to
    soak.q.<k> at a fixed rate; payload "<stream> <seq> <send ns> <padding>";
  * keeping-up subscribers: plain ones on soak.data.<k>, wildcard listeners on
    soak.data.* and soak.>, and a queue group (qg) on soak.q.*;
  * request/reply: requesters publish to soak.svc with a reply inbox,
    responders in queue group svc answer;
  * churn: connections opened and closed at --churn-rate per second (CONNECT,
    SUB, PUB, PING/PONG, then half close cleanly, half abort);
  * a slow consumer, again and again: a socket with a 4 KiB receive buffer
    subscribes to slow.feed (fed at about 1 MB/s) and never reads; after
    --slow-wait seconds the harness drains it and requires that the server
    closed it (config max_pending 2 MiB, write_deadline 5s);
  * SIGHUP every --reload-every seconds after rewriting the config file
    (max_connections toggles between two values);
  * with --mss (Courier only, the --server run): the message services on,
    with the real SMTP server and HTTP recorder of tests/mss as peers; events
    published at --mss-rate must each arrive once as a mail and a webhook.

Recorded per interval: server RSS (VmRSS from /proc/PID/status), messages
published and delivered, messages lost by keeping-up consumers (gaps in the
per-stream sequence numbers, plus at the end what never arrived), slow
consumers cut off, churn connections, reloads, p50/p99 publish-to-delivery
latency and p99 request round trip.  Latency and throughput are recorded,
never asserted.

Exit status 1 when: a keeping-up consumer lost, duplicated or reordered a
message or was disconnected; a request went unanswered; the server exited;
a slow consumer was not cut off; RSS after warm-up grew beyond the bound
(last interval > 1.5 x warm-up RSS and > warm-up RSS + 64 MiB); the server
did not answer a fresh client at the end; more than 1% of churn connections
failed; with --mss, an event did not reach both peers.  Exit status 2 when a server binary is missing or would not start.

Usage:
    python3 tests/soak/soak.py --server build-rel/courier --duration 1800 --connections 2000
    python3 tests/soak/soak.py --server build-rel/courier --compare --duration 600
    python3 tests/soak/soak.py --server /usr/sbin/nats-server --duration 120 --json out.json
"""

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "diff"))
import difftest  # noqa: E402

REFERENCE_DEFAULT = difftest.REFERENCE_DEFAULT
MIB = 1024 * 1024
SLOW_PAYLOAD = 16384

CONFIG = """# written by tests/soak/soak.py
max_pending: {max_pending}
write_deadline: "{write_deadline}"
max_connections: {maxconn}
{extra}"""

# --mss (Courier only): the message services with real peers, the SMTP server
# and HTTP recorder of tests/mss; every event goes to both.
MSS_BLOCK = """mss {{
  prefix: mssoak
  event_retry {{ attempts: 5, initial_delay: "200ms" }}
  smtp {{ host: 127.0.0.1, port: {smtp}, tls: none }}
  handlers {{
    mail {{ type: email, from: "soak@example.com", to: "ops@example.com", subject: "order {{{{id}}}}", body: "order {{{{id}}}}" }}
    hook {{ type: webhook, url: "http://127.0.0.1:{http}/soak" }}
  }}
  events: [ {{ event: "order.*", handlers: [mail, hook] }} ]
}}
"""
MSS_PEERS = os.path.join(HERE, "..", "mss")


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[i]


def subject_matches(pattern, subject):
    pt = pattern.split(".")
    st = subject.split(".")
    for i, tok in enumerate(pt):
        if tok == ">":
            return len(st) > i
        if i >= len(st):
            return False
        if tok != "*" and tok != st[i]:
            return False
    return len(pt) == len(st)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Stats:
    """Counters of the current interval (reset by the sampler)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.published = 0
        self.delivered = 0
        self.lost = 0
        self.disorder = 0
        self.latency = []
        self.rtt = []
        self.churn_ok = 0
        self.churn_failed = 0
        self.slow_cut = 0
        self.slow_not_cut = 0
        self.reloads = 0
        self.errors = 0


class Conn(asyncio.Protocol):
    """One client connection; parses INFO/PING/PONG/+OK/-ERR/MSG."""

    def __init__(self, soak, name, on_msg=None, kind="keep"):
        self.soak = soak
        self.name = name
        self.on_msg = on_msg
        self.kind = kind
        self.buf = bytearray()
        self.transport = None
        self.info = asyncio.get_running_loop().create_future()
        self.pongs = []
        self.closed = False
        self.errs = []
        self.want = None  # (subject, sid, reply, size) while a payload is due

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc):
        self.closed = True
        for f in self.pongs:
            if not f.done():
                f.set_exception(ConnectionError("closed"))
        self.pongs.clear()
        if not self.info.done():
            self.info.set_exception(ConnectionError("closed before INFO"))
        if self.kind == "keep" and not self.soak.stopping:
            self.soak.unexpected_close("%s closed by the server (%s; last errors %r)"
                                       % (self.name, exc, self.errs[-2:]))

    def write(self, data):
        if not self.closed:
            self.transport.write(data)

    def ping(self):
        f = asyncio.get_running_loop().create_future()
        self.pongs.append(f)
        self.write(b"PING\r\n")
        return f

    def data_received(self, data):
        self.buf += data
        buf = self.buf
        pos = 0
        n = len(buf)
        while True:
            if self.want is not None:
                subject, reply, size = self.want
                if n - pos < size + 2:
                    break
                payload = bytes(buf[pos:pos + size])
                pos += size + 2
                self.want = None
                if self.on_msg is not None:
                    self.on_msg(self, subject, reply, payload)
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            line = bytes(buf[pos:end])
            pos = end + 2
            if line.startswith(b"MSG "):
                parts = line.split()
                if len(parts) == 4:
                    self.want = (parts[1].decode(), None, int(parts[3]))
                else:
                    self.want = (parts[1].decode(), parts[3].decode(), int(parts[4]))
            elif line == b"PING":
                self.write(b"PONG\r\n")
            elif line == b"PONG":
                if self.pongs:
                    f = self.pongs.pop(0)
                    if not f.done():
                        f.set_result(True)
            elif line.startswith(b"INFO "):
                if not self.info.done():
                    self.info.set_result(json.loads(line[5:]))
            elif line.startswith(b"-ERR"):
                self.errs.append(line.decode(errors="replace"))
                self.soak.stats.errors += 1
                self.soak.errors_total.append("%s: %s" % (self.name, self.errs[-1]))
        del buf[:pos]


class Soak:
    def __init__(self, args, binary, label):
        self.args = args
        self.binary = binary
        self.label = label
        self.stats = Stats()
        self.stopping = False
        self.failures = []
        self.errors_total = []
        self.intervals = []
        self.port = None
        self.conns = []
        # stream -> [subject, published count]
        self.streams = {}
        # per keeping-up subscriber: {stream: last seq}
        self.seen = {}
        # queue streams: stream -> bytearray of deliveries per seq
        self.queue_seen = {}
        self.requests = {}  # inbox suffix -> send ns
        self.req_sent = 0
        self.req_answered = 0
        self.churn_ok_total = 0
        self.churn_failed_total = 0
        self.churn_skipped = 0
        self.slow_cut_total = 0
        self.slow_not_cut_total = 0
        self.slow_tails = []
        self.reloads_total = 0
        self.published_total = 0
        self.delivered_total = 0
        self.lost_total = 0
        self.disorder_total = 0
        self.extra_config = ""
        self.mss = None  # (smtp dir, http log) with --mss
        self.mss_events = 0

    # -- failures -------------------------------------------------------
    def fail(self, text):
        if len(self.failures) < 50:
            self.failures.append(text)
        print("[%s] FAIL: %s" % (self.label, text), file=sys.stderr, flush=True)

    def unexpected_close(self, text):
        self.fail(text)

    # -- connections ----------------------------------------------------
    async def connect(self, name, subs=(), on_msg=None, kind="keep", timeout=30):
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(loop.create_connection(
            lambda: Conn(self, name, on_msg, kind), "127.0.0.1", self.port), timeout)
        await asyncio.wait_for(conn.info, timeout)
        out = [b'CONNECT {"verbose":false,"pedantic":false,"name":"%s"}\r\n' % name.encode()]
        for i, sub in enumerate(subs, 1):
            out.append(("SUB %s %d\r\n" % (sub, i)).encode())
        conn.write(b"".join(out))
        await asyncio.wait_for(conn.ping(), timeout)
        return conn

    # -- keeping-up subscribers ----------------------------------------
    def make_checker(self, key):
        seen = self.seen.setdefault(key, {})
        stats_ref = self

        def on_msg(conn, subject, reply, payload):
            now = time.monotonic_ns()
            parts = payload.split(b" ", 3)
            stream = parts[0].decode()
            seq = int(parts[1])
            st = stats_ref.stats
            st.delivered += 1
            last = seen.get(stream, 0)
            if seq == last + 1:
                seen[stream] = seq
            elif seq > last + 1:
                st.lost += seq - last - 1
                stats_ref.fail_once("%s lost %d message(s) of %s before seq %d"
                                    % (key, seq - last - 1, stream, seq))
                seen[stream] = seq
            else:
                st.disorder += 1
                stats_ref.fail_once("%s got %s seq %d after %d (duplicate or reordered)"
                                    % (key, stream, seq, last))
            if stream[0] == "d":
                st.latency.append((now - int(parts[2])) / 1e6)
        return on_msg

    def fail_once(self, text):
        if len(self.failures) < 20:
            self.fail(text)

    def queue_member(self, key):
        def on_msg(conn, subject, reply, payload):
            parts = payload.split(b" ", 3)
            stream = parts[0].decode()
            seq = int(parts[1])
            self.stats.delivered += 1
            arr = self.queue_seen.setdefault(stream, bytearray())
            if len(arr) <= seq:
                arr.extend(b"\0" * (seq + 1024 - len(arr)))
            if arr[seq] < 255:
                arr[seq] += 1
        return on_msg

    def responder(self, conn, subject, reply, payload):
        self.stats.delivered += 1
        if reply:
            conn.write(b"PUB %s %d\r\n%s\r\n" % (reply.encode(), len(payload), payload))

    def requester_reply(self, conn, subject, reply, payload):
        now = time.monotonic_ns()
        self.stats.delivered += 1
        token = subject.rsplit(".", 1)[-1]
        sent = self.requests.pop(token, None)
        if sent is None:
            self.fail_once("reply on %s for no outstanding request" % subject)
            return
        self.req_answered += 1
        self.stats.rtt.append((now - sent) / 1e6)

    # -- load tasks -----------------------------------------------------
    def publish(self, conn, stream, subject, pad, reply=None):
        rec = self.streams.setdefault(stream, [subject, 0])
        rec[1] += 1
        body = b"%s %d %d %s" % (stream.encode(), rec[1], time.monotonic_ns(), pad)
        if reply:
            conn.write(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), reply.encode(), len(body), body))
        else:
            conn.write(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(body), body))
        self.stats.published += 1

    async def publisher_loop(self, pubs):
        a = self.args
        pad = b"x" * a.payload
        start = time.monotonic()
        done = 0
        while not self.stopping:
            n = int((time.monotonic() - start) * a.rate) - done
            done += n
            for _ in range(n):
                for p, conn in enumerate(pubs):
                    k = p % a.subjects
                    self.publish(conn, "d%d" % p, "soak.data.%d" % k, pad)
                    self.publish(conn, "q%d" % p, "soak.q.%d" % k, pad)
            await asyncio.sleep(0.02)

    async def broadcaster(self, conn):
        while not self.stopping:
            self.publish(conn, "b", "soak.bcast", b"")
            await asyncio.sleep(1.0)

    async def mss_publisher(self, conn):
        interval = 1.0 / self.args.mss_rate
        while not self.stopping:
            self.mss_events += 1
            body = b'{"id":%d}' % self.mss_events
            conn.write(b"PUB mssoak.event.order.%d %d\r\n%s\r\n" % (self.mss_events, len(body), body))
            await asyncio.sleep(interval)

    def mss_counts(self):
        smtp_dir, http_log = self.mss
        mails = len([n for n in os.listdir(smtp_dir) if n.endswith(".json") and n[0].isdigit()])
        try:
            with open(http_log) as f:
                hooks = sum(1 for line in f if line.strip())
        except OSError:
            hooks = 0
        return mails, hooks

    async def mss_settle(self):
        """Every event must reach the SMTP server and the HTTP peer once."""
        deadline = time.monotonic() + 60
        mails = hooks = 0
        while time.monotonic() < deadline:
            mails, hooks = self.mss_counts()
            if mails >= self.mss_events and hooks >= self.mss_events:
                break
            await asyncio.sleep(0.5)
        self.mss_mails, self.mss_hooks = mails, hooks
        if mails != self.mss_events or hooks != self.mss_events:
            self.fail("message services: %d events, %d mails, %d webhook requests"
                      % (self.mss_events, mails, hooks))

    async def requester(self, idx, conn):
        a = self.args
        interval = 1.0 / a.req_rate
        n = 0
        while not self.stopping:
            n += 1
            token = "%d-%d" % (idx, n)
            self.requests[token] = time.monotonic_ns()
            self.publish(conn, "r%d" % idx, "soak.svc", b"", reply="_INBOX.soak%d.%s" % (idx, token))
            self.req_sent += 1
            await asyncio.sleep(interval)

    async def churn_one(self, i):
        try:
            conn = await self.connect("churn%d" % i, subs=("churn.%d" % i,), kind="churn", timeout=20)
            conn.write(b"PUB churn.x 2\r\nhi\r\n")
            await asyncio.wait_for(conn.ping(), 20)
            if i % 2:
                conn.transport.abort()
            else:
                conn.transport.close()
            self.stats.churn_ok += 1
            self.churn_ok_total += 1
        except (OSError, asyncio.TimeoutError, ConnectionError) as e:
            self.stats.churn_failed += 1
            self.churn_failed_total += 1
            if self.churn_failed_total <= 5:
                print("[%s] churn connection failed: %r" % (self.label, e), file=sys.stderr)

    async def churner(self):
        a = self.args
        i = 0
        start = time.monotonic()
        tasks = set()
        while not self.stopping:
            n = int((time.monotonic() - start) * a.churn_rate) - i
            for _ in range(n):
                if len(tasks) >= 400:
                    # The harness is behind; do not pile up (the rate drops).
                    i += 1
                    self.churn_skipped += 1
                    continue
                i += 1
                t = asyncio.ensure_future(self.churn_one(i))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            await asyncio.sleep(0.01)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def slow_feed(self, conn):
        a = self.args
        pad = b"s" * SLOW_PAYLOAD
        line = b"PUB slow.feed %d\r\n%s\r\n" % (len(pad), pad)
        start = time.monotonic()
        sent = 0
        while not self.stopping:
            # Paced by the clock, so a busy harness still offers slow_rate.
            # The server stalls this publisher while a slow consumer is over
            # half its max_pending; do not queue without bound meanwhile.
            due = int((time.monotonic() - start) * a.slow_rate / SLOW_PAYLOAD) - sent
            if due > 0:
                sent += due
                if conn.transport.get_write_buffer_size() < 4 * MIB:
                    conn.write(line * min(due, 64))
            await asyncio.sleep(0.05)

    @staticmethod
    def drain(s, limit):
        """Reads the slow socket in a thread (the event loop may be busy and
        its small receive buffer takes many reads) until EOF, a reset or
        `limit` seconds; returns (closed by the server, bytes, tail)."""
        s.setblocking(True)
        s.settimeout(1.0)
        total = 0
        tail = b""
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return True, total, tail
                total += len(chunk)
                tail = (tail + chunk)[-200:]
        except ConnectionResetError:
            return True, total, tail
        return False, total, tail

    async def slow_consumer(self):
        a = self.args
        loop = asyncio.get_running_loop()
        n = 0
        while not self.stopping:
            n += 1
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(s, ("127.0.0.1", self.port)), 20)
                got = b""
                await loop.sock_sendall(
                    s, b'CONNECT {"verbose":false,"pedantic":false,"name":"slow%d"}\r\n'
                       b'SUB slow.feed 1\r\nPING\r\n' % n)
                deadline = time.monotonic() + 20
                while b"PONG\r\n" not in got:
                    chunk = await asyncio.wait_for(loop.sock_recv(s, 4096), max(0.1, deadline - time.monotonic()))
                    if not chunk:
                        raise ConnectionError("closed before PONG")
                    got += chunk
            except (OSError, asyncio.TimeoutError, ConnectionError) as e:
                self.fail("slow consumer %d could not subscribe: %r" % (n, e))
                s.close()
                await asyncio.sleep(a.slow_wait)
                continue
            # Never read for slow_wait seconds (or until the run stops).
            waited = 0.0
            while waited < a.slow_wait and not self.stopping:
                await asyncio.sleep(0.5)
                waited += 0.5
            if waited < a.slow_wait:
                s.close()
                break
            # Drain: the server must have closed it; after the close only
            # what sat in the kernel buffers remains to read.
            cut, total, tail = await loop.run_in_executor(None, self.drain, s, 20.0)
            s.close()
            non_msg = [ln for ln in tail.split(b"\r\n") if ln.startswith((b"-ERR", b"INFO"))]
            if cut:
                self.stats.slow_cut += 1
                self.slow_cut_total += 1
                if len(self.slow_tails) < 3:
                    self.slow_tails.append({"drained_bytes": total,
                                            "control_lines_at_end": [x.decode(errors="replace") for x in non_msg]})
            else:
                self.stats.slow_not_cut += 1
                self.slow_not_cut_total += 1
                self.fail("slow consumer %d not cut off after %.0f s (drained %d bytes in 20 s)"
                          % (n, a.slow_wait, total))
            await asyncio.sleep(1.0)

    async def reloader(self, server):
        a = self.args
        flip = 0
        while not self.stopping:
            await asyncio.sleep(a.reload_every)
            if self.stopping:
                break
            flip ^= 1
            self.write_config(server.workdir, 100000 - flip)
            server.signal("HUP")
            self.stats.reloads += 1
            self.reloads_total += 1

    def write_config(self, workdir, maxconn):
        path = os.path.join(workdir, "server.conf")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(CONFIG.format(maxconn=maxconn, extra=self.extra_config,
                                  max_pending=self.args.max_pending, write_deadline=self.args.write_deadline))
        os.replace(tmp, path)

    async def sampler(self, server, t0):
        a = self.args
        n = 0
        while not self.stopping:
            n += 1
            target = t0 + n * a.interval
            await asyncio.sleep(max(0, target - time.monotonic()))
            self.take_sample(server, t0)

    def take_sample(self, server, t0):
        st = self.stats
        rss = rss_kib(server.proc.pid)
        row = {
            "t": round(time.monotonic() - t0, 1),
            "rss_mib": round(rss / 1024.0, 1) if rss else None,
            "published": st.published,
            "delivered": st.delivered,
            "lost": st.lost,
            "disorder": st.disorder,
            "lat_p50_ms": _r(percentile(st.latency, 50)),
            "lat_p99_ms": _r(percentile(st.latency, 99)),
            "rtt_p99_ms": _r(percentile(st.rtt, 99)),
            "churn": st.churn_ok,
            "churn_failed": st.churn_failed,
            "slow_cut": st.slow_cut,
            "reloads": st.reloads,
            "errors": st.errors,
            "open": sum(1 for c in self.conns if not c.closed),
        }
        self.published_total += st.published
        self.delivered_total += st.delivered
        self.lost_total += st.lost
        self.disorder_total += st.disorder
        self.intervals.append(row)
        print("[%s] t=%6.1fs rss=%7s MiB pub=%6d dlv=%7d lost=%d lat p50/p99=%s/%s ms rtt p99=%s ms "
              "churn=%d/%d slow_cut=%d reloads=%d open=%d" % (
                  self.label, row["t"], row["rss_mib"], row["published"], row["delivered"],
                  row["lost"], row["lat_p50_ms"], row["lat_p99_ms"], row["rtt_p99_ms"],
                  row["churn"], row["churn_failed"], row["slow_cut"], row["reloads"], row["open"]),
              flush=True)
        st.reset()
        if server.proc.poll() is not None:
            self.fail("server exited with status %s" % server.proc.returncode)
            self.stopping = True

    # -- the run --------------------------------------------------------
    async def run(self, server):
        a = self.args
        self.port = server.port
        t_setup = time.monotonic()
        # Keeping-up subscribers first, then idle connections, so every
        # stream's first message finds them subscribed.
        for k in range(a.subjects):
            for j in range(2):
                key = "sub.%d.%d" % (k, j)
                self.conns.append(await self.connect(key, ("soak.data.%d" % k,), self.make_checker(key)))
                self.sub_patterns[key] = ["soak.data.%d" % k]
        for j in range(2):
            key = "wild.star.%d" % j
            self.conns.append(await self.connect(key, ("soak.data.*",), self.make_checker(key)))
            self.sub_patterns[key] = ["soak.data.*"]
        key = "wild.gt"
        self.conns.append(await self.connect(key, ("soak.>",), self.make_checker(key)))
        self.sub_patterns[key] = ["soak.>"]
        for j in range(a.queue_members):
            self.conns.append(await self.connect("qg.%d" % j, ("soak.q.* qg",), self.queue_member(j)))
        for j in range(2):
            c = await self.connect("svc.%d" % j, ("soak.svc svc",))
            c.on_msg = self.responder
            self.conns.append(c)
        requesters = []
        for j in range(a.requesters):
            c = await self.connect("req.%d" % j, ("_INBOX.soak%d.*" % j,))
            c.on_msg = self.requester_reply
            requesters.append(c)
            self.conns.append(c)
        pubs = [await self.connect("pub.%d" % p) for p in range(a.publishers)]
        self.conns.extend(pubs)
        bcast = await self.connect("bcast")
        feed = await self.connect("slowfeed", kind="feed")
        self.conns.extend([bcast, feed])
        n_idle = max(0, a.connections - len(self.conns))
        sem = asyncio.Semaphore(100)

        async def idle(i):
            async with sem:
                key = "idle.%d" % i
                c = await self.connect(key, ("soak.bcast",), self.make_checker(key))
                self.sub_patterns[key] = ["soak.bcast"]
                return c
        self.conns.extend(await asyncio.gather(*(idle(i) for i in range(n_idle))))
        setup_s = time.monotonic() - t_setup
        print("[%s] %d connections open in %.1f s (pid %d, port %d)" % (
            self.label, len(self.conns), setup_s, server.proc.pid, server.port), flush=True)

        t0 = time.monotonic()
        tasks = [asyncio.ensure_future(x) for x in (
            self.publisher_loop(pubs), self.broadcaster(bcast), self.churner(),
            self.slow_feed(feed), self.slow_consumer(), self.reloader(server),
            self.sampler(server, t0))]
        tasks += [asyncio.ensure_future(self.requester(j, c)) for j, c in enumerate(requesters)]
        if self.mss:
            tasks.append(asyncio.ensure_future(self.mss_publisher(bcast)))
        while time.monotonic() - t0 < a.duration and not self.stopping:
            await asyncio.sleep(0.5)
            if server.proc.poll() is not None:
                self.fail("server exited with status %s" % server.proc.returncode)
                break
        # Stop the load; let every keeping-up connection take what is in flight.
        self.stopping = True
        await asyncio.sleep(0.1)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server.proc.poll() is None:
            alive = [c for c in pubs + requesters + [bcast] if not c.closed]
            try:
                await asyncio.wait_for(asyncio.gather(*(c.ping() for c in alive)), 30)
            except (asyncio.TimeoutError, ConnectionError) as e:
                self.fail("publishers did not get PONG at the end: %r" % e)
            await self.settle()
            if self.mss:
                await self.mss_settle()
        self.take_sample(server, t0)
        self.final_checks(server)
        for c in self.conns:
            if c.transport is not None:
                c.transport.close()
        await asyncio.sleep(0.2)
        return setup_s

    async def settle(self):
        """Waits until deliveries stop changing (at most 30 s), then a PONG
        from every keeping-up connection."""
        last = -1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cur = self.stats.delivered + self.delivered_total
            if cur == last and not self.requests:
                break
            last = cur
            await asyncio.sleep(1.0)
        keep = [c for c in self.conns if c.kind == "keep" and not c.closed]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.ping() for c in keep)), 60)
        except (asyncio.TimeoutError, ConnectionError) as e:
            self.fail("keeping-up connections did not all answer PONG at the end: %r" % e)

    def final_checks(self, server):
        # Tail losses: what each keeping-up subscriber never received.
        tail_lost = 0
        for key, patterns in self.sub_patterns.items():
            seen = self.seen.get(key, {})
            for stream, (subject, count) in self.streams.items():
                if not any(subject_matches(p, subject) for p in patterns):
                    continue
                got = seen.get(stream, 0)
                if got < count:
                    tail_lost += count - got
                    self.fail_once("%s ended at %s seq %d of %d" % (key, stream, got, count))
        for stream, (subject, count) in self.streams.items():
            if not subject.startswith("soak.q."):
                continue
            arr = self.queue_seen.get(stream, bytearray())
            missing = sum(1 for s in range(1, count + 1) if s >= len(arr) or arr[s] == 0)
            dup = sum(1 for s in range(1, min(count + 1, len(arr))) if arr[s] > 1)
            if missing or dup:
                tail_lost += missing
                self.disorder_total += dup
                self.fail("queue group: %s missing %d, delivered twice %d of %d" % (stream, missing, dup, count))
        self.lost_total += tail_lost
        if self.requests:
            self.lost_total += len(self.requests)
            self.fail("%d of %d requests never answered" % (len(self.requests), self.req_sent))
        if self.disorder_total:
            self.fail("%d duplicate or reordered deliveries" % self.disorder_total)
        if self.slow_cut_total == 0:
            self.fail("no slow consumer was cut off")
        attempts = self.churn_ok_total + self.churn_failed_total
        if attempts and self.churn_failed_total > attempts / 100:
            self.fail("%d of %d churn connections failed" % (self.churn_failed_total, attempts))
        # RSS after warm-up.
        warm = [r for r in self.intervals if r["t"] <= self.args.warmup and r["rss_mib"]]
        after = [r for r in self.intervals if r["rss_mib"]]
        if warm and after:
            w = warm[-1]["rss_mib"]
            last = after[-1]["rss_mib"]
            self.rss_warm = w
            self.rss_last = last
            if last > 1.5 * w and last > w + 64:
                self.fail("RSS grew from %.1f MiB (end of warm-up) to %.1f MiB" % (w, last))
        # A fresh client must still be answered.
        if server.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                    s.settimeout(10)
                    s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
                    got = b""
                    while b"PONG\r\n" not in got:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    if b"PONG\r\n" not in got:
                        self.fail("a fresh client got no PONG at the end")
            except OSError as e:
                self.fail("a fresh client could not connect at the end: %r" % e)
        else:
            self.fail("server exited with status %s" % server.proc.returncode)


def _r(x):
    return None if x is None else round(x, 2)


def run_one(args, binary, label, mss=False):
    workdir = tempfile.mkdtemp(prefix="soak-")
    soak = Soak(args, binary, label)
    soak.sub_patterns = {}
    soak.rss_warm = soak.rss_last = None
    soak.mss_mails = soak.mss_hooks = None
    peers = []
    if mss:
        smtp_dir = os.path.join(workdir, "smtp")
        os.mkdir(smtp_dir)
        http_log = os.path.join(workdir, "http.jsonl")
        ports = []
        for cmd in (["/usr/bin/python3", os.path.join(MSS_PEERS, "smtp_server.py"), "--dir", smtp_dir],
                    ["/usr/bin/python3", os.path.join(MSS_PEERS, "http_recorder.py"), "--log", http_log]):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            peers.append(proc)
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                for q in peers:
                    q.kill()
                print("[%s] mss peer %s did not start" % (label, cmd[1]), file=sys.stderr)
                sys.exit(2)
            ports.append(int(line.split()[1]))
        soak.extra_config = MSS_BLOCK.format(smtp=ports[0], http=ports[1])
        soak.mss = (smtp_dir, http_log)
    config = CONFIG.format(maxconn=100000, extra=soak.extra_config,
                           max_pending=args.max_pending, write_deadline=args.write_deadline)
    env_before = os.environ.get("ASAN_OPTIONS")
    # AddressSanitizer keeps freed memory in a 256 MiB quarantine by default,
    # which would read as growth; a small quarantine keeps the RSS bound
    # meaningful under ASan (no effect on other builds).
    if "quarantine_size_mb" not in (env_before or ""):
        os.environ["ASAN_OPTIONS"] = ((env_before + ":") if env_before else "") + "quarantine_size_mb=16"
    try:
        server = difftest.Server(binary, config, workdir)
    except difftest.HarnessError as e:
        print("[%s] %s" % (label, e), file=sys.stderr)
        for q in peers:
            q.kill()
        sys.exit(2)
    finally:
        if env_before is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = env_before
    t_start = time.time()
    try:
        setup_s = asyncio.run(soak.run(server))
    finally:
        crashed = server.proc.poll() is not None
        log = server.read_log()
        server.stop()
        for q in peers:
            q.kill()
            q.wait()
        # Both servers log "Slow Consumer Detected: MaxPending of N Exceeded"
        # or "...: WriteDeadline of D Exceeded" when they cut one off.
        slow_log = {}
        reload_log = {"ok": 0, "failed": 0}
        with open(server.log_path, "rb") as f:
            for line in f:
                if b"Reloaded server configuration" in line:
                    reload_log["ok"] += 1
                elif b"Failed to reload" in line:
                    reload_log["failed"] += 1
                    soak.fail(line.decode(errors="replace").strip())
                if b"Slow Consumer Detected" in line:
                    why = "MaxPending" if b"MaxPending" in line else (
                        "WriteDeadline" if b"WriteDeadline" in line else "other")
                    slow_log[why] = slow_log.get(why, 0) + 1
    # Every SIGHUP but perhaps the last (sent just before the end) must
    # have been applied; both servers log "Reloaded server configuration".
    if reload_log["ok"] < soak.reloads_total - 1:
        soak.fail("%d SIGHUPs sent, %d reloads logged" % (soak.reloads_total, reload_log["ok"]))
    if crashed:
        print("[%s] server log tail:\n%s" % (label, log), file=sys.stderr)
    rows = soak.intervals
    lat99 = [r["lat_p99_ms"] for r in rows if r["lat_p99_ms"] is not None]
    rtt99 = [r["rtt_p99_ms"] for r in rows if r["rtt_p99_ms"] is not None]
    rss = [r["rss_mib"] for r in rows if r["rss_mib"]]
    summary = {
        "label": label,
        "binary": binary,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
        "duration_s": args.duration,
        "connections": args.connections,
        "setup_s": round(setup_s, 1),
        "published": soak.published_total,
        "delivered": soak.delivered_total,
        "lost": soak.lost_total,
        "disorder": soak.disorder_total,
        "requests": soak.req_sent,
        "requests_answered": soak.req_answered,
        "churn_connections": soak.churn_ok_total,
        "churn_failed": soak.churn_failed_total,
        "churn_skipped_harness_behind": soak.churn_skipped,
        "slow_cut": soak.slow_cut_total,
        "slow_not_cut": soak.slow_not_cut_total,
        "slow_tails": soak.slow_tails,
        "slow_log_lines": slow_log,
        "reloads": soak.reloads_total,
        "reloads_logged": reload_log,
        "mss_events": soak.mss_events if mss else None,
        "mss_mails": soak.mss_mails,
        "mss_webhooks": soak.mss_hooks,
        "server_errors": soak.errors_total[:20],
        "rss_warm_mib": soak.rss_warm,
        "rss_last_mib": soak.rss_last,
        "rss_max_mib": max(rss) if rss else None,
        "lat_p99_ms_median": percentile(lat99, 50),
        "lat_p99_ms_max": max(lat99) if lat99 else None,
        "rtt_p99_ms_median": percentile(rtt99, 50),
        "rtt_p99_ms_max": max(rtt99) if rtt99 else None,
        "failures": soak.failures,
        "intervals": rows,
    }
    shutil_rm(workdir)
    return summary


def shutil_rm(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def table(summaries):
    keys = [
        ("binary", "server"), ("duration_s", "load (s)"), ("connections", "connections"),
        ("setup_s", "time to open them (s)"),
        ("published", "messages published"), ("delivered", "messages delivered"),
        ("lost", "lost by keeping-up consumers"), ("disorder", "duplicated/reordered"),
        ("requests", "requests (all answered?)"),
        ("churn_connections", "churn connections"), ("churn_failed", "churn failures"),
        ("slow_cut", "slow consumers cut off"), ("slow_log_lines", "server log: Slow Consumer Detected"), ("slow_not_cut", "slow consumers not cut"),
        ("reloads", "SIGHUP reloads"), ("reloads_logged", "reloads logged (ok/failed)"),
        ("mss_events", "mss events (mails, webhooks)"),
        ("rss_warm_mib", "RSS end of warm-up (MiB)"), ("rss_last_mib", "RSS last interval (MiB)"),
        ("rss_max_mib", "RSS max (MiB)"),
        ("lat_p99_ms_median", "p99 latency, median interval (ms)"),
        ("lat_p99_ms_max", "p99 latency, worst interval (ms)"),
        ("rtt_p99_ms_median", "p99 request RTT, median interval (ms)"),
        ("rtt_p99_ms_max", "p99 request RTT, worst interval (ms)"),
        ("failures", "failures"),
    ]
    out = ["| | " + " | ".join(s["label"] for s in summaries) + " |",
           "|---|" + "---|" * len(summaries)]
    for k, title in keys:
        cells = []
        for s in summaries:
            v = s.get(k)
            if k == "requests":
                v = "%d (%s)" % (s["requests"], "yes" if s["requests"] == s["requests_answered"] else
                                 "%d answered" % s["requests_answered"])
            elif k == "reloads_logged":
                v = "%d/%d" % (v["ok"], v["failed"])
            elif k == "mss_events":
                v = "-" if v is None else "%d (%d, %d)" % (v, s["mss_mails"], s["mss_webhooks"])
            elif k == "failures":
                v = len(v)
            elif k == "binary":
                v = os.path.basename(v)
            cells.append(str(v))
        out.append("| %s | %s |" % (title, " | ".join(cells)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="server binary (courier or nats-server)")
    ap.add_argument("--compare", action="store_true",
                    help="run --server, then --reference with the same load; print a markdown table")
    ap.add_argument("--reference", default=REFERENCE_DEFAULT)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--json", help="write the summary (and intervals) here")
    ap.add_argument("--interval", type=float, default=None, help="seconds per sample (default duration/24, 5..60)")
    ap.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default 25%% of duration)")
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--rate", type=float, default=50, help="messages/s per publisher and stream")
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--queue-members", type=int, default=3)
    ap.add_argument("--requesters", type=int, default=2)
    ap.add_argument("--req-rate", type=float, default=50, help="requests/s per requester")
    ap.add_argument("--churn-rate", type=float, default=100, help="connections opened and closed per second")
    ap.add_argument("--slow-rate", type=float, default=1e6, help="bytes/s fed to the slow consumer subject")
    ap.add_argument("--slow-wait", type=float, default=15, help="seconds a slow consumer never reads")
    ap.add_argument("--reload-every", type=float, default=10)
    ap.add_argument("--max-pending", type=int, default=2097152,
                    help="the servers' max_pending (checking the harness: 1073741824 with "
                         "--write-deadline 1h leaves slow consumers connected, and the run must fail)")
    ap.add_argument("--write-deadline", default="5s")
    ap.add_argument("--mss", action="store_true",
                    help="Courier only (the --server run): message services on, events to a real SMTP "
                         "server and HTTP peer (tests/mss), each must arrive")
    ap.add_argument("--mss-rate", type=float, default=5, help="mss events/s")
    args = ap.parse_args()
    if args.interval is None:
        args.interval = min(60.0, max(5.0, args.duration / 24))
    if args.warmup is None:
        args.warmup = args.duration * 0.25
    if args.duration < 3 * args.interval or args.duration < 2 * (args.slow_wait + 12):
        ap.error("--duration too short for the interval and slow-consumer cycle")
    # CTest's timeout and kill(1) send SIGTERM: stop the server on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 2 * 400 + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
        if min(hard, need) < need:
            print("open files limit %d is below the %d needed" % (hard, need), file=sys.stderr)
            sys.exit(2)
    runs = [(args.server, os.path.basename(args.server))]
    if args.compare:
        runs.append((args.reference, os.path.basename(args.reference)))
    summaries = []
    for i, (binary, label) in enumerate(runs):
        random.seed(1)
        summaries.append(run_one(args, binary, label, mss=args.mss and i == 0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summaries if args.compare else summaries[0], f, indent=1)
    print()
    print(table(summaries))
    bad = False
    for s in summaries:
        for f in s["failures"]:
            print("FAIL [%s]: %s" % (s["label"], f))
            bad = True
    print("soak: %s" % ("FAILED" if bad else "passed"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
