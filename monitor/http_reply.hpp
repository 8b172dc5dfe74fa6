// What a monitoring endpoint answers, and the query it was asked with:
// plain data, no I/O (the HTTP server in monitor/http_server writes it out).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::monitor {

struct http_reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;

  /// nats-server's answer to a bad query value: 400, the text as is.
  static http_reply bad_request(std::string text) {
    return {400, "text/plain; charset=utf-8", std::move(text)};
  }
  /// Go's http.NotFound.
  static http_reply not_found() { return {404, "text/plain; charset=utf-8", "404 page not found\n"}; }
};

/// The query string of a request target, decoded as Go's url.ParseQuery
/// does (`+` is a space, %XX escapes; a pair with ';' or a bad escape is
/// dropped, the rest kept, as nats-server sees it).
class query_params {
 public:
  query_params() = default;
  /// Parses the part of `target` after '?', if any.
  explicit query_params(std::string_view target);
  /// From name/value pairs already decoded (the system account's requests
  /// carry their options as JSON).
  explicit query_params(std::vector<std::pair<std::string, std::string>> values) : values_(std::move(values)) {}
  /// The first value of `name`; empty when absent (Go's Values.Get).
  std::string get(std::string_view name) const;
  bool has(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

}  // namespace courier::monitor
