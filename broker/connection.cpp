#include "broker/connection.hpp"

#include <boost/asio/post.hpp>

#include "broker/connection_role.hpp"
#include "broker/event_loop.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "conf/duration.hpp"

namespace courier::broker {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
/// Read batches smaller than this are flushed with the loop's other ready
/// connections (event_loop::flush_soon), bigger ones at once.
constexpr std::size_t small_read_batch = 64 * 1024;
/// Bytes one connection reads per turn before the loop's other connections.
constexpr std::size_t max_read_turn = 1024 * 1024;
/// Two read turns in a row this big mean a producer streams (a loopback
/// skb is 64 KiB; one big message alone is not a stream): its socket then
/// wakes the loop only when limits_.stream_low_water bytes wait, for
/// limits_.stream_low_water_hold at most (the longest the end of a stream
/// waits). `bench/cpu_profile.py --only pub4k`: 0.80 -> 0.40-0.55 us of
/// server CPU per 4 KiB message at 256 KiB and 200 us; marks of 128 KiB to
/// 1 MiB and holds of 100 us to 1 ms all did about as well.
constexpr std::size_t stream_turn_bytes = 32 * 1024;

connection_limits limits_from(const conf::server_options& options) {
  return connection_limits{options.max_pending,      options.write_deadline,   options.ping_interval,
                           options.ping_max,         options.stream_low_water, options.stream_low_water_hold};
}

std::int64_t steady_ns(connection::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

connection::connection(server& owner, event_loop& loop, std::unique_ptr<transport> link, std::uint64_t id)
    : server_(owner),
      loop_(loop),
      transport_(std::move(link)),
      id_(id),
      limits_(limits_from(owner.options())),
      started_(std::chrono::system_clock::now()),
      started_steady_(clock::now()) {
  assert(transport_ != nullptr);
  log_prefix_ = transport_->log_prefix_for(id_);
  transport_->set_log_prefix(log_prefix_);
  counters_.last_activity_ns.store(steady_ns(started_steady_), std::memory_order_relaxed);
  next_ping_ = started_steady_ + limits_.ping_interval;
}

connection::~connection() {
  if (unparsed_ != nullptr) unparsed_->release();
}

void connection::set_role(std::unique_ptr<connection_role> role) {
  assert(role_ == nullptr && role != nullptr);
  role_ = std::move(role);
  cut_off_over_max_pending_ = role_->cut_off_over_max_pending();
}

std::shared_ptr<subscriber> connection::receiver() {
  assert(role_ != nullptr);
  return std::shared_ptr<subscriber>(shared_from_this(), role_.get());
}

void connection::start() {
  assert(role_ != nullptr);
  assert(loop_.in_this_thread());
  log().debug(log_prefix_, "Client connection created");
  role_->on_start();
  drive_open({});
}

// ---- opening: the transport's steps (greeting, TLS sniffing, handshake) ----

void connection::drive_open(const error_code& wait_error) {
  if (closed_) return;
  open_step step = transport_->advance_open(wait_error);
  while (on_open_step(step)) step = transport_->advance_open({});
}

bool connection::on_open_step(const open_step& step) {
  assert(opening_);
  switch (step.what) {
    case open_step::action::send_greeting:
      role_->on_greeting();
      flush();
      return !closed_;
    case open_step::action::wait_readable:
      do_open_wait(transport::wait_type::wait_read);
      return false;
    case open_step::action::wait_writable:
      do_open_wait(transport::wait_type::wait_write);
      return false;
    case open_step::action::ready:
      opening_ = false;
      if (auto tls = transport_->describe_tls(); !tls.version.empty()) {
        std::lock_guard lock(identity_mutex_);
        tls_ = std::move(tls);
      }
      // Data may already be waiting (a peeked byte, records OpenSSL buffered
      // during the handshake): read now rather than wait for an edge.
      on_readable(error_code{});
      return false;
    case open_step::action::failed:
      close_now(step.reason);
      return false;
  }
  return false;
}

void connection::do_open_wait(transport::wait_type what) {
  transport_->async_wait(what, [self = shared_from_this()](const error_code& ec) {
    // Cancelled by a deadline (check_open_deadline), which has moved on.
    if (ec == asio::error::operation_aborted) return;
    self->drive_open(ec);
  });
}

// ---- reading ----

void connection::do_read() {
  if (closed_ || reading_) return;
  reading_ = true;
  transport_->async_wait(transport::wait_type::wait_read, [self = shared_from_this()](const error_code& ec) {
    // A cancelled wait leaves reading_ to whoever cancelled it.
    if (ec == asio::error::operation_aborted) return;
    self->reading_ = false;
    self->on_readable(ec);
  });
}

void connection::on_readable(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    close_now(close_reason::read_error);
    return;
  }
  // Read until the socket is drained (the reactor is edge-triggered), feeding
  // the role straight out of the loop's shared buffer, up to max_read_turn
  // bytes; then yield to the other connections and come back. When a
  // receiver asks this producer to stall, the role stops within a bounded
  // number of bytes and the rest of the read waits in unparsed_.
  std::size_t bytes_read = 0;
  read_end end = feed_unparsed(bytes_read);
  if (end == read_end::turn_over) end = read_turn(bytes_read);
  if (end == read_end::closed) return;
  after_read_turn(end, bytes_read);
}

connection::read_end connection::feed_unparsed(std::size_t& bytes_read) {
  if (unparsed_ == nullptr) return read_end::turn_over;
  if (loop_.references_allowed()) loop_.batch().allow_references(unparsed_);
  const std::size_t used = role_->on_bytes(unparsed_->data() + unparsed_at_, unparsed_end_ - unparsed_at_);
  loop_.batch().end_references();
  bytes_read += used;
  unparsed_at_ += used;
  if (!closed_ && unparsed_at_ < unparsed_end_) return read_end::paused;
  unparsed_->release();
  unparsed_ = nullptr;
  return closed_ ? read_end::stopped : read_end::turn_over;
}

connection::read_end connection::read_turn(std::size_t& bytes_read) {
  while (!loop_.batch().stall_requested() && bytes_read < max_read_turn) {
    // A slab nobody references any more: receivers may still hold the one
    // the last read went into.
    read_slab& slab = loop_.slab_to_read_into();
    char* const buffer = slab.data();
    error_code read_ec;
    const std::size_t n = transport_->read_some(buffer, event_loop::read_buffer_size, read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) return read_end::drained;
    if (read_ec) {
      loop_.batch().flush();
      close_now(read_ec == asio::error::eof ? close_reason::client_closed : close_reason::read_error);
      return read_end::closed;
    }
    counters_.last_activity_ns.store(steady_ns(clock::now()), std::memory_order_relaxed);
    bytes_read += n;
    // Receivers may queue big payloads as references to the slab.
    if (loop_.references_allowed()) loop_.batch().allow_references(&slab);
    const std::size_t used = role_->on_bytes(buffer, n);
    loop_.batch().end_references();
    if (closed_) return read_end::stopped;
    if (used < n) {
      slab.retain();
      unparsed_ = &slab;
      unparsed_at_ = used;
      unparsed_end_ = n;
      return read_end::paused;
    }
    // A short plain read emptied the kernel buffer; new data makes a new edge.
    if (transport_->short_read_drains() && n < event_loop::read_buffer_size) return read_end::drained;
  }
  return read_end::turn_over;
}

void connection::raise_read_low_water() {
  if (!transport_->set_read_low_water(limits_.stream_low_water)) return;
  read_low_water_ = true;
  if (!low_water_timer_) low_water_timer_ = std::make_unique<asio::steady_timer>(loop_.context());
  low_water_timer_->expires_after(limits_.stream_low_water_hold);
  low_water_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closed_) return;
    // Back to every byte: the kernel reports at once what waits below the
    // mark (tcp_set_rcvlowat signals the socket; tests/broker/
    // read_low_water_test.cpp fails on a kernel that does not), and the
    // next two big read turns raise it again.
    self->read_low_water_ = false;
    self->transport_->set_read_low_water(1);
  });
}

