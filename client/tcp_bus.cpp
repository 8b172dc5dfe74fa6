#include "client/tcp_bus.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <random>

#include "auth/config_error.hpp"
#include "auth/tls_config.hpp"
#include "protocol/encoder.hpp"
#include "protocol/subject.hpp"

namespace courier::mss {
namespace {

/// The sid of the request inbox subscription; user subscriptions count from 1.
constexpr std::string_view inbox_sid = "0";

std::string random_token(std::size_t length) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string out(length, ' ');
  for (char& c : out) c = alphabet[pick(generator)];
  return out;
}

}  // namespace

nats_security tcp_bus::load_security(const tcp_bus_options& options) {
  nats_security security;
  auth::tls_settings settings;
  settings.ca_file = options.tls.ca_file;
  settings.cert_file = options.tls.cert_file;
  settings.key_file = options.tls.key_file;
  settings.insecure = options.tls.insecure;
  try {
    // Always made: a server may require TLS of a nats:// URL (then the
    // system's roots check it, as in stock clients).
    security.tls_context = auth::make_client_context(settings);
  } catch (const auth::config_error& e) {
    throw bus_error(std::string("tls: ") + e.what());
  }
  security.tls_required = options.tls.required;
  security.tls_verify = !options.tls.insecure;
  if (!options.nkey_seed_file.empty() && !options.credentials_file.empty())
    throw bus_error("give an nkey seed file or a credentials file, not both");
  std::string error;
  if (!options.nkey_seed_file.empty() && !auth::load_nkey_seed_file(options.nkey_seed_file, security.credentials, error))
    throw bus_error("nkey seed file: " + error);
  if (!options.credentials_file.empty() && !auth::load_credentials_file(options.credentials_file, security.credentials, error))
    throw bus_error("credentials file: " + error);
  return security;
}

tcp_bus::tcp_bus(tcp_bus_options options)
    : options_(std::move(options)),
      security_(load_security(options_)),
      work_(boost::asio::make_work_guard(io_)),
      reconnect_timer_(io_),
      ping_timer_(io_),
      inbox_prefix_("_INBOX." + random_token(22) + ".") {
  std::string error;
  if (!parse_nats_urls(options_.urls, endpoints_, error)) throw bus_error(error);
  for (auto& endpoint : endpoints_) {
    if (!options_.user.empty()) {
      endpoint.user = options_.user;
      endpoint.password = options_.password;
    }
    if (!options_.token.empty()) endpoint.token = options_.token;
  }
  server_text_ = endpoints_.front().text();
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  io_thread_ = std::thread([this] { io_.run(); });
  boost::asio::post(io_, [this] { start_connection(); });
}

tcp_bus::~tcp_bus() { close(); }

void tcp_bus::log(const std::string& text) const {
  if (options_.log) options_.log(text);
}

std::string tcp_bus::describe() const {
  std::lock_guard lock(mutex_);
  return server_text_;
}

bool tcp_bus::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::int64_t tcp_bus::max_payload() const {
  std::lock_guard lock(mutex_);
  return max_payload_;
}

bool tcp_bus::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return connected_changed_.wait_for(lock, timeout, [this] { return connected_ || closed_; }) && connected_;
}

// ---- I/O thread ----

void tcp_bus::start_connection() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
  }
  const nats_endpoint endpoint = endpoints_[next_endpoint_ % endpoints_.size()];
  ++next_endpoint_;
  current_ = endpoint;
  nats_client::callbacks callbacks;
  callbacks.greeting = [this](const nats_server_info&) { return make_greeting(); };
  callbacks.on_ready = [this](const nats_server_info& info) { on_ready(info); };
  callbacks.on_info_update = [this](const nats_server_info& info) { learn_servers(info); };
  callbacks.on_message = [this](std::string_view subject, std::string_view sid, std::string_view reply,
                                std::string_view headers, std::string_view payload) {
    on_message(subject, sid, reply, headers, payload);
  };
  callbacks.on_pong = [this] { on_pong(); };
  callbacks.on_server_error = [this](std::string_view text) { log("server error: " + std::string(text)); };
  callbacks.on_closed = [this](const std::string& reason) { on_closed(reason); };
  client_ = std::make_shared<nats_client>(io_, std::move(callbacks), options_.name, options_.connect_timeout, security_);
  {
    std::lock_guard lock(mutex_);
    server_text_ = endpoint.text();
  }
  client_->start(endpoint);
}

