#include "mss/notify/gateway_protocol.hpp"

#include <ctime>

#include "mss/common/json_util.hpp"

namespace courier::mss::notify {

bool parse_request(std::string_view text, request& out, std::string& error) {
  picojson::value value;
  if (!parse_json_document(text, value, error)) {
    error = "bad JSON: " + error;
    return false;
  }
  if (!value.is<picojson::object>()) {
    error = "a request must be a JSON object";
    return false;
  }
  auto& o = value.get<picojson::object>();
  const auto rid = o.find("rid");
  if (rid == o.end() || !rid->second.is<std::int64_t>() || rid->second.get<std::int64_t>() < 0) {
    error = "'rid' must be an integer from 0";
    return false;
  }
  out.rid = rid->second.get<std::int64_t>();
  const auto command = o.find("command");
  if (command == o.end() || !command->second.is<std::string>()) {
    error = "'command' must be a string";
    return false;
  }
  out.command = command->second.get<std::string>();
  const auto options = o.find("options");
  if (options != o.end() && !options->second.is<picojson::null>()) {
    if (!options->second.is<picojson::object>()) {
      error = "'options' must be an object";
      return false;
    }
    out.options = std::move(options->second.get<picojson::object>());
  }
  return true;
}

std::string ok_frame(std::int64_t rid, const std::string& event, picojson::value payload) {
  picojson::object frame;
  frame["rid"] = picojson::value(rid);
  frame["event"] = picojson::value(event);
  frame["status"] = picojson::value("ok");
  frame["payload"] = std::move(payload);
  return picojson::value(frame).serialize();
}

std::string error_frame(std::int64_t rid, const std::string& event, const std::string& error) {
  picojson::object payload;
  payload["error"] = picojson::value(error);
  picojson::object frame;
  frame["rid"] = picojson::value(rid);
  frame["event"] = picojson::value(event);
  frame["status"] = picojson::value("error");
  frame["payload"] = picojson::value(payload);
  return picojson::value(frame).serialize();
}

std::string format_time(std::int64_t time_ms) {
  const std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(time_ms % 1000));
  return std::string(text, n) + millis;
}

picojson::value record(const notification& n) {
  picojson::object o;
  o["id"] = picojson::value(static_cast<std::int64_t>(n.id));
  o["type"] = picojson::value(n.type);
  o["document"] = n.document;
  o["time"] = picojson::value(format_time(n.time_ms));
  o["read"] = picojson::value(n.read);
  o["broadcast"] = picojson::value(n.broadcast);
  return picojson::value(o);
}

std::string push_frame(const notification& n) { return ok_frame(-1, n.type, record(n)); }

bool parse_published(std::string_view payload, published& out, std::string& error) {
  picojson::value value;
  if (!parse_json_document(payload, value, error)) {
    error = "not JSON: " + error;
    return false;
  }
  if (!value.is<picojson::object>()) {
    error = "not a JSON object";
    return false;
  }
  auto& o = value.get<picojson::object>();
  const auto type = o.find("type");
  if (type == o.end() || !type->second.is<std::string>() || type->second.get<std::string>().empty()) {
    error = "'type' must be a non-empty string";
    return false;
  }
  out.type = type->second.get<std::string>();
  const auto document = o.find("document");
  out.document = document == o.end() ? picojson::value(picojson::object()) : std::move(document->second);
  return true;
}

bool option_count(const picojson::object& options, const char* key, std::size_t& out, std::size_t max,
                  std::string& error) {
  const auto it = options.find(key);
  if (it == options.end()) return true;
  if (!it->second.is<std::int64_t>() || it->second.get<std::int64_t>() < 0 ||
      static_cast<std::uint64_t>(it->second.get<std::int64_t>()) > max) {
    error = std::string("'") + key + "' must be an integer from 0 to " + std::to_string(max);
    return false;
  }
  out = static_cast<std::size_t>(it->second.get<std::int64_t>());
  return true;
}

}  // namespace courier::mss::notify
