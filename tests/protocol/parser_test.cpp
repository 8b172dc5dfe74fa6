#include "protocol/parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "client_cases.hpp"
#include "parser_test_support.hpp"

namespace courier::protocol {
namespace {

using testing::accepted_client_cases;
using testing::client_recorder;
using testing::escape;
using testing::parse_pieces;
using testing::rejected_client_cases;
using testing::server_recorder;

std::vector<std::string> client_ops(std::string_view input, std::vector<std::size_t> cuts = {},
                                    parser_limits limits = {}) {
  return parse_pieces<client_parser, client_recorder>(input, cuts, limits);
}

std::vector<std::string> server_ops(std::string_view input, std::vector<std::size_t> cuts = {},
                                    parser_limits limits = {}) {
  return parse_pieces<server_parser, server_recorder>(input, cuts, limits);
}

std::vector<std::size_t> every_byte(std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < size; ++i) cuts.push_back(i);
  return cuts;
}

// A session using every client op, with split-prone content: a payload holding
// CRLFs and protocol-looking text, headers, odd whitespace and case.
/// The same ops come out wherever the input is cut once.
void expect_same_ops_split_at_every_offset(const std::string& input, const std::vector<std::string>& ops) {
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    ASSERT_EQ(client_ops(input, {cut}), ops) << "cut at " << cut;
  }
}

/// The same ops come out wherever the input is cut twice (the second cut
/// every `step` bytes after the first).
void expect_same_ops_split_at_pairs_of_offsets(const std::string& input, const std::vector<std::string>& ops,
                                               std::size_t step) {
  for (std::size_t a = 1; a < input.size(); ++a) {
    for (std::size_t b = a; b < input.size(); b += step) {
      ASSERT_EQ(client_ops(input, {a, b}), ops) << "cuts " << a << "," << b;
    }
  }
}

const std::string client_session =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n"
    "PING\r\n"
    "SUB foo.* 1\r\n"
    "sub\tbar  workers\t2\r\n"
    "PUB foo.a 5\r\nhello\r\n"
    "PUB foo.b _INBOX.x 12\r\nPUB x 1\r\n\r\nz\r\n"
    "HPUB foo.c 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nworld\r\n"
    "hpub foo.d rep 12 12\r\nNATS/1.0\r\n\r\n\r\n"
    "PUB empty 0\r\n\r\n"
    "UNSUB 1 10\r\n"
    "unsub 2\r\n"
    "PONGxyz\r\n"
    "+OK\r\n"
    "INFO {}\r\n";

const std::vector<std::string> client_session_ops = {
    "CONNECT|{\"verbose\":false,\"pedantic\":false,\"headers\":true}",
    "PING",
    "SUB|foo.*||1",
    "SUB|bar|workers|2",
    "PUB|foo.a||hello",
    "PUB|foo.b|_INBOX.x|PUB x 1\\r\\n\\r\\nz",
    "HPUB|foo.c||NATS/1.0\\r\\nA: b\\r\\nC: d\\r\\n\\r\\n|world",
    "HPUB|foo.d|rep|NATS/1.0\\r\\n\\r\\n|",
    "PUB|empty||",
    "UNSUB|1|10",
    "UNSUB|2|-",
    "PONG",
    "+OK",
    "INFO|{}",
};

TEST(client_parser, session_fed_at_once) {
  EXPECT_EQ(client_ops(client_session), client_session_ops);
}

TEST(client_parser, session_split_at_every_offset) {
  expect_same_ops_split_at_every_offset(client_session, client_session_ops);
}

TEST(client_parser, session_split_at_every_pair_of_offsets) {
  expect_same_ops_split_at_pairs_of_offsets(client_session, client_session_ops, 3);
}

TEST(client_parser, session_byte_at_a_time) {
  EXPECT_EQ(client_ops(client_session, every_byte(client_session.size())), client_session_ops);
}

TEST(client_parser, session_random_chunks) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    std::size_t at = 0;
    while (true) {
      at += std::uniform_int_distribution<std::size_t>(1, 40)(rng);
      if (at >= client_session.size()) break;
      cuts.push_back(at);
    }
    ASSERT_EQ(client_ops(client_session, cuts), client_session_ops) << "round " << round;
  }
}

