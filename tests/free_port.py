"""A loopback port for a server a test is about to start.

Asking the kernel (bind to port 0, read the port, release it) hands out ports
from the ephemeral range, the same range every outgoing connection takes its
local port from, and twice in a row it can hand out the same one: a case that
picked a client port and a WebSocket port that way once got one number for
both. So ports are drawn at random below the ephemeral range (32768 and up on
Linux), checked free by binding, and never given out twice by one process.
Another process can still take the port before the server binds it; with
12,000 candidates that is rare, and the server's start then fails loudly.
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
