// Checks the accepted/rejected tables of client_cases.hpp against a running
// nats-server (the reference, 2.9.10; COURIER_NATS_SERVER from CMake), so that what parser_test.cpp
// expects of our parser is what nats-server really does. The server's
// replies are read with our own server_parser, which checks that side too.
// Fails when nats-server is not installed: CMake requires it.
#include "protocol/parser.hpp"
#include "protocol/encoder.hpp"
#include "protocol/subject.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "client_cases.hpp"
#include "parser_test_support.hpp"
#include "tests/free_port.hpp"
#include "tests/spawn.hpp"

namespace courier::protocol {
namespace {

using testing::escape;

int free_port() { return courier::test::free_port(); }

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// The reference server, its log sent to /dev/null.
courier::test::spawn_options quiet_server() {
  courier::test::spawn_options options;
  options.quiet = true;
  return options;
}

/// What the server said on one connection, parsed by server_parser.
struct session_result {
  testing::server_recorder replies;
  bool closed = false;
  bool saw_pong = false;
  std::string raw;  ///< every byte received, INFO included
};

class nats_server_conformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    port_ = free_port();
    pid_ = courier::test::spawn({COURIER_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(port_)},
                                quiet_server());
    for (int i = 0; i < 100; ++i) {
      const int fd = connect_to(port_);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void SetUp() override {
    ASSERT_GT(pid_, 0) << COURIER_NATS_SERVER << " did not start";
  }

  /// Sends CONNECT + SUB > + input + PING and reads until PONG, close or timeout.
  static session_result run(const std::string& input, bool pedantic = false) {
    session_result result;
    const int fd = connect_to(port_);
    if (fd < 0) {
      ADD_FAILURE() << "cannot connect";
      return result;
    }
    server_parser<testing::server_recorder> parser({1 << 20, -1});
    const std::string prologue =
        std::string("CONNECT {\"verbose\":false,\"pedantic\":") + (pedantic ? "true" : "false") +
        ",\"headers\":true,\"protocol\":1}\r\n"
        "SUB > 99999\r\n";
    const std::string all = prologue + input + "PING\r\n";
    // Write from a helper thread: a large input could otherwise fill both
    // socket buffers while we are not reading.
    std::thread writer([&] {
      std::size_t at = 0;
      while (at < all.size()) {
        const ssize_t n = ::send(fd, all.data() + at, all.size() - at, MSG_NOSIGNAL);
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buffer[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        result.closed = true;
        break;
      }
      result.raw.append(buffer, static_cast<std::size_t>(n));
      parser.feed(buffer, static_cast<std::size_t>(n), result.replies);
      const auto& ops = result.replies.ops;
      if (!ops.empty() && ops.back() == "PONG") {
        result.saw_pong = true;
        break;
      }
    }
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
    return result;
  }

  static inline int port_ = 0;
  static inline pid_t pid_ = -1;
};

/// The reply expected for a PUB/HPUB op our parser reported (sid 99999).
std::string expected_delivery(const std::string& op) {
  // op is "PUB|subject|reply|payload" or "HPUB|subject|reply|headers|payload"
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = op.find('|', start);
    fields.push_back(op.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  if (fields[0] == "PUB") return "MSG|" + fields[1] + "|99999|" + fields[2] + "|" + fields[3];
  // nats-server delivers an HPUB with an empty header block as a plain MSG.
  if (fields[3].empty()) return "MSG|" + fields[1] + "|99999|" + fields[2] + "|" + fields[4];
  return "HMSG|" + fields[1] + "|99999|" + fields[2] + "|" + fields[3] + "|" + fields[4];
}

TEST_F(nats_server_conformance, accepted_inputs_keep_the_connection_open) {
  for (const auto& c : testing::accepted_client_cases()) {
    const session_result result = run(c.input);
    const std::string label = escape(c.input.substr(0, 60));
    EXPECT_TRUE(result.saw_pong) << label;
    EXPECT_FALSE(result.closed) << label;
    // Every PUB/HPUB the parser reports is delivered by nats-server with the
    // same subject, reply, headers and payload.
    std::vector<std::string> expected;
    for (const auto& op : c.ops) {
      if (op.rfind("PUB|", 0) == 0 || op.rfind("HPUB|", 0) == 0) {
        // A subject holding \r is split differently by a client reader.
        if (op.find("\\r|") != std::string::npos && op.find("\\r|") < op.find('|', 4)) continue;
        expected.push_back(expected_delivery(op));
      }
    }
    std::vector<std::string> delivered;
    for (const auto& op : result.replies.ops) {
      if (op.rfind("MSG|", 0) == 0 || op.rfind("HMSG|", 0) == 0) delivered.push_back(op);
      EXPECT_EQ(op.rfind("-ERR", 0), std::string::npos) << label << ": " << op;
    }
    if (c.input.find("foo\r ") == std::string::npos) {
      EXPECT_EQ(delivered, expected) << label;
    }
  }
}

TEST_F(nats_server_conformance, rejected_inputs_close_with_the_documented_error) {
  for (const auto& c : testing::rejected_client_cases()) {
    const session_result result = run(c.input);
    const std::string label = escape(c.input.substr(0, 60)) + " (" + std::string(to_string(c.error)) + ")";
    EXPECT_TRUE(result.closed) << label;
    EXPECT_FALSE(result.saw_pong) << label;
    std::vector<std::string> errors;
    for (const auto& op : result.replies.ops) {
      if (op.rfind("-ERR|", 0) == 0) errors.push_back(op.substr(5));
    }
    const std::string_view text = nats_error_text(c.error);
    if (text.empty()) {
      EXPECT_TRUE(errors.empty()) << label << ": " << (errors.empty() ? "" : errors[0]);
    } else {
      EXPECT_EQ(errors, std::vector<std::string>{std::string(text)}) << label;
    }
  }
}

TEST_F(nats_server_conformance, subject_checks_match_sub_and_pedantic_pub) {
  // Subjects without space/tab/CR/LF (those would split the arguments).
  const char* subjects[] = {"foo",   "foo.bar", "foo.*", "foo.>",  ">",     "*",      "*.>",
                            "foo*",  "a.>b",    ".",     "foo.",   ".foo",  "foo..bar", ">.a",
                            "a.>.b", "a\fb",    "a.\f",  "\xc3\xa9", "a.*.>", "*.*.*"};
  for (const std::string subject : subjects) {
    const session_result sub = run("SUB " + subject + " 1\r\n");
    const bool sub_rejected = std::find(sub.replies.ops.begin(), sub.replies.ops.end(),
                                        "-ERR|Invalid Subject") != sub.replies.ops.end();
    EXPECT_EQ(sub_rejected, !is_valid_subscribe_subject(subject)) << escape(subject);
    EXPECT_TRUE(sub.saw_pong) << escape(subject);
    const session_result pub = run("PUB " + subject + " 1\r\nx\r\n", /*pedantic=*/true);
    const bool pub_rejected = std::find(pub.replies.ops.begin(), pub.replies.ops.end(),
                                        "-ERR|Invalid Publish Subject") != pub.replies.ops.end();
    EXPECT_EQ(pub_rejected, !is_valid_literal_subject(subject)) << escape(subject);
    EXPECT_TRUE(pub.saw_pong) << escape(subject);
  }
}

TEST_F(nats_server_conformance, encoder_output_is_byte_identical_to_nats_server) {
  // Publish with the client-side encoders; nats-server's deliveries must be
  // exactly what append_msg/append_hmsg write for the same message.
  std::string input;
  std::string expected;
  const std::string binary("\0\r\n\xff MSG x 1\r\n", 14);
  struct message {
    std::string subject, reply, headers, payload;
  };
  const std::vector<message> messages = {
      {"foo", "", "", "hello"},
      {"foo.bar", "_INBOX.abc", "", ""},
      {"a.b.c.d", "r", "", binary},
      {"h", "", "NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n", "body"},
      {"h.r", "reply.to", "NATS/1.0 503\r\n\r\n", ""},
      {"big", "", "", std::string(70000, 'b')},
  };
  for (const auto& m : messages) {
    if (m.headers.empty()) {
      append_pub(input, m.subject, m.reply, m.payload);
      append_msg(expected, m.subject, "99999", m.reply, m.payload);
    } else {
      append_hpub(input, m.subject, m.reply, m.headers, m.payload);
      append_hmsg(expected, m.subject, "99999", m.reply, m.headers, m.payload);
    }
  }
  append_pong(expected);
  const session_result result = run(input);
  ASSERT_TRUE(result.saw_pong);
  const std::size_t info_end = result.raw.find("\r\n");
  ASSERT_NE(info_end, std::string::npos);
  // nats-server's INFO line ends with " \r\n", as append_info writes it.
  EXPECT_EQ(result.raw.substr(0, 5), "INFO ");
  EXPECT_EQ(result.raw[info_end - 1], ' ');
  EXPECT_EQ(escape(result.raw.substr(info_end + 2)), escape(expected));
}

TEST_F(nats_server_conformance, size_arguments_are_echoed_verbatim) {
  // nats-server copies the publisher's size tokens into MSG/HMSG; size_text()
  // and format_msg_prefix_text exist to reproduce that.
  const session_result result = run("PUB foo 002\r\nhi\r\nHPUB foo r 0012 014\r\nNATS/1.0\r\n\r\nhi\r\n");
  ASSERT_TRUE(result.saw_pong);
  char line[64];
  std::string expected(line, format_msg_prefix_text(line, "foo", "99999", "", "", "002"));
  expected += "hi\r\n";
  expected.append(line, format_msg_prefix_text(line, "foo", "99999", "r", "0012", "014"));
  expected += "NATS/1.0\r\n\r\nhi\r\nPONG\r\n";
  EXPECT_EQ(escape(result.raw.substr(result.raw.find("\r\n") + 2)), escape(expected));
}

TEST_F(nats_server_conformance, auth_violation_before_connect) {
  // Our auth_violation mapping: with auth on, a first op other than CONNECT.
  const int port = free_port();
  const pid_t pid = courier::test::spawn(
      {COURIER_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(port), "--user", "u", "--pass", "p"},
      quiet_server());
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    fd = connect_to(port);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(fd, 0);
  const std::string input = "PING\r\n";
  ::send(fd, input.data(), input.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  EXPECT_NE(received.find("-ERR '" + std::string(nats_error_text(parse_error::auth_violation)) + "'"),
            std::string::npos)
      << escape(received);
}

}  // namespace
}  // namespace courier::protocol
