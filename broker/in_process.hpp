// In-process client connections: an application linked with the broker
// publishes and subscribes through direct calls, with no socket and no text
// protocol. Messages flow both ways between these and TCP clients.
//
// By default callbacks run on the connection's own dispatch thread, one at a
// time and in arrival order (like a stock NATS client), never on the broker's
// loops, so a slow callback cannot stall other clients. With
// connection_options::inline_callbacks they run on the publisher's thread
// instead, inside its publish: no queue, no copy, no thread hop (what an
// embedded service on the hot path wants; the callback must then be quick and
// thread-safe). Request replies are completed directly, so request() may be
// called from inside a callback.
//
// An in-process client follows the client protocol's rules: with
// connection_options::user it authenticates as that configured user and
// lives in the user's account, held to its publish/subscribe permissions
// and to max_payload, exactly like a TCP client. Refusals are exceptions
// carrying the text nats-server would send a TCP client as -ERR (see
// permission_violation). Without a user it is the embedding application's
// own, trusted connection: global account, no restrictions (as before).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/client_identity.hpp"
#include "broker/close_reason.hpp"
#include "broker/connection_info.hpp"
#include "broker/spin_mutex.hpp"
#include "broker/subscriber.hpp"
#include "protocol/short_bytes.hpp"

namespace courier::broker {

class server;
class route_caches;  // broker/event_loop.hpp

/// Options of an in-process connection (the CONNECT fields that apply).
struct connection_options {
  std::string name{};  ///< for logs
  bool echo = true;   ///< receive own publishes on matching subscriptions
  /// Run callbacks on the publishing thread, inside its publish (which may be
  /// a broker event loop delivering a TCP client's message), instead of on
  /// this connection's dispatch thread. Callbacks may then run concurrently
  /// (one per publishing thread), must be thread-safe, must not throw and
  /// should not block: a slow one stalls the publisher. In particular, a
  /// callback run for a TCP client's message runs on a broker loop and must
  /// not wait in request(): the reply may need that very loop. Publishing
  /// from a callback is fine. No dispatch thread is started and nothing is
  /// copied for subscribe_view() handlers.
  bool inline_callbacks = false;
  /// How long the dispatch thread (and a requester waiting for its reply, and
  /// flush()) keeps polling for work before it goes to sleep. A sleeping
  /// thread costs a wake-up per message handed to it, and waking an idle
  /// vCPU takes tens of microseconds on a virtual machine; a thread that
  /// polls picks the next message up within a fraction of a microsecond. So a
  /// stream, or requests answered one after another, never sleeps, while an
  /// idle connection costs nothing once this has passed. The poll yields the
  /// core to other runnable threads as it goes. Zero: sleep at once.
  std::chrono::microseconds dispatch_spin{50};
  /// Authenticate as this configured user (CONNECT "user"/"pass"/"auth_token"
  /// of a TCP client): its account and permissions then apply. Empty: the
  /// application's own unrestricted connection in the global account. Ignored
  /// when the server requires no authentication, as for a TCP client.
  std::string user{};
  std::string password{};  ///< with `user`
  std::string auth_token{};  ///< token authentication instead of user/password
  /// Without `user`: live in this account (by name) instead of the global
  /// one, unrestricted. For the server's own services (the system account's
  /// responders), never for an application's untrusted code.
  std::string account{};
  /// A server-internal client (nats-server's system clients): not listed by
  /// monitoring (/connz, /varz connections), not closed by shutdown; its
  /// owner closes it before the server goes.
  bool internal = false;
};

/// A publish or subscribe refused by the connection's permissions. what()
/// is exactly the -ERR text nats-server sends a TCP client for it, e.g.
/// `Permissions Violation for Publish to "secret.x"`. The connection stays
/// open, as a TCP client's does.
class permission_violation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
/// A handler that gets views of the message: valid only during the call (copy
/// what must outlive it). With inline callbacks nothing is copied at all.
using message_view_handler = std::function<void(const message_view&)>;

/// How a request ended.
enum class request_status { ok, timeout, no_responders, closed };
const char* to_string(request_status status);

struct request_result {
  request_status status = request_status::timeout;
  message reply;
};

/// An in-process client. Create with server::connect(). Thread-safe.
class local_client final : public subscriber {
 public:
  /// Made by server::connect(); `id` is its cid among all connections.
  static std::shared_ptr<local_client> create(server& owner, const connection_options& options, std::uint64_t id);
  ~local_client() override;

