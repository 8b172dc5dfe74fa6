#!/usr/bin/env python3
"""Self-test of the differential monitoring harness: it must notice differences.

Unit checks of the Go JSON emulation and of the document comparison on
doctored documents (a changed value, a swapped key order, a missing key, a
malformed clock, a different layout, connections out of sort order, a wrong
delta, ...), plus live checks: nats-server against itself matches;
nats-server against itself under another name (-n), with clustering on or
with a user and password required is reported as a mismatch; a missing candidate is an
error, not a pass.  Needs /usr/sbin/nats-server (or COURIER_MONITOR_REFERENCE).
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gojson  # noqa: E402
import monitor_diff as md  # noqa: E402

REFERENCE = os.environ.get("COURIER_MONITOR_REFERENCE", md.REFERENCE_DEFAULT)
SID = "NBHLMXZXXTZ3TF37KVOL5V5ZXEJBBB2J4HW7MGWII3C2UHCK3LCWE5VH"
SID2 = "NDDIHLGMVLFRG2L6MT3L4Z6H3KKYM47D2JZNEN4IYN52C3JM7WNAAZS7"


class FakeServer:
    def __init__(self, port, http_port):
        self.port = port
        self.http_port = http_port


class FakeRun:
    """What compare_docs reads from a Run."""

    def __init__(self, port=4222, http_port=8222, local_ports=None):
        self.server = FakeServer(port, http_port)
        self.transcript = []
        self.docs = []
        self.polls = 0
        self.local_ports = local_ports or {}

    def add(self, path, body, status=200, ctype="application/json", activity=0, raw=None):
        if raw is None:
            raw = body if isinstance(body, str) else gojson.marshal(to_tree(body))
        self.docs.append(md.Doc(path, path, status, {"content-type": ctype}, raw.encode(), activity))
        return self


def to_tree(value):
    """A Python value (dicts keep their insertion order) as a gojson tree."""
    if isinstance(value, dict):
        return gojson.Object((k, to_tree(v)) for k, v in value.items())
    if isinstance(value, list):
        return [to_tree(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        v = gojson.Int(value)
        v.raw = str(value)
        return v
    v = gojson.Float(value)
    v.raw = gojson.go_float(value)
    return v


def varz(**changes):
    doc = {"server_id": SID, "server_name": SID, "version": "2.9.10", "go": "go1.19.8",
           "host": "127.0.0.1", "port": 4222, "max_payload": 1048576, "http_port": 8222,
           "start": "2026-12-05T20:06:20.903536474Z", "now": "2026-12-05T20:06:27.13506Z",
           "uptime": "6s", "mem": 13086720, "cpu": 0.5, "subscriptions": 43,
           "http_req_stats": {"/varz": 1}}
    doc.update(changes)
    return doc


def conn(cid, port, name, **more):
    c = {"cid": cid, "ip": "127.0.0.1", "port": port, "start": "2026-12-05T20:06:21.59088285Z",
         "last_activity": "2026-12-05T20:06:21.592072142Z", "rtt": "1.189384ms", "uptime": "5s",
         "idle": "5s", "out_msgs": 0, "subscriptions": 0, "name": name}
    c.update(more)
    return c


def connz(conns, **more):
    doc = {"server_id": SID, "now": "2026-12-05T20:06:27.117381443Z", "num_connections": len(conns),
           "connections": conns}
    doc.update(more)
    return doc


def compare(ref, cand, case=None):
    return md.compare_docs(case or {"name": "t"}, ref, cand)


class GoJsonTest(unittest.TestCase):
    def test_indent_and_compact_forms(self):
        text = '{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    0.5\n  ],\n  "d": "\\u003c\\u0026"\n}'
        self.assertEqual(md.check_form(text)[0], "indented")
        self.assertEqual(md.check_form('{"status":"ok"}')[0], "compact")
        self.assertIsNone(md.check_form('{\n    "a": 1\n}')[0])        # four spaces
        self.assertIsNone(md.check_form('{"a": 1}')[0])                # space after colon
        self.assertIsNone(md.check_form('{\n  "a": 1.0\n}')[0])        # Go writes 1
        self.assertIsNone(md.check_form('{\n  "a": "<"\n}')[0])        # Go escapes <
        self.assertIsNone(md.check_form('{\n  "a": 1\n}\n')[0])        # no trailing newline

    def test_go_float(self):
        for v, s in ((0.8, "0.8"), (2.0, "2"), (0.8888888888888888, "0.8888888888888888"),
                     (1e-07, "1e-07"), (1e21, "1e+21"), (0.000001, "0.000001")):
            self.assertEqual(gojson.go_float(v), s)

    def test_key_order_is_kept(self):
        self.assertEqual(gojson.parse('{"b":1,"a":2}').keys(), ["b", "a"])


class CompareTest(unittest.TestCase):
    def test_same_documents_with_other_volatile_values_match(self):
        ref = FakeRun().add("/varz", varz())
        cand = FakeRun(5000, 9000).add("/varz", varz(
            server_id=SID2, server_name=SID2, port=5000, http_port=9000, mem=1, cpu=3,
            now="2027-01-01T00:00:00.1Z", uptime="1h2m3s"))
        self.assertEqual(compare(ref, cand), [])

    def test_changed_value_is_reported(self):
        problems = compare(FakeRun().add("/varz", varz()), FakeRun().add("/varz", varz(max_payload=1024)))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("max_payload: reference 1048576, candidate 1024", problems[0])

    def test_key_order_missing_and_extra_keys(self):
        v = varz()
        swapped = dict([("server_name", v["server_name"]), ("server_id", v["server_id"])]
                       + [(k, x) for k, x in v.items() if k not in ("server_id", "server_name")])
        problems = compare(FakeRun().add("/varz", v), FakeRun().add("/varz", swapped))
        self.assertTrue(any("key order differs" in p for p in problems), problems)
        less = dict(v)
        del less["max_payload"]
        less["courier"] = 1
        problems = compare(FakeRun().add("/varz", v), FakeRun().add("/varz", less))
        self.assertTrue(any("keys missing in candidate: max_payload" in p for p in problems), problems)
        self.assertTrue(any("keys only in candidate: courier" in p for p in problems), problems)

    def test_type_change_is_reported(self):
        problems = compare(FakeRun().add("/varz", varz()), FakeRun().add("/varz", varz(max_payload="1048576")))
        self.assertTrue(any("type differs" in p for p in problems), problems)

    def test_volatile_formats_are_checked(self):
        for bad in ({"now": "2026-12-05T20:06:27.135060000Z"},     # Go trims trailing zeros
                    {"now": "2026-12-05 20:06:27Z"},
                    {"uptime": "6.2s"}, {"server_id": "abc"}, {"mem": "13MB"},
                    {"port": 4223}):
            problems = compare(FakeRun().add("/varz", varz()), FakeRun().add("/varz", varz(**bad)))
            self.assertTrue(problems, bad)
            self.assertIn(" %s: " % list(bad)[0], problems[0])

    def test_server_name_must_follow_server_id(self):
        problems = compare(FakeRun().add("/varz", varz()), FakeRun().add("/varz", varz(server_name="x")))
        self.assertTrue(any("server_name" in p for p in problems), problems)

    def test_layout_is_compared(self):
        ref = FakeRun().add("/varz", varz())
        cand = FakeRun().add("/varz", None, raw=json.dumps(varz(), indent=4))
        problems = compare(ref, cand)
        self.assertTrue(any("layout" in p for p in problems), problems)

    def test_status_content_type_and_text_bodies(self):
        ref = FakeRun().add("/connz?sort=bogus", "invalid sorting option: bogus", 400,
                            "text/plain; charset=utf-8")
        cand = FakeRun().add("/connz?sort=bogus", "invalid sort option", 404, "text/plain")
        problems = compare(ref, cand)
        self.assertEqual(len(problems), 3, problems)

    def test_delta_against_baseline(self):
        def runs(base, after):
            r = FakeRun()
            r.add("/varz", varz(subscriptions=base))
            r.add("/varz", varz(subscriptions=after), activity=3)
            return r
        self.assertEqual(compare(runs(43, 47), runs(0, 4)), [])
        problems = compare(runs(43, 47), runs(0, 5))
        self.assertTrue(any("change from baseline" in p for p in problems), problems)

    def test_missing_baseline_is_a_harness_error(self):
        ref = FakeRun().add("/varz", varz(), activity=2)
        with self.assertRaises(md.HarnessError):
            compare(ref, FakeRun().add("/varz", varz(), activity=2))

    def test_client_ports_identify_clients(self):
        ref = FakeRun(local_ports={1000: "a", 1001: "b"}).add(
            "/connz", connz([conn(4, 1000, "a"), conn(5, 1001, "b")]))
        good = FakeRun(local_ports={2000: "a", 2001: "b"}).add(
            "/connz", connz([conn(4, 2000, "a"), conn(5, 2001, "b")]))
        swapped = FakeRun(local_ports={2000: "a", 2001: "b"}).add(
            "/connz", connz([conn(4, 2001, "a"), conn(5, 2000, "b")]))
        self.assertEqual(compare(ref, good), [])
        self.assertEqual(len(compare(ref, swapped)), 2)

    def test_cids_compare_by_rank_and_an_offset_is_a_note(self):
        lp = {1000: "a", 1001: "b"}
        ref = FakeRun(local_ports=lp).add("/connz", connz([conn(4, 1000, "a"), conn(5, 1001, "b")]))
        shifted = FakeRun(local_ports=lp).add("/connz", connz([conn(1, 1000, "a"), conn(2, 1001, "b")]))
        notes = []
        self.assertEqual(md.compare_docs({"name": "t"}, ref, shifted, notes), [])
        self.assertIn("start at 4 in the reference, at 1 in the candidate", notes[0])
        # the same numbers given to the clients the other way round
        swapped = FakeRun(local_ports=lp).add("/connz", connz([conn(5, 1000, "a"), conn(4, 1001, "b")]))
        problems = compare(ref, swapped)
        self.assertTrue(any("1st client cid" in p for p in problems), problems)

    def test_sort_order(self):
        lp = {1000: "a", 1001: "b"}
        a, b = conn(4, 1000, "a", out_msgs=5), conn(5, 1001, "b", out_msgs=2)
        ref = FakeRun(local_ports=lp).add("/connz?sort=msgs_to", connz([a, b]))
        wrong = FakeRun(local_ports=lp).add("/connz?sort=msgs_to", connz([b, a]))
        problems = compare(ref, wrong)
        self.assertTrue(any("sort=msgs_to order" in p for p in problems), problems)
        # ties are compared in cid order
        a2, b2 = conn(4, 1000, "a", out_msgs=2), conn(5, 1001, "b", out_msgs=2)
        ref = FakeRun(local_ports=lp).add("/connz?sort=msgs_to", connz([b2, a2]))
        self.assertEqual(compare(ref, FakeRun(local_ports=lp).add("/connz?sort=msgs_to", connz([a2, b2]))), [])

    def test_time_sorts_are_checked_against_own_values(self):
        lp = {1000: "a", 1001: "b"}
        a = conn(4, 1000, "a", last_activity="2026-12-05T20:00:00.2Z")
        b = conn(5, 1001, "b", last_activity="2026-12-05T20:00:00.1Z")
        ref = FakeRun(local_ports=lp).add("/connz?sort=last", connz([a, b]))
        # the candidate's own clocks put b last: fine in either order it sorts
        a2 = conn(4, 1000, "a", last_activity="2026-12-05T20:00:00.1Z")
        b2 = conn(5, 1001, "b", last_activity="2026-12-05T20:00:00.2Z")
        self.assertEqual(compare(ref, FakeRun(local_ports=lp).add("/connz?sort=last", connz([b2, a2]))), [])
        problems = compare(ref, FakeRun(local_ports=lp).add("/connz?sort=last", connz([a2, b2])))
        self.assertTrue(any("sort=last order" in p for p in problems), problems)

    def test_unordered_lists_compare_as_sets(self):
        ref = FakeRun().add("/accountz", {"server_id": SID, "accounts": ["$SYS", "$G", "A"]})
        same = FakeRun().add("/accountz", {"server_id": SID, "accounts": ["A", "$G", "$SYS"]})
        other = FakeRun().add("/accountz", {"server_id": SID, "accounts": ["A", "$G", "B"]})
        self.assertEqual(compare(ref, same), [])
        problems = compare(ref, other)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn('only in the reference "$SYS", only in the candidate "B"', problems[0])

    def test_jsonp_wrapper(self):
        body = "cb(" + gojson.marshal(to_tree({"status": "ok"}), indent=False) + ")"
        ref = FakeRun().add("/healthz?callback=cb", body, ctype="application/javascript")
        self.assertEqual(compare(ref, FakeRun().add("/healthz?callback=cb", body,
                                                    ctype="application/javascript")), [])
        problems = compare(ref, FakeRun().add("/healthz?callback=cb", '{"status":"ok"}',
                                              ctype="application/json"))
        self.assertTrue(problems)

    def test_internal_subscriptions_are_not_compared(self):
        def subsz(extra):
            lst = [{"account": "$G", "subject": "foo", "sid": "1", "msgs": 0, "cid": 4}] + extra
            return {"server_id": SID, "num_subscriptions": 1 + len(extra), "subscriptions_list": lst}
        ref = FakeRun().add("/subsz?subs=1", subsz([
            {"account": "$SYS", "subject": "$SYS.REQ.SERVER.PING", "sid": "10", "msgs": 0, "cid": 1},
            {"account": "$G", "subject": "$SYS.REQ.ACCOUNT.PING.CONNZ", "sid": "1", "msgs": 0, "cid": 2}]))
        cand = FakeRun().add("/subsz?subs=1", subsz([]))
        self.assertEqual(compare(ref, cand), [])  # the first document is its own baseline


    def test_a_list_of_only_internal_subscriptions_is_an_empty_page(self):
        stats = {"num_subscriptions": 0}
        internal = {"account": "$SYS", "subject": "$SYS.REQ.SERVER.PING", "sid": "10", "msgs": 0, "cid": 1}
        ref = FakeRun().add("/subsz?subs=1", dict(server_id=SID, now="2026-12-05T20:00:00Z", **stats,
                                                  total=1, offset=0, limit=1024,
                                                  subscriptions_list=[internal]))
        self.assertEqual(compare(ref, FakeRun().add("/subsz?subs=1", stats)), [])
        with_empty_list = dict(server_id=SID, now="2026-12-05T20:00:00Z", **stats, total=0, offset=0,
                               limit=1024, subscriptions_list=[])
        problems = compare(ref, FakeRun().add("/subsz?subs=1", with_empty_list))
        self.assertTrue(any("keys only in candidate" in p for p in problems), problems)


class LiveTest(unittest.TestCase):
    """Needs the reference server; fails (never skips) when it is missing."""

    def setUp(self):
        self.assertTrue(os.access(REFERENCE, os.X_OK), "reference nats-server not found at " + REFERENCE)

    def run_diff(self, candidate, case):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "monitor_diff.py"), "--reference", REFERENCE,
             "--candidate", candidate, "--case", case, "--retries", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)

    def wrapper(self, directory, extra):
        path = os.path.join(directory, "wrapped-nats-server")
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec %s "$@" %s\n' % (REFERENCE, extra))
        os.chmod(path, stat.S_IRWXU)
        return path

    def test_identical_servers_match(self):
        r = self.run_diff(REFERENCE, "connz_sort")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("1 passed, 0 failed", r.stdout)

    def test_another_server_name_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_diff(self.wrapper(d, "-n other_name"), "varz_defaults")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("server_name", r.stdout)
        self.assertIn("0 passed, 1 failed", r.stdout)

    def test_a_difference_only_in_monitoring_is_reported(self):
        # clustering on: clients see the same protocol, /varz shows it
        with tempfile.TemporaryDirectory() as d:
            r = self.run_diff(self.wrapper(d, "--cluster_name c1 --cluster nats://127.0.0.1:-1"),
                              "varz_defaults")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("cluster: keys only in candidate: name, addr, cluster_port", r.stdout)

    def test_a_server_requiring_auth_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_diff(self.wrapper(d, "--user a --pass b"), "connz_open")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("Authorization Violation", r.stdout)

    def test_missing_candidate_is_an_error_not_a_pass(self):
        r = self.run_diff("/nonexistent/courier", "varz_defaults")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("not found", r.stdout)


if __name__ == "__main__":
    unittest.main()