void connection::after_read_turn(read_end end, std::size_t bytes_read) {
  role_->on_read_turn_end();
  if (bytes_read < stream_turn_bytes) {
    big_read_turns_ = 0;
  } else if (big_read_turns_ < 2) {
    ++big_read_turns_;
  }
  if (big_read_turns_ == 2 && !read_low_water_ && limits_.stream_low_water > 1) raise_read_low_water();
  // One flush per read batch, for this connection and everyone it delivered
  // to. After a small read, once the loop's other ready connections have
  // been read too (their deliveries to the same receivers then go out
  // together); a big batch goes out at once, so buffers do not pile up.
  if (bytes_read < small_read_batch) {
    loop_.flush_soon();
  } else {
    loop_.batch().flush();
  }
  bool closing;
  {
    std::lock_guard lock(out_mutex_);
    closing = closing_;
  }
  if (closing || closed_) return;
  if (auto receiver = loop_.batch().take_stall()) {
    stall_reading(receiver);
    return;
  }
  if (end == read_end::drained) {
    do_read();
  } else {
    asio::post(loop_.context(), [self = shared_from_this()] { self->on_readable(error_code{}); });
  }
}

void connection::stall_reading(const std::shared_ptr<subscriber>& receiver) {
  // As nats-server's stalledWait: the producer waits for the consumer to
  // drain, at most stall_timeout(), then goes on (and the consumer may be cut off).
  stalled_ = true;
  const auto id = ++stall_id_;
  if (!stall_timer_) stall_timer_ = std::make_unique<asio::steady_timer>(loop_.context());
  auto self = shared_from_this();
  stall_timer_->expires_after(receiver->stall_timeout());
  stall_timer_->async_wait([self, id](const error_code& ec) {
    if (!ec) self->resume_reading(id);
  });
  receiver->notify_when_drained([self, id] {
    asio::post(self->loop_.context(), [self, id] { self->resume_reading(id); });
  });
}

