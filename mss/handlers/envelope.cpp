#include "mss/handlers/envelope.hpp"

#include <cmath>
#include <limits>

#include "mss/common/json_util.hpp"

namespace courier::mss {
namespace {

/// Reads an integral number of milliseconds from a JSON number or a
/// decimal string; false when it is neither or out of range.
bool read_millis(const picojson::value& value, std::int64_t& out) {
  if (value.is<std::int64_t>()) {
    out = value.get<std::int64_t>();
    return true;
  }
  if (value.is<double>()) {
    const double d = value.get<double>();
    if (!std::isfinite(d) || d < -9.2e18 || d > 9.2e18) return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  if (value.is<std::string>()) {
    const std::string& text = value.get<std::string>();
    if (text.empty() || text.size() > 19) return false;
    std::int64_t result = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return false;
      result = result * 10 + (c - '0');
    }
    out = result;
    return true;
  }
  return false;
}

}  // namespace

bool envelope::expired(std::chrono::system_clock::time_point now) const {
  if (!timestamp_ms || !timeout_ms || *timeout_ms <= 0) return false;
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Saturating add: a huge timeout means "practically never".
  if (*timestamp_ms > std::numeric_limits<std::int64_t>::max() - *timeout_ms) return false;
  return *timestamp_ms + *timeout_ms < now_ms;
}

std::optional<std::string> envelope::idempotency_key(std::string_view msg_id_header) const {
  if (!msg_id_header.empty()) return std::string(msg_id_header);
  return correlation_id;
}

envelope inspect_message(std::string_view payload) {
  envelope result;
  result.is_json = parse_json_document(payload, result.message, result.parse_error);
  if (!result.is_json) {
    result.message = picojson::value();
    return result;
  }
  if (!result.message.is<picojson::object>()) return result;
  const auto& fields = result.message.get<picojson::object>();
  if (auto it = fields.find("correlationId"); it != fields.end()) {
    if (it->second.is<std::string>()) {
      result.correlation_id = it->second.get<std::string>();
    } else if (it->second.is<std::int64_t>() || it->second.is<double>()) {
      result.correlation_id = it->second.to_str();
    } else {
      result.field_errors.push_back("correlationId is not a string");
    }
  }
  std::int64_t millis = 0;
  if (auto it = fields.find("timestamp"); it != fields.end()) {
    if (read_millis(it->second, millis)) {
      result.timestamp_ms = millis;
    } else {
      result.field_errors.push_back("timestamp is not a number of milliseconds");
    }
  }
  if (auto it = fields.find("timeout"); it != fields.end()) {
    if (read_millis(it->second, millis) && millis >= 0) {
      result.timeout_ms = millis;
    } else {
      result.field_errors.push_back("timeout is not a non-negative number of milliseconds");
    }
  }
  return result;
}

}  // namespace courier::mss
