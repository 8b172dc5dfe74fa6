#!/usr/bin/python3
"""Faulty peers for the mss fault-injection tests (fault_injection_test.cpp):
a TCP server that misbehaves in one of these ways.

  --mode silent     accepts connections and never sends a byte (an SMTP
                    server that never greets, an HTTP server that never
                    answers); what the client sends is read and dropped
  --mode slow-http  reads one HTTP request (headers and Content-Length
                    body), then answers a valid 200 response ONE BYTE per
                    --interval seconds (default 1); the response is
                    --response-bytes long (default 120), so a client
                    without a total deadline would wait that many seconds
  --mode slow-smtp  sends an SMTP greeting that never ends ("220-" lines
                    of text) one byte per --interval seconds

Prints "PORT <n>" on stdout once listening. With --state FILE, keeps FILE
(rewritten atomically) as {"opened": n, "closed": n, "bytes_sent": n}:
connections accepted, connections the client has closed (seen as EOF or a
failed send), bytes of the slow answers sent. The tests use it to check
that every connection the client opened was also given up.
"""
# First of all: SIGUSR1 prints where every thread is (to stderr), so a test
# that waits too long for "PORT" can show where the start-up stalled.
import faulthandler
import signal
faulthandler.register(signal.SIGUSR1, all_threads=True)

import argparse
import json
import os
import socket
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["silent", "slow-http", "slow-smtp"], required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--response-bytes", type=int, default=120)
    parser.add_argument("--state")
    args = parser.parse_args()

    lock = threading.Lock()
    state = {"opened": 0, "closed": 0, "bytes_sent": 0}

    def update(key, amount=1):
        with lock:
            state[key] += amount
            if args.state:
                with open(args.state + ".tmp", "w") as out:
                    json.dump(state, out)
                os.rename(args.state + ".tmp", args.state)

    def drain_until_closed(connection):
        """Reads and drops everything until the client closes."""
        try:
            while connection.recv(4096):
                pass
        except OSError:
            pass
        update("closed")
        connection.close()

    def read_request(connection):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = connection.recv(4096)
            if not chunk:
                return False
            body += chunk
        return True

    def dribble(connection, payload):
        """Sends `payload` one byte per interval; False once the client is gone."""
        for i in range(len(payload)):
            try:
                connection.sendall(payload[i:i + 1])
            except OSError:
                return False
            update("bytes_sent")
            time.sleep(args.interval)
        return True

    def slow_http(connection):
        try:
            if not read_request(connection):
                update("closed")
                connection.close()
                return
        except OSError:
            update("closed")
            connection.close()
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        body_length = max(2, args.response_bytes - len(head) - 8)
        body = b'"' + b"x" * (body_length - 2) + b'"'
        payload = head + str(len(body)).encode() + b"\r\n\r\n" + body
        dribble(connection, payload)
        # Whether the client left during the answer or the answer was
        # complete, wait for its close.
        drain_until_closed(connection)

    def slow_smtp(connection):
        payload = b"".join(b"220-courier-test greeting line %d\r\n" % i for i in range(10000))
        if not dribble(connection, payload):
            update("closed")
            connection.close()
            return
        drain_until_closed(connection)

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)
    if args.state:
        update("opened", 0)
    print("PORT %d" % listener.getsockname()[1], flush=True)
    serve = {"silent": drain_until_closed, "slow-http": slow_http, "slow-smtp": slow_smtp}[args.mode]
    while True:
        connection, _ = listener.accept()
        update("opened")
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