void connection::resume_reading(std::uint64_t stall_id) {
  if (!stalled_ || stall_id != stall_id_ || closed_) return;
  stalled_ = false;
  stall_timer_->cancel();
  // Reading stopped before the socket was drained: read now rather than wait
  // for an edge that may never come.
  on_readable(error_code{});
}

// ---- queueing and backpressure ----

void connection::send(std::string_view bytes) {
  // Own replies join the loop's read batch: only the loop may queue them.
  assert(loop_.in_this_thread());
  bool register_flush = false;
  {
    std::lock_guard lock(out_mutex_);
    if (closing_) return;
    pending_.append(bytes);
    if (!flush_requested_) {
      flush_requested_ = true;
      register_flush = true;
    }
  }
  if (register_flush) loop_.batch().add(receiver());
}

void connection::cut_off_slow_consumer() {
  server_.stats().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  log().notice(log_prefix_, "Slow Consumer Detected: MaxPending of ", limits_.max_pending, " Exceeded");
  close(close_reason::slow_consumer_pending_bytes);
}

void connection::notify_when_drained(std::function<void()> resume) {
  {
    std::lock_guard lock(out_mutex_);
    if (!closing_ && static_cast<std::int64_t>(pending_.total() + unsent_) > stall_threshold()) {
      drain_waiters_.push_back(std::move(resume));
      return;
    }
  }
  resume();
}

std::chrono::milliseconds connection::stall_timeout() const {
  // nats-server's stallDuration: 100 ms just over half of max_pending, 100 ms
  // more for every further tenth of the half, a second at max_pending.
  std::int64_t pending;
  {
    std::lock_guard lock(out_mutex_);
    pending = static_cast<std::int64_t>(pending_.total() + unsent_);
  }
  const std::int64_t max_pending = limits_.max_pending;
  const std::int64_t half = max_pending / 2;
  if (pending >= max_pending) return std::chrono::seconds(1);
  std::chrono::milliseconds timeout(100);
  if (pending > half && half >= 10) timeout += std::chrono::milliseconds(100) * ((pending - half) / (half / 10));
  return timeout;
}

// ---- writing: the one place bytes go out ----

void connection::enable_direct_writes() {
  // Set on the loop before any publisher can see this connection's
  // subscriptions as writable; release pairs with flush()'s acquire, which
  // also publishes the transport's state (TLS or not) to direct writers.
  direct_writes_.store(transport_->thread_free_writes(), std::memory_order_release);
}

void connection::send_from_any_thread(std::string_view bytes) {
  bool register_flush = false;
  {
    std::lock_guard lock(out_mutex_);
    if (closing_) return;
    pending_.append(bytes);
    if (!flush_requested_) {
      flush_requested_ = true;
      register_flush = true;
    }
  }
  if (!register_flush) return;
  if (auto* current = event_loop::current()) {
    current->batch().add(receiver());
    current->flush_soon();
  } else {
    asio::post(loop_.context(), [self = shared_from_this()] { self->write_pending(); });
  }
}

