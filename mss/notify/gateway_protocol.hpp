// The notification gateway's JSON protocol, without I/O: requests a
// session sends, the responses and pushes it receives, one JSON object per
// WebSocket text frame.
//
//   request   {"rid": 7, "command": "list", "options": {"offset": 0, "limit": 20}}
//   response  {"rid": 7, "event": "list", "status": "ok", "payload": {...}}
//   error     {"rid": 7, "event": "list", "status": "error", "payload": {"error": "not authorized"}}
//   push      {"rid": -1, "event": "<type>", "status": "ok", "payload": <record>}
//   record    {"id": 17, "type": "alert", "document": {...}, "time": "2026-12-06T16:00:00.123Z",
//              "read": false, "broadcast": false}
//
// A frame that is not a JSON object with an integer "rid" (>= 0) and a
// string "command" gets an error with rid -1 and event "error" (or the rid,
// when only the rest is wrong).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <picojson.h>

#include "mss/notify/notification_store.hpp"

namespace courier::mss::notify {

/// A parsed request.
struct request {
  std::int64_t rid = -1;
  std::string command;
  picojson::object options;  ///< empty when absent
};

/// Parses one frame. False with `error` set (and `out.rid` when it was
/// readable) for anything but a well-formed request.
bool parse_request(std::string_view text, request& out, std::string& error);

/// An "ok" response or a push.
std::string ok_frame(std::int64_t rid, const std::string& event, picojson::value payload);
/// An error response.
std::string error_frame(std::int64_t rid, const std::string& event, const std::string& error);
/// A notification as sessions see it.
picojson::value record(const notification& n);
/// A push of `n` to a session.
std::string push_frame(const notification& n);
/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds.
std::string format_time(std::int64_t time_ms);

/// A notification as it is published on `<prefix>.<user>`:
/// {"type": "...", "document": <any JSON>}.
struct published {
  std::string type;
  picojson::value document;
};
/// Parses a published notification. False with `error` when it is not one.
bool parse_published(std::string_view payload, published& out, std::string& error);

/// Reads an optional non-negative integer option; false with `error` when
/// present and not one (or above `max`).
bool option_count(const picojson::object& options, const char* key, std::size_t& out, std::size_t max,
                  std::string& error);

}  // namespace courier::mss::notify
