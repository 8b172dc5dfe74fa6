#include "broker/in_process.hpp"

#include <random>
#include <stdexcept>

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "auth/permissions.hpp"
#include "auth/users.hpp"
#include "broker/event_loop.hpp"
#include "broker/router/fanout.hpp"
#include "broker/server.hpp"
#include "protocol/subject.hpp"

namespace courier::broker {

int message::status() const {
  // "NATS/1.0 503..." -> 503
  constexpr std::string_view prefix = "NATS/1.0 ";
  if (headers.size() < prefix.size() + 3 || headers.compare(0, prefix.size(), prefix) != 0) return 0;
  int code = 0;
  for (std::size_t i = prefix.size(); i < prefix.size() + 3; ++i) {
    char c = headers[i];
    if (c < '0' || c > '9') return 0;
    code = code * 10 + (c - '0');
  }
  return code;
}

const char* to_string(request_status status) {
  switch (status) {
    case request_status::ok: return "ok";
    case request_status::timeout: return "timeout";
    case request_status::no_responders: return "no responders";
    case request_status::closed: return "connection closed";
  }
  return "unknown";
}

namespace {
/// An owning copy of a delivered message.
message copy_of(const message_view& view) {
  return message{std::string(view.subject), std::string(view.reply), std::string(view.headers),
                 std::string(view.payload)};
}

#if defined(__x86_64__) || defined(__i386__)
/// PREFETCHW (AMD's 3DNowPrefetch, Intel since Broadwell): GCC and clang
/// compile __builtin_prefetch(p, 1) to it only when the whole build targets
/// such a CPU; for the baseline x86-64 they emit a read prefetch, which
/// fetches the line shared and leaves the store to ask for it again.
const bool have_prefetchw = [] {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_PRFCHW) != 0;
}();
#endif

/// Asks for the cache line at `p` in the state a store needs (owned).
inline void prefetch_for_write(const char* p) {
#if defined(__x86_64__) || defined(__i386__)
  if (have_prefetchw) {
    asm volatile("prefetchw %0" : : "m"(*p));
    return;
  }
#endif
  __builtin_prefetch(p, 1);
}

/// Publishes from a thread that is not an event loop use a batch of their
/// own, flushed at the end of each call.
flush_batch& calling_thread_batch() {
  if (auto* loop = event_loop::current()) return loop->batch();
  thread_local flush_batch batch;
  return batch;
}

/// Flushes the batch unless it belongs to a loop (which flushes after its read batch).
void flush_if_foreign(flush_batch& batch) {
  if (event_loop::current() != nullptr) return;
  batch.flush();
  // In-process publishers are not stalled by a backed-up TCP receiver (that
  // is for the publishing connection's read loop); drop the request so the
  // thread's batch does not keep the receiver alive.
  batch.take_stall();
}
}  // namespace

std::shared_ptr<local_client> local_client::create(server& owner, const connection_options& options,
                                                   std::uint64_t id) {
  return std::shared_ptr<local_client>(new local_client(owner, options, id));
}

local_client::local_client(server& owner, const connection_options& options, std::uint64_t id)
    : server_(owner),
      options_(options),
      max_payload_(owner.options().max_payload),
      identity_(owner.find_account(options.account.empty() ? auth::global_account : std::string_view(options.account))),
      id_(id),
      started_(std::chrono::system_clock::now()),
      routes_(std::make_unique<route_caches>()) {
  authenticate();
}

void local_client::authenticate() {
  if (options_.user.empty() && options_.auth_token.empty()) return;  // the application's own connection
  auto settings = server_.auth_settings();
  if (!settings->auth_required()) return;  // as a TCP client's credentials then
  auth::client_credentials credentials;
  credentials.user = options_.user;
  credentials.pass = options_.password;
  credentials.auth_token = options_.auth_token;
  if (!identity_.authenticate(server_, *settings, credentials).ok) {
    throw std::invalid_argument(std::string(auth::authorization_violation));
  }
}

void local_client::check_publish(std::string_view subject) {
  std::lock_guard lock(publish_check_mutex_);
  if (!identity_.can_publish(subject)) throw permission_violation(auth::publish_violation(subject));
}

std::optional<close_reason> local_client::close_reason() const {
  const int reason = close_reason_.load();
  if (reason < 0) return std::nullopt;
  return static_cast<broker::close_reason>(reason);
}

local_client::~local_client() {
  close();
}

