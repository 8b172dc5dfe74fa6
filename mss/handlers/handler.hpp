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

#include <chrono>
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

 private:
  std::string name_;
  mutable handler_metrics metrics_;
  std::optional<retry_policy> retry_;
};

}  // namespace courier::mss
