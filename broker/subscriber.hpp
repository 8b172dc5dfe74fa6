// The receiving side of a subscription: a socket connection's protocol role or an in-process
// connection. Publishers call deliver() on their own thread; the receiver
// queues the message and, if it needs a flush, registers in the publisher's
// flush_batch, which is flushed once per read batch (not once per message).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "broker/read_slab.hpp"
#include "broker/subscription.hpp"

namespace courier::broker {

class subscriber;

/// Receivers touched while processing one read batch (or one in-process
/// publish). Owned by the publishing thread; never shared.
class flush_batch {
 public:
  /// Called by a receiver the first time it has unflushed data in this batch.
  void add(std::shared_ptr<subscriber> receiver) { receivers_.push_back(std::move(receiver)); }
  /// Asks every registered receiver to flush, then forgets them.
  void flush();
  bool empty() const { return receivers_.empty(); }

  /// A receiver over half its max_pending asks the publisher of this batch
  /// to pause reading until it drains (nats-server stalls fast producers).
  void request_stall(std::shared_ptr<subscriber> receiver) {
    if (!stall_on_) stall_on_ = std::move(receiver);
  }
  bool stall_requested() const { return stall_on_ != nullptr; }
  /// The receiver to wait for, if any; clears the request.
  std::shared_ptr<subscriber> take_stall() { return std::move(stall_on_); }

  /// While the loop feeds bytes read into `slab` to a protocol role,
  /// receivers may queue payloads that lie in it as references to the slab
  /// (outbound_buffer::append_reference) instead of copies. Loop thread.
  void allow_references(read_slab* slab) { referable_ = slab; }
  void end_references() { referable_ = nullptr; }
  /// The slab `bytes` lie in, if receivers may reference them; else null.
  read_slab* slab_holding(std::string_view bytes) const {
    return referable_ != nullptr && referable_->contains(bytes.data(), bytes.size()) ? referable_ : nullptr;
  }

 private:
  std::vector<std::shared_ptr<subscriber>> receivers_;
  std::shared_ptr<subscriber> stall_on_;
  read_slab* referable_ = nullptr;
};

/// One message as the router hands it to a receiver. Views into the
/// publisher's buffer: valid only during deliver().
struct message_view {
  std::string_view subject;
  std::string_view reply;
  std::string_view headers;  ///< the header block (NATS/1.0...CRLFCRLF), or empty
  std::string_view payload;
  /// The publisher's size arguments as it wrote them, which nats-server
  /// echoes verbatim ("PUB a 002" is delivered as "MSG a <sid> 002"). Set by
  /// socket connections; empty otherwise, and then the sizes are written in decimal.
  std::string_view header_size_text;
  std::string_view total_size_text;
};

/// Anything that can hold subscriptions and receive messages.
class subscriber : public std::enable_shared_from_this<subscriber> {
 public:
  virtual ~subscriber() = default;

  /// Queues `message` for `sub`. Called on the publisher's thread; must not
  /// block on I/O. Registers in `batch` when a flush is needed.
  virtual void deliver(const subscription& sub, const message_view& message, flush_batch& batch) = 0;

  /// For receivers whose subscriptions carry subscription::remote_interest
  /// (leaf connections): one message, once, whichever of its subscriptions
  /// matched, with the queue groups this receiver was picked for (empty
  /// when only plain interest matched). Publisher's thread, like deliver().
  virtual void deliver_remote(const message_view& message, const std::vector<std::string_view>& queues,
                              flush_batch& batch) {
    (void)message;
    (void)queues;
    (void)batch;
  }

  /// Writes out (or dispatches) what deliver() queued. Called once per batch;
  /// may be called from any thread, so implementations hop to their own.
  virtual void flush_deliveries() = 0;

  /// The router removed `sub` after it reached its auto-unsubscribe count;
  /// the owner forgets it (called on the publisher's thread).
  virtual void subscription_done(const std::shared_ptr<subscription>& sub) = 0;

  /// Calls `resume` (from any thread) once this receiver's queue has drained
  /// below its stall threshold; at once if it already has.
  virtual void notify_when_drained(std::function<void()> resume) { resume(); }

  /// How long a producer stalled on this receiver waits for the drain before
  /// it goes on anyway.
  virtual std::chrono::milliseconds stall_timeout() const { return std::chrono::seconds(1); }

  /// Whether this receiver wants messages it published itself (CONNECT echo).
  virtual bool echo() const { return true; }
};

inline void flush_batch::flush() {
  for (auto& receiver : receivers_) receiver->flush_deliveries();
  receivers_.clear();
}

}  // namespace courier::broker
