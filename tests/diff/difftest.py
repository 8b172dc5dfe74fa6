#!/usr/bin/env python3
"""Differential wire test: Courier against nats-server 2.9.10.

Each case (see cases.py) starts a fresh server on a free loopback port, with an
optional config file, and replays a scripted session over raw TCP sockets.
After every step the harness collects what each client received until the
connection goes quiet, so a transcript is a deterministic list of lines:

    c1 -> b'PING\\r\\n'          what a client sent
    c1 <- b'PONG\\r\\n'          what it received during that step
    c1 closed                   the server closed the connection

INFO lines are parsed as JSON; volatile values (server_id, port, nonce, ...)
are masked, and the key set and values are compared separately from the
remaining bytes, which must match exactly.  A candidate may add exactly one
key of its own, "courier_version".

Usage:
    python3 tests/diff/difftest.py --candidate build/courier [--case NAME ...]
    python3 tests/diff/difftest.py --reference-only [--case NAME] [--out DIR]
    python3 tests/diff/difftest.py --list

Exit status: 0 when every selected case matched, 1 when any differed, 2 when a
server binary is missing or would not start (never a silent pass).
"""

import argparse
import fnmatch
import json
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cases as case_table  # noqa: E402
from free_port import free_port, start_on_free_ports, wait_logged  # noqa: E402

REFERENCE_DEFAULT = "/usr/sbin/nats-server"

# INFO values that differ from run to run or from server to server; their
# presence is still compared, only the value is replaced.
MASKED_INFO_KEYS = {"server_id", "server_name", "client_id", "nonce", "port",
                    "go", "git_commit", "connect_urls", "cluster",
                    "client_ip"}
# The one key a candidate may add to INFO.
ALLOWED_EXTRA_KEYS = {"courier_version"}
# Keys describing the Go build of nats-server; a candidate not written in Go
# may leave them out (reported as a note, not a failure).
OPTIONAL_KEYS = {"go", "git_commit"}

INFO_RE = re.compile(rb"INFO (\{[^\r\n]*\}) \r\n")

QUIET_DEFAULT = 0.3


class HarnessError(Exception):
    """The harness itself could not run a case (binary missing, no start)."""