TEST(client_parser, accepted_table) {
  for (const auto& c : accepted_client_cases()) {
    EXPECT_EQ(client_ops(c.input), c.ops) << escape(c.input.substr(0, 80));
  }
}

TEST(client_parser, accepted_table_split_everywhere) {
  for (const auto& c : accepted_client_cases()) {
    if (c.input.size() > 5000) {
      // Long inputs: a few cuts near each end and the middle.
      for (std::size_t cut : {std::size_t{1}, std::size_t{4}, std::size_t{5}, c.input.size() / 2,
                              c.input.size() - 3, c.input.size() - 2, c.input.size() - 1}) {
        ASSERT_EQ(client_ops(c.input, {cut}), c.ops) << escape(c.input.substr(0, 40)) << " cut " << cut;
      }
      continue;
    }
    for (std::size_t cut = 0; cut <= c.input.size(); ++cut) {
      ASSERT_EQ(client_ops(c.input, {cut}), c.ops) << escape(c.input.substr(0, 80)) << " cut " << cut;
    }
    ASSERT_EQ(client_ops(c.input, every_byte(c.input.size())), c.ops) << escape(c.input.substr(0, 80));
  }
}

TEST(client_parser, rejected_table) {
  for (const auto& c : rejected_client_cases()) {
    const std::string expected = "ERROR|" + std::string(to_string(c.error));
    // Ops before the bad one are still reported; nothing after it is.
    const auto ops = client_ops("PING\r\n" + c.input + "PING\r\n");
    ASSERT_EQ(ops.size(), 2u) << escape(c.input.substr(0, 80));
    EXPECT_EQ(ops[0], "PING");
    EXPECT_EQ(ops[1], expected) << escape(c.input.substr(0, 80));
  }
}

TEST(client_parser, rejected_table_split_everywhere) {
  for (const auto& c : rejected_client_cases()) {
    const std::string expected = "ERROR|" + std::string(to_string(c.error));
    const std::string input = c.input + "PING\r\n";
    const std::size_t step = input.size() > 1000 ? 97 : 1;
    for (std::size_t cut = 0; cut <= input.size(); cut += step) {
      const auto ops = client_ops(input, {cut});
      ASSERT_EQ(ops, std::vector<std::string>{expected}) << escape(c.input.substr(0, 80)) << " cut " << cut;
    }
  }
}

TEST(client_parser, error_texts_match_nats_server) {
  EXPECT_EQ(nats_error_text(parse_error::unknown_operation), "Unknown Protocol Operation");
  EXPECT_EQ(nats_error_text(parse_error::bad_payload_end), "Unknown Protocol Operation");
  EXPECT_EQ(nats_error_text(parse_error::max_control_line), "maximum control line exceeded");
  EXPECT_EQ(nats_error_text(parse_error::max_payload), "Maximum Payload Violation");
  EXPECT_EQ(nats_error_text(parse_error::auth_violation), "Authorization Violation");
  EXPECT_TRUE(nats_error_text(parse_error::bad_sub_arguments).empty());
  EXPECT_TRUE(nats_error_text(parse_error::client_sent_err).empty());
}

TEST(client_parser, failed_parser_ignores_later_input) {
  client_parser<client_recorder> parser;
  client_recorder recorder;
  const std::string bad = "XYZ\r\n";
  EXPECT_EQ(parser.feed(bad.data(), bad.size(), recorder), 0u);  // the X is the error
  EXPECT_TRUE(parser.failed());
  EXPECT_FALSE(parser.idle());
  const std::string good = "PING\r\n";
  EXPECT_EQ(parser.feed(good.data(), good.size(), recorder), 0u);
  EXPECT_EQ(recorder.ops, std::vector<std::string>{"ERROR|unknown_operation"});
  EXPECT_EQ(recorder.last_snippet, "XYZ\r\n");
  parser.reset();
  EXPECT_FALSE(parser.failed());
  EXPECT_EQ(parser.feed(good.data(), good.size(), recorder), good.size());
  EXPECT_EQ(recorder.ops.back(), "PING");
}

