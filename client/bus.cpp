#include "client/bus.hpp"

#include "protocol/headers.hpp"

namespace courier::mss {

int bus_message::status() const {
  if (headers.empty()) return 0;
  // A status-only block such as "NATS/1.0 503\r\n\r\n" parses like any other.
  const auto view = protocol::headers_view::parse(headers);
  return view ? view->status() : 0;
}

std::optional<std::string> bus_message::header(std::string_view name) const {
  if (headers.empty()) return std::nullopt;
  const auto view = protocol::headers_view::parse(headers);
  if (!view) return std::nullopt;
  auto value = view->get(name);
  if (!value) value = view->get_ignore_case(name);
  if (!value) return std::nullopt;
  return std::string(*value);
}

const char* to_string(bus_request_status status) {
  switch (status) {
    case bus_request_status::ok: return "ok";
    case bus_request_status::timeout: return "timeout";
    case bus_request_status::no_responders: return "no_responders";
    case bus_request_status::closed: return "closed";
  }
  return "unknown";
}

}  // namespace courier::mss
