#!/usr/bin/env python3
"""Self-test of the differential harness: it must notice differences.

Unit checks of the normalisation and INFO comparison, plus one live check:
nats-server compared with itself run under auth (a wrapper script adds
--user/--pass) must be reported as a mismatch, and compared with itself
unchanged must match.  The same for the session fuzzer (sessionfuzz.py):
nats-server against itself matches, and against itself with a lower
max_subscriptions (a wrapper script appends it to the config) is reported.
Needs /usr/sbin/nats-server (or --reference).
"""

import os
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import difftest  # noqa: E402
import sessionfuzz  # noqa: E402

REFERENCE = os.environ.get("COURIER_DIFF_REFERENCE", difftest.REFERENCE_DEFAULT)


class NormaliseTest(unittest.TestCase):
    def test_info_is_replaced_and_parsed(self):
        raw = b'INFO {"server_id":"X","port":1,"max_payload":5} \r\nPONG\r\n'
        text, infos = difftest.normalise([("recv", "c1", raw)], {})
        self.assertEqual(text, ["c1 <- b'INFO {#0} \\r\\nPONG\\r\\n'"])
        self.assertEqual(infos, [("c1", {"server_id": "X", "port": 1, "max_payload": 5})])

    def test_info_without_space_before_crlf_is_not_normalised(self):
        raw = b'INFO {"server_id":"X"}\r\n'
        text, infos = difftest.normalise([("recv", "c1", raw)], {})
        self.assertEqual(infos, [])
        self.assertIn("server_id", text[0])

    def test_masked_keys_compare_equal_other_values_do_not(self):
        ref = [("c1", {"server_id": "A", "port": 1, "max_payload": 10})]
        same = [("c1", {"server_id": "B", "port": 2, "max_payload": 10})]
        other = [("c1", {"server_id": "B", "port": 2, "max_payload": 11})]
        self.assertEqual(difftest.compare_infos(ref, same)[0], [])
        problems = difftest.compare_infos(ref, other)[0]
        self.assertEqual(len(problems), 1)
        self.assertIn("max_payload", problems[0])

    def test_only_courier_version_may_be_added(self):
        ref = [("c1", {"version": "2.9.10"})]
        ok = [("c1", {"version": "2.9.10", "courier_version": "0.1"})]
        bad = [("c1", {"version": "2.9.10", "extra": 1})]
        missing = [("c1", {})]
        self.assertEqual(difftest.compare_infos(ref, ok)[0], [])
        self.assertIn("extra", difftest.compare_infos(ref, bad)[0][0])
        self.assertIn("missing", difftest.compare_infos(ref, missing)[0][0])

    def test_key_order_is_a_note(self):
        problems, notes = difftest.compare_infos([("c", {"a": 1, "b": 2})], [("c", {"b": 2, "a": 1})])
        self.assertEqual(problems, [])
        self.assertEqual(len(notes), 1)

    def test_split_frames_respects_payload_sizes(self):
        data = b"MSG a 1 4\r\nx\r\ny\r\nPONG\r\nHMSG b 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n+OK\r\n"
        self.assertEqual(difftest.split_frames(data), [
            b"MSG a 1 4\r\nx\r\ny\r\n", b"PONG\r\n",
            b"HMSG b 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b"+OK\r\n"])

    def test_server_pings_dropped_but_not_inside_payloads(self):
        data = b"PING\r\nMSG a 1 6\r\nPING\r\n\r\nPONG\r\nPING\r\n"
        self.assertEqual(difftest.drop_server_pings(data), b"MSG a 1 6\r\nPING\r\n\r\nPONG\r\n")
        text, _ = difftest.normalise([("recv", "c1", b"PING\r\n")], {})
        self.assertEqual(text, [])
        text, _ = difftest.normalise([("recv", "c1", b"PING\r\n")], {"keep_pings": True})
        self.assertEqual(text, ["c1 <- b'PING\\r\\n'"])

    def test_sort_msg_runs_only_within_runs(self):
        data = b"MSG a 3 1\r\nx\r\nMSG a 1 1\r\nx\r\n+OK\r\nMSG a 2 1\r\nx\r\n"
        self.assertEqual(difftest.sort_msg_runs(data),
                         b"MSG a 1 1\r\nx\r\nMSG a 3 1\r\nx\r\n+OK\r\nMSG a 2 1\r\nx\r\n")


class LiveTest(unittest.TestCase):
    """Needs the reference server; fails (never skips) when it is missing."""

    def setUp(self):
        self.assertTrue(os.access(REFERENCE, os.X_OK), "reference nats-server not found at " + REFERENCE)

    def run_difftest(self, candidate, case):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "difftest.py"), "--reference", REFERENCE,
             "--candidate", candidate, "--case", case, "--retries", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)

    def test_identical_servers_match(self):
        r = self.run_difftest(REFERENCE, "connect_empty_ping")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("1 passed, 0 failed", r.stdout)

    def test_a_different_server_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            wrapper = os.path.join(d, "authed-nats-server")
            with open(wrapper, "w") as f:
                f.write('#!/bin/sh\nexec %s "$@" --user a --pass b\n' % REFERENCE)
            os.chmod(wrapper, stat.S_IRWXU)
            r = self.run_difftest(wrapper, "connect_empty_ping")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("auth_required", r.stdout)
        self.assertIn("Authorization Violation", r.stdout)
        self.assertIn("0 passed, 1 failed", r.stdout)

    def test_missing_candidate_is_an_error_not_a_pass(self):
        r = self.run_difftest("/nonexistent/courier", "connect_empty_ping")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("not found", r.stdout)