def make_tls_files(directory):
    """A self-signed certificate for the tls cases (openssl CLI)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj",
             "/CN=localhost"], check=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    return cert, key


class Server:
    """One server process on free loopback ports.

    A "{ws_port}" in the config becomes a free port too (self.ws_port).  A
    start that failed because another process took a port first is retried
    on new ports (free_port.start_on_free_ports)."""

    def __init__(self, binary, config, workdir):
        if not binary or not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            raise HarnessError("server binary not found or not executable: %r" % binary)
        self.binary = binary
        self.workdir = workdir
        start_on_free_ports(lambda: self._start(config))

    def _start(self, config):
        self.port = free_port()
        self.ws_port = None
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if config is not None:
            if "{cert}" in config or "{key}" in config:
                cert, key = make_tls_files(self.workdir)
                config = config.replace("{cert}", cert).replace("{key}", key)
            if "{ws_port}" in config:
                self.ws_port = free_port()
                config = config.replace("{ws_port}", str(self.ws_port))
            path = os.path.join(self.workdir, "server.conf")
            with open(path, "w") as f:
                f.write(config)
            args += ["-c", path]
        self.log_path = os.path.join(self.workdir, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.time() + 30
        wait_logged(self.proc, self.log_path, deadline, HarnessError, self.binary)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError("%s exited with %s at start; log:\n%s" % (
                    self.binary, self.proc.returncode, self.read_log()))
            try:
                # A probe connection: it is counted as a connection by the
                # server, so close it and give the server a moment to forget
                # it (matters for max_connections cases).
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.settimeout(1.0)
                    try:
                        s.recv(4096)
                    except OSError:
                        pass
                time.sleep(0.1)
                return
            except OSError:
                time.sleep(0.05)
        raise HarnessError("%s did not accept connections on port %d within 30s; log:\n%s"
                           % (self.binary, self.port, self.read_log()))

    def signal(self, name):
        self.proc.send_signal(getattr(signal, "SIG" + name))

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


class Session:
    """Replays one case against one server and records the transcript."""

    def __init__(self, server):
        self.server = server
        self.clients = {}
        self.closed = set()
        self.pending = {}
        self.sel = selectors.DefaultSelector()
        self.lines = []

    def connect(self, name):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=2)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.clients[name] = s
        self.pending[name] = b""
        self.sel.register(s, selectors.EVENT_READ, name)

    def send(self, name, data):
        s = self.clients[name]
        s.setblocking(True)
        try:
            s.sendall(data)
        except OSError as e:
            self.lines.append("%s send failed: %s" % (name, type(e).__name__))
        s.setblocking(False)

    def close(self, name):
        s = self.clients.pop(name, None)
        if s is None:
            self.lines.append("%s was not open" % name)
            return
        self.sel.unregister(s)
        s.close()

    def start_tls(self, name):
        """TLS handshake on an open client (the server's self-signed
        certificate is not verified).  Records only whether it worked."""
        s = self.clients[name]
        self.sel.unregister(s)
        s.setblocking(True)
        s.settimeout(3)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            t = ctx.wrap_socket(s, server_hostname="localhost")
        except (OSError, ssl.SSLError) as e:
            self.lines.append("%s tls handshake failed (%s)" % (
                name, "closed" if isinstance(e, (ConnectionError, ssl.SSLEOFError)) else "error"))
            self.clients.pop(name)
            s.close()
            return
        self.lines.append("%s tls established" % name)
        t.setblocking(False)
        self.clients[name] = t
        self.sel.register(t, selectors.EVENT_READ, name)

    def collect(self, quiet, minimum=0.0):
        """Read from every client until nothing arrives for `quiet` seconds
        (and at least `minimum` seconds have passed)."""
        start = time.time()
        last = start
        while True:
            now = time.time()
            if now - last >= quiet and now - start >= minimum:
                break
            if not self.sel.get_map():
                if now - start >= minimum:
                    break
                time.sleep(min(0.05, max(0.0, minimum - (now - start))))
                continue
            for key, _ in self.sel.select(timeout=0.02):
                name = key.data
                try:
                    data = key.fileobj.recv(65536)
                    # TLS may hold decrypted bytes that select() cannot see.
                    while data and isinstance(key.fileobj, ssl.SSLSocket) and key.fileobj.pending():
                        data += key.fileobj.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except OSError:
                    data = b""
                if data:
                    self.pending[name] += data
                else:
                    self.sel.unregister(key.fileobj)
                    self.closed.add(name)
                last = time.time()
        for name in sorted(self.pending):
            if self.pending[name]:
                self.lines.append(("recv", name, self.pending[name]))
                self.pending[name] = b""
        for name in sorted(self.closed):
            self.lines.append("%s closed" % name)
            self.clients.pop(name).close()
        self.closed.clear()

    def run(self, steps):
        for step in steps:
            op = step[0]
            quiet = QUIET_DEFAULT
            minimum = 0.0
            if op == "connect":
                self.lines.append("%s connects" % step[1])
                self.connect(step[1])
            elif op == "send":
                name, data = step[1], step[2]
                if name not in self.clients:
                    self.lines.append("%s -> (not connected)" % name)
                    continue
                shown = data if len(data) <= 300 else data[:100] + b"...(%d bytes)" % len(data)
                self.lines.append("%s -> %r" % (name, shown))
                self.send(name, data)
            elif op == "wait":
                self.lines.append("wait %gs" % step[1])
                minimum = step[1]
            elif op == "close":
                self.lines.append("%s closes" % step[1])
                self.close(step[1])
            elif op == "tls":
                self.lines.append("%s starts tls" % step[1])
                if step[1] in self.clients:
                    self.start_tls(step[1])
            elif op == "signal":
                self.lines.append("server gets SIG%s" % step[1])
                self.server.signal(step[1])
            else:
                raise HarnessError("unknown step %r" % (step,))
            if len(step) > 3 and isinstance(step[-1], dict):
                quiet = step[-1].get("quiet", quiet)
                minimum = step[-1].get("min", minimum)
            self.collect(quiet, minimum)
        for s in self.clients.values():
            s.close()
        self.sel.close()
        return self.lines


def mask_info(obj):
    out = {}
    for k, v in obj.items():
        out[k] = "<%s>" % type(v).__name__ if k in MASKED_INFO_KEYS else v
    return out


MSG_HEAD_RE = re.compile(rb"(H?MSG) [^\r\n]* (\d+)\r\n")


def split_frames(data):
    """Split received bytes into protocol frames: a MSG/HMSG with its payload,
    or any other line.  Incomplete trailing bytes form a last frame."""
    frames = []
    pos = 0
    while pos < len(data):
        m = MSG_HEAD_RE.match(data, pos)
        if m:
            end = m.end() + int(m.group(2)) + 2
            frames.append(data[pos:end])
            pos = end
            continue
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        frames.append(data[pos:end])
        pos = end
    return frames


def sort_msg_runs(data):
    """Sort each run of consecutive MSG/HMSG frames, for cases where several
    subscriptions of one connection match a message and the delivery order
    between them is the server's internal order, not a protocol rule."""
    out, run = [], []
    for frame in split_frames(data):
        if frame.startswith((b"MSG ", b"HMSG ")):
            run.append(frame)
            continue
        out += sorted(run)
        run = []
        out.append(frame)
    out += sorted(run)
    return b"".join(out)


