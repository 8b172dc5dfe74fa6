// The message service: the dispatcher (mss/handlers/dispatcher, which decides what
// runs) connected to a bus (which brings the messages and takes the
// replies). The same service runs on the embedded broker's in-process bus
// or on a tcp_bus to any NATS server; every instance joins the same queue
// group, so with several instances each message is handled by one of them.
//
// Subjects (prefix from the config, e.g. kiam):
//  * `<prefix>.action.<name>`: request; the reply comes after the effect:
//      {"ok":true,"correlationId":"c1","results":{"mail":{"ok":true,"smtp_code":250}}}
//      {"ok":false,"error":"email handler 'mail': ...","results":{...}}
//    An action nobody handles gets the server's no-responders at once (only
//    the configured action patterns are subscribed).
//  * `<prefix>.event.<name>`: publish; handlers run with retries, failures
//    go to `<prefix>.deadletter.<handler>`.
//  * `<prefix>.audit.<name>`: publish (or request: the reply means durable).
//  Idempotency key: the Nats-Msg-Id header, else the correlationId field.
//  Instances share the keys of the actions they run on
//  `<prefix>.mss.idempotency` (see mss/service/peer_idempotency), so a retry that
//  lands on another instance is answered, not run again.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/bus.hpp"
#include "mss/config/dispatcher_config.hpp"
#include "mss/config/handler_config.hpp"
#include "mss/handlers/dispatcher.hpp"
#include "mss/service/peer_idempotency.hpp"

namespace courier::mss {

/// Severity of a service log line.
enum class service_log_level { error, warning, info, debug };
/// Where the service writes its log lines.
using service_logger = std::function<void(service_log_level, const std::string&)>;

/// A dispatcher on a bus. Thread-safe.
class service {
 public:
  /// `handlers` come from build_handlers on `executor`, which also runs the
  /// dispatcher's retry timers. Throws std::invalid_argument when a rule
  /// names an unknown handler.
  service(bus& messages, handler_set handlers, dispatcher_config config, boost::asio::any_io_executor executor,
          service_logger logger = {});
  /// Stops, then closes the audit logs (their pending records complete
  /// while the dispatcher still exists).
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Subscribes. Throws bus_error when the bus refuses.
  void start();
  /// Unsubscribes, then waits up to `timeout` for requests being handled
  /// (messages with a reply subject) to be answered. False if some were
  /// still running. Idempotent.
  bool stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// The subscriptions made (or to be made) by start().
  const std::vector<mss_subscription>& subscriptions() const { return subscriptions_; }
  /// The dispatcher's counters.
  dispatcher_stats stats() const { return dispatcher_->stats(); }
  /// Requests handled so far whose reply is not sent yet.
  std::size_t pending_replies() const;
  /// This instance's id in peer notes.
  const std::string& instance_id() const { return instance_id_; }
  /// The subject prefix (`kiam`), which names the service in metrics.
  const std::string& prefix() const { return prefix_; }
  /// The handlers, with their metrics, and the audit logs they write.
  const handler_set& handlers() const { return handlers_; }

 private:
  void on_message(bus_message message);
  void on_peer_note(const bus_message& message);
  /// Publishes a note for the peers on peer_subject_.
  void announce(const std::string& key, const char* state, const std::string* result = nullptr, bool ok = false);
  void log(service_log_level level, const std::string& text) const;

  bus& bus_;
  service_logger logger_;
  std::string prefix_;         ///< "<prefix>"
  std::string action_prefix_;  ///< "<prefix>.action."
  std::string peer_subject_;   ///< "<prefix>.mss.idempotency"
  std::string instance_id_;    ///< random, tells our own notes apart
  peer_idempotency peers_;
  handler_set handlers_;  ///< before dispatcher_: the dispatcher keeps a reference
  std::unique_ptr<dispatcher> dispatcher_;
  std::vector<mss_subscription> subscriptions_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t pending_replies_ = 0;  // lock: mutex_
  std::vector<std::uint64_t> sids_;  // lock: mutex_
  bool started_ = false;             // lock: mutex_
  bool stopped_ = false;             // lock: mutex_
};

}  // namespace courier::mss
