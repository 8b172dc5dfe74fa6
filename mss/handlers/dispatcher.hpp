// The message-service dispatcher: takes a message that arrived on
// `<prefix>.action.<name>`, `<prefix>.event.<name>` or `<prefix>.audit.<name>`
// and runs the handlers the rules select. It knows nothing about
// connections: the embedding code (the broker's in-process client or a NATS
// client for --mss-only) subscribes to subscriptions(), feeds messages in,
// and supplies `publish` (for dead letters) and per-message `reply`.
//
// Semantics (issue 5):
//  * action: each handler runs once (or with its own `retry` policy, if it
//    has one: event_retry is for events only); the reply is sent after they finish:
//    {"ok":true,"correlationId":..,"results":{handler:{details}}} or
//    {"ok":false,"error":"...",...}. A repeated request with the same
//    idempotency key (Nats-Msg-Id header, else correlationId) within the
//    window is answered from the first run (idempotency_cache). Keys are
//    scoped by subject (the same correlationId on two actions runs both).
//  * event: matched handlers run in parallel; a failed retryable run is
//    retried with the handler's own `retry` policy or, when it has none,
//    event_retry's, then logged and published to
//    `<dead_letter_prefix>.<handler>`; the publisher is never waited on.
//  * retrying has one owner, this dispatcher: a handler run is one try at
//    the peer (one SMTP transaction, one HTTP request), and exactly one
//    policy applies to a handler's runs, never a product of two (see
//    policy_for). The dead letter's `attempts` counts the tries, so it is
//    the number of requests the peer was sent; a run refused before
//    trying (bad input, template error) is final and counts none.
//  * audit: like event, routed by audit rules or, without any, to every
//    handler of type "audit"; when a reply is wanted it is sent after the
//    record is durable.
//  * expired actions and events (timestamp + timeout in the past) are not
//    executed; they are counted and logged, and an action gets
//    {"ok":false,"error":"message expired","expired":true}. Audit messages
//    are recorded even when expired (an audit trail keeps late records).
//  * every handler run is logged with the message's correlationId.
//
// Thread-safety: on_message() may be called from any thread, concurrently.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mss/common/retry.hpp"
#include "mss/config/handler_config.hpp"
#include "mss/handlers/handler.hpp"
#include "mss/handlers/idempotency_cache.hpp"
#include "mss/handlers/rules.hpp"

namespace courier::mss {

/// The three message kinds.
enum class message_kind { action, event, audit };

/// Dispatcher settings (the `mss` block's prefix, retry and window).
struct dispatcher_options {
  std::string prefix = "kiam";                     ///< subject prefix
  std::string queue_group = "mss";                 ///< queue group for action subscriptions
  std::string dead_letter_prefix;                  ///< default "<prefix>.deadletter"
  retry_policy event_retry = default_config_retry;  ///< event runs of handlers without their own `retry`
  std::chrono::milliseconds idempotency_window{std::chrono::minutes(10)};  ///< how long action replies are remembered
  std::size_t idempotency_max_entries = 100000;    ///< bound on remembered keys
};

/// A subscription the embedding code must make.
struct mss_subscription {
  std::string subject;  ///< e.g. "kiam.action.send_email" or "kiam.event.>"
  std::string queue;    ///< queue group ("" = none)
  message_kind kind;    ///< what arrives there
};

/// Counters for monitoring and tests.
struct dispatcher_stats {
  std::uint64_t received = 0;       ///< messages given to on_message
  std::uint64_t expired = 0;        ///< not executed: expired
  std::uint64_t handler_runs = 0;   ///< handler attempts started
  std::uint64_t handler_failures = 0;  ///< attempts that failed
  std::uint64_t dead_letters = 0;   ///< failures published to dead letter
  std::uint64_t duplicates = 0;     ///< actions answered from the idempotency cache
  std::uint64_t unrouted = 0;       ///< messages no rule matched
};

/// Routes messages to handlers. Not copyable.
class dispatcher {
 public:
  /// Publishes a message (dead letters).
  using publish_fn = std::function<void(const std::string& subject, const std::string& payload)>;
  /// Sends a reply to the requester.
  using reply_fn = std::function<void(const std::string& payload)>;
  /// Receives one log line.
  using log_fn = std::function<void(const std::string& line)>;

  /// `handlers` must outlive the dispatcher. Rules name handlers; a rule
  /// naming an unknown handler throws std::invalid_argument.
  dispatcher(boost::asio::any_io_executor executor, dispatcher_options options, route_table actions,
             route_table events, route_table audits, const handler_set& handlers, publish_fn publish, log_fn log);

  /// Splits "<prefix>.<kind>.<name>"; nullopt for other subjects.
  std::optional<std::pair<message_kind, std::string>> classify(const std::string& subject) const;

  /// What to subscribe to: one per action rule (in the queue group, so that
  /// names without a rule get no-responders from the server), one per event
  /// rule, and "<prefix>.audit.>".
  std::vector<mss_subscription> subscriptions() const;

  /// Handles one message. `reply` is empty when the publisher wants none;
  /// `msg_id` is the Nats-Msg-Id header value, if any. Never blocks.
  void on_message(const std::string& subject, std::string payload, reply_fn reply = {},
                  const std::string& msg_id = {});

  /// Snapshot of the counters.
  dispatcher_stats stats() const;

  /// {"ok":false,"error":text} (plus correlationId when known).
  static std::string error_reply(const std::string& text, const std::optional<std::string>& correlation_id = {});

 private:
  struct counters {
    std::atomic<std::uint64_t> received{0}, expired{0}, handler_runs{0}, handler_failures{0}, dead_letters{0},
        duplicates{0}, unrouted{0};
  };

  void refuse_expired(const handler_input& input, message_kind kind, const reply_fn& reply);
  void on_action(std::shared_ptr<const handler_input> input, reply_fn reply, const std::string& msg_id);
  /// Events and audits: every matching handler, or a clear answer when none.
  void on_event(std::shared_ptr<const handler_input> input, message_kind kind, reply_fn reply);
  void run_action(std::shared_ptr<const handler_input> input, std::vector<std::shared_ptr<handler>> targets,
                  std::function<void(std::string reply, bool ok)> done);
  void run_event(std::shared_ptr<const handler_input> input, std::vector<std::shared_ptr<handler>> targets,
                 message_kind kind, reply_fn reply);
  /// The one retry policy for `target`'s runs on a `kind` message: audit,
  /// one run; else the handler's own `retry`; else event_retry for an
  /// event and one run for an action.
  retry_policy policy_for(const handler& target, message_kind kind) const;
  /// Runs `target` under `policy`; `done` gets the last result and the
  /// number of runs that tried the peer.
  void run_with_retry(std::shared_ptr<const handler_input> input, std::shared_ptr<handler> target,
                      retry_policy policy, std::function<void(handler_result, unsigned attempts)> done);
  void dead_letter(const handler_input& input, const handler& target, const handler_result& result,
                   unsigned attempts);
  void log_run(const handler_input& input, const handler& target, const handler_result& result, unsigned attempt);
  std::vector<std::shared_ptr<handler>> resolve(const std::vector<std::string>& names) const;

  boost::asio::any_io_executor executor_;
  dispatcher_options options_;
  route_table actions_, events_, audits_;
  const handler_set& handlers_;
  publish_fn publish_;
  log_fn log_;
  idempotency_cache idempotency_;
  std::shared_ptr<counters> counters_ = std::make_shared<counters>();
};

}  // namespace courier::mss
