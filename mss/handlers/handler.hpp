// The effect-handler interface the message-service dispatcher drives: one
// handler per configured name (email_user, sms_user, audit, ...), each
// turning a message into an effect and reporting the outcome once.
//
// Contract for implementations:
//  * run() never blocks: I/O is asynchronous on the executor the handler
//    was built with, or (audit) on the audit log's writer thread.
//  * `done` is called exactly once, from any thread; the dispatcher posts
//    to its own strand if it needs to.
//  * Bad input (missing template fields, CR/LF in header fields, non-JSON
//    payload where JSON is needed) is a failed result with a clear error,
//    never an exception and never a malformed SMTP or HTTP request.
//  * One run is one try at the peer: at most one SMTP transaction or one
//    HTTP request. Handlers never retry by themselves; the dispatcher owns
//    retrying (mss/handlers/dispatcher.hpp), with the handler's own
//    `retry` policy when it has one, so that the attempts a dead letter
//    reports are the requests the peer saw.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <picojson.h>

#include "mss/common/retry.hpp"
#include "mss/handlers/envelope.hpp"
#include "mss/handlers/handler_metrics.hpp"

namespace courier::mss {

/// One message as the handlers see it; shared, immutable, by all handlers
/// a message fans out to.
struct handler_input {
  std::string subject;   ///< the NATS subject it arrived on
  std::string name;      ///< the action/event name (subject after "<prefix>.<kind>.")
  std::string payload;   ///< raw payload bytes
  envelope message;      ///< parsed payload and envelope fields
  std::chrono::system_clock::time_point received = std::chrono::system_clock::now();  ///< arrival time

  /// Builds an input, parsing the payload.
  static std::shared_ptr<const handler_input> make(std::string subject, std::string name, std::string payload);
};

/// Outcome of one handler run.
struct handler_result {
  bool ok = false;          ///< the effect happened
  std::string error;        ///< why not (empty when ok)
  picojson::object details; ///< handler-specific facts (smtp_code, status...)
  bool retryable = true;    ///< false when retrying cannot help (bad input, template error)
  /// False when the run failed before trying the peer (bad input, template
  /// error): it does not count as an attempt in the dead letter.
  bool tried = true;
};

/// How many messages one handler works on at once unless its config says
/// otherwise (`max_in_flight`): a message counts from its first run until
/// its last retry ends. One more is refused at once (a failed, final
/// result), so that a peer that stops answering cannot make messages queue
/// without limit: the runs already in flight end with their timeouts.
inline constexpr std::size_t default_max_in_flight = 1000;

/// Completion callback; called exactly once, from any thread.
using handler_done = std::function<void(handler_result)>;

/// Base of all effect handlers.
class handler {
 public:
  /// `name` is the configured handler name.
  explicit handler(std::string name) : name_(std::move(name)) {}
  virtual ~handler() = default;
  handler(const handler&) = delete;
  handler& operator=(const handler&) = delete;

  /// The configured name.
  const std::string& name() const { return name_; }
  /// The handler type ("email", "http", "webhook", "audit", "log").
  virtual std::string_view type() const = 0;
  /// Performs the effect for `input`; see the file comment for the contract.
  virtual void run(std::shared_ptr<const handler_input> input, handler_done done) = 0;

  /// What this handler's runs came to (counted by the dispatcher).
  handler_metrics& metrics() const { return metrics_; }

  /// The handler's own `retry` policy, which the dispatcher uses for its
  /// runs instead of `event_retry`; empty when the config gives none.
  const std::optional<retry_policy>& retry() const { return retry_; }
  /// Sets the policy (configuration time, before any run).
  void set_retry(retry_policy policy) { retry_ = policy; }

  /// The most messages this handler works on at once.
  std::size_t max_in_flight() const { return max_in_flight_; }
  /// Sets it (configuration time, before any run); at least 1.
  void set_max_in_flight(std::size_t limit) { max_in_flight_ = limit == 0 ? 1 : limit; }
  /// Messages in flight now.
  std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  /// Takes one of the max_in_flight places; false when none is free.
  bool try_begin() {
    std::size_t now = in_flight_.load(std::memory_order_relaxed);
    do {
      if (now >= max_in_flight_) return false;
    } while (!in_flight_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }
  /// Gives back a place taken by try_begin().
  void end() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  std::string name_;
  mutable handler_metrics metrics_;
  std::optional<retry_policy> retry_;
  std::size_t max_in_flight_ = default_max_in_flight;
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace courier::mss