std::string tcp_bus::make_greeting() {
  // Runs once per connection, after INFO: every live subscription again,
  // with its old sid, so callbacks keep working across reconnects.
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [sid, sub] : subs_) protocol::append_sub(out, sub->subject, sub->queue, std::to_string(sid));
  if (inbox_subscribed_) protocol::append_sub(out, inbox_prefix_ + "*", {}, inbox_sid);
  greeted_ = true;
  return out;
}

void tcp_bus::on_ready(const nats_server_info& info) {
  std::string bytes;
  {
    std::lock_guard lock(mutex_);
    connected_ = true;
    max_payload_ = info.max_payload;
    bytes.swap(outbound_);
    flush_posted_ = false;
  }
  connected_changed_.notify_all();
  failed_attempts_ = 0;
  pings_out_ = 0;
  const auto count = ++connections_;
  log(std::string(count == 1 ? "connected to " : "reconnected to ") + describe() + " (server " + info.server_id +
      ", version " + info.version + ")");
  learn_servers(info);
  client_->write(std::move(bytes));
  ping_timer_.expires_after(options_.ping_interval);
  ping_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_ping_timer();
  });
}

void tcp_bus::on_ping_timer() {
  if (!client_ || !client_->ready()) return;
  if (pings_out_ >= options_.max_pings_out) {
    client_->close("stale connection: " + std::to_string(pings_out_) + " PINGs unanswered");
    return;
  }
  ++pings_out_;
  {
    std::lock_guard lock(mutex_);
    pong_waiters_.push_back(nullptr);
    queue_locked(protocol::ping_line);
  }
  ping_timer_.expires_after(options_.ping_interval);
  ping_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_ping_timer();
  });
}

void tcp_bus::on_pong() {
  pings_out_ = 0;
  std::shared_ptr<std::promise<bool>> waiter;
  {
    std::lock_guard lock(mutex_);
    if (pong_waiters_.empty()) return;
    waiter = std::move(pong_waiters_.front());
    pong_waiters_.pop_front();
  }
  if (waiter) waiter->set_value(true);
}

void tcp_bus::on_message(std::string_view subject, std::string_view sid, std::string_view reply,
                         std::string_view headers, std::string_view payload) {
  if (sid == inbox_sid) {
    // A reply: match it by the inbox's last token.
    if (subject.size() <= inbox_prefix_.size() || subject.compare(0, inbox_prefix_.size(), inbox_prefix_) != 0)
      return;
    const std::string token(subject.substr(inbox_prefix_.size()));
    std::shared_ptr<std::promise<bus_request_result>> waiter;
    {
      std::lock_guard lock(mutex_);
      auto it = requests_.find(token);
      if (it == requests_.end()) return;  // late reply after a timeout
      waiter = std::move(it->second);
      requests_.erase(it);
    }
    bus_request_result result;
    result.reply = bus_message{std::string(subject), std::string(reply), std::string(headers), std::string(payload)};
    result.status = result.reply.status() == 503 && payload.empty() ? bus_request_status::no_responders
                                                                      : bus_request_status::ok;
    waiter->set_value(std::move(result));
    return;
  }
  std::uint64_t number = 0;
  for (char c : sid) {
    if (c < '0' || c > '9') return;
    number = number * 10 + static_cast<std::uint64_t>(c - '0');
  }
  std::shared_ptr<subscription_state> sub;
  {
    std::lock_guard lock(mutex_);
    auto it = subs_.find(number);
    if (it == subs_.end()) return;
    sub = it->second;
  }
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back({std::move(sub), bus_message{std::string(subject), std::string(reply), std::string(headers),
                                                  std::string(payload)}});
  }
  queue_changed_.notify_one();
}

void tcp_bus::on_closed(const std::string& reason) {
  std::vector<std::shared_ptr<std::promise<bool>>> waiters;
  bool closing;
  bool was_connected;
  {
    std::lock_guard lock(mutex_);
    closing = closed_;
    was_connected = connected_;
    // Bytes queued for this connection (SUB/UNSUB lines included) must not
    // reach the next one, whose greeting re-sends the subscriptions. What
    // was published while no connection was greeted stays, as in a stock
    // client's reconnect buffer.
    if (greeted_) outbound_.clear();
    connected_ = false;
    greeted_ = false;
    for (auto& w : pong_waiters_) waiters.push_back(std::move(w));
    pong_waiters_.clear();
  }
  connected_changed_.notify_all();
  for (auto& w : waiters)
    if (w) w->set_value(false);
  ping_timer_.cancel();
  if (closing) return;
  if (was_connected) {
    log("disconnected from " + describe() + ": " + reason);
  } else if (failed_attempts_ == 0 || failed_attempts_ % 20 == 0) {
    log(reason);  // first failure of a series, then every 20th
  }
  schedule_reconnect();
}