  /// Publishes; returns false if nothing was subscribed to `subject`.
  /// Throws std::invalid_argument for an invalid publish subject,
  /// std::length_error ("Maximum Payload Violation") above max_payload,
  /// permission_violation when the user may not publish there (nothing is
  /// routed), std::logic_error when closed.
  bool publish(std::string_view subject, std::string_view payload, std::string_view reply = {},
               std::string_view headers = {});
  /// Subscribes; `handler` runs on this connection's dispatch thread.
  /// Returns the subscription id. Throws std::invalid_argument for an
  /// invalid subject/queue, permission_violation when the user may not
  /// subscribe there.
  std::uint64_t subscribe(std::string_view subject, message_handler handler, std::string_view queue = {});
  /// As subscribe(), with a handler that receives views instead of an owning
  /// message (see message_view_handler).
  std::uint64_t subscribe_view(std::string_view subject, message_view_handler handler,
                               std::string_view queue = {});
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
  /// Close (or drain) every connection before the server goes away: until
  /// then its subscriptions, and the router cache its publishes use (which
  /// holds the subscriptions it last published to, and so their owners), keep
  /// connections alive, possibly in a cycle between two of them.
  void close();
  bool closed() const { return closed_.load(); }
  /// Why it closed (client_closed after close()/drain(), server_shutdown
  /// when the server shut down); empty while open.
  std::optional<broker::close_reason> close_reason() const;
  /// The user authenticated as; empty for the unrestricted connection.
  const std::string& user() const { return identity_.user(); }

  /// Closes with `reason` (the server's shutdown). Idempotent.
  void close(broker::close_reason reason);
  /// Its cid (client ids are shared with socket connections).
  std::uint64_t id() const { return id_; }
  /// A snapshot for monitoring (as connection::info). Any thread.
  connection_info info() const;

  // subscriber
  void deliver(const subscription& sub, const message_view& message, flush_batch& batch) override;
  void flush_deliveries() override;
  void subscription_done(const std::shared_ptr<subscription>& sub) override;
  bool echo() const override { return options_.echo; }

 private:
  local_client(server& owner, const connection_options& options, std::uint64_t id);
  void dispatch_loop();
  void ensure_dispatcher();
  void ensure_reply_inbox();
  std::uint64_t add_subscription(std::string_view subject, std::string_view queue, message_handler handler,
                                 message_view_handler view_handler);
  /// Completes the pending request a reply on the inbox answers.
  void complete_request(const message_view& view);
  /// Takes every subscription out of the router; `drop_queued` also discards
  /// messages already queued for them (close), drain keeps them.
  void remove_all_subscriptions(bool drop_queued);

  /// A subscription's callback, shared with the messages queued for it, so
  /// that messages already delivered before an auto-unsubscribe still reach it.
  /// `to = from`; a plain copy when the sizes match (a stream of like
  /// messages: the same subject, an empty reply, a fixed-size payload),
  /// which costs a fraction of std::string::assign for short strings.
  static void overwrite(std::string& to, std::string_view from) {
    if (to.size() == from.size()) {
      protocol::copy_bytes(to.data(), from.data(), from.size());
    } else {
      to.assign(from);
    }
  }
  struct handler_state {
    message_handler handler;            ///< one of the two is set
    message_view_handler view_handler;
    std::atomic<bool> cancelled{false};  ///< explicit unsubscribe/close: drop queued messages
    /// Calls the handler; an owning handler gets `scratch` filled with the
    /// message (reused, so its strings keep their capacity).
    void call(const message_view& view, message& scratch) const {
      if (view_handler) {
        view_handler(view);
      } else if (handler) {
        overwrite(scratch.subject, view.subject);
        overwrite(scratch.reply, view.reply);
        overwrite(scratch.headers, view.headers);
        overwrite(scratch.payload, view.payload);
        handler(scratch);
      }
    }
  };
  /// What the router stores for an in-process subscribe.
  struct local_subscription : subscription {
    std::shared_ptr<handler_state> state;
  };
  /// Messages waiting for the dispatch thread, packed into one byte buffer:
  /// per message a record (the handler and the four sizes) followed by its
  /// subject, reply, headers and payload. A 16-byte message takes one cache
  /// line, so the hand-over between the publishing thread and the dispatch
  /// thread moves little memory. Two of these swap between the publishers
  /// and the dispatcher; both keep their capacity.
  class message_queue {
   public:
    struct record {
      const handler_state* state;
      std::uint32_t subject, reply, headers, payload;
    };
    /// Appends a copy of `view` for `state`.
    void push(const std::shared_ptr<handler_state>& state, const message_view& view);
    std::size_t size() const { return count_; }
    /// Calls `visit(state, view)` for each message in order.
    template <typename Visit>
    void for_each(Visit&& visit) const {
      std::size_t at = 0;
      for (std::size_t i = 0; i < count_; ++i) {
        record head;
        std::memcpy(&head, bytes_.data() + at, sizeof head);
        const char* data = bytes_.data() + at + sizeof head;
        message_view view{};
        view.subject = {data, head.subject};
        view.reply = {data + head.subject, head.reply};
        view.headers = {data + head.subject + head.reply, head.headers};
        view.payload = {data + head.subject + head.reply + head.headers, head.payload};
        visit(*head.state, view);
        at += stride(head);
      }
    }
    /// Empties it; keeps up to `kept_capacity` bytes of buffer.
    void clear();
    /// Drops queued messages and every handler reference.
    void reset();

