// Tables of client->server inputs with the result nats-server 2.9.10 gives
// them. parser_test.cpp checks the parser against these tables and
// nats_server_conformance_test.cpp checks the tables against a running
// nats-server, so the expectations are not just our own opinion.
#pragma once

#include "protocol/parser.hpp"

#include <optional>
#include <string>
#include <vector>

namespace courier::protocol::testing {

/// One input that nats-server accepts, and the ops the parser must report.
struct accepted_case {
  std::string input;
  std::vector<std::string> ops;
};

/// One input nats-server rejects (closing the connection), and why.
struct rejected_case {
  std::string input;
  parse_error error;
};

/// Odd but accepted: case, whitespace runs, stray \r, junk after PING, quirks.
inline const std::vector<accepted_case>& accepted_client_cases() {
  static const std::vector<accepted_case> cases = {
      {"PUB foo 2\r\nhi\r\n", {"PUB|foo||hi"}},
      {"pub foo 2\r\nhi\r\n", {"PUB|foo||hi"}},
      {"PuB\tfoo \t bar  2\r\nhi\r\n", {"PUB|foo|bar|hi"}},
      {"PUB  foo  bar\t\t2\r\nhi\r\n", {"PUB|foo|bar|hi"}},
      {"PUB foo 2\nhi\r\n", {"PUB|foo||hi"}},
      {"PUB foo 2 \r\nhi\r\n", {"PUB|foo||hi"}},
      {"PUB foo 2\t\t\r\nhi\r\n", {"PUB|foo||hi"}},
      {"PUB foo\r 2\r\nhi\r\n", {"PUB|foo\\r||hi"}},  // PUB splits on space/tab only
      {"PUB foo 002\r\nhi\r\n", {"PUB|foo||hi"}},
      {"PUB foo 999\r\n" + std::string(999, 'x') + "\r\n", {"PUB|foo||" + std::string(999, 'x')}},
      {"PUB foo 0\r\n\r\n", {"PUB|foo||"}},
      {"PUB foo 4\r\n\r\n\r\n\r\n", {"PUB|foo||\\r\\n\\r\\n"}},
      {"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HPUB|foo||NATS/1.0\\r\\n\\r\\n|hi"}},
      {"hpub foo bar 3 5\r\nabcde\r\n", {"HPUB|foo|bar|abc|de"}},
      {"HPUB foo 0 0\r\n\r\n", {"HPUB|foo|||"}},
      {"HPUB foo 2 2\r\nhi\r\n", {"HPUB|foo||hi|"}},
      // Tokens longer than the 8-byte words the argument splitter reads.
      {"PUB bench.subject _INBOX.abcdefghijklmnop.1234 16\r\n0123456789abcdef\r\n",
       {"PUB|bench.subject|_INBOX.abcdefghijklmnop.1234|0123456789abcdef"}},
      {"PUB \t a.b.c.d.e.f.g.h.i \t 0000002\t\r\nhi\r\n", {"PUB|a.b.c.d.e.f.g.h.i||hi"}},
      {"PUB ctl\x01" "byte.\x80\xff 1\r\nx\r\n", {"PUB|ctl\\x01byte.\\x80\\xff||x"}},
      {"hPuB\th.subject\tr\t3\t5\r\nabcde\r\n", {"HPUB|h.subject|r|abc|de"}},
      {"HPUB h.subject _INBOX.reply.with.some.length 12 12\r\nNATS/1.0\r\n\r\n\r\n",
       {"HPUB|h.subject|_INBOX.reply.with.some.length|NATS/1.0\\r\\n\\r\\n|"}},
      {"SUB foo 1\r\n", {"SUB|foo||1"}},
      {"sub foo 1\n", {"SUB|foo||1"}},
      {"SUB\tfoo\t\tq  1\r\n", {"SUB|foo|q|1"}},
      {"SUB foo\r1\r\n", {"SUB|foo||1"}},     // SUB splits on \r too
      {"SUB \nfoo 1\r\n", {"SUB|foo||1"}},    // first argument byte is never a line end
      {"SUB foo 1 \r\n", {"SUB|foo||1"}},
      {"UNSUB 1\r\n", {"UNSUB|1|-"}},
      {"UNSUB 1\t5\r\n", {"UNSUB|1|5"}},
      {"unsub 1  0\r\n", {"UNSUB|1|0"}},
      {"UNSUB 1 abc\r\n", {"UNSUB|1|-"}},       // bad max: unsubscribe now, no error
      {"UNSUB 1 1234567890\r\n", {"UNSUB|1|-"}},  // over 9 digits: same
      {"PING\r\n", {"PING"}},
      {"ping\n", {"PING"}},
      {"PING junk\r\n", {"PING"}},
      {"PINGjunk\n", {"PING"}},
      {"PING" + std::string(100000, 'x') + "\r\n", {"PING"}},  // no limit on junk
      {"PONG\r\n", {"PONG"}},
      {"PONGjunk\n", {"PONG"}},
      {"CONNECT {\"verbose\":false}\r\n", {"CONNECT|{\"verbose\":false}"}},
      {"CONNECT{}\r\n", {"CONNECT|{}"}},
      {"CONNECT  \t {}\r\n", {"CONNECT|{}"}},
      {"CONNECT\n{}\r\n", {"CONNECT|\\n{}"}},
      {"connect {}\n", {"CONNECT|{}"}},
      {"+OK\r\n", {"+OK"}},
      {"+ok" + std::string(5000, 'x') + "\r\n", {"+OK"}},
      {"INFO {}\r\n", {"INFO|{}"}},
      {"HMSG foo 1 2 2\r\n\r\n", {}},  // nats-server quirk: ignored from a client
      {"PUB foo 2\r\nhi\r\nPUB bar 1\r\nx\r\nSUB a 1\r\n",
       {"PUB|foo||hi", "PUB|bar||x", "SUB|a||1"}},
      {"PUB " + std::string(4094, 'a') + " 0\r\n\r\n", {"PUB|" + std::string(4094, 'a') + "||"}},
      {"SUB " + std::string(4094, 'a') + " 1\r\n", {"SUB|" + std::string(4094, 'a') + "||1"}},
      {"UNSUB " + std::string(4096, '1') + "\r\n", {"UNSUB|" + std::string(4096, '1') + "|-"}},
      {"CONNECT {" + std::string(4094, ' ') + "}\r\n",
       {"CONNECT|{" + std::string(4094, ' ') + "}"}},
      {"PUB foo 1048576\r\n" + std::string(1048576, 'p') + "\r\n",
       {"PUB|foo||" + std::string(1048576, 'p')}},
  };
  return cases;
}