TEST(client_parser, stop_from_callback_and_resume) {
  const std::string input = "PING\r\nPUB a 1\r\nx\r\nSUB b 1\r\nPONG\r\n";
  for (std::size_t stop = 0; stop < 4; ++stop) {
    client_parser<client_recorder> parser;
    client_recorder recorder;
    recorder.stop_after = stop;
    const std::size_t consumed = parser.feed(input.data(), input.size(), recorder);
    ASSERT_EQ(recorder.ops.size(), stop + 1);
    EXPECT_TRUE(parser.idle());
    const std::size_t op_ends[] = {6, 18, 27, 33};
    EXPECT_EQ(consumed, op_ends[stop]);
    recorder.stop_after.reset();
    EXPECT_EQ(parser.feed(input.data() + consumed, input.size() - consumed, recorder),
              input.size() - consumed);
    EXPECT_EQ(recorder.ops,
              (std::vector<std::string>{"PING", "PUB|a||x", "SUB|b||1", "PONG"}));
  }
}

TEST(client_parser, views_point_into_fed_buffer_when_not_split) {
  struct checker : testing::minimal_client_handler {
    const char* begin = nullptr;
    const char* end = nullptr;
    bool inside(std::string_view v) const { return v.data() >= begin && v.data() + v.size() <= end; }
    bool all_inside = true;
    bool on_pub(std::string_view s, std::string_view r, std::string_view p) {
      all_inside = all_inside && inside(s) && inside(r.empty() ? s : r) && inside(p);
      return true;
    }
    bool on_sub(std::string_view s, std::string_view q, std::string_view id) {
      all_inside = all_inside && inside(s) && inside(q.empty() ? s : q) && inside(id);
      return true;
    }
  };
  const std::string input = "PUB a r 3\r\nabc\r\nSUB a q 1\r\n";
  client_parser<checker> parser;
  checker h;
  h.begin = input.data();
  h.end = input.data() + input.size();
  parser.feed(input.data(), input.size(), h);
  EXPECT_TRUE(h.all_inside);
  EXPECT_EQ(parser.scratch_capacity(), 0u);  // nothing was copied
}

TEST(client_parser, size_text_as_sent_during_callback) {
  struct handler : testing::minimal_client_handler {
    client_parser<handler>* parser = nullptr;
    std::vector<std::string> seen;
    bool on_pub(std::string_view, std::string_view, std::string_view) {
      seen.push_back(std::string(parser->size_text()) + "/" + std::string(parser->header_size_text()));
      return true;
    }
    bool on_hpub(std::string_view, std::string_view, std::string_view, std::string_view) {
      seen.push_back(std::string(parser->size_text()) + "/" + std::string(parser->header_size_text()));
      return true;
    }
  };
  const std::string input = "PUB a 002\r\nhi\r\nHPUB a 0012 014\r\nNATS/1.0\r\n\r\nhi\r\nPUB b 1\r\nx\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    client_parser<handler> parser;
    handler h;
    h.parser = &parser;
    parser.feed(input.data(), cut, h);
    parser.feed(input.data() + cut, input.size() - cut, h);
    ASSERT_EQ(h.seen, (std::vector<std::string>{"002/", "014/0012", "1/"})) << cut;
    EXPECT_TRUE(parser.size_text().empty());
  }
}

TEST(client_parser, optional_callbacks_may_be_absent) {
  client_parser<testing::minimal_client_handler> parser;
  testing::minimal_client_handler h;
  const std::string input = "INFO {}\r\n+OK\r\nPING\r\n";
  EXPECT_EQ(parser.feed(input.data(), input.size(), h), input.size());
  EXPECT_EQ(h.count, 1u);
}

TEST(client_parser, control_line_limit_boundary) {
  parser_limits limits;
  limits.max_control_line = 10;
  // "a 12345678" is 10 bytes of arguments: allowed; one more byte is not.
  EXPECT_EQ(client_ops("SUB a 12345678\r\n", {}, limits), std::vector<std::string>{"SUB|a||12345678"});
  EXPECT_EQ(client_ops("SUB a 123456789\r\n", {}, limits),
            std::vector<std::string>{"ERROR|max_control_line"});
  // Without \r the line end is just \n and the same count applies.
  EXPECT_EQ(client_ops("SUB a 12345678\n", {}, limits), std::vector<std::string>{"SUB|a||12345678"});
  // Spaces after the verb do not count.
  EXPECT_EQ(client_ops("SUB      a 12345678\r\n", {}, limits),
            std::vector<std::string>{"SUB|a||12345678"});
  // Split right before and after the \r.
  for (std::size_t cut = 1; cut < 16; ++cut) {
    EXPECT_EQ(client_ops("SUB a 12345678\r\n", {cut}, limits),
              std::vector<std::string>{"SUB|a||12345678"}) << cut;
    EXPECT_EQ(client_ops("SUB a 123456789\r\n", {cut}, limits),
              std::vector<std::string>{"ERROR|max_control_line"}) << cut;
  }
}

