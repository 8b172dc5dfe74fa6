// Records what leaf_parser reports, one line of text per operation, for the
// parser's tests and its fuzz target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/leaf_parser.hpp"

namespace courier::protocol::testing {

/// Records every operation as one line of text.
struct leaf_recorder {
  std::vector<std::string> ops;
  bool on_info(std::string_view json) { return add("INFO " + std::string(json)); }
  bool on_connect(std::string_view json) { return add("CONNECT " + std::string(json)); }
  bool on_ping() { return add("PING"); }
  bool on_pong() { return add("PONG"); }
  bool on_ok() { return add("+OK"); }
  bool on_err(std::string_view text) { return add("ERR " + std::string(text)); }
  bool on_interest_add(std::string_view subject, std::string_view queue, std::int32_t weight) {
    return add("LS+ " + std::string(subject) + "|" + std::string(queue) + "|" + std::to_string(weight));
  }
  bool on_interest_remove(std::string_view subject, std::string_view queue) {
    return add("LS- " + std::string(subject) + "|" + std::string(queue));
  }
  bool on_message(const leaf_message& m) {
    std::string queues;
    for (const auto& q : *m.queues) queues += std::string(q) + ",";
    return add("MSG " + std::string(m.subject) + "|" + std::string(m.reply) + "|" + queues + "|" +
               std::string(m.headers) + "|" + std::string(m.payload));
  }
  void on_parse_error(leaf_parse_error error, std::string_view) { ops.push_back("ERROR " + std::to_string(static_cast<int>(error))); }
  bool add(std::string op) {
    ops.push_back(std::move(op));
    return true;
  }
};

}  // namespace courier::protocol::testing