void connection::flush() {
  if (loop_.in_this_thread()) {
    write_pending();
    return;
  }
  // A publisher on another thread writes for us when it can, instead of
  // waking this loop (nats-server's readLoop flushes its receivers the same
  // way). If a write is under way it goes to the loop, which picks up
  // everything queued once that write ends.
  if (direct_writes_.load(std::memory_order_acquire)) {
    std::unique_lock lock(write_mutex_, std::try_to_lock);
    if (lock.owns_lock()) {
      const write_result result = write_locked();
      lock.unlock();
      if (result != write_result::done) {
        asio::post(loop_.context(), [self = shared_from_this(), result] { self->after_write(result); });
      }
      return;
    }
  }
  asio::post(loop_.context(), [self = shared_from_this()] { self->write_pending(); });
}

void connection::write_pending() {
  if (closed_) return;
  write_result result;
  {
    std::lock_guard lock(write_mutex_);
    result = write_locked();
  }
  after_write(result);
}

connection::write_result connection::write_locked() {
  if (transport_closed_ || write_in_flight_) return write_result::done;  // on_writable goes on
  {
    std::lock_guard lock(out_mutex_);
    flush_requested_ = false;
    if (pending_.empty()) return write_result::done;
    writing_.swap(pending_);
    unsent_ = writing_.total();
  }
  written_ = 0;
  wrote_since_tick_ = true;
  return write_some_locked();
}

connection::write_result connection::write_some_locked() {
  assert(written_ <= writing_.total());
  error_code ec;
  std::size_t n = 0;
  if (!writing_.has_references()) {
    n = transport_->write_some(writing_.data() + written_, writing_.size() - written_, ec);
    if (!ec) written_ += n;
  } else {
    // Own bytes and referenced payloads, in order, a gathering write at a
    // time until the socket is full or all is written.
    iovec pieces[1024];  // IOV_MAX: two or three pieces a message
    while (written_ < writing_.total()) {
      const std::size_t count = writing_.gather(written_, pieces, std::size(pieces));
      std::size_t offered = 0;
      for (std::size_t i = 0; i < count; ++i) offered += pieces[i].iov_len;
      const std::size_t wrote = transport_->write_some_gathered(pieces, count, ec);
      if (ec) break;
      written_ += wrote;
      n += wrote;
      if (wrote < offered) break;
    }
  }
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return write_result::failed;
  if (n > 0) release_drained_producers();
  if (written_ == writing_.total()) {
    writing_.clear();  // keeps its storage for the next burst; tick() frees it when idle
    written_ = 0;
    write_in_flight_ = false;
    return write_result::done;
  }
  if (!write_in_flight_) {
    write_in_flight_ = true;
    write_started_ = clock::now();
  }
  return write_result::wait_writable;
}

void connection::release_drained_producers() {
  // Stalled producers go on once what is queued falls to a quarter of
  // max_pending (they stall above half): the gap lets a producer send a
  // good batch per stall instead of stalling again after every write.
  std::vector<std::function<void()>> drained;
  {
    std::lock_guard lock(out_mutex_);
    unsent_ = writing_.total() - written_;
    if (!drain_waiters_.empty() &&
        static_cast<std::int64_t>(pending_.total() + unsent_) <= stall_threshold() / 2) {
      drained.swap(drain_waiters_);
    }
  }
  for (auto& resume : drained) resume();
}

void connection::after_write(write_result result) {
  if (closed_) return;
  if (result == write_result::failed) {
    close_now(close_reason::write_error);
  } else if (result == write_result::wait_writable) {
    wait_writable();
  }
}

void connection::wait_writable() {
  transport_->async_wait(transport::wait_type::wait_write,
                         [self = shared_from_this()](const error_code& ec) { self->on_writable(ec); });
}

void connection::on_writable(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::operation_aborted) close_now(close_reason::write_error);
    return;
  }
  write_result result;
  {
    std::lock_guard lock(write_mutex_);
    result = write_some_locked();
    // Deliveries that arrived meanwhile left flush_requested_ set; write them now.
    if (result == write_result::done) result = write_locked();
  }
  after_write(result);
}

// ---- timers ----

void connection::schedule_first_ping(std::chrono::milliseconds first) { next_ping_ = clock::now() + first; }

void connection::on_pong() {
  if (pings_out_ > 0) {
    counters_.rtt_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - ping_sent_).count(),
                           std::memory_order_relaxed);
  }
  pings_out_ = 0;
}