TEST(client_parser, control_line_limit_stops_buffering_early) {
  // A line with no end in sight fails as soon as it is over the limit, without
  // waiting for (or buffering) the rest.
  client_parser<client_recorder> parser;
  client_recorder recorder;
  const std::string head = "PUB ";
  parser.feed(head.data(), head.size(), recorder);
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 4; ++i) parser.feed(chunk.data(), chunk.size(), recorder);
  EXPECT_FALSE(parser.failed());
  EXPECT_LE(parser.scratch_capacity(), 8192u);
  parser.feed(chunk.data(), chunk.size(), recorder);
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(recorder.ops, std::vector<std::string>{"ERROR|max_control_line"});
}

TEST(client_parser, ping_junk_is_never_buffered) {
  client_parser<client_recorder> parser;
  client_recorder recorder;
  const std::string head = "PING";
  parser.feed(head.data(), head.size(), recorder);
  const std::string junk(100000, 'j');
  for (int i = 0; i < 20; ++i) parser.feed(junk.data(), junk.size(), recorder);
  EXPECT_EQ(parser.scratch_capacity(), 0u);
  EXPECT_FALSE(parser.idle());
  parser.feed("\n", 1, recorder);
  EXPECT_TRUE(parser.idle());
  EXPECT_EQ(recorder.ops, std::vector<std::string>{"PING"});
}

TEST(client_parser, max_payload_checked_before_payload) {
  parser_limits limits;
  limits.max_payload = 5;
  EXPECT_EQ(client_ops("PUB a 5\r\nhello\r\n", {}, limits), std::vector<std::string>{"PUB|a||hello"});
  // Fails on the line alone: the payload never has to arrive.
  EXPECT_EQ(client_ops("PUB a 6\r\n", {}, limits), std::vector<std::string>{"ERROR|max_payload"});
  EXPECT_EQ(client_ops("HPUB a 2 6\r\n", {}, limits), std::vector<std::string>{"ERROR|max_payload"});
  // Header size over total is reported first, as nats-server does.
  EXPECT_EQ(client_ops("HPUB a 7 6\r\n", {}, limits), std::vector<std::string>{"ERROR|bad_header_size"});
  limits.max_payload = -1;
  EXPECT_EQ(client_ops("PUB a 999999999\r\n", {}, limits), std::vector<std::string>{});
  limits.max_payload = 0;
  EXPECT_EQ(client_ops("PUB a 0\r\n\r\n", {}, limits), std::vector<std::string>{"PUB|a||"});
}

TEST(client_parser, set_limits_applies_to_next_line) {
  client_parser<client_recorder> parser;
  client_recorder recorder;
  const std::string first = "PUB a 3\r\nab";
  parser.feed(first.data(), first.size(), recorder);
  parser.set_limits({4096, 1});  // the PUB in flight was already accepted
  const std::string rest = "c\r\nPUB b 2\r\n";
  parser.feed(rest.data(), rest.size(), recorder);
  EXPECT_EQ(recorder.ops, (std::vector<std::string>{"PUB|a||abc", "ERROR|max_payload"}));
}

TEST(client_parser, large_split_payload_and_memory_release) {
  const std::string payload(1024 * 1024, 'q');
  const std::string input = "PUB big 1048576\r\n" + payload + "\r\n";
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    client_parser<client_recorder> parser;
    client_recorder recorder;
    std::size_t at = 0;
    while (at < input.size()) {
      const std::size_t n =
          std::min(input.size() - at, std::uniform_int_distribution<std::size_t>(1, 70000)(rng));
      ASSERT_EQ(parser.feed(input.data() + at, n, recorder), n);
      at += n;
    }
    ASSERT_EQ(recorder.ops.size(), 1u);
    EXPECT_EQ(recorder.ops[0], "PUB|big||" + payload);
    EXPECT_TRUE(parser.idle());
    // Big buffers are not kept after the op.
    EXPECT_LE(parser.scratch_capacity(), 16u * 1024);
  }
}

