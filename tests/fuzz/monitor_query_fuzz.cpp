// libFuzzer target: what monitoring reads from a request: the query string
// (Go's url.ParseQuery) and the JSON options of a system account request
// (Go's encoding/json into nats-server's option structs). Checks: pairs
// escaped any way read back as written; a body Go would call malformed is
// refused with that same syntax error whatever the struct; whitespace around
// a document does not change whether it is valid.
#include "monitor/http_reply.hpp"
#include "monitor/request_options.hpp"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using courier::monitor::decode_json_options;
using courier::monitor::go_json_syntax_error;
using courier::monitor::json_option;
using courier::monitor::query_params;
using kind = json_option::kind;

const json_option fields[] = {{"offset", kind::signed_integer, "int"},
                              {"limit", kind::signed_integer, "int"},
                              {"subscriptions", kind::boolean, "bool"},
                              {"cid", kind::unsigned_integer, "uint64"},
                              {"server_name", kind::text, "string"},
                              {"tags", kind::text_list, "jwt.TagList"}};

/// Escapes `text` for a query, choosing per byte (from `choice`) between
/// %XX, the byte itself where that is safe, and '+' for a space.
std::string escape(std::string_view text, std::uint64_t choice) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool raw_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == '~';
    const bool escape_it = ((choice >> (i % 64)) & 1) != 0;
    if (c == ' ' && !escape_it) {
      out += '+';
    } else if (raw_ok && !escape_it) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += (i & 1) ? hex[c & 15] : static_cast<char>(std::tolower(hex[c & 15]));
    }
  }
  return out;
}

void check_query(std::string_view input) {
  query_params parsed{std::string("/connz?") + std::string(input)};  // must not crash
  // Split the input at NUL bytes into name, value, name, value...
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t at = 0;
  std::vector<std::string> parts;
  while (at <= input.size() && parts.size() < 16) {
    const auto nul = input.find('\0', at);
    parts.emplace_back(input.substr(at, nul == std::string_view::npos ? std::string_view::npos : nul - at));
    if (nul == std::string_view::npos) break;
    at = nul + 1;
  }
  std::string target = "/subsz?";
  std::uint64_t choice = 0x9e3779b97f4a7c15ULL * (input.size() + 1);
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
    if (parts[i].empty()) continue;
    pairs.emplace_back(parts[i], parts[i + 1]);
    target += escape(parts[i], choice) + "=" + escape(parts[i + 1], choice >> 7) + "&";
    choice = choice * 6364136223846793005ULL + 1442695040888963407ULL;
  }
  const query_params query(target);
  for (const auto& [name, value] : pairs) {
    std::string first;
    for (const auto& [n, v] : pairs) {
      if (n == name) {
        first = v;
        break;
      }
    }
    if (!query.has(name) || query.get(name) != first) std::abort();
  }
}

void check_json(std::string_view body) {
  const std::string syntax = go_json_syntax_error(body);
  const auto decoded = decode_json_options(body, "ConnzEventOptions", fields);
  if (!syntax.empty() && !body.empty() && decoded.error != syntax) std::abort();
  if (syntax.empty() && !decoded.ok() && decoded.error.rfind("json: cannot unmarshal ", 0) != 0) std::abort();
  const std::string padded = " \t\n" + std::string(body) + "\r\n ";
  if (go_json_syntax_error(padded).empty() != syntax.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    check_query(input);
  } else {
    check_json(input);
  }
  return 0;
}
