// The message bus the message services and their client talk through: the
// few NATS operations they need (publish, queue subscribe, request with a
// timeout and no-responders detection, flush, close), with two
// implementations: mss/service/in_process_bus (a connection to the embedded
// broker, no socket) and client/tcp_bus (a NATS client over TCP to any NATS
// server). The same service and client code runs over either. It lives in
// client/ with tcp_bus so that courier_client needs neither mss nor the broker.
//
// Contract shared by the implementations:
//  * every method is thread-safe;
//  * subscription callbacks run on the bus's own dispatch thread, one at a
//    time, in arrival order, never on an I/O thread; a callback may call any
//    bus method, including request();
//  * headers are a raw NATS header block ("NATS/1.0\r\n...\r\n\r\n") or empty.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace courier::mss {

/// A received message, owning its bytes.
struct bus_message {
  std::string subject;
  std::string reply;    ///< reply subject, empty when none
  std::string headers;  ///< raw header block, empty when none
  std::string payload;

  /// The status code of the header block's version line ("NATS/1.0 503"),
  /// 0 when there is none.
  int status() const;
  /// The value of header `name` (exact case first, then ignoring case), or
  /// nullopt when absent or when the block does not parse.
  std::optional<std::string> header(std::string_view name) const;
};

/// A subscription callback.
using bus_handler = std::function<void(bus_message)>;

/// How a request ended.
enum class bus_request_status {
  ok,             ///< a reply arrived
  timeout,        ///< no reply within the timeout
  no_responders,  ///< the server said nobody is subscribed (503)
  closed,         ///< the bus was closed (or is not connected and cannot buffer)
};
/// "ok", "timeout", "no_responders", "closed".
const char* to_string(bus_request_status status);

/// What request() returns.
struct bus_request_result {
  bus_request_status status = bus_request_status::timeout;
  bus_message reply;  ///< valid when status == ok
};

/// Thrown by publish/subscribe for input the bus refuses (invalid subject,
/// payload over the server's max_payload) and when the bus is closed.
class bus_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An abstract NATS client. See the file comment for the contract.
class bus {
 public:
  virtual ~bus() = default;
  bus() = default;
  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  /// Publishes a message. Throws bus_error for an invalid subject, a payload
  /// over the server's limit, or a closed bus.
  virtual void publish(std::string_view subject, std::string_view payload, std::string_view reply = {},
                       std::string_view headers = {}) = 0;
  /// Subscribes (in queue group `queue` when non-empty); returns the
  /// subscription id. Throws bus_error for an invalid subject or a closed bus.
  virtual std::uint64_t subscribe(std::string_view subject, std::string_view queue, bus_handler handler) = 0;
  /// Removes a subscription; unknown ids are ignored.
  virtual void unsubscribe(std::uint64_t sid) = 0;
  /// Publishes with a fresh reply subject and waits for the first reply.
  /// Never throws for delivery problems: they are statuses.
  virtual bus_request_result request(std::string_view subject, std::string_view payload,
                                     std::chrono::milliseconds timeout, std::string_view headers = {}) = 0;
  /// Waits until the server has processed everything sent so far (a PING
  /// round trip over TCP). False on timeout or when closed.
  virtual bool flush(std::chrono::milliseconds timeout) = 0;
  /// Largest payload (headers included) the server accepts.
  virtual std::int64_t max_payload() const = 0;
  /// True while connected (an in-process bus is connected until closed).
  virtual bool connected() const = 0;
  /// Stops subscriptions, fails pending requests with `closed`, disconnects.
  /// Idempotent; waits for a running callback of another thread to finish.
  virtual void close() = 0;
  /// A short description for logs ("in-process", "nats://host:port").
  virtual std::string describe() const = 0;
};

}  // namespace courier::mss