TEST(client_parser, release_memory_only_when_idle) {
  client_parser<client_recorder> parser;
  client_recorder recorder;
  const std::string part = "PUB a 10\r\n01234";
  parser.feed(part.data(), part.size(), recorder);
  EXPECT_FALSE(parser.idle());
  EXPECT_GT(parser.scratch_capacity(), 0u);
  parser.release_memory();  // not idle: must keep the partial op
  const std::string rest = "56789\r\nSUB x 1\r";
  parser.feed(rest.data(), rest.size(), recorder);
  EXPECT_FALSE(parser.idle());
  parser.feed("\n", 1, recorder);
  EXPECT_TRUE(parser.idle());
  EXPECT_GT(parser.scratch_capacity(), 0u);
  parser.release_memory();
  EXPECT_EQ(parser.scratch_capacity(), 0u);
  EXPECT_EQ(recorder.ops, (std::vector<std::string>{"PUB|a||0123456789", "SUB|x||1"}));
}

TEST(client_parser, awaiting_connect) {
  struct handler : client_recorder {
    client_parser<handler>* parser = nullptr;
    bool on_connect(std::string_view json) {
      if (json == "{\"user\":\"ok\"}") parser->set_awaiting_connect(false);
      return client_recorder::on_connect(json);
    }
  };
  for (const std::string first : {"PING\r\n", "SUB a 1\r\n", "XYZ\r\n", "\r\n"}) {
    client_parser<handler> parser;
    handler h;
    h.parser = &parser;
    parser.set_awaiting_connect(true);
    parser.feed(first.data(), first.size(), h);
    EXPECT_EQ(h.ops, std::vector<std::string>{"ERROR|auth_violation"}) << escape(first);
  }
  client_parser<handler> parser;
  handler h;
  h.parser = &parser;
  parser.set_awaiting_connect(true);
  const std::string input = "CONNECT {\"user\":\"ok\"}\r\nPING\r\n";
  parser.feed(input.data(), input.size(), h);
  EXPECT_EQ(h.ops, (std::vector<std::string>{"CONNECT|{\"user\":\"ok\"}", "PING"}));
  // A CONNECT that does not lift the flag leaves the next op rejected.
  client_parser<handler> parser2;
  handler h2;
  h2.parser = &parser2;
  parser2.set_awaiting_connect(true);
  const std::string input2 = "CONNECT {}\r\nPING\r\n";
  parser2.feed(input2.data(), input2.size(), h2);
  EXPECT_EQ(h2.ops, (std::vector<std::string>{"CONNECT|{}", "ERROR|auth_violation"}));
}

TEST(client_parser, headers_not_supported) {
  client_parser<client_recorder> parser;
  client_recorder recorder;
  parser.set_headers_supported(false);
  const std::string input = "PUB a 1\r\nx\r\nHPUB a 2 2\r\nhi\r\n";
  parser.feed(input.data(), input.size(), recorder);
  EXPECT_EQ(recorder.ops, (std::vector<std::string>{"PUB|a||x", "ERROR|headers_not_supported"}));
}

TEST(client_parser, stray_cr_in_arguments_drops_last_byte) {
  // nats-server: any \r after the first argument byte makes it drop the byte
  // before \n, whatever it is. Same result however the line is split.
  const std::string input = "SUB a\rb 12\n";
  const std::vector<std::string> expected = {"SUB|a|b|1"};
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(client_ops(input, {cut}), expected) << cut;
  }
}

// ---- PUB/HPUB taken whole -----------------------------------------------------
//
// A PUB/HPUB whose line and payload are all in one fed buffer is parsed in one
// pass (try_whole_pubs); any other, and any error, goes through the state
// machine. Feeding these inputs at once and cut at every offset compares the
// two paths.

