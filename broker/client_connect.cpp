#include "broker/client_connect.hpp"

#include <picojson.h>

#include <string>
#include <string_view>

#include "broker/logger.hpp"
#include "protocol/json_parse.hpp"

namespace courier::broker {

namespace {

/// The member named `key`. Go's json.Unmarshal (nats-server) matches field
/// names case-insensitively when there is no exact match, so
/// {"Verbose":true} sets verbose; an exact match wins here, then the first
/// ASCII case-insensitive one. (Go takes the last of several spellings in
/// document order, which picojson's sorted object does not keep.)
picojson::object::const_iterator find_key(const picojson::object& object, std::string_view key) {
  auto it = object.find(std::string(key));
  if (it != object.end()) return it;
  for (it = object.begin(); it != object.end(); ++it) {
    const std::string& name = it->first;
    if (name.size() != key.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
      same = lower(name[i]) == lower(key[i]);
    }
    if (same) return it;
  }
  return object.end();
}

/// Reads one optional boolean; a non-boolean sets `bad_type`.
std::optional<bool> read_flag(const picojson::object& object, const char* key, bool& bad_type) {
  auto it = find_key(object, key);
  if (it == object.end() || it->second.is<picojson::null>()) return std::nullopt;
  if (!it->second.is<bool>()) {
    bad_type = true;
    return std::nullopt;
  }
  return it->second.get<bool>();
}

/// A string field, or empty when absent or not a string.
std::string read_text(const picojson::object& object, const char* key) {
  auto it = find_key(object, key);
  return it != object.end() && it->second.is<std::string>() ? it->second.get<std::string>() : std::string();
}

}  // namespace

connect_error parse_client_connect(std::string_view json, client_connect& out, std::string& detail) {
  picojson::value value;
  auto rest = protocol::parse_json_lenient(value, json.begin(), json.end(), detail);
  // Go's json.Unmarshal (nats-server) refuses anything but white space after
  // the value: CONNECT {...}{} or CONNECT {...} x closes the connection.
  for (; detail.empty() && rest != json.end(); ++rest) {
    if (*rest != ' ' && *rest != '\t' && *rest != '\r' && *rest != '\n') detail = "data after the JSON object";
  }
  if (!detail.empty() || !value.is<picojson::object>()) return connect_error::not_json;
  const auto& object = value.get<picojson::object>();
  bool bad_type = false;
  out.verbose = read_flag(object, "verbose", bad_type);
  out.pedantic = read_flag(object, "pedantic", bad_type);
  out.echo = read_flag(object, "echo", bad_type);
  out.headers = read_flag(object, "headers", bad_type);
  out.no_responders = read_flag(object, "no_responders", bad_type);
  if (auto it = find_key(object, "protocol"); it != object.end() && !it->second.is<picojson::null>()) {
    if (it->second.is<std::int64_t>()) {
      out.protocol = it->second.get<std::int64_t>();
    } else {
      bad_type = true;
    }
  }
  out.name = read_text(object, "name");
  if (bad_type) return connect_error::wrong_type;
  out.lang = read_text(object, "lang");
  out.version = read_text(object, "version");
  out.user = read_text(object, "user");
  out.pass = read_text(object, "pass");
  out.auth_token = read_text(object, "auth_token");
  out.nkey = read_text(object, "nkey");
  out.sig = read_text(object, "sig");
  return connect_error::none;
}

bool client_info_parses(std::string_view json) {
  picojson::value value;
  std::string error;
  auto rest = protocol::parse_json(value, json.begin(), json.end(), error);
  if (!error.empty()) return false;
  for (; rest != json.end(); ++rest) {
    if (*rest != ' ' && *rest != '\t' && *rest != '\r' && *rest != '\n') return false;
  }
  return value.is<picojson::object>() || value.is<picojson::null>();
}

std::string redacted_connect(std::string_view json) {
  picojson::value value;
  std::string error;
  protocol::parse_json(value, json.begin(), json.end(), error);
  if (!error.empty() || !value.is<picojson::object>()) {
    return concat("(", json.size(), " bytes, not JSON)");
  }
  auto& object = value.get<picojson::object>();
  for (const char* secret : {"pass", "auth_token"}) {
    if (object.count(secret)) object[secret] = picojson::value("[REDACTED]");
  }
  return log_snippet(value.serialize(), 256);
}

}  // namespace courier::broker
