#include "mss/service/client.hpp"

#include "mss/common/json_util.hpp"
#include "protocol/headers.hpp"
#include "protocol/subject.hpp"

namespace courier::mss {

const char* to_string(action_failure failure) {
  switch (failure) {
    case action_failure::none: return "none";
    case action_failure::timeout: return "timeout";
    case action_failure::no_handler: return "no_handler";
    case action_failure::refused: return "refused";
    case action_failure::invalid: return "invalid";
    case action_failure::closed: return "closed";
    case action_failure::bad_reply: return "bad_reply";
  }
  return "unknown";
}

client::client(bus& messages, std::string prefix) : bus_(messages), prefix_(std::move(prefix)) {}

action_result client::action(std::string_view name, std::string_view message, std::chrono::milliseconds timeout,
                             std::string_view msg_id) {
  return call(action_subject(name), "action '" + std::string(name) + "'", message, timeout, msg_id);
}

action_result client::action(std::string_view name, const picojson::object& message,
                             std::chrono::milliseconds timeout, std::string_view msg_id) {
  return action(name, std::string_view(picojson::value(message).serialize()), timeout, msg_id);
}

void client::event(std::string_view name, std::string_view message) { bus_.publish(event_subject(name), message); }

void client::audit(std::string_view name, std::string_view message) { bus_.publish(audit_subject(name), message); }

action_result client::audit_confirmed(std::string_view name, std::string_view message,
                                      std::chrono::milliseconds timeout) {
  return call(audit_subject(name), "audit '" + std::string(name) + "'", message, timeout, {});
}

action_result client::call(const std::string& subject, std::string_view what, std::string_view message,
                           std::chrono::milliseconds timeout, std::string_view msg_id) {
  action_result out;
  if (!protocol::is_valid_publish_subject(subject)) {
    out.failure = action_failure::invalid;
    out.error = "invalid name for " + std::string(what) + " (subject '" + subject + "')";
    return out;
  }
  std::string headers;
  if (!msg_id.empty()) {
    protocol::headers_builder builder;
    if (!builder.add("Nats-Msg-Id", msg_id)) {
      out.failure = action_failure::invalid;
      out.error = "invalid message id (CR/LF not allowed)";
      return out;
    }
    headers = builder.finish();
  }
  bus_request_result result;
  try {
    result = bus_.request(subject, message, timeout, headers);
  } catch (const bus_error& e) {
    out.failure = action_failure::invalid;
    out.error = std::string(what) + " not sent: " + e.what();
    return out;
  }
  switch (result.status) {
    case bus_request_status::timeout:
      out.failure = action_failure::timeout;
      out.error = std::string(what) + ": no reply within " + std::to_string(timeout.count()) + " ms";
      return out;
    case bus_request_status::no_responders:
      out.failure = action_failure::no_handler;
      out.error = "no handler for " + std::string(what) + " (no responders)";
      return out;
    case bus_request_status::closed:
      out.failure = action_failure::closed;
      out.error = std::string(what) + ": connection closed";
      return out;
    case bus_request_status::ok:
      break;
  }
  out.raw_reply = std::move(result.reply.payload);
  std::string parse_error;
  if (!parse_json_document(out.raw_reply, out.reply, parse_error) || !out.reply.is<picojson::object>()) {
    out.failure = action_failure::bad_reply;
    out.error = std::string(what) + ": reply is not a JSON object";
    return out;
  }
  const auto& o = out.reply.get<picojson::object>();
  const auto ok = o.find("ok");
  if (ok == o.end() || !ok->second.is<bool>()) {
    out.failure = action_failure::bad_reply;
    out.error = std::string(what) + ": reply has no \"ok\" field";
    return out;
  }
  if (ok->second.get<bool>()) return out;
  if (auto it = o.find("code"); it != o.end() && it->second.is<std::string>()) out.code = it->second.get<std::string>();
  std::string reason = "refused";
  if (auto it = o.find("error"); it != o.end() && it->second.is<std::string>()) reason = it->second.get<std::string>();
  out.failure = out.code == "no_handler" ? action_failure::no_handler
                : out.code == "timeout"  ? action_failure::timeout
                                         : action_failure::refused;
  out.error = std::string(what) + " failed" + (out.code.empty() ? "" : " (" + out.code + ")") + ": " + reason;
  return out;
}

}  // namespace courier::mss
