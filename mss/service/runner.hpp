// What the courier executable (or an embedding application) calls to run
// the message services: build the handlers and the service from the `mss`
// block of the server options, pick the bus (in-process to the embedded
// broker, or TCP to the server named by --mss-only / mss.server), start.
//
// Wiring in main():
//   if (mss::message_services_only(options)) return mss::run_message_services_only(options);
//   ... server.start();
//   auto services = mss::start_message_services(&server, options);  // null when no mss block
//   server.wait();
//   services.reset();  // before server.shutdown()
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <thread>

#include "broker/metrics_sources.hpp"
#include "client/bus.hpp"
#include "conf/config_parser.hpp"
#include "conf/options.hpp"
#include "mss/notify/gateway.hpp"
#include "mss/service/service.hpp"

namespace courier::broker {
class server;
}

namespace courier::mss {

/// Running message services: their I/O thread, bus and service. Stops on
/// destruction. With an embedded server, the service's metrics
/// (mss/service/metrics) are one of the server's metrics sources, named
/// "mss", from start to stop.
class runner {
 public:
  /// Builds and starts from `mss_block` (an `mss { }` block, parsed).
  /// `embedded` is used unless `server_url` (or mss.server) names an
  /// external server. Throws std::runtime_error with a clear message when
  /// there is neither an embedded server nor a URL, or the bus fails, and
  /// conf::config_error (a std::runtime_error) on a config mistake, its
  /// key's "file:line:col: " in front when `source` (the parsed file the
  /// block came from) is given.
  runner(broker::server* embedded, const picojson::value& mss_block, const std::string& server_url = {},
         const conf::config_document* source = nullptr);
  ~runner();
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  /// Stops the service (waits up to `timeout` for running handlers), closes
  /// the bus, stops the I/O thread. Idempotent.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// The service (for stats and tests).
  service& services() { return *service_; }
  /// The bus the service uses.
  bus& messages() { return *bus_; }
  /// The notification gateway, null without a `notifications` block.
  notify::gateway* notifications() { return gateway_.get(); }
  /// True when connected to an external server over TCP.
  bool external() const { return external_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread io_thread_;
  std::unique_ptr<bus> bus_;
  std::unique_ptr<service> service_;
  std::unique_ptr<notify::gateway> gateway_;
  /// The service's metrics in the embedded server's /metrics, while running.
  broker::metrics_sources::handle metrics_;
  bool external_ = false;
  bool stopped_ = false;
};

/// Starts the message services the options ask for: null when there is no
/// `mss` block (and no --mss-only). With --mss-only or mss.server the
/// services connect to that server over TCP, else to `embedded`.
/// Throws std::runtime_error on a config error.
std::unique_ptr<runner> start_message_services(broker::server* embedded, const conf::server_options& options);

/// Builds what start_message_services() builds from `options`, and starts
/// nothing: `courier -t` and a reload check a file with it. The same code
/// reads the block, so it fails where start-up would, with the same
/// conf::config_error, except that audit files are not opened (their
/// directory must exist and be writable) and no server is connected to.
/// Returns when the block is fine or absent.
void check_message_services(const conf::server_options& options);

/// True for --mss-only: run the message services without a broker.
bool message_services_only(const conf::server_options& options);

/// Runs the message services only (no broker) until SIGINT, SIGTERM or
/// SIGUSR2, which the caller must have blocked in every thread (main does).
/// Returns the process exit code; errors are logged.
int run_message_services_only(const conf::server_options& options);

}  // namespace courier::mss
