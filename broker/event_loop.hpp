// One thread running one io_context. Every connection belongs to exactly one
// loop and is touched only on that loop's thread, so per-connection state
// needs no locks (the outbound buffer, written by publishers on other loops,
// is the one exception and has its own mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/subscriber.hpp"

namespace courier::broker {

/// An event loop: its thread, its io_context, and what is shared by all the
/// connections it owns (one read buffer, one flush batch).
class event_loop {
 public:
  /// Size of the loop's shared read buffer. Connections read into it and the
  /// parser copies only operations split across reads, so an idle connection
  /// holds no read buffer at all.
  static constexpr std::size_t read_buffer_size = 64 * 1024;

  explicit event_loop(std::size_t index);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  boost::asio::io_context& context() { return context_; }
  std::size_t index() const { return index_; }

  /// Starts the thread. `tick` runs on the loop every `period` (ping timers,
  /// auth timeouts, write deadlines are checked there).
  void start(std::chrono::milliseconds period, std::function<void()> tick);
  /// Stops the io_context and joins the thread. Not from the loop itself.
  void stop();

  /// True on this loop's own thread.
  bool in_this_thread() const { return current_ == this; }
  /// The loop running on the calling thread, or null (a foreign thread).
  static event_loop* current() { return current_; }

  /// Valid on the loop thread only.
  char* read_buffer() { return read_buffer_.get(); }
  /// Receivers to flush at the end of the current read batch; loop thread only.
  flush_batch& batch() { return batch_; }

 private:
  void schedule_tick();

  std::size_t index_;
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer tick_timer_;
  std::chrono::milliseconds tick_period_{1000};
  std::function<void()> tick_;
  std::unique_ptr<char[]> read_buffer_;
  flush_batch batch_;
  std::thread thread_;
  static thread_local event_loop* current_;
};

}  // namespace courier::broker
