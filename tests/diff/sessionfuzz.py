#!/usr/bin/env python3
"""Differential session fuzzer: Courier against nats-server 2.9.10.

A seeded generator writes random client sessions (several connections
interleaved; CONNECT with random verbose/pedantic/echo/headers/no_responders;
SUB with wildcards and queue groups, UNSUB with max, PUB/HPUB with random
sizes up to a server's max_payload, PING/PONG, whitespace and case variants),
and corrupted variants of them (truncated operations, oversized payloads and
control lines, bad tokens and junk bytes, wrong sizes, bad subjects, bad
CONNECT JSON, malformed HPUB/UNSUB).  Each session is replayed against the
reference and the candidate at the same time, and what every connection
received is compared (see difftest.py for the INFO masking).

Throughput: one long-lived server of each kind (three configs) per job is
reused for many sessions; sessions are isolated by fresh connections and a
subject prefix of their own (t<session>.).  After each write the harness sends
PING on that connection and waits for its PONG, so the server has processed
the write (and queued any MSG to other connections) before the next write.

What is compared, per connection: the whole received byte stream, with INFO
lines parsed and masked, server-sent PINGs dropped, and two sources of
legitimate nondeterminism canonicalised:
  * several MSGs for one publish to one connection (several matching subs):
    frames that differ only in their sid are sorted when adjacent;
  * the no-responders status (HMSG <reply> <sid> 16 16, NATS/1.0 503, or
    the same bytes from a client's HPUB): the sid is not compared.  nats-server
    sends it to the first of the requester's subscriptions in its sublist's
    cached result for the reply subject, whose order depends on whether that
    subject was matched before the subscriptions were made and on the
    cache's random evictions (shared by all sessions of a long-lived
    server), and among subscriptions on one node it picks at random
    (docs/nats-behaviour.md section 7);
  * queue groups: MSGs delivered to queue subscriptions are taken out of the
    connection streams and compared as one multiset per session, with the sid
    replaced by the queue group name (nats-server groups queue subscriptions
    by name, across subject filters); the generator keeps
    a group's members on connections with the same headers option and never
    gives a queue subscription an UNSUB max.
Plus whether the server closed each connection, and the INFO key sets/values.

A first pass uses short barrier timeouts; a mismatching session is re-run
with long timeouts and only reported when it mismatches again.  Every
reported mismatch is shrunk (operations removed while it still mismatches
the same way) and printed as a cases.py case with both transcripts.

Usage:
    python3 tests/diff/sessionfuzz.py --candidate build/courier --sessions 100000 --seed 1 [--jobs 2]
    python3 tests/diff/sessionfuzz.py --show 17 --seed 1       # print session 17's script

Exit status: 0 all sessions matched, 1 some mismatched, 2 a server binary is
missing or would not start (never a silent pass).
"""

import argparse
import collections
import json
import multiprocessing
import os
import random
import re
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import difftest  # noqa: E402

# Server kinds: config text, max_payload, max_control_line.
KINDS = {
    "default": (None, 1048576, 4096),
    "small": ("max_payload: 1024\nmax_control_line: 256\n", 1024, 256),
    "tiny": ("max_payload: 64\nmax_subscriptions: 8\n", 64, 4096),
}
KIND_NAMES = sorted(KINDS)
RESTART_EVERY = 5000          # sessions per server process before a restart
FAST_TIMEOUT = 0.25           # barrier timeout, first pass
SLOW_TIMEOUT = 1.5            # barrier timeout when confirming a mismatch
TOKENS = [b"a", b"b", b"c"]
QUEUES = [b"q1", b"q2"]


# --------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------

# BARE_CR_NOTE: the corruptions put no CR inside a control line (a CR
# other than the one ending it): nats-server drops every CR of a control line
# it had to keep across reads, and its reads end where TCP cut the stream or
# where its read buffer (512 bytes at first, shrinking to 64 after small
# reads) was full, so what such a line means to it depends on read
# boundaries, not on the bytes (docs/nats-behaviour.md section 14).  Courier
# always gives the result of an unsplit read (protocol/parser.hpp).  So no
# corruption leaves a CR that is not followed by LF (a truncation does not
# end right after a CR; a mutation that would leave one is not made), apart
# from CRs in payloads.


class Op:
    """One protocol operation as bytes, with what the generator knows of it."""
    __slots__ = ("data", "kind", "note")

    def __init__(self, data, kind, note=None):
        self.data = data
        self.kind = kind
        self.note = note


class Conn:
    def __init__(self, name):
        self.name = name
        self.verbose = self.pedantic = True      # nats-server defaults
        self.echo = True
        self.headers = False
        self.next_sid = 1
        self.subs = {}            # sid -> (subject, queue or None)


