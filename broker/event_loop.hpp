// One thread running one io_context. Every connection belongs to exactly one
// loop and is touched only on that loop's thread, so per-connection state
// needs no locks (the outbound buffer, written by publishers on other loops,
// is the one exception and has its own mutex).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/mapped_storage.hpp"
#include "broker/read_slab.hpp"
#include "broker/router/route_cache.hpp"
#include "broker/subscriber.hpp"

namespace courier::broker {

/// Event loops to run when the options leave it to Courier (threads = 0):
/// one per two cores, at least one. Most of a message's cost is the
/// kernel's TCP work, and on loopback or with co-located clients much of it
/// runs on the senders' cores; each loop sleeps and wakes on its own, so a
/// loop per core wakes more often for the same traffic. Measured on two
/// vCPUs (bench/RESULTS.md), one loop against two: request/reply with eight
/// requesters used 0.81x the server CPU at 0.89x the p50 latency; with a
/// single requester, whose two connections then share a loop, 1.11x the CPU
/// at 1.14x the p50; the publish and pub/sub scenarios moved within noise.
constexpr std::size_t default_loop_count(unsigned cores) noexcept {
  return cores / 2 > 0 ? cores / 2 : 1;
}

/// An event loop: its thread, its io_context, and what is shared by all the
/// connections it owns (the read slab they read into, one flush batch).
class event_loop {
 public:
  /// Size of the loop's shared read buffer (a read slab). Connections read
  /// into it and the parser copies only operations split across reads, so an
  /// idle connection holds no read buffer at all. 1 MiB: a fast producer's backlog comes in
  /// with few recv() calls; a producer's stall is checked every 64 KiB it
  /// publishes (client_protocol::publish), not once per read, so the read size does
  /// not decide how far a receiver can fall behind.
  static constexpr std::size_t read_buffer_size = read_slab::size;

  explicit event_loop(std::size_t index);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  boost::asio::io_context& context() { return context_; }
  std::size_t index() const { return index_; }

  /// Starts the thread. `tick` runs on the loop every `period` (ping timers,
  /// auth timeouts, write deadlines are checked there). With `own_thread`
  /// false no thread starts: the loop runs only inside poll(), on the thread
  /// that calls it.
  void start(std::chrono::milliseconds period, std::function<void()> tick, bool own_thread = true);
  /// Stops the io_context and joins the thread. Not from the loop itself.
  void stop();

  /// A loop started without a thread of its own.
  bool driven() const { return driven_; }
  /// Runs the handlers that are ready now (I/O, expired timers, posted
  /// work), or with `wait` above zero first waits up to that long for one;
  /// returns how many ran. Only for a driven() loop, from one thread at a
  /// time, never from inside a handler.
  std::size_t poll(std::chrono::microseconds wait = std::chrono::microseconds(0));

  /// True on this loop's own thread.
  bool in_this_thread() const { return current_ == this; }
  /// The loop running on the calling thread, or null (a foreign thread).
  static event_loop* current() { return current_; }

  /// The slab to read into now: the current one, or another if receivers
  /// still reference it (broker/read_slab.hpp). Loop thread only.
  read_slab& slab_to_read_into();
  /// Whether receivers may reference the bytes read next: false once
  /// max_referenced_slabs slabs are referenced (they then copy, as a
  /// receiver that falls behind would otherwise pin ever more slabs).
  /// Loop thread only.
  bool references_allowed() const;
  /// Referenced slabs a loop allows at most, besides the one it reads into.
  static constexpr std::size_t max_referenced_slabs = 8;
  /// Receivers to flush at the end of the current read batch; loop thread only.
  flush_batch& batch() { return batch_; }
  /// Flushes the batch once the handlers already ready on this loop have run,
  /// so that several small reads in one wake-up (requests from many clients
  /// to one responder) become one write per receiver. Loop thread only.
  void flush_soon();
  /// Router L1 caches of this loop's publishes; loop thread only (lent to
  /// server::publish through route_cache_lease).
  route_caches& routes() { return routes_; }

 private:
  void schedule_tick();

  // First, so destroyed last: outbound buffers destroyed with the loop's
  // connections give their pages back while it still keeps them, and the
  // last loop of the process to go unmaps what is kept.
  mapped_storage::keeper keeper_;
  std::size_t index_;
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer tick_timer_;
  std::chrono::milliseconds tick_period_{1000};
  std::function<void()> tick_;
  void free_spare_slabs();

  read_slab* current_slab_;               // loop thread; held
  std::vector<read_slab*> spare_slabs_;   // loop thread; held, some still referenced
  bool slab_changed_since_tick_ = false;  // loop thread
  flush_batch batch_;
  bool flush_posted_ = false;  // loop thread: flush_soon() has a flush queued
  // Declared after context_: destroying cached results may destroy connections,
  // whose sockets need the io_context.
  route_caches routes_;
  std::thread thread_;
  bool driven_ = false;
  static thread_local event_loop* current_;
};

}  // namespace courier::broker
