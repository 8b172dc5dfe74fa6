#!/usr/bin/env python3
"""Leafnodes side by side: Courier as a leaf against nats-server 2.9.10 as a leaf.

One hub (nats-server, a `leafnodes` listener and monitoring) runs for the whole
benchmark. For every scenario and repetition a leaf is started, alternately
nats-server and Courier (A B A B ...), each with the same config:

    leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:HUB_LEAF_PORT" } ] }

plus its own client port. Before a run the script waits for the hub's /leafz
to show the leaf, then sends probe messages from the publishing side until the
consuming side sees one, so the interest has crossed the leaf connection and
no message is dropped for lack of it. After the run the leaf is stopped and
the hub's /leafz must show no leaf again.

Scenarios (the leaf in the middle of every one):

  leaf2hubN   publisher on the leaf, subscriber on the hub, N-byte payloads
  hub2leafN   publisher on the hub, subscriber on the leaf
  req128      requester on the leaf, responder on the hub, one request in flight
  req128rev   requester on the hub, responder on the leaf

The publisher is the stock Go client (natsbench, `-mode pub`, nats.go 1.22;
/work/shared/tools/setup.sh builds it, or set NATSBENCH). natsbench talks to
one server only, so the consuming side is a raw-protocol reader here that
counts "MSG bench.data " in what it receives, and request/reply is a
raw-protocol requester and responder (same for both leaves; the latencies
include their Python overhead, a few tens of µs).

Throughput is the rate the subscriber received at (first to last message);
CPU per message is the leaf process's utime+stime (/proc/PID/stat) over the
run divided by the messages it carried (requests: request and reply, 2 per
round trip). Prints a table row per scenario: medians over --reps and the
ratios Courier / nats-server (throughput: higher is better; CPU: lower).

    python3 bench/leaf_sidebyside.py /tmp/rel-leafbench/courier [--reps 3] [--only leaf2hub16,req128]
        [--scale 0.1]  # a tenth of the messages, to check the setup
        [--perf DIR]   # perf record -g the Courier leaf in every run, into DIR/SCENARIO-REP.data
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BENCH = os.environ.get("NATSBENCH", "/tmp/natsbench-bin/natsbench")
REFERENCE = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
TICK = os.sysconf("SC_CLK_TCK")
DATA = "bench.data"
PROBE = "bench.probe"
SCENARIOS = {
    # name: (kind, publishing/requesting side, payload bytes, messages)
    "leaf2hub16": ("stream", "leaf", 16, 2_000_000),
    "hub2leaf16": ("stream", "hub", 16, 2_000_000),
    "leaf2hub4k": ("stream", "leaf", 4096, 100_000),
    "hub2leaf4k": ("stream", "hub", 4096, 100_000),
    "req128": ("req", "leaf", 128, 10_000),
    "req128rev": ("req", "hub", 128, 10_000),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_until(predicate, seconds, what):
    deadline = time.time() + seconds
    while not predicate():
        if time.time() > deadline:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


class Server:
    """A server process on 127.0.0.1 with its own client port and config."""

    def __init__(self, binary, workdir, name, config, monitor=False):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise SystemExit(f"{binary}: not an executable file")
        self.binary, self.name = binary, name
        self.port = free_port()
        self.monitor_port = free_port() if monitor else None
        path = os.path.join(workdir, name + ".conf")
        with open(path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(workdir, name + ".log")
        argv = [binary, "-a", "127.0.0.1", "-p", str(self.port), "-c", path]
        if monitor:
            argv += ["-m", str(self.monitor_port)]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(self.listening, 10, f"{name} ({binary}) to listen on {self.port}")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"{name} did not start; its log:\n{self.log()}")

    def listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; its log:\n{self.log()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-2000:]

    def leaf_count(self):
        """Leaf connections in the hub's /leafz; -1 while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/leafz", timeout=2) as r:
                return json.load(r)["leafnodes"]
        except OSError:
            return -1

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """A raw NATS protocol connection (no echo, no verbose)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        info = self.line()
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"expected INFO from port {port}, got {info[:80]!r}")
        self.send(b'CONNECT {"verbose":false,"pedantic":false,"echo":false,"protocol":1}\r\n')
        self.ping()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed by the server")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\r\n", 1)
        return line

    def ping(self):
        """Round trip: everything sent before has been processed by the server."""
        self.send(b"PING\r\n")
        while True:
            line = self.line()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode(errors="replace"))

    def close(self):
        self.sock.close()


def send_probes_until(port, seen, subject=PROBE):
    """Publishes a probe every 20 ms on `port` until `seen` is set (another thread)."""
    publisher = Client(port)
    try:
        deadline = time.time() + 10
        while not seen.is_set():
            if time.time() > deadline:
                raise RuntimeError("no probe message crossed the leaf connection in 10 s")
            publisher.send(f"PUB {subject} 5\r\nprobe\r\n".encode())
            seen.wait(0.02)
    finally:
        publisher.close()


def run_stream(leaf, hub, side, size, count, perf):
    """natsbench publishes `count` messages on `side`; a raw subscriber counts them on the other."""
    pub_server, sub_server = (leaf, hub) if side == "leaf" else (hub, leaf)
    sub = Client(sub_server.port)
    sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sub.send(f"SUB {DATA} 1\r\nSUB {PROBE} 2\r\n".encode())
    sub.ping()
    # Interest crosses the leaf connection in order: once a probe arrives, so can data.
    seen = threading.Event()
    failure = []

    def probe():
        try:
            send_probes_until(pub_server.port, seen)
        except Exception as e:  # reported below
            failure.append(e)
            seen.set()

    prober = threading.Thread(target=probe)
    prober.start()
    sub.sock.settimeout(10)
    while not seen.is_set():
        line = sub.line()
        if line.startswith(f"MSG {PROBE} ".encode()):
            seen.set()
    prober.join()
    if failure:
        raise failure[0]
    pattern = f"MSG {DATA} ".encode()
    received, first_batch, t_first, t_last = 0, 0, None, None
    buffer = bytearray(4 << 20)
    view = memoryview(buffer)
    tail = sub.pending[-(len(pattern) - 1):]  # after the probe: stray probes only
    c0 = cpu_seconds(leaf.proc.pid)
    recorder = start_perf(leaf, perf)
    bench = subprocess.Popen([BENCH, "-s", f"nats://127.0.0.1:{pub_server.port}", "-mode", "pub",
                              "-subj", DATA, "-n", str(count), "-size", str(size)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub.sock.settimeout(5)  # no message for 5 s: the rest is lost
    try:
        while received < count:
            n = sub.sock.recv_into(buffer)
            if n == 0:
                break
            # Counted in place; a pattern split across reads is in tail + head.
            found = buffer.count(pattern, 0, n) + (tail + bytes(view[:min(n, len(pattern) - 1)])).count(pattern)
            if found:
                now = time.perf_counter()
                if t_first is None:
                    t_first, first_batch = now, found
                t_last = now
                received += found
            if buffer.find(b"PING\r\n", 0, n) >= 0:
                sub.send(b"PONG\r\n")
            tail = (tail + bytes(view[:n]))[-(len(pattern) - 1):] if n < len(pattern) else bytes(view[n - len(pattern) + 1:n])
    except socket.timeout:
        pass
    out, err = bench.communicate(timeout=120)
    c1 = cpu_seconds(leaf.proc.pid)
    stop_perf(recorder)
    sub.close()
    if bench.returncode != 0:
        raise RuntimeError(f"natsbench exited with {bench.returncode}: {err.strip()[-300:]}")
    elapsed = (t_last - t_first) if t_first is not None else 0
    rate = (received - first_batch) / elapsed if elapsed > 0 else 0
    return {"msgs_per_s": rate, "received": received, "expected": count,
            "cpu_us_per_msg": (c1 - c0) * 1e6 / received if received else float("nan"),
            "publish_msgs_per_s": json.loads(out.strip().splitlines()[-1])["msgs_per_s"]}


def responder(client, size, stop):
    """Answers every request on the subscription with `size` bytes until `stop`."""
    reply_payload = b"r" * size
    pending = b""
    client.sock.settimeout(0.2)
    while not stop.is_set():
        try:
            chunk = client.sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not chunk:
            return
        pending += chunk
        out = []
        while True:
            end = pending.find(b"\r\n")
            if end < 0:
                break
            line = pending[:end]
            if line.startswith(b"MSG "):
                args = line.split(b" ")
                length = int(args[-1])
                if len(pending) < end + 2 + length + 2:
                    break
                pending = pending[end + 2 + length + 2:]
                if len(args) == 5:  # MSG subject sid reply size
                    out.append(b"PUB " + args[3] + b" %d\r\n" % size + reply_payload + b"\r\n")
            else:
                pending = pending[end + 2:]
                if line == b"PING":
                    out.append(b"PONG\r\n")
        if out:
            client.send(b"".join(out))


def run_req(leaf, hub, side, size, count, perf):
    """Sequential request/reply: requester on `side`, responder on the other."""
    req_server, resp_server = (leaf, hub) if side == "leaf" else (hub, leaf)
    resp = Client(resp_server.port)
    resp.send(b"SUB bench.req 1\r\n")
    resp.ping()
    stop = threading.Event()
    answering = threading.Thread(target=responder, args=(resp, size, stop))
    answering.start()
    req = Client(req_server.port)
    inbox = b"_INBOX.leafbench"
    req.send(b"SUB " + inbox + b" 1\r\n")
    req.ping()
    payload = b"q" * size
    request = b"PUB bench.req " + inbox + b" %d\r\n" % size + payload + b"\r\n"
    reply_head = b"MSG " + inbox + b" 1 %d" % size

    def one(timeout):
        req.sock.settimeout(timeout)
        req.send(request)
        while True:
            line = req.line()
            if line == reply_head:
                while len(req.pending) < size + 2:
                    req.pending += req.sock.recv(65536)
                req.pending = req.pending[size + 2:]
                return
            if line == b"PING":
                req.send(b"PONG\r\n")

    try:
        # Until the interest in bench.req (hub -> requester side) and in the
        # inbox (the other way) are both across, requests get no answer.
        deadline = time.time() + 10
        while True:
            try:
                one(0.1)
                break
            except socket.timeout:
                if time.time() > deadline:
                    raise RuntimeError("no reply crossed the leaf connection in 10 s")
        req.sock.settimeout(0.5)  # drain replies to the retried probes
        try:
            while True:
                req.line()
        except socket.timeout:
            req.pending = b""
        latencies = []
        c0 = cpu_seconds(leaf.proc.pid)
        recorder = start_perf(leaf, perf)
        start = time.perf_counter()
        for _ in range(count):
            t = time.perf_counter_ns()
            one(5)
            latencies.append((time.perf_counter_ns() - t) / 1000)
        elapsed = time.perf_counter() - start
        c1 = cpu_seconds(leaf.proc.pid)
        stop_perf(recorder)
    finally:
        stop.set()
        answering.join()
        req.close()
        resp.close()
    latencies.sort()
    q = lambda p: latencies[int(p * (len(latencies) - 1))]
    return {"msgs_per_s": count / elapsed, "received": count, "expected": count,
            "cpu_us_per_msg": (c1 - c0) * 1e6 / (2 * count), "p50_us": q(0.50), "p99_us": q(0.99)}


def start_perf(leaf, perf):
    if not perf or leaf.name != "courier":
        return None
    path = os.path.join(perf["dir"], f"{perf['scenario']}-{perf['rep']}.data")
    recorder = subprocess.Popen(["perf", "record", "-g", "-q", "-o", path, "-p", str(leaf.proc.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf attaches
    return recorder


def stop_perf(recorder):
    if recorder:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(30)


def leaf_config(hub):
    return ('leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:%d" } ] }\n' % hub.leaf_port)


def start_leaf(hub, binary, name, workdir):
    leaf = Server(binary, workdir, name, leaf_config(hub))
    try:
        wait_until(lambda: hub.leaf_count() == 1, 15, f"{name} to connect to the hub as a leaf")
    except RuntimeError:
        leaf.stop()
        raise RuntimeError(f"{name} did not connect to the hub; its log:\n{leaf.log()}")
    return leaf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("candidate", help="the Courier binary")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every scenario's message count")
    ap.add_argument("--perf", help="directory for perf record -g of the Courier leaf")
    args = ap.parse_args()
    for binary, what in ((REFERENCE, "nats-server (set NATS_SERVER)"),
                         (BENCH, "natsbench (run /work/shared/tools/setup.sh or set NATSBENCH)")):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary}: missing; {what}")
    names = [n for n in SCENARIOS if not args.only or n in args.only.split(",")]
    if not names:
        raise SystemExit(f"no scenario among {', '.join(SCENARIOS)}")
    if args.perf:
        os.makedirs(args.perf, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="leafbench-")
    leaf_port = free_port()
    hub = Server(REFERENCE, workdir, "hub", 'leafnodes { host: "127.0.0.1", port: %d }\n' % leaf_port, monitor=True)
    hub.leaf_port = leaf_port
    leaves = {"nats": REFERENCE, "courier": args.candidate}
    print("| Scenario | nats-server msgs/s | Courier msgs/s | throughput ratio | nats-server leaf CPU µs/msg "
          "| Courier leaf CPU µs/msg | CPU ratio | p50 µs nats / Courier | p99 µs nats / Courier |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    losses = []
    try:
        for name in names:
            kind, side, size, count = SCENARIOS[name]
            count = max(1, int(count * args.scale))
            results = {"nats": [], "courier": []}
            for rep in range(args.reps):
                for key, binary in leaves.items():
                    leaf = start_leaf(hub, binary, key, workdir)
                    try:
                        perf = args.perf and {"dir": args.perf, "scenario": name, "rep": rep}
                        run = run_stream if kind == "stream" else run_req
                        r = run(leaf, hub, side, size, count, perf)
                    finally:
                        leaf.stop()
                        wait_until(lambda: hub.leaf_count() == 0, 15, "the hub to drop the stopped leaf")
                    if r["received"] != r["expected"]:
                        losses.append(f"{name} rep {rep} {key}: {r['received']:,} of {r['expected']:,} received")
                    results[key].append(r)
            med = lambda key, field: statistics.median(r[field] for r in results[key])
            rate = {k: med(k, "msgs_per_s") for k in results}
            cpu = {k: med(k, "cpu_us_per_msg") for k in results}
            lat = ("| — | — |" if kind == "stream" else
                   f"| {med('nats', 'p50_us'):.0f} / {med('courier', 'p50_us'):.0f} "
                   f"| {med('nats', 'p99_us'):.0f} / {med('courier', 'p99_us'):.0f} |")
            print(f"| {name} | {rate['nats']:,.0f} | {rate['courier']:,.0f} | {rate['courier'] / rate['nats']:.2f} "
                  f"| {cpu['nats']:.3f} | {cpu['courier']:.3f} | {cpu['courier'] / cpu['nats']:.2f} {lat}", flush=True)
    finally:
        hub.stop()
    for line in losses:
        print("LOST", line)
    return 1 if losses else 0


if __name__ == "__main__":
    sys.exit(main())
