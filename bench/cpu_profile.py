#!/usr/bin/env python3
"""Where each server's CPU goes, per message: user and system time, system
calls and context switches, for Courier and nats-server under the same
natsbench load (the scenarios of ../shared/tools/sidebyside.py).

    bench/cpu_profile.py build/courier [--only fanout16x4,pubsub16] [--reps 3] [--busy]

For each scenario and server: a fresh server, one natsbench run, the
server's utime/stime from /proc (per message delivered, in microseconds),
the kernel softirq threads' time over the same run (loopback receive work
the kernel defers to them is not charged to the sending server) and,
with `perf` available, `perf stat -p` counts of its read/write/epoll/futex
system calls and context switches (per 1,000 messages). The servers
alternate, reference first, and the median of --reps runs is printed as a
markdown table. --busy runs one CPU-bound process per core beside it all
(the slowed sitting of bench/run_all.sh --busy). --clients adds what the
load generator itself cost (natsbench's user+system time per message, from
its rusage) and the share of the machine's CPU time left idle during the
run: when the clients take most of the CPU and little is idle, the clients,
not the server, set the rate.

Needs natsbench (../shared/tools/setup.sh builds it; NATSBENCH overrides the
path) and nats-server (NATS_SERVER).
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from free_port import free_port  # noqa: E402

BENCH = os.environ.get("NATSBENCH", "/tmp/natsbench-bin/natsbench")
REFERENCE = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")

SCENARIOS = {
    "pub16": ["-mode", "pub", "-n", "4000000", "-size", "16"],
    "pub16x2": ["-mode", "pub", "-n", "4000000", "-size", "16", "-pubs", "2"],
    "pubsub16": ["-mode", "pubsub", "-n", "2000000", "-size", "16"],
    "fanout16x4": ["-mode", "pubsub", "-n", "1000000", "-size", "16", "-subs", "4"],
    "fanout16x32": ["-mode", "pubsub", "-n", "100000", "-size", "16", "-subs", "32"],
    "queue16x4": ["-mode", "queue", "-n", "2000000", "-size", "16", "-subs", "4"],
    "pub4k": ["-mode", "pub", "-n", "200000", "-size", "4096"],
    "pubsub4k": ["-mode", "pubsub", "-n", "200000", "-size", "4096"],
    # Not in sidebyside.py: big payloads fanned out (each delivery a copy, or a reference).
    "fanout4kx4": ["-mode", "pubsub", "-n", "100000", "-size", "4096", "-subs", "4"],
    "req128": ["-mode", "req", "-n", "30000", "-size", "128"],
    "req128x8": ["-mode", "req", "-n", "80000", "-size", "128", "-pubs", "8"],
}

SYSCALLS = ["read", "recvfrom", "write", "writev", "sendto", "sendmsg", "epoll_wait", "epoll_pwait",
            "epoll_ctl", "futex", "sched_yield"]


def clock_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # utime, stime


def ksoftirqd_ticks():
    """CPU ticks of the kernel's softirq threads: loopback receive work the
    kernel defers there under load is charged to them, not to the sender."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        if "(ksoftirqd/" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def start_server(binary):
    port = free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{binary} exited with {proc.returncode}")
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{binary} did not listen on {port}")


def cpu_idle_and_total():
    """Idle (idle + iowait) and total jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return fields[3] + fields[4], sum(fields)


def run_once(binary, args, use_perf):
    """CPU from a run with nothing attached; counts from a second run under
    perf stat (its syscall tracepoints slow the server down)."""
    row = measure(binary, args, False)
    if use_perf:
        counted = measure(binary, args, True)
        row.update({k: v for k, v in counted.items() if k not in row})
    return row


def measure(binary, args, use_perf):
    proc, port = start_server(binary)
    try:
        perf_out = None
        perf = None
        if use_perf:
            perf_out = tempfile.NamedTemporaryFile(prefix="cpu_profile_", suffix=".csv", delete=False).name
            events = ["context-switches"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS]
            perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", str(proc.pid),
                                     "-o", perf_out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # attached before the load starts
        u0, s0 = clock_ticks(proc.pid)
        k0 = ksoftirqd_ticks()
        i0, t0 = cpu_idle_and_total()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([BENCH, "-s", f"nats://127.0.0.1:{port}", *args], capture_output=True, text=True,
                             timeout=180)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        i1, t1 = cpu_idle_and_total()
        u1, s1 = clock_ticks(proc.pid)
        k1 = ksoftirqd_ticks()
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(10)
        result = json.loads((out.stdout.strip().splitlines() or ["{}"])[-1])
        msgs = result.get("msgs", 0)
        delivered = result.get("received") or (2 * msgs if result.get("mode") == "req" else msgs)
        tick = os.sysconf("SC_CLK_TCK")
        row = {
            "msgs_per_s": result.get("msgs_per_s", 0),
            "user_us": (u1 - u0) / tick * 1e6 / delivered,
            "sys_us": (s1 - s0) / tick * 1e6 / delivered,
            "ksoftirqd_us": (k1 - k0) / tick * 1e6 / delivered,
        }
        if not use_perf:
            # The client's CPU (natsbench is the only child reaped in between)
            # and the machine's idle share over the same run.
            row["client_us"] = ((c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)) * 1e6 / delivered
            row["idle_pct"] = 100.0 * (i1 - i0) / max(1, t1 - t0)
        if perf_out:
            with open(perf_out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) < 3 or line.startswith("#") or not parts[0].isdigit():
                        continue
                    name = parts[2].replace("syscalls:sys_enter_", "")
                    row[name] = int(parts[0]) * 1000 / delivered
            os.unlink(perf_out)
        return row
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidate")
    ap.add_argument("--only", default="")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--clients", action="store_true", help="add the client's CPU per message and the idle share")
    ap.add_argument("--json")
    a = ap.parse_args()
    use_perf = shutil.which("perf") is not None
    hogs = []
    if a.busy:
        hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(os.cpu_count() or 1)]
    rows = []
    try:
        for name in [n for n in SCENARIOS if not a.only or n in a.only.split(",")]:
            runs = {"nats-server": [], "courier": []}
            for _ in range(a.reps):
                runs["nats-server"].append(run_once(REFERENCE, SCENARIOS[name], use_perf))
                runs["courier"].append(run_once(a.candidate, SCENARIOS[name], use_perf))
            for server, results in runs.items():
                keys = sorted({k for r in results for k in r})
                row = {"scenario": name, "server": server}
                row.update({k: statistics.median([r.get(k, 0) for r in results]) for k in keys})
                rows.append(row)
    finally:
        for hog in hogs:
            hog.kill()
    cols = ["msgs_per_s", "user_us", "sys_us", "ksoftirqd_us", "context-switches"] + SYSCALLS
    cols = [c for c in cols if any(c in r for r in rows)]
    extra = ["client us/msg", "idle %"] if a.clients else []
    print("| scenario | server | msgs/s | user us/msg | sys us/msg | ksoftirqd us/msg | " +
          "".join(f"{e} | " for e in extra) + "per 1,000 msgs: " + " | ".join(c for c in cols[4:]) + " |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * (len(extra) + len(cols[4:])))
    for r in rows:
        cells = [f"{r.get('msgs_per_s', 0) / 1e6:.3f} M", f"{r.get('user_us', 0):.3f}", f"{r.get('sys_us', 0):.3f}",
                 f"{r.get('ksoftirqd_us', 0):.3f}"]
        if a.clients:
            cells += [f"{r.get('client_us', 0):.3f}", f"{r.get('idle_pct', 0):.0f}"]
        cells += [f"{r.get(c, 0):.2f}" for c in cols[4:]]
        print(f"| {r['scenario']} | {r['server']} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
