#!/usr/bin/env python3
"""How long /connz takes with many connections while traffic flows, Courier
beside nats-server 2.9.10 (same machine, same sitting, one after the other).

    python3 bench/connz_scale.py build/courier [--connections 10000] [--reps 5]

For each server: start it with -m, open N idle client connections (each
CONNECTs with a name and one subscription), start a publisher and a
subscriber exchanging small messages as fast as they can, then time
GET /connz (default limit 1024), /connz?limit=N, /connz?limit=N&subs=1 and
/varz REPS times each. Prints the median and worst wall time per request and
the Courier/nats-server ratio.
"""
import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} never opened")


def open_clients(port, count):
    """Opens `count` connections; each CONNECTs and SUBs. Returns the sockets."""
    clients = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b'CONNECT {"verbose":false,"name":"idle-%d"}\r\nSUB idle.%d 1\r\nPING\r\n' % (i, i))
        clients.append(s)
    # Wait for every PONG (the server has processed the CONNECT and SUB).
    sel = selectors.DefaultSelector()
    pending = {}
    for s in clients:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    left = set(clients)
    deadline = time.time() + 300
    while left and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            pending[s] += data
            if b"PONG\r\n" in pending[s]:
                sel.unregister(s)
                left.discard(s)
    if left:
        raise SystemExit(f"{len(left)} connections never got their PONG")
    return clients


class traffic(threading.Thread):
    """A publisher and a subscriber on one subject, as fast as they go."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = False
        self.sent = 0

    def run(self):
        sub = socket.create_connection(("127.0.0.1", self.port))
        sub.sendall(b'CONNECT {"verbose":false,"name":"sink"}\r\nSUB load 1\r\n')
        pub = socket.create_connection(("127.0.0.1", self.port))
        pub.sendall(b'CONNECT {"verbose":false,"name":"source"}\r\n')
        sub.setblocking(False)
        batch = b"PUB load 16\r\n0123456789abcdef\r\n" * 200
        while not self.stop:
            pub.sendall(batch)
            self.sent += 200
            try:
                while sub.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass
            pub.setblocking(False)
            try:
                while pub.recv(65536):
                    pass
            except BlockingIOError:
                pass
            pub.setblocking(True)


def time_get(url, reps):
    times = []
    size = 0
    for _ in range(reps):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as r:
            body = r.read()
        times.append(time.perf_counter() - start)
        size = len(body)
        json.loads(body)  # a whole document, not a truncated one
    return statistics.median(times), max(times), size


def measure(binary, connections, reps):
    port, http = free_port(), free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-m", str(http)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        wait_port(http)
        clients = open_clients(port, connections)
        load = traffic(port)
        load.start()
        time.sleep(1)
        results = {}
        base = f"http://127.0.0.1:{http}"
        for name, path in [("connz", "/connz"), ("connz_all", f"/connz?limit={connections + 10}"),
                           ("connz_all_subs", f"/connz?limit={connections + 10}&subs=1"), ("varz", "/varz")]:
            results[name] = time_get(base + path, reps)
        load.stop = True
        load.join(5)
        for s in clients:
            s.close()
        return results
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("candidate")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 200  # per process: this one and the server each
    if hard < need:
        raise SystemExit(f"need {need} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    reference = measure(NATS_SERVER, args.connections, args.reps)
    candidate = measure(args.candidate, args.connections, args.reps)
    print(f"{args.connections} connections, traffic flowing, {args.reps} requests each (median / worst, seconds)")
    print(f"{'request':16} {'nats-server':>20} {'courier':>20} {'ratio':>7} {'bytes (courier)':>16}")
    for name in reference:
        r, c = reference[name], candidate[name]
        print(f"{name:16} {r[0]:9.3f} / {r[1]:8.3f} {c[0]:9.3f} / {c[1]:8.3f} {c[0] / r[0]:7.2f} {c[2]:16}")


if __name__ == "__main__":
    sys.exit(main())