bool local_client::publish(std::string_view subject, std::string_view payload, std::string_view reply,
                         std::string_view headers) {
  if (closed_) throw std::logic_error("connection closed");
  if (!protocol::is_valid_literal_subject(subject)) throw std::invalid_argument("invalid publish subject");
  if (max_payload_ >= 0 && static_cast<std::int64_t>(headers.size() + payload.size()) > max_payload_) {
    throw std::length_error("Maximum Payload Violation");  // nats-server's -ERR text
  }
  // The rules are fixed after create(): no call, no lock for the unrestricted.
  if (identity_.rules() != nullptr) check_publish(subject);
  traffic_.count_in(headers.size() + payload.size());
  auto& batch = calling_thread_batch();
  const message_view message{subject, reply, headers, payload, {}, {}};
  bool matched;
  auto& lent = route_cache_lease::thread_caches();
  if (lent == nullptr && !routes_busy_.test_and_set(std::memory_order_acquire)) {
    // A thread with no router cache of its own (not a loop, or a publish
    // nested in another) borrows this connection's for the call.
    routes_owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    struct give_back {
      local_client& self;
      ~give_back() {
        route_cache_lease::thread_caches() = nullptr;
        self.routes_owner_.store(std::thread::id(), std::memory_order_relaxed);
        // A plain store: the one atomic read-modify-write per publish is the
        // test_and_set above (each waits for the publish's earlier stores).
        self.routes_busy_.clear(std::memory_order_release);
        // A close() from inside this publish (a callback on this thread)
        // left the caches to us: drop what they keep alive. A close() on
        // another thread waits for the caches and drops them itself.
        if (self.closed_.load(std::memory_order_relaxed) && !self.routes_busy_.test_and_set(std::memory_order_acquire)) {
          self.routes_->clear();
          self.routes_busy_.clear(std::memory_order_release);
        }
      }
    } guard{*this};
    lent = routes_.get();
    matched = fanout::publish(identity_.home().router, this, message, batch);
  } else {
    matched = fanout::publish(identity_.home().router, this, message, batch);
  }
  flush_if_foreign(batch);
  return matched;
}

std::uint64_t local_client::subscribe(std::string_view subject, message_handler handler, std::string_view queue) {
  return add_subscription(subject, queue, std::move(handler), nullptr);
}

std::uint64_t local_client::subscribe_view(std::string_view subject, message_view_handler handler,
                                         std::string_view queue) {
  return add_subscription(subject, queue, nullptr, std::move(handler));
}

std::uint64_t local_client::add_subscription(std::string_view subject, std::string_view queue,
                                           message_handler handler, message_view_handler view_handler) {
  if (closed_) throw std::logic_error("connection closed");
  if (!protocol::is_valid_subject(subject)) throw std::invalid_argument("invalid subject");
  if (queue.find_first_of(" \t\r\n") != std::string_view::npos) throw std::invalid_argument("invalid queue group");
  if (!identity_.can_subscribe(subject, queue)) throw permission_violation(auth::subscribe_violation(subject, queue));
  if (!options_.inline_callbacks) ensure_dispatcher();
  auto sid = next_sid_.fetch_add(1);
  auto sub = std::make_shared<local_subscription>();
  sub->subject = subject;
  sub->queue = queue;
  sub->sid = std::to_string(sid);
  sub->client_id = id_;
  sub->owner = shared_from_this();
  sub->state = std::make_shared<handler_state>();
  sub->state->handler = std::move(handler);
  sub->state->view_handler = std::move(view_handler);
  {
    std::lock_guard lock(subs_mutex_);
    subs_.emplace(sid, entry{sub});
  }
  identity_.home().router.insert(sub);
  return sid;
}

void local_client::unsubscribe(std::uint64_t sid, std::uint64_t max) {
  std::shared_ptr<local_subscription> sub;
  {
    std::lock_guard lock(subs_mutex_);
    auto it = subs_.find(sid);
    if (it == subs_.end()) return;
    sub = it->second.sub;
    if (max > 0 && sub->delivered.load() < max) {
      sub->max_messages.store(max);
      return;
    }
    subs_.erase(it);
  }
  if (sub->state) sub->state->cancelled.store(true);
  sub->closed.store(true);
  identity_.home().router.remove(sub);
}

