#include "mss/service/in_process_bus.hpp"

#include "broker/server.hpp"

namespace courier::mss {
namespace {

bus_message to_bus_message(const broker::message& m) {
  return bus_message{m.subject, m.reply, m.headers, m.payload};
}

}  // namespace

in_process_bus::in_process_bus(broker::server& server, const std::string& name)
    : max_payload_(server.options().max_payload) {
  broker::connection_options options;
  options.name = name;
  connection_ = server.connect(options);
}

in_process_bus::~in_process_bus() { close(); }

void in_process_bus::check_size(std::string_view payload, std::string_view headers) const {
  // The broker does not check in-process publishes; keep the limit a TCP
  // client would meet, so that code behaves the same over either bus.
  if (max_payload_ >= 0 && static_cast<std::int64_t>(payload.size() + headers.size()) > max_payload_)
    throw bus_error("maximum payload exceeded (" + std::to_string(payload.size() + headers.size()) + " > " +
                    std::to_string(max_payload_) + " bytes)");
}

void in_process_bus::publish(std::string_view subject, std::string_view payload, std::string_view reply,
                             std::string_view headers) {
  check_size(payload, headers);
  try {
    connection_->publish(subject, payload, reply, headers);
  } catch (const std::invalid_argument& e) {
    throw bus_error(e.what());
  } catch (const std::logic_error& e) {
    throw bus_error(std::string("bus closed: ") + e.what());
  }
}

std::uint64_t in_process_bus::subscribe(std::string_view subject, std::string_view queue, bus_handler handler) {
  try {
    return connection_->subscribe(
        subject, [handler = std::move(handler)](const broker::message& m) { handler(to_bus_message(m)); }, queue);
  } catch (const std::invalid_argument& e) {
    throw bus_error(e.what());
  } catch (const std::logic_error& e) {
    throw bus_error(std::string("bus closed: ") + e.what());
  }
}

void in_process_bus::unsubscribe(std::uint64_t sid) {
  try {
    connection_->unsubscribe(sid);
  } catch (const std::exception&) {
    // Unknown ids and closed connections: nothing to remove.
  }
}

bus_request_result in_process_bus::request(std::string_view subject, std::string_view payload,
                                           std::chrono::milliseconds timeout, std::string_view headers) {
  bus_request_result out;
  check_size(payload, headers);
  try {
    auto result = connection_->request(subject, payload, timeout, headers);
    switch (result.status) {
      case broker::request_status::ok: out.status = bus_request_status::ok; break;
      case broker::request_status::timeout: out.status = bus_request_status::timeout; break;
      case broker::request_status::no_responders: out.status = bus_request_status::no_responders; break;
      case broker::request_status::closed: out.status = bus_request_status::closed; break;
    }
    out.reply = to_bus_message(result.reply);
  } catch (const std::invalid_argument& e) {
    throw bus_error(e.what());
  } catch (const std::logic_error&) {
    out.status = bus_request_status::closed;  // closed connection
  }
  return out;
}

bool in_process_bus::flush(std::chrono::milliseconds timeout) {
  if (connection_->closed()) return false;
  // In-process publishes are routed synchronously: what was sent is already
  // with the broker. Waiting for our own queued callbacks is the closest
  // equivalent of a PING round trip.
  return connection_->flush(timeout);
}

void in_process_bus::close() { connection_->close(); }

}  // namespace courier::mss