const std::string pub_session =
    "PUB bench.subject 16\r\n0123456789abcdef\r\n"
    "PUB bench.subject _INBOX.abcdefghijklmnop.1234 16\r\n0123456789abcdef\r\n"
    "pub a\tr\t1\r\nx\r\n"
    "PUB  a  r  1  \r\nx\r\n"
    "PUB\ttab.after.verb 1\r\nx\r\n"
    "PUB \t a.b.c.d.e.f.g.h.i \t 0000002\t\r\nhi\r\n"
    "PUB cr\rin.subject re\rply 1\r\nx\r\n"
    "PUB bare.newline 1\nx\r\n"
    "PUB cr\relsewhere 12\nx\r\n"
    "PUB ctl\x01" "byte.\x80\xff 1\r\nx\r\n"
    "PUB exactly8 1\r\nx\r\n"
    "PUB a 0\r\n\r\n"
    "HPUB h.subject 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "HPUB h.subject _INBOX.reply.with.some.length 12 12\r\nNATS/1.0\r\n\r\n\r\n"
    "hPuB\th\tr\t3\t5\r\nabcde\r\n"
    "HPUB  h  3  5  \r\nabcde\r\n"
    "HPUB h 0 0\r\n\r\n"
    "PING\r\n";

const std::vector<std::string> pub_session_ops = {
    "PUB|bench.subject||0123456789abcdef",
    "PUB|bench.subject|_INBOX.abcdefghijklmnop.1234|0123456789abcdef",
    "PUB|a|r|x",
    "PUB|a|r|x",
    "PUB|tab.after.verb||x",
    "PUB|a.b.c.d.e.f.g.h.i||hi",
    "PUB|cr\\rin.subject|re\\rply|x",
    "PUB|bare.newline||x",
    // A \r anywhere in the line drops the byte before \n (nats-server): "12" is "1".
    "PUB|cr\\relsewhere||x",
    "PUB|ctl\\x01byte.\\x80\\xff||x",
    "PUB|exactly8||x",
    "PUB|a||",
    "HPUB|h.subject||NATS/1.0\\r\\n\\r\\n|hi",
    "HPUB|h.subject|_INBOX.reply.with.some.length|NATS/1.0\\r\\n\\r\\n|",
    "HPUB|h|r|abc|de",
    "HPUB|h||abc|de",
    "HPUB|h|||",
    "PING",
};

TEST(client_parser, whole_pubs_fed_at_once) { EXPECT_EQ(client_ops(pub_session), pub_session_ops); }

TEST(client_parser, whole_pubs_split_at_every_offset) {
  expect_same_ops_split_at_every_offset(pub_session, pub_session_ops);
}

TEST(client_parser, whole_pubs_split_at_every_pair_of_offsets) {
  expect_same_ops_split_at_pairs_of_offsets(pub_session, pub_session_ops, 5);
}

TEST(client_parser, whole_pubs_byte_at_a_time) {
  EXPECT_EQ(client_ops(pub_session, every_byte(pub_session.size())), pub_session_ops);
}

TEST(client_parser, whole_pubs_views_point_into_fed_buffer) {
  struct checker : testing::minimal_client_handler {
    const char* begin = nullptr;
    const char* end = nullptr;
    bool inside(std::string_view v) const { return v.data() >= begin && v.data() + v.size() <= end; }
    bool all_inside = true;
    bool on_pub(std::string_view s, std::string_view r, std::string_view p) {
      all_inside = all_inside && inside(s) && (r.empty() || inside(r)) && inside(p);
      return ++count, true;
    }
    bool on_hpub(std::string_view s, std::string_view r, std::string_view h, std::string_view p) {
      all_inside = all_inside && inside(s) && (r.empty() || inside(r)) && inside(h) && inside(p);
      return ++count, true;
    }
  };
  client_parser<checker> parser;
  checker h;
  h.begin = pub_session.data();
  h.end = pub_session.data() + pub_session.size();
  EXPECT_EQ(parser.feed(pub_session.data(), pub_session.size(), h), pub_session.size());
  EXPECT_TRUE(h.all_inside);
  EXPECT_EQ(h.count, pub_session_ops.size());
  EXPECT_EQ(parser.scratch_capacity(), 0u);  // nothing was copied
}