void local_client::subscription_done(const std::shared_ptr<subscription>& sub) {
  std::lock_guard lock(subs_mutex_);
  auto it = subs_.find(std::stoull(sub->sid));
  if (it != subs_.end() && it->second.sub == sub) subs_.erase(it);
}

void local_client::complete_request(const message_view& view) {
  std::string_view token = view.subject.substr(std::min(view.subject.size(), inbox_prefix_.size()));
  std::shared_ptr<pending_request> waiting;
  {
    std::lock_guard lock(requests_mutex_);
    auto it = requests_.find(std::string(token));
    if (it == requests_.end()) return;  // late reply to a request that timed out
    waiting = std::move(it->second);
    requests_.erase(it);
  }
  waiting->reply = copy_of(view);
  replier_cpu_.store(current_cpu(), std::memory_order_relaxed);
  waiting->state.store(pending_request::answered, std::memory_order_release);
  std::lock_guard lock(waiting->mutex);  // a requester past its poll sleeps, or is about to
  waiting->wake.notify_one();
}

void local_client::deliver(const subscription& sub, const message_view& view, flush_batch& batch) {
  if (closed_.load(std::memory_order_relaxed)) return;
  if (&sub == inbox_.load(std::memory_order_acquire)) {
    // A reply to one of our requests: complete it right here.
    complete_request(view);
    return;
  }
  // The same delivery filter as a TCP client's (wildcards reaching past the
  // permissions); one relaxed load when unrestricted.
  if (!identity_.admits_delivery(sub, view)) return;
  // Every subscription in the router that names this connection as owner is
  // a local_subscription (made by subscribe() or ensure_reply_inbox()). The
  // caller's match result keeps it, and so its state, alive during the call.
  const auto& local = static_cast<const local_subscription&>(sub);
  if (options_.inline_callbacks) {
    traffic_.count_out(view.headers.size() + view.payload.size());
    call_inline(*local.state, view);
  } else if (enqueue(local, view)) {
    // Wake the dispatcher once per batch, not once per message.
    batch.add(shared_from_this());
  }
}

void local_client::call_inline(const handler_state& state, const message_view& view) {
  if (state.cancelled.load(std::memory_order_relaxed)) return;
  if (state.view_handler) {
    state.view_handler(view);
  } else if (state.handler) {
    state.handler(copy_of(view));
  }
}

void local_client::message_queue::push(const std::shared_ptr<handler_state>& state, const message_view& view) {
  const record head{state.get(), static_cast<std::uint32_t>(view.subject.size()),
                    static_cast<std::uint32_t>(view.reply.size()), static_cast<std::uint32_t>(view.headers.size()),
                    static_cast<std::uint32_t>(view.payload.size())};
  const std::size_t need = used_ + stride(head);
  if (need > bytes_.size()) bytes_.resize(std::max(need, bytes_.size() * 2));
  char* out = bytes_.data() + used_;
  // Field by field from registers: copying `head` whole made the compiler
  // store it on the stack and reload it as one 16-byte word, which cannot be
  // forwarded from the narrower stores and stalled every push (half of its
  // samples).
  std::memcpy(out + offsetof(record, state), &head.state, sizeof head.state);
  std::memcpy(out + offsetof(record, subject), &head.subject, sizeof head.subject);
  std::memcpy(out + offsetof(record, reply), &head.reply, sizeof head.reply);
  std::memcpy(out + offsetof(record, headers), &head.headers, sizeof head.headers);
  std::memcpy(out + offsetof(record, payload), &head.payload, sizeof head.payload);
  out += sizeof head;
  protocol::copy_bytes(out, view.subject.data(), view.subject.size());
  out += view.subject.size();
  if (!view.reply.empty()) {
    protocol::copy_bytes(out, view.reply.data(), view.reply.size());
    out += view.reply.size();
  }
  if (!view.headers.empty()) {
    protocol::copy_bytes(out, view.headers.data(), view.headers.size());
    out += view.headers.size();
  }
  protocol::copy_bytes(out, view.payload.data(), view.payload.size());
  // Ask for the next lines of the buffer for writing now: the dispatch
  // thread read them (on another core) when it last had this buffer, and a
  // store to such a line waits for it to come back. Fetched ahead, that wait
  // overlaps the next messages' work instead of stalling each publish at
  // its next atomic instruction. Each line once: those that this message
  // brought into the 256-512 bytes ahead (a small message, one line or none).
  const std::size_t window_end = std::min(need + 512, bytes_.size());
  std::size_t ahead = std::max(used_ + 512, need + 256) & ~std::size_t{63};
  for (int lines = 0; ahead < window_end && lines < 4; ahead += 64, ++lines) prefetch_for_write(bytes_.data() + ahead);
  used_ = need;
  ++count_;
  if (states_.empty() || states_.back() != state) states_.push_back(state);
}