   private:
    static std::size_t stride(const record& head) {
      const std::size_t size = sizeof(record) + head.subject + head.reply + head.headers + head.payload;
      return (size + alignof(record) - 1) & ~(alignof(record) - 1);
    }
    static constexpr std::size_t kept_capacity = 1 << 20;
    std::vector<char> bytes_;  ///< bytes_.size() is the capacity in use; used_ is the fill
    std::size_t used_ = 0;
    std::size_t count_ = 0;
    /// Keeps every handler a record points at alive: one entry per change of
    /// handler, so a stream to one subscription takes no reference counts.
    std::vector<std::shared_ptr<handler_state>> states_;
  };
  /// The largest payload capacity the dispatcher's reused message keeps.
  static constexpr std::size_t kept_payload_capacity = 64 * 1024;
  /// A request waiting for its reply. The requester polls `state` for
  /// dispatch_spin, then sleeps on `wake`; the replier (or close()) always
  /// takes `mutex` after setting it, so a requester that went to sleep is woken.
  struct pending_request {
    enum : int { waiting, answered, abandoned };
    std::atomic<int> state{waiting};
    message reply;  ///< written before state becomes answered
    std::mutex mutex;
    std::condition_variable wake;
  };
  struct entry {
    std::shared_ptr<local_subscription> sub;
  };
  /// Runs the callback on the publisher's thread (inline_callbacks).
  static void call_inline(const handler_state& state, const message_view& view);
  /// Queues a copy for the dispatch thread; true when the dispatcher sleeps
  /// and this caller must wake it (flush_deliveries, once per batch).
  bool enqueue(const local_subscription& local, const message_view& view);
  /// Before taking a batch smaller than gather_goal: waits while the queue
  /// keeps growing, up to gather_limit. It looks at the count after
  /// gather_pauses pauses (about 0.6 us), then after twice as many each time
  /// the count grew, up to gather_max_pauses: every look takes the count's
  /// cache line from the publisher, whose next atomic instruction then waits
  /// for it to come back, so a stream is looked at seldom, while a lone
  /// message (a request) is taken at the first look. Not at all when the
  /// publisher shares the dispatcher's CPU.
  void gather() const;
  static constexpr std::size_t gather_goal = 256;
  static constexpr std::chrono::microseconds gather_limit{20};
  static constexpr int gather_pauses = 32;
  static constexpr int gather_max_pauses = 128;
  /// Polls `ready` for options_.dispatch_spin; true as soon as it holds.
  /// `other_cpu`: the CPU the thread that will make it hold last ran on,
  /// or -1. When that is the caller's own CPU, that thread cannot run while
  /// the caller polls (one core, or the two threads put on one), so the
  /// caller yields the core at once instead of polling first.
  template <typename Ready>
  bool spin_until(Ready&& ready, int other_cpu = -1) const;
  /// The CPU the calling thread runs on, or -1 where that is not known.
  static int current_cpu() noexcept;

  /// Applies options_.user's credentials; throws on failure.
  void authenticate();
  /// The permission check for a publish when the identity has rules; throws
  /// permission_violation.
  void check_publish(std::string_view subject);

