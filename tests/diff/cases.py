"""Scripted sessions replayed by difftest.py against both servers.

A case is a dict: name, doc, optional config (nats-server config text; the
placeholders {cert} and {key} are replaced by a generated self-signed pair),
optional masks (list of (regex bytes, replacement bytes or function) applied to received
data, for behaviour that is legitimately random such as queue member choice),
and steps:

    ("connect", "c1")           open a TCP connection named c1
    ("send", "c1", b"...")      send raw bytes
    ("wait", seconds)           keep collecting for at least that long
    ("close", "c1")             close the client socket
    ("signal", "TERM")          send a signal to the server process
    ("tls", "c1")               TLS handshake on c1 (certificate not verified)

Server-sent PING frames are removed from transcripts unless keep_pings is set
(default: cases named *ping_interval* or *first_ping*): nats-server sends a
first PING 2-2.4 s after CONNECT, which would otherwise make every long case
timing-dependent.

After each step the harness collects until every connection is quiet.
"""


def c(name="c1"):
    return ("connect", name)


def s(data, name="c1"):
    if isinstance(data, str):
        data = data.encode()
    return ("send", name, data)


def w(seconds):
    return ("wait", seconds)


def session(*ops, connect=b'CONNECT {"verbose":false,"pedantic":false}\r\n', name="c1"):
    """Connect, optionally send CONNECT, then the given sends."""
    steps = [c(name)]
    if connect is not None:
        steps.append(s(connect, name))
    for op in ops:
        steps.append(op if isinstance(op, tuple) else s(op, name))
    return steps


CASES = []


def digest_payload(m):
    """Mask replacement: keep group 1, replace group 2 by its SHA-256, so a
    big payload is still compared exactly but printed short."""
    import hashlib
    return m.group(1) + b"<sha256 %s>\r\n" % hashlib.sha256(m.group(2)).hexdigest()[:16].encode()


def case(name, steps, doc="", config=None, masks=None, aliases=None, unordered=False,
         keep_pings=None):
    # Server PINGs are dropped from transcripts (timing noise) except in the
    # keepalive cases, whose names say so.
    if keep_pings is None:
        keep_pings = "ping_interval" in name or "first_ping" in name
    CASES.append({"name": name, "doc": doc, "steps": steps, "config": config,
                  "masks": masks or [], "aliases": aliases or {}, "unordered": unordered,
                  "keep_pings": keep_pings})


# nats-server treats absent "verbose" and "pedantic" as true, so every
# session spells them out; CONNECT {} itself has its own cases.
N = b'CONNECT {"verbose":false,"pedantic":false}\r\n'
V = b'CONNECT {"verbose":true,"pedantic":false}\r\n'
P = b'CONNECT {"verbose":false,"pedantic":true}\r\n'
VP = b'CONNECT {"verbose":true,"pedantic":true}\r\n'
H = b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
HNR = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'

# --- INFO ------------------------------------------------------------------
case("info_default", [c()], "INFO sent on accept, default config")
case("info_max_payload", [c()], "INFO with max_payload from config",
     config="max_payload: 1024\n")
case("info_auth_user", [c()], "INFO with user/password auth",
     config='authorization { user: "a", password: "b" }\n')
case("info_auth_token", [c()], "INFO with token auth",
     config='authorization { token: "secret" }\n')
case("info_tls", [c()], "INFO with TLS configured",
     config='tls { cert_file: "{cert}", key_file: "{key}" }\n')
case("info_server_name", [c()], "server_name from config",
     config='server_name: "courier_test"\n')

# --- CONNECT ---------------------------------------------------------------
case("connect_empty_ping", session("PING\r\n", connect=b"CONNECT {}\r\n"),
     "CONNECT {}: verbose and pedantic default to true")
case("connect_empty_pedantic_default", session("PUB foo.* 0\r\n\r\n", "PING\r\n",
                                               connect=b"CONNECT {}\r\n"),
     "CONNECT {}: pedantic is on by default")
case("connect_empty_sub_pub", session("SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n", "UNSUB 1\r\n",
                                      "PING\r\n", connect=b"CONNECT {}\r\n"))
case("connect_no_space", session("PING\r\n", connect=b"CONNECT{}\r\n"),
     "CONNECT without space before JSON")
case("connect_no_args", session("PING\r\n", connect=b"CONNECT\r\n"),
     "CONNECT with no JSON")
case("connect_bad_json", session("PING\r\n", connect=b"CONNECT {bad\r\n"),
     "CONNECT with malformed JSON")
case("connect_unknown_fields", session("PING\r\n", connect=b'CONNECT {"foo":1,"bar":"x"}\r\n'),
     "CONNECT with unknown fields")
case("connect_protocol_0", session("PING\r\n", connect=b'CONNECT {"protocol":0}\r\n'))
case("connect_protocol_1", session("PING\r\n", connect=b'CONNECT {"protocol":1}\r\n'))
case("connect_protocol_2", session("PING\r\n", connect=b'CONNECT {"protocol":2}\r\n'),
     "protocol > 1")
case("connect_protocol_neg", session("PING\r\n", connect=b'CONNECT {"protocol":-1}\r\n'))
case("connect_twice", session('CONNECT {"verbose":true}\r\n', "PING\r\n"),
     "second CONNECT switches verbose on")
