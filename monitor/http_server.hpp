// The monitoring HTTP(S) listener, on Boost.Beast: its own thread and
// io_context, so that no request (slow, huge or malformed) ever runs on a
// broker loop. Each connection reads one request at a time with a deadline,
// asks the handler for the reply and writes it; keep-alive as the client asks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "monitor/http_reply.hpp"

namespace courier::monitor {

class http_server {
 public:
  /// Answers one request: method and target (path and query) in, reply out.
  /// Called on the listener's thread.
  using handler = std::function<http_reply(std::string_view method, std::string_view target)>;

  /// A request that takes longer than this to arrive, or a reply that
  /// takes longer to leave, closes the connection.
  static constexpr std::chrono::seconds io_timeout{10};
  /// Requests are GETs: a bigger header or body is refused.
  static constexpr std::size_t max_request_bytes = 16 * 1024;

  explicit http_server(handler on_request);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Listens on host:port (port 0 or -1: any free port); with `tls`, serves
  /// HTTPS. Throws std::runtime_error when the address cannot be bound.
  /// Call before run().
  std::uint16_t listen(const std::string& host, std::int64_t port, std::shared_ptr<boost::asio::ssl::context> tls);
  /// Starts the thread that serves every listener.
  void run();
  /// Closes the listeners and connections and joins the thread. Idempotent.
  void stop();

 private:
  struct listener;
  handler on_request_;
  boost::asio::io_context context_{1};
  std::vector<std::shared_ptr<listener>> listeners_;
  std::thread thread_;
};

/// RFC 7231 date ("Sat, 05 Dec 2026 20:01:52 GMT") for the Date header.
std::string http_date(std::chrono::system_clock::time_point when);

}  // namespace courier::monitor
