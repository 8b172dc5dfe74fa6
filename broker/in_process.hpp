// In-process client connections: an application linked with the broker
// publishes and subscribes through direct calls, with no socket and no text
// protocol. Messages flow both ways between these and TCP clients.
//
// Callbacks run on the connection's own dispatch thread, one at a time and in
// arrival order (like a stock NATS client), never on the broker's loops, so a
// slow callback cannot stall other clients. Request replies are completed
// directly, so request() may be called from inside a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "broker/subscriber.hpp"

namespace courier::broker {

class server;

/// Options of an in-process connection (the CONNECT fields that apply).
struct connection_options {
  std::string name;   ///< for logs
  bool echo = true;   ///< receive own publishes on matching subscriptions
};

/// A received message, owning its bytes.
struct message {
  std::string subject;
  std::string reply;
  std::string headers;  ///< header block, empty when none
  std::string payload;
  /// The status code of a status-only message (e.g. 503 no responders), else 0.
  int status() const;
};

using message_handler = std::function<void(const message&)>;

/// How a request ended.
enum class request_status { ok, timeout, no_responders, closed };
const char* to_string(request_status status);

struct request_result {
  request_status status = request_status::timeout;
  message reply;
};

/// An in-process client. Create with server::connect(). Thread-safe.
class connection final : public subscriber {
 public:
  static std::shared_ptr<connection> create(server& owner, const connection_options& options);
  ~connection() override;

  /// Publishes; returns false if nothing was subscribed to `subject`.
  /// Throws std::invalid_argument for an invalid publish subject, std::logic_error when closed.
  bool publish(std::string_view subject, std::string_view payload, std::string_view reply = {},
               std::string_view headers = {});
  /// Subscribes; `handler` runs on this connection's dispatch thread.
  /// Returns the subscription id. Throws std::invalid_argument for an invalid subject/queue.
  std::uint64_t subscribe(std::string_view subject, message_handler handler, std::string_view queue = {});
  /// Removes a subscription now, or after `max` more messages in total (like UNSUB <sid> <max>).
  void unsubscribe(std::uint64_t sid, std::uint64_t max = 0);
  /// Publishes with a unique reply subject and waits for the first reply.
  /// no_responders comes back at once when nothing is subscribed.
  request_result request(std::string_view subject, std::string_view payload, std::chrono::milliseconds timeout,
                         std::string_view headers = {});
  /// Waits until every message delivered to this connection so far has been
  /// handed to its callback. False on timeout.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Stops all subscriptions, lets queued messages reach their callbacks,
  /// then closes. False if the queue did not empty within `timeout`.
  bool drain(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Removes all subscriptions and stops the dispatch thread. Idempotent.
  void close();
  bool closed() const { return closed_.load(); }

  // subscriber
  void deliver(const subscription& sub, const message_view& message, flush_batch& batch) override;
  void flush_deliveries() override;
  void subscription_done(const std::shared_ptr<subscription>& sub) override;
  bool echo() const override { return options_.echo; }

 private:
  connection(server& owner, const connection_options& options);
  void dispatch_loop();
  void ensure_dispatcher();
  void ensure_reply_inbox();
  /// Takes every subscription out of the router; `drop_queued` also discards
  /// messages already queued for them (close), drain keeps them.
  void remove_all_subscriptions(bool drop_queued);

  /// A subscription's callback, shared with the messages queued for it, so
  /// that messages already delivered before an auto-unsubscribe still reach it.
  struct handler_state {
    message_handler handler;
    std::atomic<bool> cancelled{false};  ///< explicit unsubscribe/close: drop queued messages
  };
  /// What the router stores for an in-process subscribe.
  struct local_subscription : subscription {
    std::shared_ptr<handler_state> state;
  };
  struct queued {
    std::shared_ptr<handler_state> state;
    message msg;
  };
  struct entry {
    std::shared_ptr<local_subscription> sub;
  };

  server& server_;
  connection_options options_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> next_sid_{1};

  std::mutex subs_mutex_;
  std::unordered_map<std::uint64_t, entry> subs_;  // lock: subs_mutex_

  // Dispatch queue.
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<queued> queue_;       // lock: queue_mutex_
  bool dispatching_ = false;       // lock: queue_mutex_; a callback is running
  bool stop_dispatch_ = false;     // lock: queue_mutex_
  std::thread dispatcher_;
  std::once_flag dispatcher_started_;

  // Requests: one wildcard inbox, replies matched by their last token.
  std::once_flag inbox_started_;
  std::string inbox_prefix_;        // "_INBOX.<random>."
  std::atomic<const subscription*> inbox_{nullptr};  // the inbox subscription, once made
  std::mutex requests_mutex_;
  std::unordered_map<std::string, std::promise<message>> requests_;  // lock: requests_mutex_
  std::atomic<std::uint64_t> next_request_{1};
};

}  // namespace courier::broker