TEST(client_parser, whole_pubs_rejected_like_the_state_machine) {
  // Each bad line is complete and followed by enough bytes for the one-pass
  // path to look at it; the error must be the state machine's.
  const std::vector<std::pair<std::string, parse_error>> cases = {
      {"PUB a\r\nxxxxxxxxxxx\r\n", parse_error::bad_pub_arguments},
      {"PUB a r s 1\r\nx\r\n", parse_error::bad_pub_arguments},
      {"PUB a 1\r\r\nx\r\n", parse_error::bad_pub_arguments},
      {"PUB a 1234567890\r\nx\r\n", parse_error::bad_pub_arguments},
      {"PUB a 2\r\nxyz\r\n", parse_error::bad_payload_end},
      {"PUB a 1\r\nx\n\r\nPING\r\n", parse_error::bad_payload_end},
      {"PUB a 1048577\r\n" + std::string(20, 'x'), parse_error::max_payload},
      {"HPUB a 1\r\nx\r\nPING\r\n", parse_error::bad_pub_arguments},
      {"HPUB a 3 2\r\nxy\r\nPING\r\n", parse_error::bad_header_size},
      {"HPUB a x 2\r\nxy\r\nPING\r\n", parse_error::bad_header_size},
      {"HPUB a x y\r\nxy\r\nPING\r\n", parse_error::bad_header_size},
      {"HPUB a 1 y\r\nxy\r\nPING\r\n", parse_error::bad_pub_arguments},
      {"HPUB a r s 1 2\r\nxy\r\nPING\r\n", parse_error::bad_pub_arguments},
      {"PUB " + std::string(4095, 'a') + " 1\r\nx\r\n", parse_error::max_control_line},
  };
  for (const auto& [input, error] : cases) {
    const std::vector<std::string> expected = {"PUB|ok||x", "ERROR|" + std::string(to_string(error))};
    const std::string wire = "PUB ok 1\r\nx\r\n" + input;
    ASSERT_EQ(client_ops(wire), expected) << escape(input.substr(0, 60));
    for (std::size_t cut = 0; cut <= wire.size(); cut += wire.size() > 200 ? 61 : 1) {
      ASSERT_EQ(client_ops(wire, {cut}), expected) << escape(input.substr(0, 60)) << " cut " << cut;
    }
  }
}

TEST(client_parser, whole_pubs_see_settings_changed_by_a_callback) {
  // Callbacks may change the parser's settings; the next op in the same buffer
  // must see them, as it would in the state machine.
  struct handler : client_recorder {
    client_parser<handler>* parser = nullptr;
    bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload) {
      if (subject == "headers.off") parser->set_headers_supported(false);
      if (subject == "limit") parser->set_limits({4096, 1});
      if (subject == "auth") parser->set_awaiting_connect(true);
      return client_recorder::on_pub(subject, reply, payload);
    }
  };
  const auto run = [](const std::string& input) {
    client_parser<handler> parser;
    handler h;
    h.parser = &parser;
    parser.feed(input.data(), input.size(), h);
    return h.ops;
  };
  EXPECT_EQ(run("PUB headers.off 1\r\nx\r\nHPUB a 2 2\r\nhi\r\nPING\r\n"),
            (std::vector<std::string>{"PUB|headers.off||x", "ERROR|headers_not_supported"}));
  EXPECT_EQ(run("PUB limit 1\r\nx\r\nPUB a 1\r\nx\r\nPUB b 2\r\nxy\r\n"),
            (std::vector<std::string>{"PUB|limit||x", "PUB|a||x", "ERROR|max_payload"}));
  EXPECT_EQ(run("PUB auth 1\r\nx\r\nPUB a 1\r\nx\r\nPING\r\n"),
            (std::vector<std::string>{"PUB|auth||x", "ERROR|auth_violation"}));
}

TEST(client_parser, whole_pubs_stop_after_each_and_resume) {
  const std::string input =
      "PUB a 1\r\nx\r\nPUB b r 2\r\nxy\r\nHPUB c 2 3\r\nhiz\r\nPUB d 0\r\n\r\nPING\r\n";
  const std::vector<std::string> all = {"PUB|a||x", "PUB|b|r|xy", "HPUB|c||hi|z", "PUB|d||", "PING"};
  const std::size_t op_ends[] = {12, 27, 44, 55, 61};
  for (std::size_t stop = 0; stop < all.size(); ++stop) {
    client_parser<client_recorder> parser;
    client_recorder recorder;
    recorder.stop_after = stop;
    const std::size_t consumed = parser.feed(input.data(), input.size(), recorder);
    ASSERT_EQ(recorder.ops.size(), stop + 1);
    EXPECT_TRUE(parser.idle());
    EXPECT_EQ(consumed, op_ends[stop]);
    recorder.stop_after.reset();
    EXPECT_EQ(parser.feed(input.data() + consumed, input.size() - consumed, recorder),
              input.size() - consumed);
    EXPECT_EQ(recorder.ops, all);
  }
}

