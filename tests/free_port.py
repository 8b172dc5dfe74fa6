"""A loopback port for a server a test is about to start.

Asking the kernel (bind to port 0, read the port, release it) hands out ports
from the ephemeral range, the same range every outgoing connection takes its
local port from, and twice in a row it can hand out the same one: a case that
picked a client port and a WebSocket port that way once got one number for
both. So ports are drawn at random below the ephemeral range (32768 and up on
Linux), checked free by binding, and never given out twice by one process.
Another process can still take the port before the server binds it (a CI
run once lost a nats-server that way: "bind: address already in use"), so a
harness starts its servers through start_on_free_ports, which picks new ports
and starts again when a start failed for that reason.
"""

import random
import socket

_given = set()
_random = random.SystemRandom()


def free_port():
    while True:
        port = _random.randrange(20000, 32000)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port


ATTEMPTS = 4


def port_taken(text):
    """True when a server's start failure (its log, or an error quoting it)
    says a port it was given was taken: nats-server prints "bind: address
    already in use", Courier "Address already in use"."""
    return "already in use" in text.lower()


def start_on_free_ports(start, attempts=ATTEMPTS):
    """Returns start(), calling it again (up to `attempts` times in all) while
    it raises an error whose text says a port was taken.  start() must pick
    its ports with free_port() on every call, and must have stopped whatever
    it started before it raises."""
    for attempt in range(attempts):
        try:
            return start()
        except Exception as error:  # noqa: BLE001 - re-raised unless a port was taken
            if attempt + 1 == attempts or not port_taken(str(error)):
                raise
