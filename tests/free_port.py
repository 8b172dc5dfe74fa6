"""A loopback port for a server a test is about to start.

Asking the kernel (bind to port 0, read the port, release it) hands out ports
from the ephemeral range, the same range every outgoing connection takes its
local port from, and twice in a row it can hand out the same one: a case that
picked a client port and a WebSocket port that way once got one number for
both. So ports are drawn at random below the ephemeral range (32768 and up on
Linux) and checked free by binding.

ctest runs many test processes at once and each picks ports, so a port is
reserved across processes before it is given out, exactly as
tests/free_port.hpp does for the C++ tests (the same files): an exclusive
flock on $TMPDIR/courier-test-ports/PORT, held until this process exits.
A process outside the tests can still take the port before the server binds
it (a CI run once lost a nats-server that way: "bind: address already in
use"), so a harness starts its servers through start_on_free_ports, which
picks new ports and starts again when a start failed for that reason.
"""

import fcntl
import os
import random
import socket
import tempfile
import time

_given = set()
_reservations = []  # descriptors of locked files: the reservations this process holds
_random = random.SystemRandom()


def reservation_dir():
    return os.path.join(tempfile.gettempdir(), "courier-test-ports")


def reserve_port(port):
    """True when this process now holds the reservation of `port` (see the
    module comment); its file stays open (the descriptor is not inherited by
    child processes) and locked until this process exits."""
    directory = reservation_dir()
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(os.path.join(directory, str(port)), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return True  # no directory: binding alone decides
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _reservations.append(fd)
    return True


def free_port():
    while True:
        port = _random.randrange(20000, 32000)
        if port in _given:
            continue
        _given.add(port)  # ours now, or another process's: not tried again either way
        if not reserve_port(port):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
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


def wait_logged(process, log_path, deadline, error=RuntimeError, name="the server",
                marker="Server is ready"):
    """Waits until the log at `log_path` holds `marker` (nats-server and
    Courier both log "Server is ready" once they serve clients) and returns
    the log's text.  Raises error(message quoting the log's end) when
    `process` (a subprocess.Popen) exits first or time.time() passes
    `deadline`.  The log, not a probe connection, is what tells: a probe can
    reach another process holding the port while ours exits for want of it."""
    while True:
        with open(log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        if marker in text:
            return text
        if process.poll() is not None:
            raise error("%s exited with %s at start; log:\n%s" % (name, process.returncode, text[-4000:]))
        if time.time() > deadline:
            raise error("%s did not log %r in time; log:\n%s" % (name, marker, text[-4000:]))
        time.sleep(0.05)