case("connect_wrong_types", session("PING\r\n", connect=b'CONNECT {"verbose":"yes"}\r\n'))
# Numbers beyond a double's range: one such CONNECT used to end the whole
# server (picojson throws for them; found by the connection fuzzer).
case("connect_number_out_of_range", session("PING\r\n", connect=b'CONNECT 1e999\r\n'))
case("connect_number_out_of_range_known_field",
     session("PING\r\n", connect=b'CONNECT {"verbose":1e999}\r\n'))
case("connect_number_out_of_range_protocol",
     session("PING\r\n", connect=b'CONNECT {"protocol":-1e999}\r\n'))
case("connect_number_out_of_range_unknown_field",
     session("PING\r\n", connect=b'CONNECT {"verbose":false,"foo":[1,{"x":88888888888e8882}]}\r\n'),
     "nats-server skips an unknown field's value unconverted")
case("connect_full", session("PING\r\n", connect=(
    b'CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"x",'
    b'"lang":"python","version":"1.0","protocol":1,"echo":true,"headers":true,'
    b'"no_responders":true}\r\n')), "typical client CONNECT")
case("no_connect_ping", session("PING\r\n", connect=None), "PING before CONNECT")
case("no_connect_sub_pub", session("SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n", "PING\r\n",
                                   connect=None), "SUB/PUB before CONNECT")
case("no_connect_idle", [c(), w(2.5)], "client sends nothing for 2.5s (no auth)")
case("connect_no_responders_without_headers",
     session("PING\r\n", connect=b'CONNECT {"no_responders":true}\r\n'),
     "no_responders without headers")
case("connect_lowercase", session("PING\r\n", connect=b"connect {\"verbose\":false}\r\n"))
case("connect_tls_required_plain", session("PING\r\n", connect=b'CONNECT {"tls_required":true}\r\n'),
     "client claims tls_required on a plain server")

# --- verbose ---------------------------------------------------------------
case("verbose_ops", session("PING\r\n", "SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n",
                            "UNSUB 1\r\n", "PONG\r\n", "PUB bar 0\r\n\r\n", connect=V),
     "which operations get +OK")