  server& server_;
  connection_options options_;
  const std::int64_t max_payload_;
  /// Identity and permissions; fixed after create() but for the delivery
  /// filter's atomics. can_publish() keeps a per-connection decision cache
  /// that is not thread-safe: publishes from several threads take
  /// publish_check_mutex_, and only when permissions exist.
  client_identity identity_;
  std::mutex publish_check_mutex_;
  std::atomic<bool> closed_{false};
  const std::uint64_t id_;
  const std::chrono::system_clock::time_point started_;
  /// Monitoring counters, on their own cache line. Updated with a relaxed
  /// load and store, not a locked add, to keep the in-process fast path as
  /// cheap as it was: exact for one publishing thread and for queued
  /// deliveries (under queue_mutex_); several threads publishing through
  /// one client at the same instant, or inline deliveries racing, may lose
  /// counts (monitoring only).
  struct alignas(64) traffic {
    std::atomic<std::uint64_t> msgs_in{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> msgs_out{0};
    std::atomic<std::uint64_t> bytes_out{0};
    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
      counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void count_in(std::size_t bytes) noexcept {
      bump(msgs_in, 1);
      bump(bytes_in, bytes);
    }
    void count_out(std::size_t bytes) noexcept {
      bump(msgs_out, 1);
      bump(bytes_out, bytes);
    }
  } traffic_;
  std::atomic<int> close_reason_{-1};  // a broker::close_reason once closed
  std::atomic<std::uint64_t> next_sid_{1};

  mutable std::mutex subs_mutex_;
  std::unordered_map<std::uint64_t, entry> subs_;  // lock: subs_mutex_

  // Dispatch queue.
  // A spin lock: publishers hold it for one copy, the dispatcher for a swap,
  // and the two take it in turn for every few messages; a std::mutex here
  // put both threads into futex calls on most messages.
  // Three groups on cache lines of their own. What publishers write for
  // every message (the lock, the buffer) is read by the dispatcher once per
  // batch; the count it polls sits apart, so a look at the count does not
  // take the lock's line away from the publisher (whose next lock then
  // waited for it: on a VM a line moves between vCPUs in about 200 ns).
  alignas(64) spin_mutex queue_mutex_;
  message_queue queue_;                 // lock: queue_mutex_
  bool dispatcher_asleep_ = false;      // lock: queue_mutex_
  bool wake_requested_ = false;         // lock: queue_mutex_; a publisher will notify work_ready_
  bool queue_stopped_ = false;          // lock: queue_mutex_; stop_dispatch_ for the publishers
  alignas(64) std::atomic<std::size_t> queued_{0};  // queue_.size(), written under queue_mutex_, polled without
  std::atomic<bool> stop_dispatch_{false};  // written under queue_mutex_, polled by the dispatcher
  /// The CPU of the publisher that last found the queue empty (set once per
  /// batch, read by the dispatcher before it polls for the next one): on
  /// the line the publisher writes for every message anyway.
  std::atomic<int> publisher_cpu_{-1};
  alignas(64) std::atomic<bool> dispatching_{false};  // a batch taken and not yet done
  std::atomic<int> flush_waiters_{0};   // flush() calls asleep on drained_
  std::atomic<int> dispatcher_cpu_{-1};  // where the dispatcher last took a batch, for flush()
  std::condition_variable_any work_ready_;  // the dispatcher sleeps on it
  std::condition_variable_any drained_;     // flush() sleeps on it
  std::thread dispatcher_;
  std::once_flag dispatcher_started_;

  // Requests: one wildcard inbox, replies matched by their last token.
  std::once_flag inbox_started_;
  std::string inbox_prefix_;        // "_INBOX.<random>."
  std::atomic<const subscription*> inbox_{nullptr};  // the inbox subscription, once made
  std::mutex requests_mutex_;
  std::unordered_map<std::string, std::shared_ptr<pending_request>> requests_;  // lock: requests_mutex_
  std::atomic<std::uint64_t> next_request_{1};
  /// The CPU the last reply was completed on: the next request's guess of
  /// where its reply will come from.
  std::atomic<int> replier_cpu_{-1};

  // Router L1 caches for publishes from threads that have none of their own
  // (not an event loop); one publishing thread at a time holds routes_busy_.
  std::unique_ptr<route_caches> routes_;
  std::atomic_flag routes_busy_;
  std::atomic<std::thread::id> routes_owner_{};  // the thread holding routes_busy_, set while held
};

}  // namespace courier::broker
