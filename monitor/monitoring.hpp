// Monitoring for a running broker: nats-server's HTTP endpoints (-m, -ms,
// http, https, http_base_path) on their own listener thread. Construct it
// beside a started server, start() it, and stop() it before the server goes.
//
//   broker::server server(options);
//   server.start();
//   monitor::monitoring monitoring(server);
//   monitoring.start();  // listens when options.http_port / https_port ask
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "monitor/endpoints.hpp"
#include "monitor/http_server.hpp"
#include "monitor/system_service.hpp"

namespace courier::broker {
class server;
}

namespace courier::monitor {

class monitoring {
 public:
  /// An endpoint: a document from the server's state and the request's query.
  using endpoint = std::function<http_reply(const endpoint_context&, const query_params&)>;

  explicit monitoring(broker::server& server);
  ~monitoring();
  monitoring(const monitoring&) = delete;
  monitoring& operator=(const monitoring&) = delete;

  /// Starts the system account's services (monitor/system_service), and
  /// listens on the ports the server's options give (nothing when neither
  /// http_port nor https_port is set). Throws std::runtime_error when a port
  /// cannot be bound, or HTTPS is asked without a tls block.
  void start();
  /// Throws what start() would throw for `server`'s configuration alone
  /// (HTTPS asked without TLS), binding nothing: `courier -t`.
  static void check(const broker::server& server);
  void stop();
  /// The ports actually listened on (0: not listening).
  std::uint16_t http_port() const { return listener_.http_port > 0 ? static_cast<std::uint16_t>(listener_.http_port) : 0; }
  std::uint16_t https_port() const { return listener_.https_port > 0 ? static_cast<std::uint16_t>(listener_.https_port) : 0; }

  /// Answers one request (what the HTTP listener calls; usable without it).
  /// `target` is the path with its query, base path included.
  http_reply handle(std::string_view method, std::string_view target);

 private:
  broker::server& server_;
  listener_facts listener_;
  request_counts requests_;
  std::map<std::string, endpoint, std::less<>> routes_;  // fixed after construction
  std::unique_ptr<http_server> http_;
  system_service system_;  // $SYS requests and advisories, with or without a port
};

}  // namespace courier::monitor