void connection::tick(clock::time_point now) {
  assert(loop_.in_this_thread());
  if (closed_) return;
  if (opening_) {
    if (auto step = transport_->check_open_deadline(now)) {
      transport_->cancel_waits();  // the pending opening wait; the step starts its own
      if (on_open_step(*step)) drive_open({});
      return;
    }
  }
  role_->on_tick(now);
  if (closed_ || check_write_deadline(now)) return;
  check_ping(now);
}

bool connection::check_write_deadline(clock::time_point now) {
  bool write_stuck;
  std::size_t stuck_chunks = 0;
  std::size_t stuck_bytes = 0;
  {
    std::lock_guard lock(write_mutex_);
    write_stuck = write_in_flight_ && limits_.write_deadline.count() > 0 &&
                  now - write_started_ > limits_.write_deadline;
    if (write_stuck) {
      // nats-server counts its queued buffers; ours are the one being
      // written and the one filling behind it.
      std::lock_guard out_lock(out_mutex_);
      stuck_chunks = (writing_.total() > written_ ? 1 : 0) + (pending_.empty() ? 0 : 1);
      stuck_bytes = writing_.total() - written_ + pending_.total();
    }
    if (!write_in_flight_ && !wrote_since_tick_) {
      // Nothing written for a whole tick: an idle connection holds no buffers.
      writing_.release();
      std::lock_guard out_lock(out_mutex_);
      if (pending_.empty()) pending_.release();
    } else if (write_in_flight_) {
      // Waiting for a slow reader: copy what it references, so that it does
      // not keep its publishers' read slabs (each up to 1 MiB) from them.
      writing_.materialize();
      std::lock_guard out_lock(out_mutex_);
      pending_.materialize();
    }
    wrote_since_tick_ = false;
  }
  if (!write_stuck) return false;
  server_.stats().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  log().notice(log_prefix_, "Slow Consumer Detected: WriteDeadline of ", conf::format_go_duration(limits_.write_deadline),
               " exceeded with ", stuck_chunks, " chunks of ", stuck_bytes, " total bytes.");
  close_now(close_reason::slow_consumer_write_deadline);
  return true;
}

void connection::check_ping(clock::time_point now) {
  if (limits_.ping_interval.count() <= 0 || now < next_ping_) return;
  next_ping_ = now + limits_.ping_interval;
  if (pings_out_ + 1 > limits_.ping_max) {
    role_->on_stale();
    write_pending();
    return;
  }
  ++pings_out_;
  ping_sent_ = now;
  role_->send_ping();
  write_pending();
}

// ---- closing ----

void connection::close(close_reason reason) {
  {
    std::lock_guard lock(out_mutex_);
    closing_ = true;
  }
  asio::post(loop_.context(), [self = shared_from_this(), reason] { self->close_now(reason); });
}

namespace {
/// Closes that write only what the socket takes at once: those nats-server
/// makes without a flush, and the shutdown, which must not wait for a
/// client that does not read.
bool drops_queued_output(close_reason reason) {
  return skips_flush_on_close(reason) || reason == close_reason::server_shutdown;
}
}  // namespace

void connection::close_now(close_reason reason) {
  assert(loop_.in_this_thread());
  if (closed_) return;
  outbound_buffer last;
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(out_mutex_);
    closing_ = true;
    last.swap(pending_);
    waiters.swap(drain_waiters_);
  }
  for (auto& resume : waiters) resume();
  if (stall_timer_) stall_timer_->cancel();
  if (low_water_timer_) low_water_timer_->cancel();
  bool lingering = false;
  {
    // Under the write lock: no publisher is writing to the socket as it
    // closes. What was queued before the close (the last messages, an
    // -ERR) goes out first, as nats-server flushes before closing: what
    // the socket takes now, and the rest (lingering) as it drains, up to
    // the write deadline; for the reasons nats-server closes without a
    // flush, only what the socket takes now.
    std::lock_guard lock(write_mutex_);
    if (transport_->can_write_at_close()) {
      // One buffer, written from an offset and never moved: a transport
      // may keep pointers into what it was given (WebSocket frames staged,
      // an SSL_write to retry) until it reports those bytes written.
      if (write_in_flight_) writing_.copy_to(linger_, written_);
      last.copy_to(linger_, 0);
      error_code ec;
      while (linger_done_ < linger_.size() && !ec)
        linger_done_ += transport_->write_some(linger_.data() + linger_done_, linger_.size() - linger_done_, ec);
      if (linger_done_ < linger_.size() && (ec == asio::error::would_block || ec == asio::error::try_again) &&
          !drops_queued_output(reason)) {
        lingering = true;
        write_in_flight_ = true;  // direct writers keep off; nothing new is queued (closing_)
      } else if (linger_done_ == linger_.size()) {
        write_in_flight_ = false;
      }
    }
    if (!lingering) {
      if (!write_in_flight_ && transport_->can_write_at_close()) transport_->write_goodbye(reason);
      transport_closed_ = true;
      transport_->close();
    }
  }
  closed_ = true;
  // From here on nothing reads: every path checks closed_ first, direct
  // writers see transport_closed_ (or write_in_flight_ while lingering)
  // under write_mutex_, and only linger_write() writes.
  role_->on_closed(reason);
  log().debug(log_prefix_, "Client connection closed: ", to_string(reason));
  server_.connection_closed(*this, reason);
  if (lingering) {
    const auto deadline = limits_.write_deadline.count() > 0 ? limits_.write_deadline : std::chrono::seconds(10);
    linger_timer_ = std::make_unique<boost::asio::steady_timer>(loop_.context());
    linger_timer_->expires_after(deadline);
    linger_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->end_linger(close_reason::slow_consumer_write_deadline);
    });
    linger_reason_ = reason;
    linger_write();
  }
}

