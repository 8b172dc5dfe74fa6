// A connection: one transport, the read loop, the outbound buffer and its
// backpressure, keep-alive timers, the close and its reason, and the
// counters monitoring reads. What the bytes mean is its protocol role's
// business (broker/connection_role.hpp): the NATS client protocol today,
// a leaf node protocol later, on this same class.
//
// THREAD RULES
//  * A connection belongs to one event loop. Everything without a lock note
//    is touched only on that loop's thread ("loop thread"), including the
//    role's parsing and the transport's opening.
//  * Publishers on any thread append deliveries to pending_ (deliver(),
//    under out_mutex_) and ask for a flush through their flush_batch.
//  * Writes happen under write_mutex_, either on the loop or, when the
//    transport allows it (plain TCP) and the role has enabled it, directly
//    on a publisher's thread at the end of its batch (flush()). Lock order:
//    write_mutex_, then out_mutex_. Neither is held across fan-out, and
//    out_mutex_ is never held across I/O.
//  * The close runs on the loop (close() posts it); once closed_ is set
//    nothing is read or written again.
//  * Counters are atomics with a single writer each (see connection_counters),
//    so monitoring reads them without a lock and the data path takes none.
//
// Bytes go out in exactly one place: write_locked()/write_some_locked().
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "broker/close_reason.hpp"
#include "broker/connection_info.hpp"
#include "broker/event_loop.hpp"
#include "broker/outbound_buffer.hpp"
#include "broker/spin_mutex.hpp"
#include "broker/subscriber.hpp"
#include "broker/transport/transport.hpp"

namespace courier::broker {

class server;
class connection_role;

/// Per-connection counters. Each field has one writer, which updates it with
/// a relaxed load and store (no locked instruction); anyone may read them.
struct connection_counters {
  std::atomic<std::uint64_t> msgs_in{0};    ///< writer: the loop thread (the role)
  std::atomic<std::uint64_t> bytes_in{0};   ///< writer: the loop thread (the role)
  std::atomic<std::uint64_t> msgs_out{0};   ///< writer: whoever holds out_mutex_
  std::atomic<std::uint64_t> bytes_out{0};  ///< writer: whoever holds out_mutex_
  std::atomic<std::uint32_t> subscriptions{0};  ///< writer: the loop thread (the role)
  std::atomic<std::int64_t> last_activity_ns{0};  ///< steady clock; writer: the loop thread
  std::atomic<std::int64_t> rtt_ns{0};            ///< writer: the loop thread