class SessionFuzzUnitTest(unittest.TestCase):
    def session(self, queue_map=None):
        return sessionfuzz.Session(0, "default", [], queue_map or {}, "valid")

    def test_generator_is_deterministic(self):
        a = sessionfuzz.make_session("x", 5)
        b = sessionfuzz.make_session("x", 5)
        c = sessionfuzz.make_session("y", 5)
        self.assertEqual(a.chunks, b.chunks)
        self.assertNotEqual(a.chunks, c.chunks)

    def test_same_publish_runs_sorted_by_sid_only(self):
        frames = [b"MSG a 2 1\r\nx\r\n", b"MSG a 1 1\r\nx\r\n", b"MSG a 3 1\r\ny\r\n", b"MSG a 1 1\r\ny\r\n"]
        self.assertEqual(sessionfuzz.sort_same_publish(frames), [
            b"MSG a 1 1\r\nx\r\n", b"MSG a 2 1\r\nx\r\n", b"MSG a 1 1\r\ny\r\n", b"MSG a 3 1\r\ny\r\n"])
        # different payloads are never reordered
        frames = [b"MSG a 1 1\r\ny\r\n", b"MSG a 1 1\r\nx\r\n"]
        self.assertEqual(sessionfuzz.sort_same_publish(frames), frames)

    def test_queue_deliveries_compared_as_a_multiset(self):
        s = self.session({("c1", b"1"): b"queue q", ("c2", b"7"): b"queue q"})
        info = b'INFO {"server_id":"A","port":1} \r\n'
        ref = {"c1": (info + b"MSG a 1 1\r\nx\r\nPONG\r\n", False), "c2": (info + b"PONG\r\n", False)}
        cand = {"c1": (info + b"PONG\r\n", False), "c2": (info + b"MSG a 7 1\r\nx\r\nPONG\r\n", False)}
        self.assertEqual(sessionfuzz.compare(s, ref, cand), ([], None))
        twice = {"c1": (info + b"MSG a 1 1\r\nx\r\nPONG\r\n", False),
                 "c2": (info + b"MSG a 7 1\r\nx\r\nPONG\r\n", False)}
        problems, known = sessionfuzz.compare(s, ref, twice)
        self.assertIn("queue deliveries differ", problems[0])
        self.assertIsNone(known)

    def test_queue_subs_found_in_the_byte_stream(self):
        # a truncated queue SUB joined with the barrier PING: sid "1PING"
        s = sessionfuzz.Session(0, "default", [("c1", [b"SUB a q 1"], ()), ("c1", [b"SUB b 2\r\n"], ())],
                                None, "corrupt")
        self.assertEqual(s.queue_map, {("c1", b"1PING"): b"queue q"})

    def test_closed_flag_and_plain_frames_compared(self):
        s = self.session()
        ref = {"c1": (b"PONG\r\n", False)}
        self.assertIn("closed by server", sessionfuzz.compare(s, ref, {"c1": (b"PONG\r\n", True)})[0][0])
        self.assertTrue(sessionfuzz.compare(s, ref, {"c1": (b"+OK\r\nPONG\r\n", False)})[0])

    def test_reset_cut_stream_only_as_a_prefix(self):
        s = self.session()
        full = b"MSG a 1 6\r\nxxxxxx\r\n-ERR 'Maximum Payload Violation'\r\n"
        ref = {"c1": (full[:15], True, True)}          # cut by a reset
        self.assertEqual(sessionfuzz.compare(s, ref, {"c1": (full, True, False)}), ([], sessionfuzz.RESET_CUT_LABEL))
        # not a prefix, or not closed, or no reset: a difference
        self.assertTrue(sessionfuzz.compare(s, {"c1": (b"MSG a 2 6\r\nxx", True, True)},
                                            {"c1": (full, True, False)})[0])
        self.assertTrue(sessionfuzz.compare(s, {"c1": (full[:15], True, False)},
                                            {"c1": (full, True, False)})[0])
        self.assertTrue(sessionfuzz.compare(s, {"c1": (full[:15], True, True)},
                                            {"c1": (full, False, False)})[0])

    def test_known_difference_is_narrow(self):
        s = self.session()
        err = b"-ERR 'Invalid Publish Subject'\r\n"
        ref = {"c1": (err + err + b"PONG\r\n", False)}
        problems, known = sessionfuzz.compare(s, ref, {"c1": (err + b"PONG\r\n", False)})
        self.assertTrue(problems)
        self.assertIn("Invalid Publish Subject", known)
        self.assertIsNone(sessionfuzz.compare(s, ref, {"c1": (err + b"PONG\r\n", False)}, strict=True)[1])
        other = b"-ERR 'Invalid Subject'\r\n"
        self.assertIsNone(sessionfuzz.compare(s, {"c1": (other + other, False)}, {"c1": (other, False)})[1])