case("verbose_unsub_unknown", session("UNSUB 99\r\n", connect=V))
case("verbose_sub_queue", session("SUB foo q 1\r\n", connect=V))
case("verbose_bad_op", session("FOO\r\n", connect=V))
case("verbose_invalid_subject", session("SUB foo..bar 1\r\n", "PING\r\n", connect=V))
case("verbose_hpub", session("HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                             connect=b'CONNECT {"verbose":true,"headers":true}\r\n'))
case("verbose_pedantic_pub_wildcard", session("PUB foo.* 0\r\n\r\n", "PING\r\n", connect=VP))

# --- pedantic --------------------------------------------------------------
case("pub_wildcard_pedantic", session("PUB foo.* 2\r\nhi\r\n", "PING\r\n", connect=P))
case("pub_wildcard_plain", session("SUB foo.* 1\r\n", "PUB foo.* 2\r\nhi\r\n", "PING\r\n"),
     "publish to a wildcard subject without pedantic")
case("pub_gt_pedantic", session("PUB foo.> 2\r\nhi\r\n", "PING\r\n", connect=P))
case("pub_bad_subject_pedantic", session("PUB foo..bar 2\r\nhi\r\n", "PING\r\n", connect=P))
case("pub_bad_subject_plain", session("SUB > 1\r\n", "PUB foo..bar 2\r\nhi\r\n", "PING\r\n"))
case("pub_bad_reply_pedantic", session("PUB foo bar.* 2\r\nhi\r\n", "PING\r\n", connect=P))
case("pub_subjects_across_words_pedantic",
     session("SUB > 1\r\n", "PUB abcdefg..hij 1\r\na\r\n", "PUB abcdefghijklmnop. 1\r\nb\r\n",
             "PUB .abcdefghij 1\r\nc\r\n", "PUB abcdefgh.a*b.c>d 1\r\nd\r\n",
             "PUB a.b.c.d.e.f.g.h.i.j.k.l 1\r\ne\r\n", "PUB abcdefghijklmno.* 1\r\nf\r\n",
             "PUB abcdefgh.abcdefgh.abcdefgh.ok 1\r\ng\r\n", "PING\r\n", connect=P),
     "pedantic subject checks on subjects longer than a word: an empty token across a word boundary, "
     "trailing and leading dots, '*' and '>' inside tokens, a wildcard token in the third word")
case("sub_bad_subjects", session("SUB foo..bar 1\r\n", "SUB .foo 2\r\n", "SUB foo. 3\r\n",
                                 "SUB foo.>.bar 4\r\n", "SUB foo*.bar 5\r\n", "PING\r\n"),
     "invalid subjects on SUB")
case("sub_bad_subjects_pedantic", session("SUB foo..bar 1\r\n", "SUB foo*.bar 2\r\n",
                                          "SUB foo.>.bar 3\r\n", "PING\r\n", connect=P))

# --- errors ----------------------------------------------------------------
case("unknown_op", session("FOO\r\n", "PING\r\n"), "Unknown Protocol Operation")
case("unknown_op_before_connect", session("FOO\r\n", connect=None))
case("junk_after_ping", session("PINGX\r\n"))
case("ping_trailing_space", session("PING \r\n"))
case("ping_trailing_junk", session("PING foo\r\n"))
case("ping_lowercase", session("ping\r\n", "pInG\r\n"))
case("ping_leading_space", session(" PING\r\n"))
case("ping_lf_only", session("PING\n"))
case("empty_line", session("\r\n", "PING\r\n"))
case("pong_unsolicited", session("PONG\r\n", "PING\r\n"))
case("max_payload_violation", session("PUB foo 2000\r\n"), "PUB larger than max_payload",
     config="max_payload: 1024\n")
case("max_payload_exact", session("SUB foo 1\r\n", b"PUB foo 1024\r\n" + b"x" * 1024 + b"\r\n"),
     config="max_payload: 1024\n")
case("max_control_line", session(b"SUB " + b"a" * 200 + b" 1\r\n"),
     config="max_control_line: 64\n")
case("max_control_line_partial", session(b"PUB " + b"a" * 200),
     "control line over the limit, no CRLF yet", config="max_control_line: 64\n")
case("max_control_line_default", session(b"SUB " + b"a" * 5000 + b" 1\r\n"))
case("max_subscriptions", session("SUB a 1\r\n", "SUB b 2\r\n", "SUB c 3\r\n", "PING\r\n"),
     config="max_subscriptions: 2\n")
case("max_subscriptions_verbose", session("SUB a 1\r\n", "SUB b 2\r\n", "SUB c 3\r\n",
                                          "PING\r\n", connect=V),
     config="max_subscriptions: 2\n")
case("max_connections", [c("c1"), s(N + b"PING\r\n", "c1"), c("c2"),
                         s(N + b"PING\r\n", "c2")],
     "second connection with max_connections: 1", config="max_connections: 1\n")

# --- PUB / HPUB argument handling -------------------------------------------
case("pub_no_args", session("PUB\r\n"))
case("pub_one_arg", session("PUB foo\r\n"))
case("pub_too_many_args", session("PUB foo bar baz 2\r\nhi\r\n"))
case("pub_negative_size", session("PUB foo -1\r\n"))
case("pub_non_numeric_size", session("PUB foo abc\r\n"))
case("pub_size_plus", session("PUB foo +2\r\nhi\r\n"))
case("pub_reply", session("SUB foo 1\r\n", "PUB foo bar 2\r\nhi\r\n"))
case("pub_zero", session("SUB foo 1\r\n", "PUB foo 0\r\n\r\n"))
case("pub_no_crlf_after_payload", session("SUB foo 1\r\n", "PUB foo 3\r\nabcXY\r\n", "PING\r\n"))
case("pub_payload_short", session("SUB foo 1\r\n", "PUB foo 5\r\nab\r\n", "PING\r\n"),
     "payload shorter than declared: the PING is swallowed as payload")
case("pub_payload_lf_only", session("SUB foo 1\r\n", "PUB foo 2\r\nhi\n", "PING\r\n"))
case("pub_split_writes", session(
    "SUB foo 1\r\n", ("send", "c1", b"PU", {"quiet": 0.1}), ("send", "c1", b"B foo 5\r\nhe", {"quiet": 0.1}),
    ("send", "c1", b"llo", {"quiet": 0.1}), ("send", "c1", b"\r", {"quiet": 0.1}), "\n"),
    "one PUB split over five writes")
case("pub_pipelined", session(b"SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPING\r\n"))
case("pub_size_leading_zeros", session("SUB foo 1\r\n", "PUB foo 002\r\nhi\r\n", "PUB foo r 0002\r\nhi\r\n",
                                      "PUB foo 000\r\n\r\n", "PING\r\n"),
     "nats-server echoes the publisher's size digits verbatim in MSG")
case("pub_size_leading_zeros_split", session(
    "SUB foo 1\r\n", ("send", "c1", b"PUB foo 00", {"quiet": 0.1}), ("send", "c1", b"5\r\nhel", {"quiet": 0.1}),
    "lo\r\nPING\r\n"),
    "size digits split across reads, payload split too")
case("hpub_size_leading_zeros", [
    c("pub"), s(H, "pub"), c("hsub"), s(H + b"SUB foo 1\r\nPING\r\n", "hsub"),
    c("sub"), s(N + b"SUB foo 2\r\nPING\r\n", "sub"),
    s("HPUB foo 012 0014\r\nNATS/1.0\r\n\r\nhi\r\nHPUB foo 00 002\r\nhi\r\nPING\r\n", "pub")],
     "header and total size digits echoed to a headers client; recomputed when stripped")
BIG = b"0123456789" * 250  # 2,500 bytes: delivered by reference to the read buffer, not copied
case("big_payload_sizes_echoed", [
    c("pub"), s(H, "pub"), c("hsub"), s(H + b"SUB foo 1\r\nPING\r\n", "hsub"),
    c("sub"), s(N + b"SUB foo 2\r\nPING\r\n", "sub"),
    s(b"PUB foo 0002500\r\n" + BIG + b"\r\nPUB foo r.to 2500\r\n" + BIG +
      b"\r\nHPUB foo 012 02512\r\nNATS/1.0\r\n\r\n" + BIG + b"\r\nHPUB foo 18 2518\r\nNATS/1.0\r\nA: B\r\n\r\n" +
      BIG + b"\r\nPING\r\n", "pub")],
     "payloads over 2 KiB: size digits echoed verbatim, reply, HMSG to a headers client, headers stripped "
     "for the other")
case("hpub_without_headers", session("SUB foo 1\r\n", "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
     "HPUB when CONNECT did not enable headers")
case("hpub_without_connect", session("HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", connect=None))
case("hpub_header_gt_total", session("HPUB foo 14 12\r\nNATS/1.0\r\n\r\nhi\r\n", connect=H))
case("hpub_bad_args", session("HPUB foo 12\r\n", connect=H))
case("hpub_ok", session("SUB foo 1\r\n", "HPUB foo 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n",
                        connect=H))
case("hpub_reply", session("SUB foo 1\r\n", "HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                           connect=H))
case("hpub_headers_stripped", [
    c("pub"), s(H, "pub"), c("sub"), s(N + b"SUB foo 1\r\nPING\r\n", "sub"),
    s("HPUB foo 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n", "pub")],
    "subscriber without headers receives HPUB")
case("hpub_headers_stripped_reply", [
    c("pub"), s(H, "pub"), c("sub"), s(N + b"SUB foo 1\r\nPING\r\n", "sub"),
    s("HPUB foo rep 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n", "pub")])

# --- whitespace --------------------------------------------------------------
case("ws_tabs", session("SUB\tfoo\t1\r\n", "PUB\tfoo\t2\r\nhi\r\n"))
case("ws_multiple_spaces", session("SUB  foo   1\r\n", "PUB   foo  2\r\nhi\r\n"))
case("ws_trailing_spaces", session("SUB foo 1  \r\n", "PUB foo 2  \r\nhi\r\n"))
case("ws_lowercase_verbs", session("sub foo 1\r\n", "pub foo 2\r\nhi\r\n", "unsub 1\r\n",
                                   "pub foo 2\r\nhi\r\n", "PING\r\n"))
case("ws_leading_space_sub", session(" SUB foo 1\r\n"))

# --- SUB / UNSUB ---------------------------------------------------------------
case("sub_no_args", session("SUB\r\n"))
case("sub_one_arg", session("SUB foo\r\n"))
case("sub_too_many_args", session("SUB foo q 1 x\r\n"))
case("sub_wildcards", session("SUB foo.* 1\r\n", "SUB foo.> 2\r\n", "SUB > 3\r\n",
                              "PUB foo.bar 1\r\nx\r\n", "PUB foo.bar.baz 1\r\ny\r\n"),
     "one connection, three matching subs: MSG order between them is not compared",
     unordered=True)
case("sub_duplicate_sid", session("SUB foo 1\r\n", "SUB bar 1\r\n", "PUB foo 1\r\nx\r\n",
                                  "PUB bar 1\r\ny\r\n"))
case("sub_queue_self", session("SUB foo q 1\r\n", "PUB foo 1\r\nx\r\n"))
case("sub_queue_and_plain", session("SUB foo q 1\r\n", "SUB foo 2\r\n", "PUB foo 1\r\nx\r\n"),
     unordered=True)
case("sub_non_numeric_sid", session("SUB foo abc\r\n", "PUB foo 1\r\nx\r\n"))
case("unsub_max", session("SUB foo 1\r\n", "UNSUB 1 2\r\n", "PUB foo 1\r\na\r\n",
                          "PUB foo 1\r\nb\r\n", "PUB foo 1\r\nc\r\n"))
case("unsub_max_reached", session("SUB foo 1\r\n", "PUB foo 1\r\na\r\n", "PUB foo 1\r\nb\r\n",
                                  "UNSUB 1 1\r\n", "PUB foo 1\r\nc\r\n", "PING\r\n"))
case("unsub_max_zero", session("SUB foo 1\r\n", "UNSUB 1 0\r\n", "PUB foo 1\r\na\r\n"))
case("unsub_unknown_sid", session("UNSUB 5\r\n", "PING\r\n"))
case("unsub_no_args", session("UNSUB\r\n"))
case("unsub_bad_max", session("SUB foo 1\r\n", "UNSUB 1 x\r\n"))
case("unsub_too_many_args", session("UNSUB 1 2 3\r\n"))

# --- echo / multi-client --------------------------------------------------------
case("echo_default", session("SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n"))
case("echo_false", session("SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n", "PING\r\n",
                           connect=b'CONNECT {"echo":false}\r\n'))
case("echo_false_other_client", [
    c("a"), s('CONNECT {"echo":false}\r\nSUB foo 1\r\nPING\r\n', "a"),
    c("b"), s(N + b"SUB foo 1\r\nPING\r\n", "b"),
    s("PUB foo 2\r\nhi\r\n", "a")])
case("two_clients_pub_sub", [
    c("sub"), s(N + b"SUB foo.* 7\r\nPING\r\n", "sub"),
    c("pub"), s(N + b"PUB foo.bar reply.x 5\r\nhello\r\n", "pub"),
    s("PUB foo.baz 0\r\n\r\n", "pub")])
case("queue_group_two_clients", [
    c("a"), s(N + b"SUB work q 1\r\nPING\r\n", "a"),
    c("b"), s(N + b"SUB work q 1\r\nPING\r\n", "b"),
    c("pub"), s(N + b"PUB work 1\r\nx\r\n", "pub")],
    "one message to a queue group of two: exactly one member gets it",
    aliases={"a": "a|b", "b": "a|b"})
case("request_reply", [
    c("svc"), s(N + b"SUB svc 1\r\nPING\r\n", "svc"),
    c("req"), s(HNR + b"SUB _INBOX.r 2\r\nPUB svc _INBOX.r 3\r\nask\r\n", "req"),
    s("PUB _INBOX.r 3\r\nans\r\n", "svc")])

# --- no responders --------------------------------------------------------------
case("no_responders", session("SUB _INBOX.x 1\r\n", "PUB foo _INBOX.x 0\r\n\r\n", connect=HNR))
case("no_responders_with_payload", session("SUB _INBOX.x 1\r\n", "PUB foo _INBOX.x 2\r\nhi\r\n",
                                           connect=HNR))
case("no_responders_hpub", session("SUB _INBOX.x 1\r\n",
                                   "HPUB foo _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                                   connect=HNR))
case("no_responders_no_reply", session("PUB foo 0\r\n\r\n", "PING\r\n", connect=HNR))
case("no_responders_disabled", session("SUB _INBOX.x 1\r\n", "PUB foo _INBOX.x 0\r\n\r\n",
                                       "PING\r\n", connect=H))
case("no_responders_headers_off", session("SUB _INBOX.x 1\r\n", "PUB foo _INBOX.x 0\r\n\r\n",
                                          "PING\r\n",
                                          connect=b'CONNECT {"no_responders":true}\r\n'),
     "requester asked for no_responders without headers")
case("no_responders_other_inbox_sub", [
    c("req"), s(HNR + b"PING\r\n", "req"),
    c("inbox"), s(N + b"SUB _INBOX.y 1\r\nPING\r\n", "inbox"),
    s("PUB foo _INBOX.y 0\r\n\r\n", "req")],
    "reply subject subscribed by another client")
case("no_responders_queue_only", [
    c("req"), s(HNR + b"SUB _INBOX.z 1\r\nPING\r\n", "req"),
    c("svc"), s(N + b"SUB svc q 1\r\nPING\r\n", "svc"),
    s("PUB svc _INBOX.z 2\r\nhi\r\n", "req"),
    s("UNSUB 1\r\nPING\r\n", "svc"),
    s("PUB svc _INBOX.z 2\r\nhi\r\n", "req")])

# --- auth -------------------------------------------------------------------------
AUTH = 'authorization { user: "a", password: "b" }\n'
case("auth_ok", session("PING\r\n", connect=b'CONNECT {"user":"a","pass":"b"}\r\n'), config=AUTH)
case("auth_ok_verbose", session("PING\r\n", connect=b'CONNECT {"verbose":true,"user":"a","pass":"b"}\r\n'),
     config=AUTH)
case("auth_bad_pass", session("PING\r\n", connect=b'CONNECT {"user":"a","pass":"x"}\r\n'), config=AUTH)
case("auth_missing", session("PING\r\n"), config=AUTH)
case("auth_ping_first", session("PING\r\n", connect=None), config=AUTH,
     doc="PING before CONNECT on an auth server")
case("auth_pub_first", session("PUB foo 0\r\n\r\n", connect=None), config=AUTH)
case("auth_timeout", [c(), w(1.6)], config='authorization { user: "a", password: "b", timeout: 1 }\n',
     doc="no CONNECT within auth timeout")
case("auth_token_ok", session("PING\r\n", connect=b'CONNECT {"auth_token":"secret"}\r\n'),
     config='authorization { token: "secret" }\n')
case("auth_token_bad", session("PING\r\n", connect=b'CONNECT {"auth_token":"nope"}\r\n'),
     config='authorization { token: "secret" }\n')

# --- ping / pong keepalive -------------------------------------------------------------
case("first_ping_after_connect", session(w(2.9)),
     "default config: the server sends its first PING 2-2.4 s after CONNECT")
case("first_ping_verbose_activity", session("PING\r\n", w(1.0), "PING\r\n", w(1.9),
                                            connect=V),
     "the first PING comes even when the client is active")
case("ping_interval_answered", session(
    w(1.4), ("send", "c1", b"PONG\r\n", {"quiet": 0.05}),
    w(1.0), ("send", "c1", b"PONG\r\n", {"quiet": 0.0}), ("close", "c1")),
    "PINGs at ~1 s and ~2 s, each answered: the connection stays open",
    config='ping_interval: "1s"\nping_max: 1\n')
case("ping_interval_stale", session(w(4.5)), "client never answers PINGs",
     config='ping_interval: "1s"\nping_max: 2\n')
case("ping_interval_no_connect", [c(), w(2.5)], config='ping_interval: "1s"\nping_max: 1\n',
     doc="no CONNECT: are PINGs sent?")

# --- slow consumer ---------------------------------------------------------------
case("slow_consumer", [
    c("sub"), s(N + b"SUB foo 1\r\nPING\r\n", "sub"),
    c("pub"), ("send", "pub", N + (b"PUB foo 1000\r\n" + b"x" * 1000 + b"\r\n") * 20 + b"PING\r\n",
               {"min": 1.5})],
    "a burst larger than max_pending for one subscriber: it is closed without -ERR, the publisher "
    "gets its PONG (how many MSGs get through first is buffering detail and masked)",
    config="max_pending: 2048\nmax_payload: 1024\n",
    masks=[(rb"(MSG foo 1 1000\r\nx{1000}\r\n)+", b"<some MSGs>")])

# --- shutdown / lame duck ------------------------------------------------------------
case("shutdown_sigterm", session("PING\r\n", ("signal", "TERM"), w(1.0)))
case("shutdown_sigint", session("PING\r\n", ("signal", "INT"), w(1.0)))
case("lame_duck", session("PING\r\n", ("signal", "USR2"), w(4.0)),
     config='lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n')
case("lame_duck_proto1", session("PING\r\n", ("signal", "USR2"), w(4.0),
                                 connect=b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'),
     "lame duck with a protocol 1 client (async INFO capable)",
     config='lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n')
case("info_async_new_server_proto1", session("PING\r\n", w(1.0),
                                             connect=b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'),
     "protocol 1 client on a standalone server: no async INFO expected")

# --- more limits and framing ------------------------------------------------------
case("max_connections_after_close", [
    c("c1"), s(N + b"PING\r\n", "c1"), ("close", "c1"), w(0.3),
    c("c2"), s(N + b"PING\r\n", "c2")],
    "a slot freed by a closed client can be reused", config="max_connections: 1\n")
case("hpub_max_payload", session("HPUB foo 12 2000\r\n", connect=H),
     "HPUB total size over max_payload", config="max_payload: 1024\n")
case("pub_max_payload_plus_one", session(b"PUB foo 1025\r\n" + b"x" * 1025 + b"\r\n"),
     config="max_payload: 1024\n")
case("pub_large_payload", session("SUB big 1\r\n", b"PUB big 100000\r\n" + bytes(range(256)) * 390
                                  + b"x" * 160 + b"\r\nPING\r\n"),
     "100 kB payload with every byte value, written in one go",
     masks=[(rb"(?s)(MSG big 1 100000\r\n)(.{100000})\r\n", digest_payload)])
case("error_after_megabytes_queued",
     session("SUB t.> 1\r\nSUB t.> 2\r\nSUB t.*.* 3\r\nSUB t.> 4\r\nPING\r\n",
             ("send", "c1", b"PUB t.a.b 1048576\r\n" + b"m" * 1048576 + b"\r\nBOGUS\r\n", {"min": 5})),
     "4 MB of MSGs queued, then an operation that closes the connection: all of it and the -ERR "
     "arrive before the close (nats-server flushes before closing); collected for 5 s at least, as an "
     "ASan build on a busy machine may take more than the quiet interval to start answering; the order "
     "of the four subscriptions' copies is nats-server's map order",
     unordered=True, masks=[(rb"(?s)(MSG t\.a\.b \d 1048576\r\n)(.{1048576})\r\n", digest_payload)])
case("pub_many_pipelined", session("SUB m 1\r\n", b"".join(b"PUB m %d\r\n%s\r\n" % (len(str(i)), str(i).encode())
                                                         for i in range(200)) + b"PING\r\n"),
     "200 PUBs in one write arrive in order")
case("sub_queue_wildcard_name", session("SUB foo q.* 1\r\n", "SUB foo q> 2\r\n", "PUB foo 1\r\nx\r\n",
                                        "PING\r\n"), unordered=True)
case("auth_verbose_no_creds", session("PING\r\n", connect=b'CONNECT {"verbose":true}\r\n'), config=AUTH)
case("connect_then_bad_second_connect", session('CONNECT {bad\r\n', "PING\r\n"),
     "a second CONNECT with bad JSON")
case("connect_name_lang_version", session("PING\r\n", connect=(
    b'CONNECT {"verbose":false,"pedantic":false,"name":"n","lang":"go","version":"1.2.3",'
    b'"user":"ignored","pass":"ignored"}\r\n')), "credentials sent to a server without auth")

# --- permissions and accounts ----------------------------------------------------------
PERMS = '''authorization {
  users = [
    { user: "p", password: "p", permissions: { publish: { allow: ["pub.>", "_INBOX.>"] }, subscribe: { allow: ["sub.>", "_INBOX.>"] } } }
    { user: "d", password: "d", permissions: { publish: { deny: ["secret.>"] }, subscribe: { deny: ["secret.>"] } } }
    { user: "r", password: "r", permissions: { publish: "req.>", subscribe: "_INBOX.>", allow_responses: true } }
  ]
}
'''
PC = b'CONNECT {"verbose":false,"pedantic":false,"user":"p","pass":"p"}\r\n'
DC = b'CONNECT {"verbose":false,"pedantic":false,"user":"d","pass":"d"}\r\n'
case("perm_pub_denied", session("PUB other 1\r\nx\r\n", "PING\r\n", connect=PC), config=PERMS)
case("perm_sub_denied", session("SUB other 1\r\n", "PING\r\n", connect=PC), config=PERMS)
case("perm_sub_denied_queue", session("SUB other q 1\r\n", "PING\r\n", connect=PC), config=PERMS)
case("perm_allowed", session("SUB sub.a 1\r\n", "PUB pub.a 1\r\nx\r\n", "PING\r\n", connect=PC), config=PERMS)
case("perm_deny_list", session("SUB secret.x 1\r\n", "PUB secret.x 1\r\nx\r\n", "SUB open 2\r\n",
                               "PUB open 1\r\ny\r\n", connect=DC), config=PERMS)
case("perm_sub_wildcard_overlapping_deny", session("SUB > 1\r\n", "PUB secret.x 1\r\nx\r\n",
                                                   "PUB open 1\r\ny\r\n", connect=DC),
     "a wildcard SUB is allowed but messages on denied subjects are not delivered", config=PERMS)
case("perm_empty_token_subjects", [
    c("p"), s(PC + b"PUB pub..x 1\r\nx\r\nSUB sub..x 1\r\nPING\r\n", "p"),
    c("d"), s(DC + b"PUB secret..x 1\r\nx\r\nSUB secret..x 2\r\nPING\r\n", "d")],
    "a subject with an empty token matches no permission entry: refused by an allow list, "
    "let through a deny list (then refused as an invalid subject)", config=PERMS)
case("perm_verbose_pub_denied", session("PUB other 1\r\nx\r\n", "PING\r\n",
                                        connect=b'CONNECT {"verbose":true,"pedantic":false,"user":"p","pass":"p"}\r\n'),
     config=PERMS)
case("accounts_isolated", [
    c("a"), s(b'CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"a"}\r\nSUB foo 1\r\nPING\r\n', "a"),
    c("b"), s(b'CONNECT {"verbose":false,"pedantic":false,"user":"b","pass":"b"}\r\nSUB foo 1\r\nPING\r\n', "b"),
    c("a2"), s(b'CONNECT {"verbose":false,"pedantic":false,"user":"a2","pass":"a2"}\r\nPUB foo 2\r\nhi\r\nPING\r\n', "a2")],
    "users in different accounts do not see each other's messages",
    config='accounts { A: { users: [ {user: a, password: a}, {user: a2, password: a2} ] }, '
           'B: { users: [ {user: b, password: b} ] } }\n')
case("no_auth_user", session("SUB foo 1\r\n", "PUB foo 1\r\nx\r\n", "PING\r\n"),
     "no_auth_user: a CONNECT without credentials is mapped to that user",
     config='accounts { A: { users: [ {user: a, password: a} ] } }\nno_auth_user: a\n')

# --- TLS ---------------------------------------------------------------------------
TLS = 'tls { cert_file: "{cert}", key_file: "{key}" }\n'
case("tls_connect_ping", [c(), ("tls", "c1"), s(N + b"PING\r\n")], config=TLS,
     doc="INFO in clear, then TLS handshake, then CONNECT/PING inside TLS")
case("tls_pub_sub", [c(), ("tls", "c1"), s(N + b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n")],
     config=TLS)
case("tls_plain_connect", session("PING\r\n"), config=TLS,
     doc="a client that ignores tls_required and sends CONNECT in clear")
case("tls_on_plain_server", [c(), ("tls", "c1")], doc="client starts TLS on a server without TLS")
case("tls_wait_no_handshake", [c(), w(1.5), w(1.0)], config=TLS,
     doc="TLS server, client never starts the handshake: closed after the 2 s TLS timeout, no bytes")
case("tls_clienthello_raw_on_plain", session(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", connect=None),
     "the first bytes of a TLS ClientHello sent to a plain server")

# --- matching edges -------------------------------------------------------------------
case("sub_wildcard_edges", session("SUB foo.> 1\r\n", "SUB * 2\r\n", "SUB *.* 3\r\n",
                                   "PUB foo 1\r\na\r\n", "PUB foo.bar 1\r\nb\r\n", "PING\r\n"),
     "foo.> does not match foo; * matches one token", unordered=True)
case("queue_unsub_max", [
    c("a"), s(N + b"SUB work q 1\r\nUNSUB 1 1\r\nPING\r\n", "a"),
    c("pub"), s(N + b"PUB work 1\r\nx\r\nPUB work 1\r\ny\r\nPING\r\n", "pub")],
    "a queue member with UNSUB max 1 takes one message, the next has no receiver")
case("fanout_three_clients", [
    c("a"), s(N + b"SUB f.* 1\r\nPING\r\n", "a"),
    c("b"), s(N + b"SUB f.x 9\r\nSUB > 10\r\nPING\r\n", "b"),
    c("p"), s(N + b"PUB f.x r 3\r\nabc\r\nPING\r\n", "p")], unordered=True)

# --- found by the session fuzzer (sessionfuzz.py) -----------------------------------
HNRE = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"echo":false}\r\n'
case("no_responders_echo_false_own_sub", session("SUB t.a 1\r\n", "PUB t.a t.a 0\r\n\r\n", "PING\r\n",
                                                 connect=HNRE),
     "the only subscriber is the publisher itself without echo: nothing was delivered, so the 503 "
     "comes, on that same subscription")
case("no_responders_queue_sub_on_reply", session("SUB _INBOX.q q 1\r\n", "PUB foo _INBOX.q 0\r\n\r\n",
                                                 "PING\r\n", connect=HNR),
     "a queue subscription on the reply subject does not get the 503")
case("no_responders_match_order", session("SUB _INBOX.* 1\r\n", "SUB _INBOX.x 2\r\n", "SUB _INBOX.> 3\r\n",
                                          "PUB foo _INBOX.x 0\r\n\r\n", "UNSUB 3\r\n",
                                          "PUB foo _INBOX.x 0\r\n\r\n", "UNSUB 2\r\n",
                                          "PUB foo _INBOX.x 0\r\n\r\n", "PING\r\n", connect=HNR),
     "several own subscriptions match the reply: one 503, to the first in nats-server's match order "
     "(> before the literal token before *)")
case("no_responders_same_subject_twice", session("SUB _INBOX.x 1\r\n", "SUB _INBOX.x 2\r\n",
                                                 "PUB foo _INBOX.x 0\r\n\r\n", "PING\r\n", connect=HNR),
     "two own subscriptions on the reply subject itself: one of them, picked at random by nats-server "
     "(its sublist node keeps them in a Go map), gets the 503",
     masks=[(rb"HMSG _INBOX.x [12] 16 16", b"HMSG _INBOX.x <1 or 2> 16 16")])
case("no_responders_not_counted_by_unsub_max", session(
    "SUB _INBOX.x 1\r\n", "PUB foo _INBOX.x 0\r\n\r\n", "UNSUB 1 1\r\n", "PUB _INBOX.x 1\r\na\r\n",
    "PUB _INBOX.x 1\r\nb\r\n", "PING\r\n", connect=HNR),
    "the 503 does not count towards UNSUB max: after it, UNSUB 1 1 still lets one message through")
case("connect_trailing_data", session("PING\r\n",
                                      connect=b'CONNECT {"verbose":false,"pedantic":false}{}\r\n'),
     "data after the CONNECT JSON object: closed without -ERR (Go's json.Unmarshal refuses it)")
case("connect_trailing_word", session("PING\r\n",
                                      connect=b'CONNECT {"verbose":false,"pedantic":false} x\r\n'))
case("connect_trailing_blanks", session("PING\r\n",
                                        connect=b'CONNECT {"verbose":false,"pedantic":false} \t \r\n'),
     "white space after the JSON is fine")
case("pub_wildcard_pedantic_split_payload", session(b"SUB t.* 1\r\nPUB t.* 600\r\n" + b"x" * 600 + b"\r\nPING\r\n",
                                                    connect=P),
     "pedantic PUB to a wildcard subject whose payload spans nats-server's 512-byte first read buffer: "
     "nats-server sends -ERR 'Invalid Publish Subject' twice (Courier once: a known difference, "
     "docs/nats-behaviour.md section 14); the message is still delivered",
     masks=[(rb"(-ERR 'Invalid Publish Subject'\r\n)+", b"-ERR 'Invalid Publish Subject'\r\n(once or more)")])
case("connect_key_case", session("SUB t 1\r\n", "PUB t.* 0\r\n\r\n", "PING\r\n",
                                 connect=b'CONNECT {"Verbose":false,"PEDANTIC":false}\r\n'),
     "CONNECT field names match case-insensitively (Go's json.Unmarshal)")
case("connect_key_case_exact_wins", session("PING\r\n",
                                            connect=b'CONNECT {"VERBOSE":true,"verbose":false,"pedantic":false}\r\n'),
     "an exact field name beside a differently cased one")
case("unsub_max_frees_subscription_slot", session(
    "SUB a 1\r\n", "UNSUB 1 1\r\n", "SUB b 2\r\n", "PUB a 1\r\nx\r\nSUB c 3\r\nSUB d 4\r\nPING\r\n"),
    "a subscription removed by its UNSUB max frees its max_subscriptions slot at once, even for a SUB "
    "in the same read as the message that used it up", config="max_subscriptions: 2\n")
case("pub_pedantic_bad_payload_end", session("PUB t.* 0\r\nx\r\nPING\r\n", connect=P),
     "pedantic: the subject is checked when the PUB line arrives, so the -ERR comes before the parse "
     "error of a bad payload end")
case("hpub_pedantic_bad_payload_end", session("HPUB t.> 12 12\r\nNATS/1.0\r\n\r\nx\r\n",
                                              connect=b'CONNECT {"verbose":false,"pedantic":true,"headers":true}\r\n'))
case("client_sends_err", session("-ERR 'x'\r\n", "PING\r\n"),
     "a client's -ERR closes its connection, without a reply")
case("sub_live_sid_invalid_subject", session("SUB a 10\r\n", "SUB .. 10\r\n", "SUB b..c 11\r\n", "PING\r\n",
                                             connect=V),
     "a SUB reusing a live sid is ignored before its subject is checked: +OK, not Invalid Subject")
case("pub_pedantic_payload_never_completes", session(b"PUB t.* 10\r\nab", "PING\r\n", connect=P),
     "pedantic: the -ERR comes when the PUB line arrives, also when the payload never completes "
     "(nats-server sends it twice here, the known repeat of docs/nats-behaviour.md section 14)",
     masks=[(rb"(-ERR 'Invalid Publish Subject'\r\n)+", b"-ERR 'Invalid Publish Subject'\r\n(once or more)")])
case("client_info_bad_json", session("INFO {PING\r\n", "PING\r\n"),
     "a client's INFO whose JSON does not parse closes the connection without -ERR")
case("client_info_ok", session("INFO {}\r\n", "PING\r\n"), "a client's INFO with a JSON object is ignored")