void tcp_bus::learn_servers(const nats_server_info& info) {
  if (options_.ignore_discovered_servers) return;
  std::vector<nats_endpoint> announced;
  for (const auto& url : info.connect_urls) {
    std::vector<nats_endpoint> parsed;
    std::string error;
    if (!parse_nats_urls(url, parsed, error)) continue;  // not a host:port; nothing to try
    announced.insert(announced.end(), parsed.begin(), parsed.end());
  }
  const auto same_place = [](const nats_endpoint& a, const nats_endpoint& b) {
    return a.host == b.host && a.port == b.port;
  };
  // Discovered members the cluster no longer announces go (they left); the
  // configured URLs and the one in use stay.
  if (!announced.empty()) {
    std::erase_if(endpoints_, [&](const nats_endpoint& known) {
      const bool gone = known.discovered && !same_place(known, current_) &&
                        std::none_of(announced.begin(), announced.end(),
                                     [&](const nats_endpoint& a) { return same_place(a, known); });
      if (gone) log("server " + known.text() + " is no longer announced");
      return gone;
    });
  }
  for (auto& member : announced) {
    if (std::any_of(endpoints_.begin(), endpoints_.end(),
                    [&](const nats_endpoint& known) { return same_place(known, member); }))
      continue;
    // Reached as the current server is: same credentials, same TLS.
    member.user = current_.user;
    member.password = current_.password;
    member.token = current_.token;
    member.tls = current_.tls;
    member.discovered = true;
    log("discovered server " + member.text());
    endpoints_.push_back(std::move(member));
  }
}

void tcp_bus::schedule_reconnect() {
  ++failed_attempts_;
  // Exponential backoff from the initial delay, capped, with up to 25 %
  // jitter so that many clients do not reconnect in lock step.
  double delay = static_cast<double>(options_.reconnect_initial_delay.count());
  for (unsigned i = 1; i < failed_attempts_ && delay < static_cast<double>(options_.reconnect_max_delay.count()); ++i)
    delay *= 2;
  delay = std::min(delay, static_cast<double>(options_.reconnect_max_delay.count()));
  thread_local std::mt19937 generator{std::random_device{}()};
  delay *= std::uniform_real_distribution<double>(0.75, 1.0)(generator);
  reconnect_timer_.expires_after(std::chrono::milliseconds(static_cast<long long>(delay)));
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) start_connection();
  });
}

void tcp_bus::do_flush_outbound() {
  std::string bytes;
  {
    std::lock_guard lock(mutex_);
    flush_posted_ = false;
    if (!connected_) return;
    bytes.swap(outbound_);
  }
  if (client_ && client_->ready()) client_->write(std::move(bytes));
}

// ---- any thread ----

void tcp_bus::queue_locked(std::string_view bytes) {
  outbound_.append(bytes);
  if (connected_ && !flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(io_, [this] { do_flush_outbound(); });
  }
}

void tcp_bus::publish(std::string_view subject, std::string_view payload, std::string_view reply,
                      std::string_view headers) {
  if (!protocol::is_valid_publish_subject(subject)) throw bus_error("invalid publish subject '" + std::string(subject) + "'");
  if (!reply.empty() && !protocol::is_valid_publish_subject(reply))
    throw bus_error("invalid reply subject '" + std::string(reply) + "'");
  std::string bytes;
  if (headers.empty()) {
    protocol::append_pub(bytes, subject, reply, payload);
  } else {
    protocol::append_hpub(bytes, subject, reply, headers, payload);
  }
  std::lock_guard lock(mutex_);
  if (closed_) throw bus_error("bus closed");
  if (max_payload_ >= 0 && static_cast<std::int64_t>(payload.size() + headers.size()) > max_payload_)
    throw bus_error("maximum payload exceeded (" + std::to_string(payload.size() + headers.size()) + " > " +
                    std::to_string(max_payload_) + " bytes)");
  if (!connected_ && outbound_.size() + bytes.size() > options_.reconnect_buffer_bytes)
    throw bus_error("not connected and the reconnect buffer is full");
  queue_locked(bytes);
}