  /// Adds `n` to a counter that only the caller writes.
  template <class T>
  static void add(std::atomic<T>& counter, T n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

/// Limits a connection enforces (from the server options).
struct connection_limits {
  std::int64_t max_pending = 64 * 1024 * 1024;  ///< pending bytes before a slow consumer is cut off
  std::chrono::milliseconds write_deadline{10000};  ///< longest a write may wait for the socket; 0 = none
  std::chrono::milliseconds ping_interval{120000};  ///< keep-alive period; 0 = none
  int ping_max = 2;                                 ///< unanswered PINGs before the connection is stale
  int stream_low_water = 0;                         ///< bytes a streaming socket waits for; 0 = every byte
  std::chrono::microseconds stream_low_water_hold{0};  ///< longest the mark stays raised
};

/// One connection over a transport. Create with std::make_shared, then
/// set_role() and start() on the loop.
class connection final : public std::enable_shared_from_this<connection> {
 public:
  using clock = std::chrono::steady_clock;

  connection(server& owner, event_loop& loop, std::unique_ptr<transport> transport, std::uint64_t id);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Installs the protocol role; once, before start().
  void set_role(std::unique_ptr<connection_role> role);
  /// Opens the transport (greeting, TLS) and starts reading. Loop thread.
  void start();
  /// Closes after writing what is queued, on the loop. Any thread.
  void close(close_reason reason);
  /// Closes now. Loop thread.
  void close_now(close_reason reason);
  /// Timers: opening deadlines, the role's, write deadline, pings. Loop thread.
  void tick(clock::time_point now);

  // ---- the role's interface to its connection ----

  /// Queues bytes from the loop thread (replies to the peer's own ops); they
  /// go out with the read batch's flush.
  void send(std::string_view bytes);
  /// Queues one delivery from a publisher's thread: `encode(outbound_buffer&)`
  /// appends it. Applies max_pending (a slow consumer is closed) and asks the
  /// publisher to stall above stall_threshold(). `self` is the receiver registered
  /// in `batch`. False when the connection is closing.
  ///
  /// `referable` is the part of the message `encode` may queue as a
  /// reference (the payload): when it is at least min_referenced_bytes, lies
  /// in a read slab `batch` lets receivers reference, and this connection
  /// writes with gathering writes (plain TCP), `encode(outbound_buffer&,
  /// read_slab*)` gets that slab and may reference it
  /// (outbound_buffer::append_reference); otherwise it gets null.
  template <class Encode>
  bool deliver(Encode&& encode, std::size_t message_bytes, flush_batch& batch, subscriber& self,
               std::string_view referable = {});
  /// Payloads from this size on are referenced rather than copied, where
  /// deliver() allows it. Below it a copy costs less than the gathering
  /// write's extra piece.
  static constexpr std::size_t min_referenced_bytes = 2048;
  /// Queues protocol bytes from any thread, in order with deliveries: a
  /// leaf connection's interest updates (LS+/LS-), which subscriptions made
  /// on other connections cause. They go out with the calling loop's batch,
  /// or with a flush posted to this connection's loop from a foreign thread.
  /// Not counted as messages; no slow-consumer check (interest is small).
  void send_from_any_thread(std::string_view bytes);
  /// Writes what is queued: now on the loop or on a publisher's thread
  /// (direct writes), else by posting to the loop. Any thread.
  void flush();
  /// Lets publishers' threads write directly, if the transport allows it.
  /// Loop thread (once the peer is known: CONNECT).
  void enable_direct_writes();
  /// Starts the keep-alive: the first PING after `first`, then every ping_interval.
  void schedule_first_ping(std::chrono::milliseconds first);
  /// A PONG came: the peer is alive; measures the round trip. Loop thread.
  void on_pong();
  /// Calls `resume` once pending bytes fall below the stall threshold. Any thread.
  void notify_when_drained(std::function<void()> resume);
  /// How long a producer stalled on this connection waits (nats-server stallDuration). Any thread.
  std::chrono::milliseconds stall_timeout() const;
  /// Pending bytes above which publishers are asked to stall: half of
  /// max_pending, as nats-server does, but at most max_stall_threshold.
  std::int64_t stall_threshold() const noexcept {
    return std::min<std::int64_t>(limits_.max_pending / 2, max_stall_threshold);
  }
  /// A consumer that falls behind a fast producer holds at most about this
  /// much (plus a read turn) before the producer is paced. nats-server's
  /// half of max_pending is 32 MiB by default: buffers that size go out of
  /// cache and are faulted in afresh, page by page, whenever they grow
  /// (after an idle tick frees them, or on a new connection). Capped at
  /// 4 MiB, fanout16x4's system time per delivery fell to 0.4-0.5x
  /// (fanout16x32's by a fifth when quiet, not when busy; bench/RESULTS.md,
  /// "Stalling producers at 4 MiB"); the slow-consumer cut-off (max_pending)
  /// is unchanged.
  static constexpr std::int64_t max_stall_threshold = std::int64_t{4} << 20;
  /// Replaces what monitoring shows of the peer's identity. Loop thread.
  void set_identity(connection_identity identity);
  /// Keeps the subscriptions it had, for its closed snapshot. Loop thread, once.
  void set_closed_subscriptions(std::vector<subscription_info> subscriptions);
  /// The receiver for subscriptions: the role, kept alive by this connection.
  std::shared_ptr<subscriber> receiver();

  /// True once closed. Loop thread.
  bool closed() const { return closed_; }
  /// The client id (cid), unique for the server's lifetime.
  std::uint64_t id() const { return id_; }
  /// The flush batch of this connection's loop: what the role's publishes
  /// register receivers in and check for stalls. Loop thread.
  flush_batch& batch() {
    assert(loop_.in_this_thread());
    return loop_.batch();
  }
  /// The transport: peer address, TLS peer certificate.
  const transport& link() const { return *transport_; }
  /// The protocol role, for server events (reload, lame duck, refusal).
  connection_role& role() { return *role_; }
  /// Counters the role updates (messages in, subscriptions).
  connection_counters& counters() { return counters_; }
  /// The limits in force (from the server options at creation).
  const connection_limits& limits() const { return limits_; }
  /// "ip:port - cid:N - ", the prefix of this connection's log lines.
  const std::string& log_prefix() const { return log_prefix_; }
  /// Runs `work` on this connection's loop, keeping the connection alive
  /// until it has run. Any thread (not for the per-message path).
  void post(std::function<void()> work);
  /// Whether the calling thread is this connection's loop thread.
  bool on_loop_thread() const { return loop_.in_this_thread(); }
  /// A snapshot for monitoring. Any thread.
  connection_info info() const;

 private:
  /// The closed connection's queued output: wait writable, write, until
  /// linger_ is all written, then the goodbye and the transport's close.
  void linger_write();
  void end_linger(close_reason reason);
  void end_linger_locked(close_reason reason);
  // Opening (loop thread).
  void drive_open(const boost::system::error_code& wait_error);
  void do_open_wait(transport::wait_type what);
  /// Acts on one opening step; false when the opening waits or ended.
  bool on_open_step(const open_step& step);

  // Reading (loop thread).
  void do_read();
  void on_readable(const boost::system::error_code& ec);
  /// How a read turn ended: the socket is drained, the role paused (stall),
  /// the turn's budget is spent, the role closed the connection (flush what
  /// it delivered, then stop), or a read failed (already flushed and closed).
  enum class read_end { drained, paused, turn_over, stopped, closed };
  /// Feeds bytes kept from a paused read; adds to `bytes_read`.
  read_end feed_unparsed(std::size_t& bytes_read);
  /// Reads and feeds until drained, paused or the turn is over.
  read_end read_turn(std::size_t& bytes_read);
  /// After a read turn: flush, stall or read on.
  void after_read_turn(read_end end, std::size_t bytes_read);
  /// Pauses reading until `receiver` drains or its stall timeout passes.
  void stall_reading(const std::shared_ptr<subscriber>& receiver);
  void resume_reading(std::uint64_t stall_id);
  /// After two read turns of stream_turn_bytes or more: the socket wakes
  /// the loop only once limits_.stream_low_water bytes wait, for
  /// limits_.stream_low_water_hold.
  void raise_read_low_water();

  // Writing.
  enum class write_result { done, wait_writable, failed };
  void write_pending();                  // loop thread
  write_result write_locked();          // write_mutex_ held
  write_result write_some_locked();     // write_mutex_ held
  void release_drained_producers();     // write_mutex_ held; after a write
  void after_write(write_result result);  // loop thread
  void wait_writable();                 // loop thread
  void on_writable(const boost::system::error_code& ec);

  // Timers (loop thread).
  bool check_write_deadline(clock::time_point now);
  void check_ping(clock::time_point now);
  /// Over max_pending: counted, logged, closed. Any thread.
  void cut_off_slow_consumer();

  server& server_;
  event_loop& loop_;
  std::unique_ptr<transport> transport_;
  std::unique_ptr<connection_role> role_;
  const std::uint64_t id_;
  const connection_limits limits_;
  bool cut_off_over_max_pending_ = true;  ///< from the role, set before start()
  std::string log_prefix_;
  connection_counters counters_;
  const std::chrono::system_clock::time_point started_;
  const clock::time_point started_steady_;

  // Identity for monitoring.
  mutable std::mutex identity_mutex_;
  connection_identity identity_;  // lock: identity_mutex_
  transport::tls_description tls_;  // lock: identity_mutex_ (set once open)
  std::vector<subscription_info> closed_subscriptions_;  // lock: identity_mutex_

  // Outbound. pending_ is appended to by publishers on any loop.
  mutable spin_mutex out_mutex_;    // held only to append or swap, never across I/O
  outbound_buffer pending_;         // lock: out_mutex_
  /// Bytes handed to writing_ and not yet written. pending_.size() + unsent_
  /// is what nats-server calls pending bytes: it decides slow consumers and
  /// producer stalls.
  std::size_t unsent_ = 0;          // lock: out_mutex_
  bool flush_requested_ = false;    // lock: out_mutex_; a flush is registered or running
  bool closing_ = false;            // lock: out_mutex_; no more deliveries
  std::vector<std::function<void()>> drain_waiters_;  // lock: out_mutex_; stalled producers

  std::mutex write_mutex_;
  outbound_buffer writing_;         // lock: write_mutex_; the buffer being written
  std::size_t written_ = 0;         // lock: write_mutex_; bytes of writing_ already written
  bool write_in_flight_ = false;    // lock: write_mutex_; waiting for writability
  bool transport_closed_ = false;   // lock: write_mutex_; close_now closed the transport
  bool wrote_since_tick_ = false;   // lock: write_mutex_; buffers are freed when idle
  clock::time_point write_started_{};  // lock: write_mutex_
  /// Publishers may write directly (enable_direct_writes).
  std::atomic<bool> direct_writes_{false};

  // Loop thread.
  bool opening_ = true;              // the transport has not said ready yet
  bool closed_ = false;              // close_now ran
  bool reading_ = false;             // a read wait is pending
  std::uint64_t stall_id_ = 0;       // which stall a resume belongs to
  bool stalled_ = false;
  /// Bytes read but not consumed: the role paused in the middle of a read
  /// (a receiver asked this producer to stall). They stay in the read slab
  /// they came in, which this connection holds meanwhile (the loop reads
  /// into another), and are fed first when reading resumes, from
  /// unparsed_at_ to unparsed_end_. Not copied: up to a whole read (1 MiB)
  /// per pause.
  read_slab* unparsed_ = nullptr;  // held
  std::size_t unparsed_at_ = 0;
  std::size_t unparsed_end_ = 0;
  std::unique_ptr<boost::asio::steady_timer> stall_timer_;  // made on first stall
  /// A streaming producer is read in big pieces: after two big read turns
  /// the kernel reports the socket readable only once a quarter MiB waits
  /// (SO_RCVLOWAT), and a timer puts the mark back to every byte shortly
  /// after, so the end of a stream (less than the mark, which would never
  /// wake us) waits for that timer at most. A loop woken once per 64 KiB
  /// skb spent a quarter of its time going to sleep and waking up.
  bool read_low_water_ = false;  // the mark is raised now
  std::uint8_t big_read_turns_ = 0;  // read turns in a row of stream_turn_bytes or more
  std::unique_ptr<boost::asio::steady_timer> low_water_timer_;  // made on the first big read
  /// After close_now: output queued before the close that the socket had
  /// not taken yet, written as it drains (lock: write_mutex_), until the
  /// write deadline (linger_timer_).
  std::string linger_;
  std::size_t linger_done_ = 0;  // lock: write_mutex_; bytes of linger_ written
  close_reason linger_reason_ = close_reason::client_closed;
  std::unique_ptr<boost::asio::steady_timer> linger_timer_;
  clock::time_point next_ping_{};
  clock::time_point ping_sent_{};
  int pings_out_ = 0;
};

template <class Encode>
bool connection::deliver(Encode&& encode, std::size_t message_bytes, flush_batch& batch, subscriber& self,
                         std::string_view referable) {
  bool register_flush = false;
  bool slow = false;
  bool over_half = false;
  {
    std::lock_guard lock(out_mutex_);
    if (closing_) return false;
    if constexpr (std::is_invocable_v<Encode&, outbound_buffer&, read_slab*>) {
      read_slab* slab = nullptr;
      if (referable.size() >= min_referenced_bytes && direct_writes_.load(std::memory_order_relaxed)) {
        slab = batch.slab_holding(referable);
      }
      encode(pending_, slab);
    } else {
      encode(pending_);
    }
    // The next delivery here writes past the tail: ask for that line now,
    // while the publisher goes on to other receivers.
    if (pending_.size() + 64 < pending_.capacity()) __builtin_prefetch(pending_.data() + pending_.size() + 64, 1);
    connection_counters::add(counters_.msgs_out, std::uint64_t{1});
    connection_counters::add(counters_.bytes_out, static_cast<std::uint64_t>(message_bytes));
    const auto pending = static_cast<std::int64_t>(pending_.total() + unsent_);
    if (pending > limits_.max_pending && cut_off_over_max_pending_) {
      slow = true;
      closing_ = true;
    } else if (pending > stall_threshold() && !batch.stall_requested()) {
      over_half = true;
    }
    if (!slow && !flush_requested_) {
      flush_requested_ = true;
      register_flush = true;
    }
  }
  if (slow) {
    cut_off_slow_consumer();
    return false;
  }
  // The receiver is owned by this connection: share its ownership.
  if (register_flush) batch.add(std::shared_ptr<subscriber>(shared_from_this(), &self));
  if (over_half) batch.request_stall(std::shared_ptr<subscriber>(shared_from_this(), &self));
  return true;
}

}  // namespace courier::broker