class SessionFuzzLiveTest(unittest.TestCase):
    """The fuzzer against real servers; fails (never skips) without one."""

    def setUp(self):
        self.assertTrue(os.access(REFERENCE, os.X_OK), "reference nats-server not found at " + REFERENCE)

    def run_fuzz(self, candidate, sessions=40):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "sessionfuzz.py"), "--reference", REFERENCE,
             "--candidate", candidate, "--sessions", str(sessions), "--seed", "selftest",
             "--max-reports", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)

    def test_identical_servers_match(self):
        r = self.run_fuzz(REFERENCE, 100)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"100 run \(\d+ valid, \d+ corrupted\), 0 mismatching")

    def test_a_subtly_different_server_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            wrapper = os.path.join(d, "fewer-subs-nats-server")
            with open(wrapper, "w") as f:
                f.write('#!/bin/sh\n'
                        '# BIN -a HOST -p PORT [-c CONF]: the same config plus max_subscriptions: 3\n'
                        'conf="$0.$$.conf"\n'
                        'if [ "$5" = "-c" ]; then cat "$6" > "$conf"; else : > "$conf"; fi\n'
                        'echo "max_subscriptions: 3" >> "$conf"\n'
                        'exec %s "$1" "$2" "$3" "$4" -c "$conf"\n' % REFERENCE)
            os.chmod(wrapper, stat.S_IRWXU)
            r = self.run_fuzz(wrapper)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("MISMATCH session", r.stdout)
        self.assertIn("maximum subscriptions exceeded", r.stdout)
        self.assertIn("shrunk to", r.stdout)

    def test_missing_candidate_is_an_error_not_a_pass(self):
        r = self.run_fuzz("/nonexistent/courier")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("not found", r.stdout)


class TakenPortTest(unittest.TestCase):
    """A port another process takes between free_port() and the server's
    bind: the start is retried on new ports, and only for that reason."""

    def hand_out_first(self, port):
        real = difftest.free_port
        ports = [port]

        def first_then_free():
            return ports.pop() if ports else real()
        difftest.free_port = first_then_free
        self.addCleanup(setattr, difftest, "free_port", real)

    def test_start_moves_to_another_port(self):
        with socket.socket() as holder, tempfile.TemporaryDirectory() as d:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            taken = holder.getsockname()[1]
            self.hand_out_first(taken)
            server = difftest.Server(REFERENCE, None, d)
            try:
                self.assertNotEqual(server.port, taken)
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as c:
                    c.settimeout(10)
                    self.assertTrue(c.recv(4096).startswith(b"INFO "))
            finally:
                server.stop()

    def test_other_start_failures_are_not_retried(self):
        with tempfile.TemporaryDirectory() as d:
            starts = []
            real = difftest.free_port

            def counting():
                starts.append(1)
                return real()
            difftest.free_port = counting
            self.addCleanup(setattr, difftest, "free_port", real)
            with self.assertRaises(difftest.HarnessError) as caught:
                difftest.Server(REFERENCE, "this is { not a config", d)
            self.assertEqual(len(starts), 1, caught.exception)


class PortReservationTest(unittest.TestCase):
    """free_port reserves its ports across processes: a port another test
    process holds is not given out until that process has ended."""

    def test_a_port_held_elsewhere_is_free_again_after_its_holder_exits(self):
        import free_port
        code = ("import sys; sys.path.insert(0, %r); from free_port import free_port; "
                "print(free_port(), flush=True); sys.stdin.read()") % os.path.dirname(HERE)
        holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(holder.stdout.readline())
            self.assertFalse(free_port.reserve_port(port))
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
        self.assertTrue(free_port.reserve_port(port))


if __name__ == "__main__":
    unittest.main()