class Generator:
    def __init__(self, seed, index, corrupt=None, kind=None):
        self.rng = random.Random("%s:%d" % (seed, index))
        rng = self.rng
        self.index = index
        self.kind = kind or rng.choice(KIND_NAMES)
        _, self.max_payload, self.max_control = KINDS[self.kind]
        self.corrupt = (rng.random() < 0.5) if corrupt is None else corrupt
        self.prefix = b"t%d" % index
        self.conns = [Conn("c%d" % (i + 1)) for i in range(rng.choice([1, 2, 2, 3, 3, 4]))]
        self.group_headers = {}   # queue name -> headers flag of its members
        self.chunks = []          # (conn name, [Op])
        self.splits = []          # per chunk: fractions where its write is cut
        self.corruptions = []

    # -- pieces ---------------------------------------------------------
    def sep(self):
        r = self.rng.random()
        return b" " if r < 0.9 else b"\t" if r < 0.95 else b"  "

    def verb(self, v):
        return v.lower() if self.rng.random() < 0.05 else v

    def eol(self):
        return b"\n" if self.rng.random() < 0.03 else b"\r\n"

    def literal_subject(self):
        rng = self.rng
        toks = [rng.choice(TOKENS) for _ in range(rng.randint(1, 3))]
        return b".".join([self.prefix] + toks)

    def sub_subject(self):
        rng = self.rng
        r = rng.random()
        if r < 0.01:
            return b">"
        if r < 0.02:
            return b"*.>"
        toks = [rng.choice(TOKENS) if rng.random() > 0.25 else b"*"
                for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.2:
            toks[-1] = b">"
        return b".".join([self.prefix] + toks)

    def size_text(self, n):
        if self.rng.random() < 0.03:
            return b"0" * self.rng.randint(1, 2) + b"%d" % n
        return b"%d" % n

    def payload(self, n):
        rng = self.rng
        if n == 0:
            return b""
        r = rng.random()
        if r < 0.6 or n > 4096:
            base = b"%d:" % rng.randint(0, 999)
            return (base * (n // len(base) + 1))[:n]
        alphabet = b"abcxyz \r\n\t\x00\xffPINGMSG+OK-ERR"
        return bytes(rng.choice(alphabet) for _ in range(n))

    def payload_size(self, limit):
        rng = self.rng
        r = rng.random()
        if r < 0.15:
            return 0
        if r < 0.6:
            return min(limit, rng.randint(1, 16))
        if r < 0.8:
            return min(limit, rng.randint(17, 300))
        if limit > 100000 and rng.random() < 0.9:
            return rng.randint(301, 5000)
        return max(0, limit - rng.randint(0, 3))

    def headers_block(self):
        rng = self.rng
        lines = [b"NATS/1.0" + (b" 503" if rng.random() < 0.05 else b"") + b"\r\n"]
        for _ in range(rng.randint(0, 3)):
            lines.append(rng.choice([b"A", b"Key", b"X-Id", b"k"]) + b": " +
                         rng.choice([b"v", b"1", b"hello world", b""]) + b"\r\n")
        return b"".join(lines) + b"\r\n"

    # -- operations -----------------------------------------------------
    def op_connect(self, c):
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            return None                           # no CONNECT at all
        if r < 0.08:
            return Op(b"CONNECT {}\r\n", "connect")
        opts = {"verbose": rng.random() < 0.3, "pedantic": rng.random() < 0.3}
        if rng.random() < 0.3:
            opts["echo"] = rng.random() < 0.5
        if rng.random() < 0.5:
            opts["headers"] = True
            if rng.random() < 0.4:
                opts["no_responders"] = True
        elif rng.random() < 0.1:
            opts["headers"] = False
        if rng.random() < 0.2:
            opts["protocol"] = 1
        if rng.random() < 0.1:
            opts["name"] = "n%d" % rng.randint(0, 9)
        items = list(opts.items())
        rng.shuffle(items)
        c.verbose = opts["verbose"]
        c.pedantic = opts["pedantic"]
        c.echo = opts.get("echo", True)
        c.headers = opts.get("headers", False)
        return Op(b"CONNECT " + json.dumps(dict(items), separators=(",", ":")).encode() + b"\r\n",
                  "connect")

    def op_sub(self, c):
        rng = self.rng
        subject = self.sub_subject()
        queue = None
        if rng.random() < 0.3:
            queue = rng.choice(QUEUES)
            # a queue group is its name: members with different subject
            # filters share deliveries of a message matching several
            if self.group_headers.setdefault(queue, c.headers) != c.headers:
                queue = None
        sid = b"%d" % c.next_sid
        c.next_sid += 1
        c.subs[sid] = (subject, queue)
        s = self.sep
        parts = [self.verb(b"SUB"), s(), subject] + ([s(), queue] if queue else []) + [s(), sid]
        if rng.random() < 0.03:
            parts.append(b" ")
        return Op(b"".join(parts) + self.eol(), "sub")

    def op_unsub(self, c):
        rng = self.rng
        if not c.subs:
            return self.op_ping(c)
        sid = rng.choice(sorted(c.subs))
        subject, queue = c.subs[sid]
        data = self.verb(b"UNSUB") + self.sep() + sid
        if queue is None and rng.random() < 0.5:
            data += self.sep() + b"%d" % rng.randint(0, 3)
        else:
            del c.subs[sid]
        return Op(data + self.eol(), "unsub")

    def pub_target(self):
        rng = self.rng
        subs = [s for conn in self.conns for s, _ in conn.subs.values()]
        if subs and rng.random() < 0.5:
            # a literal subject matching one of the subscriptions
            pattern = rng.choice(subs)
            toks = pattern.split(b".")
            if toks[0] != self.prefix:
                return self.literal_subject()      # a top-level wildcard SUB
            out = []
            for t in toks:
                if t == b"*":
                    out.append(rng.choice(TOKENS))
                elif t == b">":
                    out += [rng.choice(TOKENS) for _ in range(rng.randint(1, 2))]
                else:
                    out.append(t)
            return b".".join(out)
        if rng.random() < 0.03:
            return self.prefix + b".*"             # a wildcard publish subject
        return self.literal_subject()

    def op_pub(self, c, headers=False):
        rng = self.rng
        subject = self.pub_target()
        reply = None
        if rng.random() < 0.3:
            subs = [s for s, q in c.subs.values() if b"*" not in s and b">" not in s]
            reply = rng.choice(subs) if subs and rng.random() < 0.6 else self.literal_subject()
        s = self.sep
        if headers:
            hdr = self.headers_block()
            n = self.payload_size(max(0, self.max_payload - len(hdr)))
            body = hdr + self.payload(n)
            head = [self.verb(b"HPUB"), s(), subject] + ([s(), reply] if reply else []) + \
                   [s(), self.size_text(len(hdr)), s(), self.size_text(len(body))]
            return Op(b"".join(head) + self.eol() + body + b"\r\n", "hpub")
        n = self.payload_size(self.max_payload)
        body = self.payload(n)
        head = [self.verb(b"PUB"), s(), subject] + ([s(), reply] if reply else []) + [s(), self.size_text(n)]
        return Op(b"".join(head) + self.eol() + body + b"\r\n", "pub")

    def op_ping(self, c):
        return Op(self.verb(b"PING") + self.eol(), "ping")

    def op_pong(self, c):
        return Op(b"PONG\r\n", "pong")

    def random_op(self, c):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return self.op_sub(c)
        if r < 0.4:
            return self.op_unsub(c)
        if r < 0.85:
            return self.op_pub(c, headers=c.headers and rng.random() < 0.4)
        if r < 0.95:
            return self.op_ping(c)
        return self.op_pong(c)

    def generate(self):
        rng = self.rng
        started = set()
        for _ in range(rng.randint(2, 12)):
            c = rng.choice(self.conns)
            ops = []
            if c.name not in started:
                started.add(c.name)
                op = self.op_connect(c)
                if op is not None:
                    ops.append(op)
                # a subscriber-heavy start gives later publishes receivers
                for _ in range(rng.randint(0, 3)):
                    ops.append(self.op_sub(c))
            else:
                for _ in range(rng.randint(1, 4)):
                    ops.append(self.random_op(c))
            self.chunks.append((c.name, ops))
            # sometimes one write becomes several TCP sends (parser resumes)
            self.splits.append(tuple(sorted(rng.random() for _ in range(rng.randint(1, 3))))
                               if rng.random() < 0.1 else ())
        if self.corrupt:
            for _ in range(1 if rng.random() < 0.8 else 2):
                self.apply_corruption()
        return self

    # -- corruptions ------------------------------------------------------
    def conn_of(self, name):
        return next(c for c in self.conns if c.name == name)

    def apply_corruption(self):
        rng = self.rng
        ci = rng.randrange(len(self.chunks))
        name, ops = self.chunks[ci]
        c = self.conn_of(name)
        kinds = ["truncate", "oversize_payload", "oversize_control", "bad_token", "wrong_size",
                 "bad_subject", "bad_connect", "bad_hpub", "bad_unsub", "junk", "unknown_verb",
                 "split_crlf"]
        what = rng.choice(kinds)
        pos = rng.randint(0, len(ops))
        s = self.sep
        if what == "truncate" and ops:
            i = rng.randrange(len(ops))
            d = ops[i].data
            k = rng.randrange(max(1, len(d)))
            if d[:k].endswith(b"\r"):
                k -= 1           # no CR left inside the line the next op joins (BARE_CR_NOTE)
            ops[i] = Op(d[:k], "corrupt", "truncated " + ops[i].kind)
        elif what == "oversize_payload":
            n = self.max_payload + rng.randint(1, 5)
            if rng.random() < 0.5:
                op = Op(b"PUB " + self.literal_subject() + b" %d\r\n" % n + b"x" * n + b"\r\n", "corrupt")
            else:
                op = Op(b"HPUB " + self.literal_subject() + b" 12 %d\r\n" % n + b"NATS/1.0\r\n\r\n"
                        + b"x" * (n - 12) + b"\r\n", "corrupt")
            op.note = "payload over max_payload"
            ops.insert(pos, op)
        elif what == "oversize_control":
            verb = rng.choice([b"SUB ", b"PUB ", b"UNSUB ", b"PING ", b"CONNECT "])
            target = self.max_control + rng.randint(-4, 4)
            if verb == b"SUB ":
                tail = b" %d" % c.next_sid
            elif verb == b"PUB ":
                tail = b" 0"
            else:
                tail = b""
            fill = max(1, target - len(verb) - len(tail) - len(self.prefix) - 1)
            line = verb + self.prefix + b"." + b"x" * fill + tail
            crlf = rng.choice([b"\r\n", b"\r\n", b""])
            extra = b"\r\n" if verb == b"PUB " and crlf else b""
            ops.insert(pos, Op(line + crlf + extra, "corrupt",
                               "control line of %d bytes" % len(line)))
        elif what == "bad_token" and ops:
            i = rng.randrange(len(ops))
            d = bytearray(ops[i].data)
            end = d.find(b"\n")
            end = len(d) if end < 0 else end + 1
            # no CR: see BARE_CR_NOTE
            nasty = b" \t*>.x\n\x00-+09\xff{}\"'"
            for _ in range(rng.randint(1, 2)):
                p = rng.randrange(max(1, end))
                m = rng.random()
                if m < 0.4 and p < len(d):
                    d[p] = rng.choice(nasty)
                elif m < 0.7:
                    d.insert(p, rng.choice(nasty))
                elif p < len(d):
                    del d[p]
            if re.search(rb"\r(?!\n)", bytes(d)):
                d = bytearray(ops[i].data)  # it would leave a CR inside a line (BARE_CR_NOTE)
            ops[i] = Op(bytes(d), "corrupt", "bad token in " + ops[i].kind)
        elif what == "wrong_size":
            n = rng.randint(0, 10)
            delta = rng.choice([-3, -2, -1, 1, 2, 3])
            body = self.payload(n)
            if c.headers and rng.random() < 0.5:
                hdr = b"NATS/1.0\r\n\r\n"
                total = len(hdr) + n
                if rng.random() < 0.5:
                    head = b"HPUB %s %d %d\r\n" % (self.literal_subject(), len(hdr) + delta, total)
                else:
                    head = b"HPUB %s %d %d\r\n" % (self.literal_subject(), len(hdr), max(0, total + delta))
                body = hdr + body
            else:
                head = b"PUB %s %d\r\n" % (self.literal_subject(), max(0, n + delta))
            ops.insert(pos, Op(head + body + b"\r\n", "corrupt", "declared size off by %d" % delta))
        elif what == "bad_subject":
            bad = rng.choice([b"a..b", b".a", b"a.", b"a.>.b", b"a*.b", b">.a", b"*a", b"a.>b",
                              b"..", b".", b"a.\x01", b"a.*.>"])
            subj = self.prefix + b"." + bad if rng.random() < 0.8 else bad
            if rng.random() < 0.5:
                op = Op(b"SUB " + subj + b" %d\r\n" % c.next_sid, "corrupt")
                c.next_sid += 1
            elif rng.random() < 0.5:
                op = Op(b"PUB " + subj + b" 2\r\nhi\r\n", "corrupt")
            else:
                op = Op(b"PUB " + self.literal_subject() + b" " + subj + b" 2\r\nhi\r\n", "corrupt")
            op.note = "bad subject"
            ops.insert(pos, op)
        elif what == "bad_connect":
            bad = rng.choice([b"CONNECT\r\n", b"CONNECT {bad\r\n", b'CONNECT {"verbose":"yes"}\r\n',
                              b'CONNECT {"protocol":2}\r\n', b'CONNECT {"protocol":-1}\r\n',
                              b'CONNECT {"no_responders":true}\r\n', b'CONNECT {"headers":1}\r\n',
                              b'CONNECT {"verbose":false,"pedantic":false,"echo":null}\r\n',
                              b'CONNECT {"verbose":false,"pedantic":false} x\r\n',
                              b'CONNECT {"verbose":false,"pedantic":false}{}\r\n',
                              b'CONNECT []\r\n', b'CONNECT "x"\r\n', b'CONNECT {"a":[1,{"b":2}]}\r\n',
                              b'CONNECT {"verbose":0,"pedantic":false}\r\n',
                              b'CONNECT {"verbose":true,"pedantic":false,"verbose":false}\r\n',
                              b'CONNECT  \t{"verbose":false}\r\n',
                              b'CONNECT {"Verbose":true,"PEDANTIC":false}\r\n',
                              b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"echo":false} \r\n'])
            ops.insert(pos, Op(bad, "corrupt", "bad CONNECT"))
        elif what == "bad_hpub":
            subj = self.literal_subject()
            bad = rng.choice([b"HPUB %s 14 12\r\nNATS/1.0\r\n\r\nhi\r\n" % subj,
                              b"HPUB %s 12\r\nNATS/1.0\r\n\r\n\r\n" % subj,
                              b"HPUB %s 2 4\r\nhihi\r\n" % subj,
                              b"HPUB %s 0 2\r\nhi\r\n" % subj,
                              b"HPUB %s x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" % subj,
                              b"HPUB %s r 12 x\r\n" % subj,
                              b"HPUB %s -1 2\r\nhi\r\n" % subj,
                              b"HPUB %s a b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" % subj,
                              b"HPUB\r\n", b"HPUB %s\r\n" % subj])
            ops.insert(pos, Op(bad, "corrupt", "bad HPUB"))
        elif what == "bad_unsub":
            bad = rng.choice([b"UNSUB\r\n", b"UNSUB 1 2 3\r\n", b"UNSUB 1 x\r\n", b"UNSUB x\r\n",
                              b"UNSUB 1 -1\r\n", b"UNSUB 1 99999999999999999999\r\n", b"UNSUB  \r\n"])
            ops.insert(pos, Op(bad, "corrupt", "bad UNSUB"))
        elif what == "junk":
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            ops.insert(pos, Op(junk, "corrupt", "junk bytes"))
        elif what == "unknown_verb":
            v = rng.choice([b"FOO", b"PUBX foo 0", b"SUBX", b"MSG foo 1 0", b"+OK", b"-ERR 'x'",
                            b"INFO {}", b"PIN", b"PONGX", b"P", b"HMSG", b"UNSUBSCRIBE 1", b"CONNECTX {}"])
            ops.insert(pos, Op(v + b"\r\n", "corrupt", "unexpected verb"))
            if v.startswith(b"-ERR"):
                # nats-server closes on a client's -ERR but still processes the
                # rest of that read (docs/nats-behaviour.md section 14): the
                # -ERR ends its write
                del ops[pos + 1:]
        elif what == "split_crlf" and ops:
            i = rng.randrange(len(ops))
            d = ops[i].data
            # "\n\r": the CR starts the next line; no CR inside a line (BARE_CR_NOTE)
            d = d.replace(b"\r\n", rng.choice([b"\n", b"\n\r", b" \r\n", b"\t\n", b"\r\n\r\n"]), 1)
            ops[i] = Op(d, "corrupt", "line ending changed in " + ops[i].kind)
        else:
            ops.insert(pos, Op(b"PING\r\n", "ping"))
            what = "none"
        self.corruptions.append((ci, what))

    # -- output ------------------------------------------------------------
    def session(self):
        return Session(self.index, self.kind, [(n, [op.data for op in ops], sp)
                                               for (n, ops), sp in zip(self.chunks, self.splits)],
                       None, self.describe(), self.sub_subjects())

    def sub_subjects(self):
        """(conn, sid) -> subject, for every SUB in the script."""
        out = {}
        for name, ops in self.chunks:
            for op in ops:
                parts = op.data.split()
                if op.kind == "sub" and len(parts) in (3, 4):
                    out[(name, parts[-1])] = parts[1]
        return out

    def describe(self):
        if not self.corruptions:
            return "valid"
        return "corrupt: " + ", ".join("%s in chunk %d" % (w, i) for i, w in self.corruptions)


class Session:
    def __init__(self, index, kind, chunks, queue_map, desc, sub_subjects=None):
        self.index = index
        self.sub_subjects = sub_subjects or {}
        self.kind = kind
        self.chunks = chunks          # [(conn, [bytes op, ...], split fractions)]
        self.queue_map = queue_map if queue_map is not None else self.find_queue_subs()
        self.desc = desc

    def writes(self):
        """The exact bytes each write sends: the chunk's ops, then the
        barrier PING (part of the same write, so a truncated operation is
        completed by it exactly as it is in a reproduction)."""
        return [(name, b"".join(ops) + b"PING\r\n", sum(1 for o in ops if is_ping(o)), splits)
                for name, ops, splits in self.chunks]

    def sends(self, data, splits):
        """One write's bytes cut into the TCP sends it is made of.  A cut
        never falls inside a line holding a CR other than its final CR LF:
        nats-server drops every CR of a control line it had to buffer across
        reads, so such a line means something else to it when cut
        (docs/nats-behaviour.md section 14, protocol/parser.hpp), a known
        difference; such a cut moves to the end of the line."""
        cuts = set()
        for f in splits:
            k = int(f * len(data))
            if 0 < k < len(data):
                start = data.rfind(b"\n", 0, k) + 1
                nl = data.find(b"\n", k)
                end = len(data) if nl < 0 else nl + 1
                if b"\r" in data[start:end].rstrip(b"\n")[:-1] or data[start:end].endswith(b"\r"):
                    k = end
            cuts.add(k)
        cuts = sorted(cuts - {0, len(data)})
        return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]

    def find_queue_subs(self):
        """(conn, sid) -> group alias, for every line of a connection's byte
        stream (barrier PINGs included) that reads as a queue SUB: corrupted
        ones too, e.g. a truncated "SUB s q 1" joined with the next PING has
        the sid "1PING"."""
        stream = collections.defaultdict(bytes)
        for name, data, _, _ in self.writes():
            stream[name] += data
        out = {}
        for name, data in stream.items():
            for line in data.split(b"\n"):
                parts = line.split()
                if len(parts) == 4 and parts[0].upper() == b"SUB":
                    out[(name, parts[3])] = b"queue " + parts[2]
        return out

    def with_chunks(self, chunks):
        return Session(self.index, self.kind, chunks, None, self.desc, self.sub_subjects)


def is_ping(op):
    return op.strip().upper() == b"PING"


def make_session(seed, index, corrupt=None):
    return Generator(seed, index, corrupt=corrupt).generate().session()


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

def count_frames(data, pos):
    """Advance over complete frames from pos; returns (new pos, PONGs seen)."""
    pongs = 0
    n = len(data)
    while pos < n:
        m = difftest.MSG_HEAD_RE.match(data, pos)
        if m:
            end = m.end() + int(m.group(2)) + 2
            if end > n:
                break
            pos = end
            continue
        nl = data.find(b"\n", pos)
        if nl < 0:
            # an incomplete MSG head or line: wait for more
            break
        if data[pos:nl + 1] == b"PONG\r\n":
            pongs += 1
        pos = nl + 1
    return pos, pongs


class Side:
    """One server's view of a session: sockets and received bytes per conn."""

    def __init__(self, port, sel, label):
        self.port = port
        self.sel = sel
        self.label = label
        self.socks = {}
        self.data = {}
        self.pos = {}
        self.pongs = {}
        self.eof = set()
        self.dead = set()      # closed by the server (EOF or reset seen on reading)
        self.nosend = set()    # a send failed: the server is closing it
        self.reset = set()     # ended by a TCP reset

    def connect(self, name):
        if name in self.data:
            return
        self.data[name] = bytearray()
        self.pos[name] = 0
        self.pongs[name] = 0
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            self.eof.add(name)
            self.dead.add(name)
            return
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        self.socks[name] = s
        self.sel.register(s, selectors.EVENT_READ, (self, name))

    def send(self, name, data):
        s = self.socks.get(name)
        if s is None or name in self.dead or name in self.nosend:
            return
        view = memoryview(data)
        deadline = time.time() + 10
        while view:
            try:
                k = s.send(view)
                view = view[k:]
            except BlockingIOError:
                # the server is writing back to us: keep reading meanwhile
                if time.time() > deadline:
                    self.nosend.add(name)
                    return
                self.poll(0.01)
            except OSError:
                # the server closed (or reset) it; the EOF is seen on reading,
                # which the barrier waits for
                self.nosend.add(name)
                return

    def on_readable(self, name):
        s = self.socks[name]
        try:
            chunk = s.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            # a reset: the server closed while bytes of ours were unread, and
            # the kernel drops what we had not read yet (see compare())
            chunk = b""
            self.reset.add(name)
        if chunk:
            self.data[name] += chunk
            self.pos[name], p = count_frames(self.data[name], self.pos[name])
            self.pongs[name] += p
        else:
            self.sel.unregister(s)
            s.close()
            del self.socks[name]
            self.eof.add(name)
            self.dead.add(name)

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout=timeout):
            side, name = key.data
            side.on_readable(name)

    def close_all(self):
        for name, s in list(self.socks.items()):
            self.sel.unregister(s)
            s.close()
        self.socks.clear()


def wait_for(sel, done, timeout, limit=60.0):
    """Read until done(), or until nothing arrived for `timeout` seconds (a
    big fan-out on a loaded machine keeps arriving for longer), or `limit`."""
    start = time.time()
    deadline = start + timeout
    while not done():
        now = time.time()
        left = deadline - now
        if left <= 0 or now - start > limit:
            return False
        events = sel.select(timeout=min(left, 0.05))
        for key, _ in events:
            side, name = key.data
            side.on_readable(name)
        if events:
            deadline = time.time() + timeout
    return True


def replay(session, ports, timeout):
    """Replay a session against both servers in lockstep; returns, per side,
    {conn: (received bytes, closed by server)}."""
    sel = selectors.DefaultSelector()
    sides = [Side(p, sel, l) for p, l in zip(ports, ("reference", "candidate"))]
    try:
        for name, data, npings, splits in session.writes():
            targets = {}
            for side in sides:
                side.connect(name)
                targets[side] = side.pongs[name] + npings + 1
            for piece in session.sends(data, splits):
                for side in sides:
                    side.send(name, piece)
                if splits:
                    time.sleep(0.002)

            def done():
                return all(name in side.dead or side.pongs[name] >= targets[side] for side in sides)
            wait_for(sel, done, timeout)
        # final barrier on every open connection
        targets = {}
        for side in sides:
            for name in list(side.socks):
                if name not in side.dead:
                    targets[(side, name)] = side.pongs[name] + 1
                    if name not in side.nosend:
                        side.send(name, b"PING\r\n")

        def done_all():
            return all(n in side.dead or side.pongs[n] >= t for (side, n), t in targets.items())
        wait_for(sel, done_all, timeout)
        out = []
        for side in sides:
            out.append({n: (bytes(side.data[n]), n in side.eof, n in side.reset) for n in side.data})
        return out
    finally:
        for side in sides:
            side.close_all()
        sel.close()


# --------------------------------------------------------------------------
# Normalisation and comparison
# --------------------------------------------------------------------------

NO_RESPONDERS_REST = b"16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
MSG_LINE_RE = re.compile(rb"(H?MSG) (\S+) (\S+) (.*)\r\n", re.S)


def frame_parts(frame):
    """(kind, subject, sid, rest-with-payload) of a MSG/HMSG frame."""
    head, _, body = frame.partition(b"\r\n")
    parts = head.split(b" ")
    return parts[0], parts[1], parts[2], b" ".join(parts[3:]) + b"\r\n" + body


def canonical(session, transcript):
    """Per connection: a list of frames (INFO masked into a marker, server
    PINGs dropped, queue deliveries taken out, same-publish MSG runs sorted),
    the closed flag; plus the queue-delivery multiset and parsed INFOs."""
    conns = {}
    queued = collections.Counter()
    infos = []
    for name in sorted(transcript):
        data, closed = transcript[name][:2]
        reset = len(transcript[name]) > 2 and transcript[name][2]

        def repl(m):
            try:
                obj = json.loads(m.group(1))
            except ValueError:
                return m.group(0)
            infos.append((name, obj))
            return b"INFO {...} \r\n"

        data = difftest.INFO_RE.sub(repl, data)
        data = difftest.drop_server_pings(data)
        frames = []
        for f in difftest.split_frames(data):
            if f.startswith((b"MSG ", b"HMSG ")) and f.count(b" ") >= 3:
                kind, subj, sid, rest = frame_parts(f)
                alias = session.queue_map.get((name, sid))
                if alias is not None:
                    queued[b"%s %s <%s> %s" % (kind, subj, alias, rest)] += 1
                    continue
                if rest == NO_RESPONDERS_REST:
                    # which of the requester's subscriptions gets the 503
                    # follows nats-server's sublist cache history (see the
                    # module comment): only "one of its own" is compared
                    f = b"%s %s <a subscription of %s> %s" % (kind, subj, name.encode(), rest)
            frames.append(f)
        conns[name] = (sort_same_publish(frames), closed, reset, frames)
    return conns, queued, infos


def sort_same_publish(frames):
    """Adjacent MSG frames that differ only in their sid (one publish reaching
    several subscriptions of this connection) are put in sid order."""
    out = []
    i = 0
    while i < len(frames):
        f = frames[i]
        if not f.startswith((b"MSG ", b"HMSG ")) or f.count(b" ") < 3:
            out.append(f)
            i += 1
            continue
        kind, subj, _, rest = frame_parts(f)
        j = i + 1
        while j < len(frames) and frames[j].startswith((b"MSG ", b"HMSG ")) and frames[j].count(b" ") >= 3:
            k2, s2, _, r2 = frame_parts(frames[j])
            if (k2, s2, r2) != (kind, subj, rest):
                break
            j += 1
        out += sorted(frames[i:j], key=lambda fr: frame_parts(fr)[2])
        i = j
    return out


# Differences that are explained in docs/nats-behaviour.md (section "Session
# fuzzing") and cannot be fixed in Courier: each is a function applied to
# both canonical connection streams; when the streams then agree, the session
# is counted under that name instead of failing (unless --strict).
REPEATED_PUB_SUBJECT_ERR = b"-ERR 'Invalid Publish Subject'\r\n"


def collapse_repeated_pub_subject_err(frames):
    """nats-server parses a PUB's arguments again when its payload does not
    fit in the rest of its read buffer (clonePubArg), and in pedantic mode
    sends -ERR 'Invalid Publish Subject' a second time: how often depends on
    its read buffer size (512 bytes at first, then growing) and on how TCP
    split the client's writes."""
    out = []
    for f in frames:
        if f == REPEATED_PUB_SUBJECT_ERR and out and out[-1] == f:
            continue
        out.append(f)
    return out


RESET_CUT_LABEL = ("a stream cut by a TCP reset (server closed with client bytes unread), "
                   "compared as a prefix")

KNOWN_DIFFERENCES = [
    ("nats-server repeats -ERR 'Invalid Publish Subject' for a payload spanning its read buffer",
     collapse_repeated_pub_subject_err),
]


def compare(session, ref, cand, strict=False):
    """Returns (problem strings, empty when equal; the name of the known
    difference that explains them, or None)."""
    rc, rq, ri = canonical(session, ref)
    cc, cq, ci = canonical(session, cand)
    problems = compare_canonical(rc, rq, ri, cc, cq, ci)
    if not problems and any(rc[n][0] != cc[n][0] for n in set(rc) & set(cc)):
        # equal only because a stream cut by a TCP reset was compared as a
        # prefix (reset_cut): counted, not hidden
        return [], RESET_CUT_LABEL
    if problems and not strict:
        for label, fix in KNOWN_DIFFERENCES:
            rk = {n: (fix(v[0]),) + tuple(v[1:]) for n, v in rc.items()}
            ck = {n: (fix(v[0]),) + tuple(v[1:]) for n, v in cc.items()}
            if not compare_canonical(rk, rq, ri, ck, cq, ci):
                return problems, label
    return problems, None


def reset_cut(r, c):
    """Whether two connection streams differ only because one (or both) was
    cut by a TCP reset: a server that closes a connection (after -ERR) while
    bytes the client sent are still unread makes the kernel send a reset, and
    the client's kernel then drops what the client had not read yet, for
    either server alike.  Then the shorter stream must be a prefix of the
    longer, up to a partly received last frame (in the order received: a
    cut can fall inside a run of MSGs for one publish)."""
    if not (r[1] and c[1] and (r[2] or c[2])):
        return False
    a, b = (r[3], c[3]) if len(b"".join(r[3])) <= len(b"".join(c[3])) else (c[3], r[3])
    short_side = r if a is r[3] else c
    if not short_side[2]:
        return False     # the complete-looking stream was not the one cut
    return b"".join(b).startswith(b"".join(a))


def compare_canonical(rc, rq, ri, cc, cq, ci):
    problems = []
    for name in sorted(set(rc) | set(cc)):
        r = rc.get(name, ([], False, False, []))
        c = cc.get(name, ([], False, False, []))
        if r[0] != c[0] and reset_cut(r, c):
            continue
        if r[0] != c[0]:
            k = next((i for i in range(max(len(r[0]), len(c[0])))
                      if i >= len(r[0]) or i >= len(c[0]) or r[0][i] != c[0][i]), 0)
            problems.append("%s: frame %d: reference %s, candidate %s" % (
                name, k, short(r[0][k]) if k < len(r[0]) else "(nothing)",
                short(c[0][k]) if k < len(c[0]) else "(nothing)"))
        elif r[1] != c[1]:
            problems.append("%s: closed by server: reference %s, candidate %s" % (name, r[1], c[1]))
    if rq != cq:
        problems.append("queue deliveries differ: only reference %s; only candidate %s" % (
            sorted(short(k) for k in (rq - cq)), sorted(short(k) for k in (cq - rq))))
    by_conn_r = collections.defaultdict(list)
    by_conn_c = collections.defaultdict(list)
    for n, o in ri:
        by_conn_r[n].append((n, o))
    for n, o in ci:
        by_conn_c[n].append((n, o))
    for n in sorted(set(by_conn_r) | set(by_conn_c)):
        p, _ = difftest.compare_infos(by_conn_r[n], by_conn_c[n])
        problems += p
    return problems


def short(b, limit=120):
    if len(b) > limit:
        return repr(b[:limit]) + "...(%d bytes)" % len(b)
    return repr(b)


def signature(problems):
    """A mismatch class: the first problem with digits, subjects and payload
    sizes blurred, so that the same difference found in many sessions is
    reported (and shrunk) once."""
    p = problems[0]
    p = re.sub(r"^c\d+: frame \d+:", "frame:", p)
    p = re.sub(r"t\d+(\.[\w*>]+)*", "SUBJ", p)
    p = re.sub(r"\d+", "N", p)
    return p[:200]


# --------------------------------------------------------------------------
# Servers per worker
# --------------------------------------------------------------------------

class ServerPool:
    def __init__(self, reference, candidate, strict=False):
        self.binaries = (reference, candidate)
        self.strict = strict
        self.servers = {}
        self.uses = collections.Counter()
        self.workdir = tempfile.mkdtemp(prefix="sessionfuzz-")

    def get(self, kind):
        pair = self.servers.get(kind)
        if pair is not None:
            if self.uses[kind] >= RESTART_EVERY or any(s.proc.poll() is not None for s in pair):
                self.stop_kind(kind)
                pair = None
        if pair is None:
            pair = []
            for label, binary in zip(("ref", "cand"), self.binaries):
                d = os.path.join(self.workdir, "%s-%s" % (kind, label))
                os.makedirs(d, exist_ok=True)
                pair.append(difftest.Server(binary, KINDS[kind][0], d))
            self.servers[kind] = pair
            self.uses[kind] = 0
        self.uses[kind] += 1
        return pair

    def died(self, kind):
        pair = self.servers.get(kind) or []
        return [("reference", "candidate")[i] for i, s in enumerate(pair) if s.proc.poll() is not None]

    def stop_kind(self, kind):
        for s in self.servers.pop(kind, []):
            s.stop()

    def close(self):
        for kind in list(self.servers):
            self.stop_kind(kind)
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_once(pool, session, timeout):
    ref, cand = pool.get(session.kind)
    r, c = replay(session, (ref.port, cand.port), timeout)
    problems, known = compare(session, r, c, pool.strict)
    died = pool.died(session.kind)
    if died:
        problems.insert(0, "server process exited during the session: %s" % ", ".join(died))
        known = None
        pool.stop_kind(session.kind)
    if known is not None:
        return [], r, c, known
    return problems, r, c, None


def check_session(pool, session):
    """First pass fast; a mismatch is confirmed with slow timeouts, twice.
    Returns None (matched), ("known", label) or (problems, r, c)."""
    problems, r, c, known = run_once(pool, session, FAST_TIMEOUT)
    if not problems and known is None:
        return None
    for _ in range(2):
        problems, r, c, known = run_once(pool, session, SLOW_TIMEOUT)
        if not problems and known is None:
            return None
    if known is not None:
        return ("known", known)
    return problems, r, c


def shrink(pool, session, sig, budget=120):
    """Greedy: drop chunks, then single ops, while the session still
    mismatches with the same signature (slow timeouts)."""
    def still(s):
        nonlocal budget
        if budget <= 0:
            return False
        budget -= 1
        p, _, _, _ = run_once(pool, s, SLOW_TIMEOUT)
        return bool(p) and signature(p) == sig

    chunks = [(n, list(ops), sp) for n, ops, sp in session.chunks]
    i = 0
    while i < len(chunks):
        trial = chunks[:i] + chunks[i + 1:]
        if trial and still(session.with_chunks(trial)):
            chunks = trial
        else:
            i += 1
    i = 0
    while i < len(chunks):
        j = 0
        while j < len(chunks[i][1]):
            ops = chunks[i][1][:j] + chunks[i][1][j + 1:]
            trial = chunks[:i] + [(chunks[i][0], ops, chunks[i][2])] + chunks[i + 1:]
            if still(session.with_chunks(trial)):
                chunks = trial
            else:
                j += 1
        i += 1
    return session.with_chunks(chunks)


def format_case(session):
    """The session as a cases.py case (difftest replays it with quiet-time
    collection instead of barriers; same bytes)."""
    lines = ["case(\"fuzz_%d\", [" % session.index]
    seen = set()
    for name, data, _, splits in session.writes():
        if name not in seen:
            seen.add(name)
            lines.append("    c(%r)," % name)
        for piece in session.sends(data, splits):
            lines.append("    s(%s, %r)," % (short(piece, 4000), name))
    lines.append("], \"sessionfuzz session %d (%s)\"%s)" % (
        session.index, session.desc,
        ", config=%r" % KINDS[session.kind][0] if KINDS[session.kind][0] else ""))
    return "\n".join(lines)


def format_transcripts(session, r, c):
    out = []
    for label, t in (("reference", r), ("candidate", c)):
        out.append("  %s received:" % label)
        for name in sorted(t):
            data, closed = t[name][:2]
            out.append("    %s <- %s%s" % (name, short(data, 2000), "  [closed by server]" if closed else ""))
    return "\n".join(out)


def report(session, problems, r, c, shrunk=None):
    text = ["MISMATCH session %d (kind %s, %s)" % (session.index, session.kind, session.desc)]
    text += ["  " + p for p in problems[:6]]
    text.append("  script:")
    text.append("    " + format_case(session).replace("\n", "\n    "))
    text.append(format_transcripts(session, r, c))
    if shrunk is not None:
        s, p, sr, sc = shrunk
        text.append("  shrunk to %d writes:" % len(s.chunks))
        text += ["    " + x for x in p[:3]]
        text.append("    " + format_case(s).replace("\n", "\n    "))
        text.append(format_transcripts(s, sr, sc))
    return "\n".join(text)


# --------------------------------------------------------------------------
# Workers and main
# --------------------------------------------------------------------------

def worker(job, jobs, args, queue):
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
    pool = ServerPool(args.reference, args.candidate, args.strict)
    shrunk_sigs = collections.Counter()
    kinds = collections.Counter()
    done = 0
    try:
        for i in range(args.first + job, args.first + args.sessions, jobs):
            session = make_session(args.seed, i)
            kinds[session.desc.split(":")[0]] += 1
            res = check_session(pool, session)
            done += 1
            if res is not None and res[0] == "known":
                queue.put(("known", i, res[1]))
            elif res is not None:
                problems, r, c = res
                sig = signature(problems)
                shrunk = None
                if shrunk_sigs[sig] < args.shrink_per_class:
                    shrunk_sigs[sig] += 1
                    s = shrink(pool, session, sig)
                    sp, sr, sc, _ = run_once(pool, s, SLOW_TIMEOUT)
                    if sp:
                        shrunk = (s, sp, sr, sc)
                queue.put(("mismatch", i, sig, session.desc.split(":")[0],
                           report(session, problems, r, c, shrunk)))
            if done % 200 == 0:
                queue.put(("progress", 200))
        queue.put(("progress", done % 200))
        queue.put(("done", job, dict(kinds)))
    except difftest.HarnessError as e:
        queue.put(("error", str(e)))
    except BaseException as e:  # report, never pass silently
        import traceback
        queue.put(("error", "job %d: %s\n%s" % (job, e, traceback.format_exc())))
    finally:
        pool.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", help="server binary under test (e.g. build/courier)")
    ap.add_argument("--reference", default=difftest.REFERENCE_DEFAULT,
                    help="reference server binary (default %(default)s)")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--first", type=int, default=0, help="index of the first session")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--shrink-per-class", type=int, default=2,
                    help="shrink at most this many mismatches per mismatch class and job")
    ap.add_argument("--strict", action="store_true",
                    help="fail on the known, documented differences too (KNOWN_DIFFERENCES)")
    ap.add_argument("--show", type=int, metavar="INDEX", help="print one session's script and exit")
    ap.add_argument("--max-reports", type=int, default=20,
                    help="print full reports for at most this many mismatches per class")
    args = ap.parse_args()

    if args.show is not None:
        s = make_session(args.seed, args.show)
        print("# kind %s, %s" % (s.kind, s.desc))
        print(format_case(s))
        return 0
    try:
        if not args.candidate:
            raise difftest.HarnessError("--candidate BINARY is required")
        for b in (args.reference, args.candidate):
            if not os.path.isfile(b) or not os.access(b, os.X_OK):
                raise difftest.HarnessError("server binary not found or not executable: %s" % b)
    except difftest.HarnessError as e:
        print("sessionfuzz: error: %s" % e, file=sys.stderr)
        return 2

    t0 = time.time()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    jobs = max(1, min(args.jobs, args.sessions))
    procs = [ctx.Process(target=worker, args=(j, jobs, args, queue)) for j in range(jobs)]
    for p in procs:
        p.start()
    finished = 0
    total = 0
    errors = []
    classes = collections.OrderedDict()
    per_kind = collections.Counter()
    known = collections.defaultdict(list)
    run_kinds = collections.Counter()
    last_print = time.time()
    try:
        while finished < jobs:
            try:
                msg = queue.get(timeout=5)
            except Exception:
                if not any(p.is_alive() for p in procs):
                    errors.append("a job exited without reporting")
                    break
                continue
            if msg[0] == "progress":
                total += msg[1]
                if time.time() - last_print > 30:
                    last_print = time.time()
                    print("... %d sessions, %d mismatching, %.0fs" % (
                        total, sum(len(v) for v in classes.values()), time.time() - t0), flush=True)
            elif msg[0] == "mismatch":
                _, index, sig, vc, text = msg
                lst = classes.setdefault(sig, [])
                lst.append(index)
                per_kind[vc] += 1
                if len(lst) <= args.max_reports:
                    print(text, flush=True)
                    print()
            elif msg[0] == "known":
                known[msg[2]].append(msg[1])
            elif msg[0] == "done":
                finished += 1
                run_kinds.update(msg[2])
            elif msg[0] == "error":
                errors.append(msg[1])
                finished += 1
    except KeyboardInterrupt:
        errors.append("interrupted")
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.terminate()
    elapsed = time.time() - t0
    nmis = sum(len(v) for v in classes.values())
    print()
    print("seed %s, sessions %d..%d: %d run (%d valid, %d corrupted), %d mismatching (%d valid, %d corrupted), "
          "%d classes, %.1fs" % (
              args.seed, args.first, args.first + args.sessions - 1, total, run_kinds["valid"],
              run_kinds["corrupt"], nmis, per_kind["valid"], per_kind["corrupt"], len(classes), elapsed))
    for sig, idx in classes.items():
        print("  %5d x %s   (sessions %s%s)" % (len(idx), sig, " ".join(map(str, idx[:8])),
                                               " ..." if len(idx) > 8 else ""))
    for label, idx in known.items():
        print("  %5d x known difference: %s   (sessions %s%s)" % (
            len(idx), label, " ".join(map(str, idx[:8])), " ..." if len(idx) > 8 else ""))
    for e in errors:
        print("error: " + e)
    if errors:
        return 2
    return 1 if nmis else 0


if __name__ == "__main__":
    sys.exit(main())
