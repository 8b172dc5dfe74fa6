// The CONNECT a NATS client sends, parsed into plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace courier::broker {

/// CONNECT's fields that Courier uses. Flags absent (or null) are left
/// empty: the connection keeps its current setting.
struct client_connect {
  std::optional<bool> verbose;
  std::optional<bool> pedantic;
  std::optional<bool> echo;
  std::optional<bool> headers;
  std::optional<bool> no_responders;
  std::int64_t protocol = 0;
  std::string name;
  std::string lang;
  std::string version;
  // Credentials, kept to re-authenticate on a config reload.
  std::string user;
  std::string pass;
  std::string auth_token;
  std::string nkey;
  std::string sig;
};

/// Why a CONNECT could not be read. nats-server closes the connection
/// without an -ERR in both cases.
enum class connect_error {
  none,
  not_json,    ///< does not unmarshal (or is not an object)
  wrong_type,  ///< a known field has the wrong JSON type
};

/// Parses CONNECT's JSON into `out`. `detail` gets the JSON parser's message.
connect_error parse_client_connect(std::string_view json, client_connect& out, std::string& detail);

/// The CONNECT for a trace log line, secrets replaced by "[REDACTED]" as
/// nats-server prints them, at most 256 bytes.
std::string redacted_connect(std::string_view json);

/// Whether a client's INFO argument unmarshals as nats-server's Go code needs
/// it: one JSON object (or null) with only white space after it. (Field types
/// are not checked.)
bool client_info_parses(std::string_view json);

}  // namespace courier::broker
