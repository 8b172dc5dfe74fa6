#!/usr/bin/env python3
"""WebSocket pub/sub side by side: Courier against nats-server 2.9.10.

Both servers get the same config (a `websocket { no_tls: true }` listener on a
free port, nothing else) and the same client: the stock Go client
(natsbench, nats.go 1.22, which speaks ws:// itself) with the same arguments
as ../shared/tools/sidebyside.py uses over TCP, fewer messages. Scenarios
run A B A B...; server CPU comes from /proc/<pid>/stat around each run.
Prints one table row per scenario: medians over --reps, and the ratios
Courier / nats-server (throughput: higher is better; CPU per delivered
message: lower is better).

    python3 bench/ws_sidebyside.py build-perf/courier [--reps 3] [--only pub16,pubsub16]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.environ.get("NATSBENCH", "/tmp/natsbench-bin/natsbench")
REFERENCE = "/usr/sbin/nats-server"
SCENARIOS = {
    "pub16": ["-mode", "pub", "-n", "1000000", "-size", "16"],
    "pubsub16": ["-mode", "pubsub", "-n", "500000", "-size", "16"],
    "fanout16x4": ["-mode", "pubsub", "-n", "250000", "-size", "16", "-subs", "4"],
    "queue16x4": ["-mode", "queue", "-n", "500000", "-size", "16", "-subs", "4"],
    "pub4k": ["-mode", "pub", "-n", "100000", "-size", "4096"],
    "pubsub4k": ["-mode", "pubsub", "-n", "100000", "-size", "4096"],
    "req128": ["-mode", "req", "-n", "10000", "-size", "128"],
}
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    def __init__(self, binary, workdir):
        self.ws_port = free_port()
        config = os.path.join(workdir, os.path.basename(binary) + ".conf")
        with open(config, "w") as f:
            f.write("websocket { port: %d, no_tls: true }\n" % self.ws_port)
        self.proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(free_port()), "-c", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.ws_port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{binary} did not listen for websocket clients")
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def run_once(server, args):
    c0 = cpu_seconds(server.proc.pid)
    out = subprocess.run([BENCH, "-s", f"ws://127.0.0.1:{server.ws_port}", *args], capture_output=True,
                         text=True, timeout=300)
    c1 = cpu_seconds(server.proc.pid)
    r = json.loads((out.stdout.strip().splitlines() or ["{}"])[-1])
    delivered = r.get("received") or (r.get("msgs") if r.get("mode") != "req" else 2 * r.get("msgs", 0))
    r["cpu_us_per_msg"] = (c1 - c0) * 1e6 / delivered
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("candidate")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    names = [n for n in SCENARIOS if not args.only or n in args.only.split(",")]
    workdir = tempfile.mkdtemp(prefix="wsbench-")
    servers = {"nats": Server(REFERENCE, workdir), "courier": Server(args.candidate, workdir)}
    print("| Scenario | nats-server msgs/s | Courier msgs/s | throughput ratio | nats-server CPU µs/msg "
          "| Courier CPU µs/msg | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    try:
        for name in names:
            results = {"nats": [], "courier": []}
            for _ in range(args.reps):
                for key in ("nats", "courier"):
                    results[key].append(run_once(servers[key], SCENARIOS[name]))
            rate = {k: statistics.median(r["msgs_per_s"] for r in v) for k, v in results.items()}
            cpu = {k: statistics.median(r["cpu_us_per_msg"] for r in v) for k, v in results.items()}
            print(f"| {name} | {rate['nats']:,.0f} | {rate['courier']:,.0f} | {rate['courier'] / rate['nats']:.2f} "
                  f"| {cpu['nats']:.3f} | {cpu['courier']:.3f} | {cpu['courier'] / cpu['nats']:.2f} |", flush=True)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