def drop_server_pings(data):
    """Remove PING frames sent by the server.  nats-server sends its first
    PING 2-2.4 s after CONNECT, so on a loaded machine it can land in any
    longer case; cases about keepalive set keep_pings and see them."""
    return b"".join(f for f in split_frames(data) if f != b"PING\r\n")


def normalise(lines, case):
    """Turn raw transcript entries into comparable text lines plus a list of
    parsed INFO objects (in order of appearance)."""
    text = []
    infos = []
    for entry in lines:
        if isinstance(entry, str):
            text.append(entry)
            continue
        _, name, data = entry

        def repl(m):
            try:
                obj = json.loads(m.group(1))
            except ValueError:
                return m.group(0)
            infos.append((name, obj))
            return b"INFO {#%d} \r\n" % (len(infos) - 1)

        data = INFO_RE.sub(repl, data)
        if not case.get("keep_pings"):
            data = drop_server_pings(data)
            if not data:
                continue
        if case.get("unordered"):
            data = sort_msg_runs(data)
        for pattern, replacement in case.get("masks", []):
            data = re.sub(pattern, replacement, data)
        text.append("%s <- %r" % (case.get("aliases", {}).get(name, name), data))
    return text, infos


def compare_infos(ref_infos, cand_infos):
    problems = []
    notes = []
    for i, ((rn, r), (cn, c)) in enumerate(zip(ref_infos, cand_infos)):
        rm, cm = mask_info(r), mask_info(c)
        missing = sorted(set(rm) - set(cm) - OPTIONAL_KEYS)
        optional_missing = sorted((set(rm) - set(cm)) & OPTIONAL_KEYS)
        if optional_missing:
            notes.append("INFO #%d (%s): candidate omits %s" % (i, rn, optional_missing))
        extra = sorted(set(cm) - set(rm) - ALLOWED_EXTRA_KEYS)
        if missing:
            problems.append("INFO #%d (%s): keys missing in candidate: %s" % (i, rn, missing))
        if extra:
            problems.append("INFO #%d (%s): unexpected extra keys in candidate: %s" % (i, cn, extra))
        for k in sorted(set(rm) & set(cm)):
            if rm[k] != cm[k]:
                problems.append("INFO #%d (%s): %s: reference %s, candidate %s" % (
                    i, rn, k, json.dumps(rm[k]), json.dumps(cm[k])))
        rk = [k for k in r if k in c]
        ck = [k for k in c if k in r]
        if rk != ck:
            notes.append("INFO #%d: key order differs (reference %s)" % (i, ",".join(rk)))
    return problems, notes


def run_case(binary, case):
    workdir = tempfile.mkdtemp(prefix="difftest-")
    server = None
    try:
        server = Server(binary, case.get("config"), workdir)
        lines = Session(server).run(case["steps"])
        return lines
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def format_lines(text):
    return "\n".join("    " + t for t in text)


