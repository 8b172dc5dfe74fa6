#!/usr/bin/env python3
"""Courier's monitoring documents decode into nats-server 2.9.10's own Go
types (server.Varz, server.Connz, ... from Debian's
golang-github-nats-io-nats-server-dev), with unknown fields refused: what
nats-top, prometheus-nats-exporter and the nats CLI decode them with.

    go_types_test.py COURIER_BINARY BUILD_DIR

Builds go_types/ (GOPATH mode; Go's own build cache, in BUILD_DIR only when
there is no home for it), starts Courier with -m,
gives it a live client with subscriptions and a closed one, and runs the
decoder on every endpoint. Exit status 1 on any refusal.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from free_port import wait_logged  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    courier, build_dir = sys.argv[1], sys.argv[2]
    decoder = os.path.join(build_dir, "go_types")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode")
    # Go's default cache (~/.cache/go-build) outlives the build directory, as
    # the compiler cache does: compiling the server's types costs 21 CPU-s
    # cold and 0.4 warm, so a fresh clone on a machine that ran the suite
    # before skips it.
    if not any(os.environ.get(name) for name in ("GOCACHE", "XDG_CACHE_HOME", "HOME")):
        env["GOCACHE"] = os.path.join(build_dir, "gocache")
    subprocess.run(["go", "build", "-o", decoder, "."], cwd=os.path.join(HERE, "go_types"), env=env, check=True)

    # The server binds ports of its own choosing (-1), so no other process
    # can take them first; they are read from its log.
    workdir = tempfile.mkdtemp(prefix="go-types-")
    log_path = os.path.join(workdir, "courier.log")
    with open(log_path, "wb") as log:
        server = subprocess.Popen([courier, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"], stdout=log, stderr=log)
    try:
        text = wait_logged(server, log_path, time.time() + 60, name=courier)
    except RuntimeError:
        server.kill()
        server.wait(30)
        raise
    try:
        port = int(re.search(r"Listening for client connections on \S*:(\d+)", text).group(1))
        http = int(re.search(r"Starting http monitor on \S*:(\d+)", text).group(1))
        base = f"http://127.0.0.1:{http}"
        live = socket.create_connection(("127.0.0.1", port))
        live.sendall(b'CONNECT {"verbose":false,"name":"live","lang":"python","version":"1"}\r\n'
                     b'SUB a.b 1\r\nSUB c.* q 2\r\nPUB a.b 2\r\nhi\r\nPING\r\n')
        gone = socket.create_connection(("127.0.0.1", port))
        gone.sendall(b'CONNECT {"verbose":false,"name":"gone"}\r\nPING\r\n')
        for s in (live, gone):
            s.settimeout(30)
            data = b""
            while b"PONG" not in data:
                data += s.recv(4096)
        gone.close()
        deadline = time.time() + 30
        while b'"gone"' not in urllib.request.urlopen(base + "/connz?state=closed").read():
            if time.time() > deadline:
                raise SystemExit("the closed client never showed in /connz?state=closed")
            time.sleep(0.2)
        result = subprocess.run([decoder, base])
        live.close()
        return result.returncode
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
