// The bus over an in-process connection to the embedded broker: no socket,
// no text protocol, the same subjects as any TCP client sees.
#pragma once

#include <memory>

#include "broker/in_process.hpp"
#include "client/bus.hpp"

namespace courier::broker {
class server;
}

namespace courier::mss {

/// A bus on broker::local_client. Callbacks run on the connection's dispatch
/// thread (see broker/in_process.hpp), which matches the bus contract.
class in_process_bus final : public bus {
 public:
  /// Connects to `server` (started) under `name` (for logs).
  in_process_bus(broker::server& server, const std::string& name);
  ~in_process_bus() override;

  void publish(std::string_view subject, std::string_view payload, std::string_view reply = {},
               std::string_view headers = {}) override;
  std::uint64_t subscribe(std::string_view subject, std::string_view queue, bus_handler handler) override;
  void unsubscribe(std::uint64_t sid) override;
  bus_request_result request(std::string_view subject, std::string_view payload, std::chrono::milliseconds timeout,
                             std::string_view headers = {}) override;
  bool flush(std::chrono::milliseconds timeout) override;
  std::int64_t max_payload() const override { return max_payload_; }
  bool connected() const override { return !connection_->closed(); }
  void close() override;
  std::string describe() const override { return "in-process"; }

 private:
  void check_size(std::string_view payload, std::string_view headers) const;

  std::shared_ptr<broker::local_client> connection_;
  std::int64_t max_payload_;
};

}  // namespace courier::mss