// ---- server_parser ---------------------------------------------------------

const std::string server_session =
    "INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n"
    "+OK\r\n"
    "PING\r\n"
    "MSG foo.a 1 5\r\nhello\r\n"
    "MSG foo.b 22 _INBOX.r 7\r\nMSG x\r\n\r\n"
    "HMSG foo.c 3 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nworld\r\n"
    "hmsg foo.d 4 rep 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "msg\tempty\t5  0\r\n\r\n"
    "-ERR 'Authorization Violation'\r\n"
    "-err  Stale Connection \r\n"
    "PONG\r\n";

const std::vector<std::string> server_session_ops = {
    "INFO|{\"server_id\":\"x\",\"max_payload\":1048576} ",
    "+OK",
    "PING",
    "MSG|foo.a|1||hello",
    "MSG|foo.b|22|_INBOX.r|MSG x\\r\\n",
    "HMSG|foo.c|3||NATS/1.0\\r\\nA: b\\r\\nC: d\\r\\n\\r\\n|world",
    "HMSG|foo.d|4|rep|NATS/1.0 503\\r\\n\\r\\n|",
    "MSG|empty|5||",
    "-ERR|Authorization Violation",
    "-ERR|Stale Connection",
    "PONG",
};

TEST(server_parser, session_fed_at_once) { EXPECT_EQ(server_ops(server_session), server_session_ops); }

TEST(server_parser, session_split_at_every_offset) {
  for (std::size_t cut = 0; cut <= server_session.size(); ++cut) {
    ASSERT_EQ(server_ops(server_session, {cut}), server_session_ops) << "cut at " << cut;
  }
}

TEST(server_parser, session_byte_at_a_time) {
  EXPECT_EQ(server_ops(server_session, every_byte(server_session.size())), server_session_ops);
}

TEST(server_parser, rejected) {
  const std::vector<std::pair<std::string, parse_error>> cases = {
      {"PUB a 1\r\nx\r\n", parse_error::unknown_operation},
      {"SUB a 1\r\n", parse_error::unknown_operation},
      {"CONNECT {}\r\n", parse_error::unknown_operation},
      {"HPUB a 1 1\r\nx\r\n", parse_error::unknown_operation},
      {"MSG a 1\r\n", parse_error::bad_pub_arguments},
      {"MSG a 1 r x 2\r\n", parse_error::bad_pub_arguments},
      {"MSG a 1 x\r\n", parse_error::bad_pub_arguments},
      {"HMSG a 1 5 4\r\n", parse_error::bad_header_size},
      {"HMSG a 1 x 4\r\n", parse_error::bad_header_size},
      {"HMSG a 1 4\r\n", parse_error::bad_pub_arguments},
      {"MSG a 1 2\r\nabc\r\n", parse_error::bad_payload_end},
      {"MSG a 1 2000000\r\n", parse_error::max_payload},
      {"INFO " + std::string(5000, 'i') + "\r\n", parse_error::max_control_line},
  };
  for (const auto& [input, error] : cases) {
    EXPECT_EQ(server_ops(input), std::vector<std::string>{"ERROR|" + std::string(to_string(error))})
        << escape(input.substr(0, 60));
  }
}

TEST(server_parser, long_sizes_when_unlimited) {
  parser_limits limits;
  limits.max_payload = -1;
  limits.max_control_line = 1 << 20;
  EXPECT_EQ(server_ops("MSG a 1 0000000000003\r\nabc\r\n", {}, limits),
            std::vector<std::string>{"MSG|a|1||abc"});
  const std::string big_info = "INFO {" + std::string(100000, ' ') + "}\r\n";
  EXPECT_EQ(server_ops(big_info, {50000}, limits),
            std::vector<std::string>{"INFO|{" + std::string(100000, ' ') + "}"});
}

}  // namespace
}  // namespace courier::protocol
