// "msc": the application side of the message services. The same code runs
// over an in-process bus (embedded broker) or a tcp_bus (any NATS server):
//
//   mss::client msc(bus, "kiam");
//   auto r = msc.action("email.send", R"({"to":"a@b.c","correlationId":"c1"})", 5s);
//   if (!r) std::cerr << r.error;   // "no handler for action 'email.send'", "timeout after 5000 ms", ...
//   msc.event("login.abnormal", R"({"user":{"email":"a@b.c"},"ip":"10.0.0.1"})");
//   msc.audit("user.deleted", R"({"user":"bob","by":"admin"})");
//
// A stock NATS client does the same with plain requests and publishes on
// `<prefix>.action.<name>`, `<prefix>.event.<name>`, `<prefix>.audit.<name>`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <picojson.h>

#include "client/bus.hpp"

namespace courier::mss {

/// Why an action did not succeed.
enum class action_failure {
  none,         ///< it succeeded
  timeout,      ///< no reply within the timeout
  no_handler,   ///< nobody handles this action (no responders, or no matching rule)
  refused,      ///< the service answered ok:false (handler failed, expired, bad request, busy...)
  invalid,      ///< the request could not be sent (bad name, payload too large)
  closed,       ///< the bus is closed
  bad_reply,    ///< the reply was not the service's JSON
};
/// "none", "timeout", "no_handler", "refused", "invalid", "closed", "bad_reply".
const char* to_string(action_failure failure);

/// The outcome of action() / audit_confirmed().
struct action_result {
  action_failure failure = action_failure::none;
  std::string code;      ///< the service's code (failed, expired, bad_request, busy, timeout...), or ""
  std::string error;     ///< a clear, human-readable reason; empty on success
  picojson::value reply; ///< the parsed reply (null when none)
  std::string raw_reply; ///< the reply bytes
  /// True on success.
  explicit operator bool() const { return failure == action_failure::none; }
};

/// The message-service client. Thread-safe (as its bus).
class client {
 public:
  /// Uses `messages` with subjects under `prefix` ("kiam" -> kiam.action.*).
  client(bus& messages, std::string prefix = "mss");

  /// Runs an action and waits for its reply. `message` must be JSON text.
  /// `msg_id`, when given, is sent as the Nats-Msg-Id header (idempotency
  /// key; else the service uses the payload's correlationId).
  action_result action(std::string_view name, std::string_view message, std::chrono::milliseconds timeout,
                       std::string_view msg_id = {});
  /// The same with a JSON object.
  action_result action(std::string_view name, const picojson::object& message, std::chrono::milliseconds timeout,
                       std::string_view msg_id = {});
  /// Publishes an event. Throws bus_error when it cannot be sent.
  void event(std::string_view name, std::string_view message);
  /// Publishes an audit record (fire and forget). Throws bus_error.
  void audit(std::string_view name, std::string_view message);
  /// Sends an audit record as a request: success means durably written.
  action_result audit_confirmed(std::string_view name, std::string_view message, std::chrono::milliseconds timeout);

  /// The subjects used for `name`.
  std::string action_subject(std::string_view name) const { return prefix_ + ".action." + std::string(name); }
  std::string event_subject(std::string_view name) const { return prefix_ + ".event." + std::string(name); }
  std::string audit_subject(std::string_view name) const { return prefix_ + ".audit." + std::string(name); }

 private:
  action_result call(const std::string& subject, std::string_view what, std::string_view message,
                     std::chrono::milliseconds timeout, std::string_view msg_id);

  bus& bus_;
  std::string prefix_;
};

}  // namespace courier::mss