/// Rejected inputs. Each closes the connection in nats-server; the -ERR it
/// sends first (if any) is nats_error_text(error).
inline const std::vector<rejected_case>& rejected_client_cases() {
  static const std::vector<rejected_case> cases = {
      {"XYZ\r\n", parse_error::unknown_operation},
      {"\r\n", parse_error::unknown_operation},
      {" PING\r\n", parse_error::unknown_operation},
      {"PUB\r\n", parse_error::unknown_operation},
      {"PUBfoo 2\r\nhi\r\n", parse_error::unknown_operation},
      {"UNSUB\r\n", parse_error::unknown_operation},
      {"PO\r\n", parse_error::unknown_operation},
      {"PINX\r\n", parse_error::unknown_operation},
      {"-ERR\r\n", parse_error::unknown_operation},
      {"MSG foo 1 2\r\nhi\r\n", parse_error::unknown_operation},
      {"+O\r\n", parse_error::unknown_operation},
      {"PUB foo\r\n", parse_error::bad_pub_arguments},
      {"PUB \r\n", parse_error::bad_pub_arguments},
      {"PUB foo bar baz 2\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo x\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo +2\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo -1\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo 1234567890\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo 2\r\r\nhi\r\n", parse_error::bad_pub_arguments},  // size token is "2\r"
      {"HPUB foo 14\r\nNATS/1.0\r\n\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"HPUB foo 15 14\r\nNATS/1.0\r\n\r\nhi\r\n", parse_error::bad_header_size},
      {"HPUB foo x 14\r\nNATS/1.0\r\n\r\nhi\r\n", parse_error::bad_header_size},
      {"HPUB foo 2 x\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"HPUB foo x y\r\nhi\r\n", parse_error::bad_header_size},
      {"HPUB foo bar baz 2 2\r\nhi\r\n", parse_error::bad_pub_arguments},
      {"PUB foo 1048577\r\n", parse_error::max_payload},
      {"PUB foo 999999999\r\n", parse_error::max_payload},
      {"HPUB foo 2 2000000\r\n", parse_error::max_payload},
      {"PUB foo 2\r\nhiX\r\n", parse_error::bad_payload_end},
      {"PUB foo 2\r\nhi\n", parse_error::bad_payload_end},
      {"PUB foo 2\r\nhi\r\r", parse_error::bad_payload_end},
      {"PUB foo 2\r\nhi\rX", parse_error::bad_payload_end},
      {"HMSG foo 1 2 2\r\nab\r\n", parse_error::bad_payload_end},
      {"SUB foo\r\n", parse_error::bad_sub_arguments},
      {"SUB \r\n", parse_error::bad_sub_arguments},
      {"SUB foo q 1 x\r\n", parse_error::bad_sub_arguments},
      {"UNSUB 1 2 3\r\n", parse_error::bad_unsub_arguments},
      {"UNSUB \r\n", parse_error::bad_unsub_arguments},
      {"-ERR 'x'\r\n", parse_error::client_sent_err},
      {"PUB " + std::string(4095, 'a') + " 0\r\n\r\n", parse_error::max_control_line},
      {"SUB " + std::string(4095, 'a') + " 1\r\n", parse_error::max_control_line},
      {"UNSUB " + std::string(4097, '1') + "\r\n", parse_error::max_control_line},
      {"CONNECT {" + std::string(4095, ' ') + "}\r\n", parse_error::max_control_line},
      {"INFO " + std::string(5000, 'x') + "\r\n", parse_error::max_control_line},
      {"HMSG " + std::string(4097, '1') + "\r\n\r\n", parse_error::max_control_line},
      {"-ERR " + std::string(4097, 'e') + "\r\n", parse_error::max_control_line},
  };
  return cases;
}

}  // namespace courier::protocol::testing