def diff_case(reference, candidate, case, retries=1):
    """Compare one case; a mismatch is re-run `retries` times so that a
    timing accident (a server PING landing in a different step) is not
    reported as a behaviour difference.  Returns (problems, notes)."""
    problems, notes = diff_case_once(reference, candidate, case)
    attempt = 0
    while problems and attempt < retries:
        attempt += 1
        again, notes = diff_case_once(reference, candidate, case)
        if not again:
            notes = notes + ["matched only on retry %d (timing-sensitive)" % attempt]
        problems = again
    return problems, notes


def run_both(reference, candidate, case):
    """Run the case against both servers at the same time (each has its own
    process and port), so both see the same machine load and a case costs
    the time of one run."""
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


def diff_case_once(reference, candidate, case):
    ref_lines, cand_lines = run_both(reference, candidate, case)
    ref_text, ref_infos = normalise(ref_lines, case)
    cand_text, cand_infos = normalise(cand_lines, case)
    problems = []
    if ref_text != cand_text:
        problems.append("transcript differs")
        for i in range(max(len(ref_text), len(cand_text))):
            r = ref_text[i] if i < len(ref_text) else "(nothing)"
            c = cand_text[i] if i < len(cand_text) else "(nothing)"
            if r != c:
                problems.append("  first difference at line %d:\n    reference: %s\n    candidate: %s"
                                % (i + 1, r, c))
                break
        problems.append("  reference transcript:\n" + format_lines(ref_text))
        problems.append("  candidate transcript:\n" + format_lines(cand_text))
    info_problems, notes = compare_infos(ref_infos, cand_infos)
    if len(ref_infos) != len(cand_infos) and ref_text == cand_text:
        problems.append("INFO count differs: %d vs %d" % (len(ref_infos), len(cand_infos)))
    problems += info_problems
    return problems, notes


def select_cases(patterns):
    all_cases = case_table.CASES
    names = [c["name"] for c in all_cases]
    if len(set(names)) != len(names):
        raise HarnessError("duplicate case names in cases.py")
    if not patterns:
        return all_cases
    chosen = [c for c in all_cases if any(fnmatch.fnmatch(c["name"], p) for p in patterns)]
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
                    help="only record the reference transcripts and print them")
    ap.add_argument("--out", help="with --reference-only: write NAME.txt transcripts here")
    ap.add_argument("--list", action="store_true", help="list case names")
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
                print("%-40s %s" % (c["name"], c.get("doc", "")))
            return 0
        if args.reference_only:
            if args.out:
                os.makedirs(args.out, exist_ok=True)
            for case in chosen:
                text, infos = normalise(run_case(args.reference, case), case)
                body = "# %s\n# %s\n%s\n" % (case["name"], case.get("doc", ""), "\n".join(text))
                for i, (name, obj) in enumerate(infos):
                    body += "INFO #%d (%s): %s\n" % (i, name, json.dumps(obj))
                if args.out:
                    with open(os.path.join(args.out, case["name"] + ".txt"), "w") as f:
                        f.write(body)
                print(body)
            return 0
        if not args.candidate:
            raise HarnessError("--candidate BINARY is required (or use --reference-only)")
        for b in (args.reference, args.candidate):
            if not os.path.isfile(b) or not os.access(b, os.X_OK):
                raise HarnessError("server binary not found or not executable: %s" % b)
        failed = []
        errors = []
        for case in chosen:
            t0 = time.time()
            try:
                problems, notes = diff_case(args.reference, args.candidate, case, args.retries)
            except HarnessError as e:
                # e.g. the candidate is being rebuilt right now: report this
                # case as an error and go on with the others.
                print("ERR  %-40s %s" % (case["name"], e), flush=True)
                errors.append(case["name"])
                continue
            status = "FAIL" if problems else "ok"
            print("%-4s %-40s %.1fs" % (status, case["name"], time.time() - t0), flush=True)
            for n in notes:
                print("     note: " + n)
            if problems:
                failed.append(case["name"])
                for p in problems:
                    print("     " + p)
            sys.stdout.flush()
        passed = len(chosen) - len(failed) - len(errors)
        print()
        if failed:
            print("mismatching cases: " + " ".join(failed))
        if errors:
            print("cases that could not run: " + " ".join(errors))
        print("%d passed, %d failed" % (passed, len(failed) + len(errors)))
        return 2 if errors else 1 if failed else 0
    except HarnessError as e:
        print("difftest: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
