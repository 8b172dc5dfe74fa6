// The options a system account request carries as its JSON body (nats-server
// 2.9.10's *EventOptions structs: ConnzEventOptions, SubszEventOptions...),
// decoded as Go's encoding/json would decode them into that struct, errors
// included: a malformed body is answered with exactly the text json.Unmarshal
// returns ("invalid character 'b' looking for beginning of object key
// string", "json: cannot unmarshal string into Go struct field
// ConnzEventOptions.limit of type int"). Pure functions, no I/O.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::monitor {

/// Go's encoding/json syntax error for `text`, or "" when it is valid JSON.
std::string go_json_syntax_error(std::string_view text);

/// One field of an options struct.
struct json_option {
  /// The Go type's shape, which decides what JSON values it takes.
  enum class kind { boolean, signed_integer, unsigned_integer, text, text_list };
  std::string_view json_name;  ///< its json tag (keys match it case-insensitively, as Go)
  kind type = kind::text;
  std::string_view go_type;    ///< its Go type, for error texts: "int", "uint64", "server.SortOpt"
};

/// A decoded body: the fields present (null ones left out), by json name,
/// with their values as text ("true", "42", "a,b" for a list), or Go's error.
struct decoded_options {
  std::vector<std::pair<std::string, std::string>> values;
  std::string error;
  bool ok() const { return error.empty(); }
  /// The value of `json_name`, empty when absent.
  std::string get(std::string_view json_name) const;
  bool has(std::string_view json_name) const;
};

/// Decodes `body` into the struct named `struct_name` (Go's name, e.g.
/// "ConnzEventOptions") with `fields`. An empty body is no options at all
/// (nats-server does not unmarshal it); unknown keys are ignored.
decoded_options decode_json_options(std::string_view body, std::string_view struct_name,
                                    std::span<const json_option> fields);

}  // namespace courier::monitor