std::uint64_t tcp_bus::subscribe(std::string_view subject, std::string_view queue, bus_handler handler) {
  if (!protocol::is_valid_subject(subject)) throw bus_error("invalid subject '" + std::string(subject) + "'");
  if (queue.find_first_of(" \t\r\n") != std::string_view::npos) throw bus_error("invalid queue group");
  auto state = std::make_shared<subscription_state>();
  state->subject = std::string(subject);
  state->queue = std::string(queue);
  state->handler = std::move(handler);
  std::lock_guard lock(mutex_);
  if (closed_) throw bus_error("bus closed");
  const std::uint64_t sid = next_sid_++;
  subs_[sid] = state;
  // Not greeted yet: the coming greeting sends it.
  if (greeted_) {
    std::string line;
    protocol::append_sub(line, subject, queue, std::to_string(sid));
    queue_locked(line);
  }
  return sid;
}

void tcp_bus::unsubscribe(std::uint64_t sid) {
  std::lock_guard lock(mutex_);
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;
  it->second->cancelled = true;
  subs_.erase(it);
  if (greeted_ && !closed_) {
    std::string line;
    protocol::append_unsub(line, std::to_string(sid));
    queue_locked(line);
  }
}

bus_request_result tcp_bus::request(std::string_view subject, std::string_view payload,
                                    std::chrono::milliseconds timeout, std::string_view headers) {
  auto waiter = std::make_shared<std::promise<bus_request_result>>();
  auto future = waiter->get_future();
  std::string token;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {bus_request_status::closed, {}};
    if (!inbox_subscribed_) {
      inbox_subscribed_ = true;
      if (greeted_) {
        std::string line;
        protocol::append_sub(line, inbox_prefix_ + "*", {}, inbox_sid);
        queue_locked(line);
      }
    }
    token = std::to_string(next_request_++);
    requests_[token] = waiter;
  }
  try {
    publish(subject, payload, inbox_prefix_ + token, headers);
  } catch (...) {
    std::lock_guard lock(mutex_);
    requests_.erase(token);
    throw;
  }
  if (future.wait_for(timeout) == std::future_status::ready) return future.get();
  {
    std::lock_guard lock(mutex_);
    if (requests_.erase(token) == 0) {
      // Completed between the wait and the lock.
    } else {
      return {bus_request_status::timeout, {}};
    }
  }
  return future.get();
}

bool tcp_bus::flush(std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<std::promise<bool>>();
  auto future = waiter->get_future();
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !connected_) return false;
    pong_waiters_.push_back(waiter);
    queue_locked(protocol::ping_line);
  }
  return future.wait_for(timeout) == std::future_status::ready && future.get();
}

void tcp_bus::close() {
  std::vector<std::shared_ptr<std::promise<bus_request_result>>> requests;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    for (auto& [sid, sub] : subs_) sub->cancelled = true;
    subs_.clear();
    for (auto& [token, waiter] : requests_) requests.push_back(std::move(waiter));
    requests_.clear();
  }
  connected_changed_.notify_all();
  for (auto& waiter : requests) waiter->set_value({bus_request_status::closed, {}});
  // Send what was published before close (bounded), then stop the I/O thread.
  boost::asio::post(io_, [this] {
    reconnect_timer_.cancel();
    ping_timer_.cancel();
    std::string bytes;
    {
      std::lock_guard lock(mutex_);
      if (connected_) bytes.swap(outbound_);
    }
    if (client_) {
      client_->write(std::move(bytes));
      client_->close_after_writes(std::chrono::milliseconds(2000));
    }
    work_.reset();
  });
  if (io_thread_.joinable()) {
    if (io_thread_.get_id() == std::this_thread::get_id()) {
      io_thread_.detach();
    } else {
      io_thread_.join();
    }
  }
  {
    std::lock_guard lock(queue_mutex_);
    stop_dispatch_ = true;
  }
  queue_changed_.notify_all();
  if (dispatcher_.joinable()) {
    if (dispatcher_.get_id() == std::this_thread::get_id()) {
      dispatcher_.detach();  // close() from inside a callback
    } else {
      dispatcher_.join();
    }
  }
}

void tcp_bus::dispatch_loop() {
  while (true) {
    queued_message item;
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [this] { return stop_dispatch_ || !queue_.empty(); });
      if (stop_dispatch_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    if (item.sub->cancelled) continue;
    try {
      item.sub->handler(std::move(item.message));
    } catch (const std::exception& e) {
      log(std::string("subscription callback threw: ") + e.what());
    }
  }
}

}  // namespace courier::mss
