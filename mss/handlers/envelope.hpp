// The message envelope checks every handler run starts with: is the payload
// JSON, which correlation id does it carry, has it expired, which key makes
// a repeated action idempotent.
//
// Field conventions (the IoT inter-service messaging conventions):
//  * `timestamp` - ms since the Unix epoch when the message was created.
//  * `timeout`   - ms after `timestamp` at which the message expires; 0 or
//                  absent = never. Both may be JSON numbers or decimal strings.
//  * `correlationId` - string (a number is accepted and rendered as text);
//                  logged with every handler run.
// A message that is not a JSON object has no envelope fields; that is not
// an error by itself (handlers that need fields report them missing).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

namespace courier::mss {

/// What inspect_message found.
struct envelope {
  bool is_json = false;                    ///< the payload parsed as one JSON document
  picojson::value message;                 ///< the parsed payload (null when !is_json)
  std::string parse_error;                 ///< why it did not parse
  std::optional<std::string> correlation_id;  ///< correlationId, when present
  std::optional<std::int64_t> timestamp_ms;   ///< timestamp, when present and valid
  std::optional<std::int64_t> timeout_ms;     ///< timeout, when present and valid
  std::vector<std::string> field_errors;   ///< malformed envelope fields (e.g. timeout "soon")

  /// True when timestamp and a non-zero timeout are present and
  /// timestamp + timeout is before `now`.
  bool expired(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  /// The key that identifies repeats of one action: the Nats-Msg-Id header
  /// when given (non-empty), else the correlationId; nullopt when neither.
  std::optional<std::string> idempotency_key(std::string_view msg_id_header = {}) const;
};

/// Parses `payload` and extracts the envelope fields. Never throws.
envelope inspect_message(std::string_view payload);

}  // namespace courier::mss