void local_client::message_queue::clear() {
  used_ = 0;
  count_ = 0;
  states_.clear();
  if (bytes_.size() > kept_capacity) std::vector<char>().swap(bytes_);
}

void local_client::message_queue::reset() {
  clear();
  std::vector<std::shared_ptr<handler_state>>().swap(states_);
}

bool local_client::enqueue(const local_subscription& local, const message_view& view) {
  std::lock_guard lock(queue_mutex_);
  if (queue_stopped_) return false;
  traffic_.count_out(view.headers.size() + view.payload.size());  // exact: under queue_mutex_
  if (queue_.size() == 0) publisher_cpu_.store(current_cpu(), std::memory_order_relaxed);
  queue_.push(local.state, view);
  queued_.store(queue_.size(), std::memory_order_release);
  if (!dispatcher_asleep_ || wake_requested_) return false;
  wake_requested_ = true;
  return true;
}

int local_client::current_cpu() noexcept {
  // glibc reads it from the thread's rseq area: no system call.
  return sched_getcpu();
}

template <typename Ready>
bool local_client::spin_until(Ready&& ready, int other_cpu) const {
  if (ready()) return true;
  const auto budget = options_.dispatch_spin;
  if (budget.count() <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  if (other_cpu >= 0 && other_cpu == current_cpu()) {
    // The other thread is waiting for this core: polling only delays it.
    do {
      std::this_thread::yield();
      if (ready()) return true;
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  for (;;) {
    // A burst of polls (about 5 us), then give the core to whatever else
    // wants it (on one core the thread we wait for may be that one). Not
    // more often: sched_yield costs 1.6 us on a paravirtualized VM, and a
    // message arriving meanwhile waits for it.
    for (int i = 0; i < 256; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    std::this_thread::yield();
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

void local_client::gather() const {
  // The publisher that started this batch last ran on this CPU: it cannot
  // add to the queue while this thread waits here, so waiting only delays
  // the batch (on one core, by a look's pause for every request).
  if (publisher_cpu_.load(std::memory_order_relaxed) == current_cpu()) return;
  const auto deadline = std::chrono::steady_clock::now() + gather_limit;
  std::size_t seen = queued_.load(std::memory_order_relaxed);
  int pauses = gather_pauses;
  for (;;) {
    // 32 pauses of ~20 ns between the first looks; looking more often slowed
    // the publisher (8 pauses: 2.2-3.0 M msgs/s; 32: 3.9-4.1 M, same sitting).
    for (int i = 0; i < pauses; ++i) cpu_relax();
    const std::size_t now = queued_.load(std::memory_order_relaxed);
    if (now == seen || now >= gather_goal) return;
    seen = now;
    if (pauses < gather_max_pauses) pauses *= 2;
    if (std::chrono::steady_clock::now() >= deadline) return;
  }
}

void local_client::flush_deliveries() { work_ready_.notify_one(); }

void local_client::ensure_dispatcher() {
  std::call_once(dispatcher_started_, [this] { dispatcher_ = std::thread([this] { dispatch_loop(); }); });
}

void local_client::dispatch_loop() {
  // The publishers fill queue_ while this thread runs `work`; the two swap,
  // so both keep their buffers. The lock is taken once per batch (for the
  // swap), never while polling or running callbacks: publishers take it for
  // every message, and a dispatcher holding it more often made them wait.
  message_queue work;
  message scratch;  // for handlers that take an owning message
  const auto stopping = [this] { return stop_dispatch_.load(std::memory_order_relaxed); };
  for (;;) {
    if (queued_.load(std::memory_order_acquire) == 0 && !stopping()) {
      // Poll before sleeping: the next message of a stream, or the next
      // request, usually comes within microseconds, and a sleeping thread
      // costs the publisher a wake-up call and the message a slow wake.
      const auto ready = [&] { return queued_.load(std::memory_order_acquire) != 0 || stopping(); };
      if (!spin_until(ready, publisher_cpu_.load(std::memory_order_relaxed))) {
        std::unique_lock lock(queue_mutex_);
        while (queue_.size() == 0 && !stopping()) {
          dispatcher_asleep_ = true;
          work_ready_.wait(lock);
          dispatcher_asleep_ = false;
          wake_requested_ = false;
        }
      }
    }
    if (queued_.load(std::memory_order_relaxed) < gather_goal && !stopping()) {
      // A stream in progress: let it fill the batch before taking it. Taking
      // every message as it comes makes both threads fight over the queue's
      // cache lines for each one (a 16-byte stream ran at 2 M/s so, both
      // cores busy). A lone message (a request) is taken as soon as the
      // count stops growing, under a microsecond later.
      gather();
    }
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.size() == 0) {
        if (stopping()) return;  // stopped, nothing left
        continue;
      }
      // dispatching_ before queued_: a flush() that sees the count emptied
      // by this swap then sees the batch in progress.
      dispatching_.store(true, std::memory_order_relaxed);
      dispatcher_cpu_.store(current_cpu(), std::memory_order_relaxed);
      std::swap(work, queue_);
      queued_.store(0, std::memory_order_release);
    }
    // Messages for a subscription unsubscribed meanwhile are dropped, like a
    // stock client does; those before an auto-unsubscribe limit are not.
    work.for_each([&scratch](const handler_state& state, const message_view& view) {
      if (!state.cancelled.load(std::memory_order_relaxed)) state.call(view, scratch);
    });
    work.clear();
    if (scratch.payload.capacity() > kept_payload_capacity) std::string().swap(scratch.payload);
    // seq_cst store and load, paired with flush(): either it sees the batch
    // done, or this sees it waiting and wakes it.
    dispatching_.store(false, std::memory_order_seq_cst);
    if (flush_waiters_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard lock(queue_mutex_);
      drained_.notify_all();
    }
  }
}

void local_client::ensure_reply_inbox() {
  std::call_once(inbox_started_, [this] {
    static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::random_device device;
    std::mt19937_64 generator(device());
    inbox_prefix_ = "_INBOX.";
    for (int i = 0; i < 22; ++i) inbox_prefix_ += alphabet[generator() % 62];
    inbox_prefix_ += '.';
    auto sid = next_sid_.fetch_add(1);
    auto sub = std::make_shared<local_subscription>();
    sub->subject = inbox_prefix_ + "*";
    sub->sid = std::to_string(sid);
    sub->client_id = id_;
    sub->owner = shared_from_this();
    {
      std::lock_guard lock(subs_mutex_);
      subs_.emplace(sid, entry{sub});
    }
    inbox_.store(sub.get(), std::memory_order_release);
    identity_.home().router.insert(sub);
  });
}

request_result local_client::request(std::string_view subject, std::string_view payload,
                                   std::chrono::milliseconds timeout, std::string_view headers) {
  if (closed_) return request_result{request_status::closed, {}};
  ensure_reply_inbox();
  std::string token = std::to_string(next_request_.fetch_add(1));
  auto waiting = std::make_shared<pending_request>();
  {
    std::lock_guard lock(requests_mutex_);
    requests_.emplace(token, waiting);
  }
  std::string reply_subject = inbox_prefix_ + token;
  bool matched = publish(subject, payload, reply_subject, headers);
  if (!matched) {
    std::lock_guard lock(requests_mutex_);
    requests_.erase(token);
    return request_result{request_status::no_responders, {}};
  }
  const auto settled = [&waiting] { return waiting->state.load(std::memory_order_acquire) != pending_request::waiting; };
  if (!spin_until(settled, replier_cpu_.load(std::memory_order_relaxed))) {
    std::unique_lock lock(waiting->mutex);
    waiting->wake.wait_for(lock, timeout, settled);
  }
  if (!settled()) {
    bool unanswered;
    {
      std::lock_guard lock(requests_mutex_);
      unanswered = requests_.erase(token) > 0;
    }
    // Still registered: no reply came. Gone: a reply (or close()) is being
    // written now; wait for it, without holding requests_mutex_.
    if (unanswered) return request_result{closed_ ? request_status::closed : request_status::timeout, {}};
    std::unique_lock wait_lock(waiting->mutex);
    waiting->wake.wait(wait_lock, settled);
  }
  if (waiting->state.load(std::memory_order_acquire) == pending_request::abandoned) {
    return request_result{request_status::closed, {}};  // close() dropped the request
  }
  message answer = std::move(waiting->reply);
  if (answer.status() == 503) return request_result{request_status::no_responders, std::move(answer)};
  return request_result{request_status::ok, std::move(answer)};
}

bool local_client::flush(std::chrono::milliseconds timeout) {
  // Routing is synchronous, so everything published has been routed; wait
  // for what was queued to us to reach the callbacks.
  if (std::this_thread::get_id() == dispatcher_.get_id()) return true;
  if (options_.inline_callbacks) return true;  // handed over inside each publish
  const auto idle = [this] {
    return queued_.load(std::memory_order_acquire) == 0 && !dispatching_.load(std::memory_order_seq_cst);
  };
  if (spin_until(idle, dispatcher_cpu_.load(std::memory_order_relaxed))) return true;
  std::unique_lock lock(queue_mutex_);
  flush_waiters_.fetch_add(1, std::memory_order_seq_cst);
  const bool done = drained_.wait_for(lock, timeout, [&] { return idle() || stop_dispatch_.load(); });
  flush_waiters_.fetch_sub(1, std::memory_order_relaxed);
  return done && idle();
}

void local_client::remove_all_subscriptions(bool drop_queued) {
  std::vector<std::shared_ptr<subscription>> subs;
  {
    std::lock_guard lock(subs_mutex_);
    for (auto& [sid, item] : subs_) {
      item.sub->closed.store(true);
      if (drop_queued && item.sub->state) item.sub->state->cancelled.store(true);
      subs.push_back(item.sub);
    }
  }
  identity_.home().router.remove_batch(subs);
}

bool local_client::drain(std::chrono::milliseconds timeout) {
  if (closed_) return true;
  remove_all_subscriptions(false);
  bool emptied = flush(timeout);
  close();
  return emptied;
}

void local_client::close() { close(close_reason::client_closed); }

connection_info local_client::info() const {
  connection_info info;
  info.cid = id_;
  info.in_process = true;
  info.identity.name = options_.name;
  info.identity.user = identity_.user();
  info.identity.account = identity_.home().name;
  info.start = started_;
  info.msgs_in = traffic_.msgs_in.load(std::memory_order_relaxed);
  info.bytes_in = traffic_.bytes_in.load(std::memory_order_relaxed);
  info.msgs_out = traffic_.msgs_out.load(std::memory_order_relaxed);
  info.bytes_out = traffic_.bytes_out.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(subs_mutex_);
    info.subscriptions = static_cast<std::uint32_t>(subs_.size());
  }
  info.last_activity = started_;  // not tracked for in-process clients
  return info;
}

void local_client::close(broker::close_reason reason) {
  if (closed_.exchange(true)) return;
  close_reason_.store(static_cast<int>(reason));
  server_.local_client_closed(*this, reason);
  remove_all_subscriptions(true);
  {
    std::lock_guard lock(subs_mutex_);
    subs_.clear();  // breaks the connection <-> subscription cycle
  }
  {
    std::lock_guard lock(requests_mutex_);
    for (auto& [token, waiting] : requests_) {  // waiting requesters return `closed`
      waiting->state.store(pending_request::abandoned, std::memory_order_release);
      std::lock_guard wake_lock(waiting->mutex);
      waiting->wake.notify_one();
    }
    requests_.clear();
  }
  {
    std::lock_guard lock(queue_mutex_);
    queue_stopped_ = true;
    stop_dispatch_.store(true, std::memory_order_relaxed);
    queue_.reset();
    queued_.store(0, std::memory_order_relaxed);
  }
  // Cached match results keep subscriptions (ours too) alive: drop them. A
  // publish on another thread holding the caches is waited for (it ends
  // when its callbacks return); one on this thread, up the stack, drops
  // them as it gives them back.
  for (;;) {
    if (!routes_busy_.test_and_set(std::memory_order_acquire)) {
      routes_->clear();
      routes_busy_.clear(std::memory_order_release);
      break;
    }
    if (routes_owner_.load(std::memory_order_relaxed) == std::this_thread::get_id()) break;
    std::this_thread::yield();
  }
  work_ready_.notify_all();
  drained_.notify_all();
  if (dispatcher_.joinable()) {
    if (std::this_thread::get_id() == dispatcher_.get_id()) {
      dispatcher_.detach();
    } else {
      dispatcher_.join();
    }
  }
}

}  // namespace courier::broker