void connection::linger_write() {
  transport_->async_wait(transport::wait_type::wait_write, [self = shared_from_this()](const error_code& ec) {
    std::lock_guard lock(self->write_mutex_);
    if (self->transport_closed_) return;
    if (ec) {
      self->end_linger_locked(close_reason::write_error);
      return;
    }
    error_code write_error;
    while (self->linger_done_ < self->linger_.size() && !write_error) {
      self->linger_done_ += self->transport_->write_some(self->linger_.data() + self->linger_done_,
                                                         self->linger_.size() - self->linger_done_, write_error);
    }
    if (write_error && write_error != asio::error::would_block && write_error != asio::error::try_again) {
      self->end_linger_locked(close_reason::write_error);
      return;
    }
    if (self->linger_done_ < self->linger_.size()) return self->linger_write();
    self->write_in_flight_ = false;
    self->end_linger_locked(self->linger_reason_);
  });
}

void connection::end_linger(close_reason reason) {
  std::lock_guard lock(write_mutex_);
  end_linger_locked(reason);
}

void connection::end_linger_locked(close_reason reason) {
  if (transport_closed_) return;
  if (!write_in_flight_ && transport_->can_write_at_close()) transport_->write_goodbye(reason);
  linger_.clear();
  transport_closed_ = true;
  transport_->close();
  if (linger_timer_) linger_timer_->cancel();
}

void connection::post(std::function<void()> work) {
  asio::post(loop_.context(), [self = shared_from_this(), work = std::move(work)] { work(); });
}

// ---- monitoring ----

void connection::set_identity(connection_identity identity) {
  std::lock_guard lock(identity_mutex_);
  identity_ = std::move(identity);
}

void connection::set_closed_subscriptions(std::vector<subscription_info> subscriptions) {
  std::lock_guard lock(identity_mutex_);
  closed_subscriptions_ = std::move(subscriptions);
}

connection_info connection::info() const {
  connection_info info;
  info.cid = id_;
  info.remote_ip = transport_->remote_ip();
  info.remote_port = transport_->remote_port();
  info.type = transport_->type();
  {
    std::lock_guard lock(identity_mutex_);
    info.identity = identity_;
    info.tls_version = tls_.version;
    info.tls_cipher_suite = tls_.cipher_suite;
    info.closed_subscriptions = closed_subscriptions_;
  }
  info.start = started_;
  const auto last = clock::time_point(std::chrono::nanoseconds(counters_.last_activity_ns.load(std::memory_order_relaxed)));
  info.last_activity = started_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(last - started_steady_);
  info.rtt = std::chrono::nanoseconds(counters_.rtt_ns.load(std::memory_order_relaxed));
  info.msgs_in = counters_.msgs_in.load(std::memory_order_relaxed);
  info.bytes_in = counters_.bytes_in.load(std::memory_order_relaxed);
  info.msgs_out = counters_.msgs_out.load(std::memory_order_relaxed);
  info.bytes_out = counters_.bytes_out.load(std::memory_order_relaxed);
  info.subscriptions = counters_.subscriptions.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(out_mutex_);
    info.pending_bytes = pending_.total() + unsent_;
  }
  return info;
}

}  // namespace courier::broker
