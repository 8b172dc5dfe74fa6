#include "broker/in_process.hpp"

#include <random>
#include <stdexcept>

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
  if (identity_.rules() == nullptr) return;  // fixed after create(): no lock for the unrestricted
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
  check_publish(subject);
  traffic_.count_in(headers.size() + payload.size());
  auto& batch = calling_thread_batch();
  const message_view message{subject, reply, headers, payload, {}, {}};
  bool matched;
  auto& lent = route_cache_lease::thread_caches();
  if (lent == nullptr && !routes_busy_.test_and_set()) {
    // A thread with no router cache of its own (not a loop, or a publish
    // nested in another) borrows this connection's for the call.
    struct give_back {
      local_client& self;
      ~give_back() {
        route_cache_lease::thread_caches() = nullptr;
        self.routes_busy_.clear();
        // close() could not take the caches while we held them: drop what
        // they keep alive now (seq_cst pairs this with close()).
        if (self.closed_.load() && !self.routes_busy_.test_and_set()) {
          self.routes_->clear();
          self.routes_busy_.clear();
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
  std::lock_guard lock(requests_mutex_);
  auto it = requests_.find(std::string(token));
  if (it == requests_.end()) return;  // late reply to a request that timed out
  it->second.set_value(message{std::string(view.subject), std::string(view.reply), std::string(view.headers),
                               std::string(view.payload)});
  requests_.erase(it);
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
    state.handler(message{std::string(view.subject), std::string(view.reply), std::string(view.headers),
                          std::string(view.payload)});
  }
}

bool local_client::enqueue(const local_subscription& local, const message_view& view) {
  std::lock_guard lock(queue_mutex_);
  if (stop_dispatch_) return false;
  const bool was_empty = queue_size_ == 0;
  traffic_.count_out(view.headers.size() + view.payload.size());  // exact: under queue_mutex_
  if (queue_size_ == queue_.size()) queue_.emplace_back();
  queued& slot = queue_[queue_size_++];
  if (slot.state != local.state) slot.state = local.state;
  slot.msg.subject.assign(view.subject);
  slot.msg.reply.assign(view.reply);
  slot.msg.headers.assign(view.headers);
  slot.msg.payload.assign(view.payload);
  return was_empty;
}

void local_client::flush_deliveries() { queue_changed_.notify_all(); }

void local_client::ensure_dispatcher() {
  std::call_once(dispatcher_started_, [this] { dispatcher_ = std::thread([this] { dispatch_loop(); }); });
}

void local_client::dispatch_loop() {
  // The publishers fill queue_ while this thread runs `work`; the two
  // vectors swap, so both keep their slots (and the slots their capacity).
  std::vector<queued> work;
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    queue_changed_.wait(lock, [this] { return stop_dispatch_ || queue_size_ > 0; });
    if (queue_size_ == 0 && stop_dispatch_) return;
    const std::size_t count = queue_size_;
    work.swap(queue_);
    queue_size_ = 0;
    dispatching_ = true;
    lock.unlock();
    for (std::size_t i = 0; i < count; ++i) {
      auto& item = work[i];
      // Messages for a subscription unsubscribed meanwhile are dropped, like a
      // stock client does; those before an auto-unsubscribe limit are not.
      if (item.state && !item.state->cancelled.load(std::memory_order_relaxed)) item.state->call(item.msg);
    }
    // Bound what the kept slots hold on to: their number, big payload
    // buffers, and the handlers of subscriptions that are gone.
    if (work.size() > kept_slots) work.resize(kept_slots);
    for (std::size_t i = 0; i < std::min(count, work.size()); ++i) {
      auto& item = work[i];
      if (item.msg.payload.capacity() > kept_payload_capacity) std::string().swap(item.msg.payload);
      if (item.state && item.state->cancelled.load(std::memory_order_relaxed)) item.state.reset();
    }
    lock.lock();
    dispatching_ = false;
    queue_changed_.notify_all();
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
  std::future<message> reply;
  {
    std::lock_guard lock(requests_mutex_);
    reply = requests_[token].get_future();
  }
  std::string reply_subject = inbox_prefix_ + token;
  bool matched = publish(subject, payload, reply_subject, headers);
  if (!matched) {
    std::lock_guard lock(requests_mutex_);
    requests_.erase(token);
    return request_result{request_status::no_responders, {}};
  }
  if (reply.wait_for(timeout) != std::future_status::ready) {
    std::lock_guard lock(requests_mutex_);
    // Still registered: no reply came. Gone: deliver() answered just now.
    if (requests_.erase(token) > 0) {
      return request_result{closed_ ? request_status::closed : request_status::timeout, {}};
    }
  }
  message answer;
  try {
    answer = reply.get();
  } catch (const std::future_error&) {
    return request_result{request_status::closed, {}};  // close() dropped the request
  }
  if (answer.status() == 503) return request_result{request_status::no_responders, std::move(answer)};
  return request_result{request_status::ok, std::move(answer)};
}

bool local_client::flush(std::chrono::milliseconds timeout) {
  // Routing is synchronous, so everything published has been routed; wait
  // for what was queued to us to reach the callbacks.
  if (std::this_thread::get_id() == dispatcher_.get_id()) return true;
  if (options_.inline_callbacks) return true;  // handed over inside each publish
  std::unique_lock lock(queue_mutex_);
  return queue_changed_.wait_for(lock, timeout, [this] { return queue_size_ == 0 && !dispatching_; });
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
    requests_.clear();  // waiting requesters see a broken promise -> closed
  }
  {
    std::lock_guard lock(queue_mutex_);
    stop_dispatch_ = true;
    queue_.clear();
    queue_size_ = 0;
  }
  // Cached match results keep subscriptions (ours too) alive. If a publish
  // holds the caches now, it drops them when it gives them back.
  if (!routes_busy_.test_and_set()) {
    routes_->clear();
    routes_busy_.clear();
  }
  queue_changed_.notify_all();
  if (dispatcher_.joinable()) {
    if (std::this_thread::get_id() == dispatcher_.get_id()) {
      dispatcher_.detach();
    } else {
      dispatcher_.join();
    }
  }
}

}  // namespace courier::broker
