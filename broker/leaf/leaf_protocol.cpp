#include "broker/leaf/leaf_protocol.hpp"

#include <cassert>

#include <picojson.h>

#include "auth/nats_credentials.hpp"
#include "auth/password.hpp"
#include "auth/users.hpp"
#include "broker/client_connect.hpp"
#include "broker/connection.hpp"
#include "broker/leaf/leaf_interest.hpp"
#include "broker/leaf/leaf_nodes.hpp"
#include "broker/leaf/leaf_remote.hpp"
#include "broker/logger.hpp"
#include "broker/router/fanout.hpp"
#include "broker/server.hpp"
#include "protocol/encoder.hpp"
#include "protocol/json_parse.hpp"
#include "protocol/json_string.hpp"
#include "protocol/subject.hpp"

namespace courier::broker {

namespace {
/// How long the soliciting side waits for the hub's INFO.
constexpr std::chrono::seconds info_timeout{5};
/// nats-server's first PING on a leaf connection comes after 1 s (to measure
/// the RTT); then every ping_interval.
constexpr std::chrono::seconds first_ping{1};
/// nats-server's leafNodeReconnectDelayAfterLoopDetected.
constexpr std::chrono::seconds loop_reconnect_delay{30};

std::string key_of(std::string_view subject, std::string_view queue) {
  std::string key(subject);
  if (!queue.empty()) {
    key += ' ';
    key += queue;
  }
  return key;
}
}  // namespace

leaf_protocol::leaf_protocol(connection& owner, server& broker, account& bound, leaf_interest& interest,
                             std::shared_ptr<leaf_remote> remote, std::string user, std::string password)
    : connection_role(owner),
      server_(broker),
      account_(&bound),
      interest_(&interest),
      remote_(std::move(remote)),
      user_(std::move(user)),
      password_(std::move(password)),
      parser_(static_cast<std::size_t>(broker.options().max_control_line), broker.options().max_payload) {
  if (remote_) {
    for (const auto& subject : remote_->config().deny_exports) deny_out_.insert(subject);
    for (const auto& subject : remote_->config().deny_imports) deny_in_.insert(subject);
  }
}

leaf_protocol::leaf_protocol(connection& owner, server& broker)
    : connection_role(owner),
      server_(broker),
      parser_(static_cast<std::size_t>(broker.options().max_control_line), broker.options().max_payload) {}

const std::string& leaf_protocol::log_prefix() const { return connection_.log_prefix(); }

// ---- connection events ----

void leaf_protocol::on_start() {
  if (remote_) {
    info_deadline_ = clock::now() + info_timeout;
  } else if (auto* leafs = server_.leafs()) {
    connect_deadline_ = clock::now() + leafs->settings().auth_timeout;
  }
}

void leaf_protocol::on_greeting() {
  // The hub speaks first.
  if (remote_) return;
  if (auto* leafs = server_.leafs()) {
    connection_.send(leafs->info_line(connection_.id(), false, {}));
  }
}

void leaf_protocol::on_read_turn_end() {
  if (parser_.idle()) parser_.release_memory();
}

void leaf_protocol::on_tick(clock::time_point now) {
  if (!remote_) {
    if (!attached_ && now >= connect_deadline_) {
      log().debug(log_prefix(), "Authentication Timeout");
      fail("Authentication Timeout", close_reason::authentication_timeout);
    }
    return;
  }
  if (!info_received_ && now >= info_deadline_) {
    log().error(log_prefix(), "Leafnode did not receive the remote's INFO in time");
    connection_.close_now(close_reason::authentication_timeout);
  }
}

void leaf_protocol::send_ping() {
  if (log().trace_enabled()) log().trace(log_prefix(), "->> [PING]");
  connection_.send(protocol::ping_line);
}

void leaf_protocol::on_stale() {
  log().debug(log_prefix(), "Stale Leafnode Connection - Closing");
  fail("Stale Connection", close_reason::stale_connection);
}

void leaf_protocol::refuse_over_limit() { connection_.close_now(close_reason::max_connections); }

void leaf_protocol::on_closed(close_reason reason) {
  if (auto* leafs = server_.leafs()) leafs->remove(connection_, reason);
  const bool was_set_up = attached_;
  if (attached_) {
    interest_->detach(*this);
    attached_ = false;
    set_up_.store(false, std::memory_order_release);
  }
  if (account_ == nullptr) return;  // refused before it had an account
  std::vector<std::shared_ptr<subscription>> subs;
  subs.reserve(subscriptions_.size());
  for (auto& [key, sub] : subscriptions_) {
    sub->closed.store(true);
    subs.push_back(sub);
  }
  account_->router.remove_batch(subs);
  subscriptions_.clear();
  connection_.counters().subscriptions.store(0, std::memory_order_relaxed);
  if (was_set_up) {
    log().notice(log_prefix(), "Leafnode connection closed: ", to_string(reason), " account: ", account_->name);
  }
  if (remote_) remote_->on_disconnected(loop_detected_ ? loop_reconnect_delay : std::chrono::milliseconds(0));
}

// ---- the hub's INFO and our CONNECT ----

std::string leaf_protocol::connect_line(const std::string& jwt, const std::string& sig) const {
  // Field order as nats-server's leafConnectInfo; a credentials file wins
  // over a user in the URL, as in 2.9.10.
  std::string out = "CONNECT {\"version\":\"";
  out += compatible_nats_version;
  out += '"';
  if (!jwt.empty()) {
    out += ",\"jwt\":";
    protocol::append_json_string(out, jwt);
    out += ",\"sig\":";
    protocol::append_json_string(out, sig);
  } else if (!user_.empty()) {
    out += ",\"user\":";
    protocol::append_json_string(out, user_);
    out += ",\"pass\":";
    protocol::append_json_string(out, password_);
  }
  out += tls_ ? ",\"tls_required\":true,\"server_id\":" : ",\"tls_required\":false,\"server_id\":";
  protocol::append_json_string(out, server_.id());
  out += ",\"name\":";
  protocol::append_json_string(out, server_.name());
  out += ",\"headers\":true";
  // The hub keeps the subjects we do not import to itself (nats-server's
  // leafConnectInfo.DenyPub).
  if (remote_ && !remote_->config().deny_imports.empty()) {
    out += ",\"deny_pub\":[";
    bool first = true;
    for (const auto& subject : remote_->config().deny_imports) {
      if (!first) out += ',';
      first = false;
      protocol::append_json_string(out, subject);
    }
    out += ']';
  }
  out += "}\r\n";
  return out;
}

bool leaf_protocol::on_info(std::string_view json) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [INFO ", json, "]");
  picojson::value value;
  std::string error;
  protocol::parse_json(value, json.begin(), json.end(), error);
  if (!error.empty() || !value.is<picojson::object>()) {
    log().error(log_prefix(), "Error reading leafnode INFO: ", error.empty() ? "not an object" : error);
    connection_.close_now(close_reason::parse_error);
    return false;
  }
  const auto& info = value.get<picojson::object>();
  if (remote_) {
    if (auto it = info.find("leafnode_urls"); it != info.end() && it->second.is<picojson::array>()) {
      std::vector<std::string> urls;
      for (const auto& url : it->second.get<picojson::array>()) {
        if (url.is<std::string>()) urls.push_back(url.get<std::string>());
      }
      remote_->add_discovered(urls);
    }
  }
  if (info_received_) return true;  // a later INFO: only the URLs change
  info_received_ = true;
  if (auto it = info.find("headers"); it != info.end() && it->second.is<bool>()) peer_headers_ = it->second.get<bool>();
  {
    std::lock_guard lock(peer_mutex_);
    if (auto it = info.find("server_name"); it != info.end() && it->second.is<std::string>()) {
      peer_name_ = it->second.get<std::string>();
    }
  }
  if (!remote_) return true;
  if (auto it = info.find("tls_required");
      !tls_ && it != info.end() && it->second.is<bool>() && it->second.get<bool>()) {
    // The hub wants TLS and the remote has no tls block: say what to add
    // rather than hang.
    log().error(log_prefix(), "Leafnode remote requires TLS: give the remote a tls { } block or a tls:// URL");
    connection_.close_now(close_reason::tls_handshake_error);
    return false;
  }
  std::string jwt, sig;
  if (const std::string& file = remote_->config().credentials; !file.empty()) {
    // Read at every connect, as nats-server does, so a rotated file is used
    // by the next connection.
    if (log().debug_enabled()) log().debug(log_prefix(), "Authenticating with credentials file \"", file, "\"");
    auth::nats_credentials credentials;
    std::string error;
    if (!auth::load_credentials_file(file, credentials, error)) {
      log().error(log_prefix(), "Error loading leafnode remote credentials: ", error);
      connection_.close_now(close_reason::authentication_violation);
      return false;
    }
    const auto nonce = info.find("nonce");
    sig = auth::sign_nonce(credentials, nonce != info.end() && nonce->second.is<std::string>()
                                            ? nonce->second.get<std::string>() : std::string());
    jwt = std::move(credentials.user_jwt);
  }
  connection_.send(connect_line(jwt, sig));
  if (log().debug_enabled()) log().debug(log_prefix(), "Remote leafnode connect msg sent");
  if (auto* leafs = server_.leafs()) leafs->add(connection_.shared_from_this(), *this);
  set_up_interest();
  remote_->on_connected();
  return true;
}

void leaf_protocol::set_up_interest() {
  connection_.set_identity(connection_identity{peer_name_copy(), "", "", user_, account_->name});
  connection_.enable_direct_writes();
  connection_.schedule_first_ping(first_ping);
  log().notice(log_prefix(), "Leafnode connection created for account: ", account_->name);
  interest_->attach(*this);
  attached_ = true;
  set_up_.store(true, std::memory_order_release);
}

account* leaf_protocol::authenticate(const std::string& user, const std::string& password) {
  const auto& settings = server_.leafs()->settings();
  std::string bound = std::string(auth::global_account);
  if (!settings.users.empty()) {
    const conf::leafnode_user* found = nullptr;
    for (const auto& candidate : settings.users) {
      if (candidate.user == user && auth::check_password(candidate.password, password)) found = &candidate;
    }
    if (found == nullptr) {
      log().error(log_prefix(), "\"", log_snippet(user), "\" - leafnode authentication error");
      fail(auth::authorization_violation, close_reason::authentication_violation);
      return nullptr;
    }
    if (!found->account.empty()) bound = found->account;
  }
  account& chosen = server_.find_account(bound);
  if (chosen.name != bound) {
    log().error(log_prefix(), "Leafnode bound to an unknown account \"", bound, "\"");
    fail(auth::authorization_violation, close_reason::authentication_violation);
    return nullptr;
  }
  return &chosen;
}

bool leaf_protocol::on_connect(std::string_view json) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [CONNECT ", redacted_connect(json), "]");
  if (remote_ || attached_) {
    // Only the accepting side takes a CONNECT, once.
    log().error(log_prefix(), "Leafnode received an unexpected CONNECT");
    connection_.close_now(close_reason::protocol_violation);
    return false;
  }
  picojson::value value;
  std::string error;
  protocol::parse_json(value, json.begin(), json.end(), error);
  if (!error.empty() || !value.is<picojson::object>()) {
    log().error(log_prefix(), "Error reading leafnode CONNECT: ", error.empty() ? "not an object" : error);
    connection_.close_now(close_reason::parse_error);
    return false;
  }
  const auto& connect = value.get<picojson::object>();
  auto text = [&connect](const char* key) {
    auto it = connect.find(key);
    return it != connect.end() && it->second.is<std::string>() ? it->second.get<std::string>() : std::string();
  };
  if (auto it = connect.find("headers"); it != connect.end() && it->second.is<bool>()) peer_headers_ = it->second.get<bool>();
  // What the leaf does not import: never sent to it.
  if (auto it = connect.find("deny_pub"); it != connect.end() && it->second.is<picojson::array>()) {
    for (const auto& subject : it->second.get<picojson::array>()) {
      if (subject.is<std::string>() && protocol::is_valid_subscribe_subject(subject.get<std::string>()))
        deny_out_.insert(subject.get<std::string>());
    }
  }
  {
    std::lock_guard lock(peer_mutex_);
    peer_name_ = text("name");
  }
  user_ = text("user");
  account* bound = authenticate(user_, text("pass"));
  if (bound == nullptr) return false;
  account_ = bound;
  interest_ = &server_.leafs()->interest(*bound);
  info_received_ = true;
  // nats-server confirms with a second INFO naming the bound account.
  connection_.send(server_.leafs()->info_line(connection_.id(), true, bound->name));
  set_up_interest();
  return true;
}

bool leaf_protocol::on_err(std::string_view text) {
  log().error(log_prefix(), "Leafnode Error '", log_snippet(text, 256), "'");
  if (text.find("Loop detected") != std::string_view::npos) {
    loop_detected_ = true;
    connection_.close_now(close_reason::protocol_violation);
    return false;
  }
  // nats-server keeps the connection over a permissions error; anything
  // else (authorization, ...) is followed by the peer's close anyway.
  if (text.find("Permissions Violation") != std::string_view::npos) return true;
  connection_.close_now(close_reason::protocol_violation);
  return false;
}

// ---- keep-alive ----

bool leaf_protocol::on_ping() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PING]");
  connection_.send(protocol::pong_line);
  return true;
}

bool leaf_protocol::on_pong() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PONG]");
  connection_.on_pong();
  return true;
}

// ---- interest ----

void leaf_protocol::on_loop_detected() {
  std::string text = "Loop detected for leafnode account=\"" + account_->name + "\". Delaying attempt to reconnect for 30s";
  log().error(log_prefix(), text);
  std::string line;
  protocol::append_err(line, text);
  connection_.send(line);
  loop_detected_ = true;
  connection_.close_now(close_reason::protocol_violation);
}

bool leaf_protocol::on_interest_add(std::string_view subject, std::string_view queue, std::int32_t weight) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [LS+ ", subject, queue.empty() ? "" : " ", queue, "]");
  if (!attached_) {
    log().error(log_prefix(), "Leafnode interest before the connection was set up");
    connection_.close_now(close_reason::protocol_violation);
    return false;
  }
  if (subject == interest_->loop_subject()) {
    on_loop_detected();
    return false;
  }
  if (!protocol::is_valid_subscribe_subject(subject)) {
    log().error(log_prefix(), "Leafnode interest on an invalid subject: ", log_snippet(subject));
    return true;
  }
  if (!deny_out_.empty() && protocol::subject_is_literal(subject) && deny_out_.matches_plain(subject)) {
    // Nothing would be sent for it (nats-server: a permissions violation).
    log().debug(log_prefix(), "Leafnode interest in \"", log_snippet(subject), "\" not taken: not exported");
    return true;
  }
  if (queue.empty()) weight = 1;
  if (weight <= 0) weight = 1;
  auto key = key_of(subject, queue);
  if (subscriptions_.find(key) == subscriptions_.end()) {
    auto sub = std::make_shared<subscription>();
    sub->subject = subject;
    sub->queue = queue;
    sub->sid = key;
    sub->client_id = connection_.id();
    sub->owner = connection_.receiver();
    sub->remote_interest = true;
    account_->router.insert(sub);
    subscriptions_.emplace(std::move(key), std::move(sub));
    connection_.counters().subscriptions.store(static_cast<std::uint32_t>(subscriptions_.size()),
                                               std::memory_order_relaxed);
  } else if (queue.empty()) {
    return true;  // plain interest repeated: nothing changes
  }
  // New interest, or a queue group's new weight: the other leaves hear of it.
  interest_->remote_changed(*this, subject, queue, weight);
  return true;
}

bool leaf_protocol::on_interest_remove(std::string_view subject, std::string_view queue) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [LS- ", subject, queue.empty() ? "" : " ", queue, "]");
  auto it = subscriptions_.find(key_of(subject, queue));
  if (it == subscriptions_.end()) return true;
  interest_->remote_changed(*this, subject, queue, 0);
  auto sub = it->second;
  sub->closed.store(true);
  account_->router.remove(sub);
  subscriptions_.erase(it);
  connection_.counters().subscriptions.store(static_cast<std::uint32_t>(subscriptions_.size()),
                                             std::memory_order_relaxed);
  return true;
}

// ---- messages ----

bool leaf_protocol::on_message(const protocol::leaf_message& message) {
  if (log().trace_enabled()) {
    log().trace(log_prefix(), "<<- [", message.headers.empty() ? "LMSG " : "HMSG ", message.subject,
                message.reply.empty() ? "" : " ", message.reply, " ", message.headers.size() + message.payload.size(), "]");
  }
  auto& counters = connection_.counters();
  connection_counters::add(counters.msgs_in, std::uint64_t{1});
  connection_counters::add(counters.bytes_in, static_cast<std::uint64_t>(message.headers.size() + message.payload.size()));
  if (!attached_) {
    connection_.close_now(close_reason::protocol_violation);
    return false;
  }
  if (!deny_in_.empty() && deny_in_.matches_plain(message.subject)) return true;  // not imported
  const message_view view{message.subject, message.reply, message.headers, message.payload, {}, {}};
  fanout::publish(account_->router, this, view, connection_.batch(), message.queues);
  return !connection_.closed();
}

void leaf_protocol::deliver(const subscription&, const message_view& message, flush_batch& batch) {
  static const std::vector<std::string_view> no_queues;
  deliver_remote(message, no_queues, batch);
}

void leaf_protocol::deliver_remote(const message_view& message, const std::vector<std::string_view>& queues,
                                   flush_batch& batch) {
  if (!deny_out_.empty() && deny_out_.matches_plain(message.subject)) return;  // not exported
  // A hub without header support gets the payload alone (as nats-server strips them).
  const std::string_view headers = peer_headers_ ? message.headers : std::string_view();
  connection_.deliver(
      [&](outbound_buffer& out) {
        protocol::append_leaf_message(out, message.subject, message.reply, queues, headers, message.payload);
      },
      headers.size() + message.payload.size(), batch, *this);
}

void leaf_protocol::send_interest(std::string_view lines) {
  if (!deny_in_.empty()) {
    // Interest in what we do not import stays here (nats-server checks
    // canSubscribe in sendLeafNodeSubUpdate), except loop detection's.
    std::string kept;
    while (!lines.empty()) {
      const auto end = lines.find("\r\n");
      const std::string_view line = lines.substr(0, end == std::string_view::npos ? lines.size() : end + 2);
      lines.remove_prefix(line.size());
      std::string_view subject = line.size() > 4 ? line.substr(4) : std::string_view();
      subject = subject.substr(0, subject.find_first_of(" \r"));
      const bool internal = subject.rfind("$LDS.", 0) == 0 || subject.rfind("_GR_.", 0) == 0 || subject.rfind("$GR.", 0) == 0;
      if (internal || subject.empty() || !deny_in_.match(subject).plain) kept.append(line);
    }
    if (kept.empty()) return;
    if (log().trace_enabled()) log().trace(log_prefix(), "->> [", log_snippet(kept, 256), "]");
    connection_.send_from_any_thread(kept);
    return;
  }
  if (log().trace_enabled()) log().trace(log_prefix(), "->> [", log_snippet(lines, 256), "]");
  connection_.send_from_any_thread(lines);
}

void leaf_protocol::on_parse_error(protocol::leaf_parse_error error, std::string_view snippet) {
  using protocol::leaf_parse_error;
  log().error(log_prefix(), "Leafnode parser ERROR, proto='", log_snippet(snippet), "'");
  switch (error) {
    case leaf_parse_error::max_control_line:
      fail("maximum control line exceeded", close_reason::max_control_line);
      break;
    case leaf_parse_error::max_payload:
      fail("Maximum Payload Violation", close_reason::max_payload);
      break;
    case leaf_parse_error::unknown_operation:
    case leaf_parse_error::bad_payload_end:
      fail("Unknown Protocol Operation", close_reason::protocol_violation);
      break;
    default:
      // nats-server closes on bad LMSG/LS+ arguments without an -ERR.
      connection_.close_now(close_reason::protocol_violation);
  }
}

// ---- monitoring ----

leaf_snapshot leaf_protocol::snapshot() const {
  leaf_snapshot out;
  out.name = peer_name_copy();
  out.is_spoke = we_are_spoke();
  out.account = account_->name;
  out.ip = connection_.link().remote_ip();
  out.port = connection_.link().remote_port();
  auto& counters = connection_.counters();
  out.rtt_ns = counters.rtt_ns.load(std::memory_order_relaxed);
  out.msgs_in = counters.msgs_in.load(std::memory_order_relaxed);
  out.bytes_in = counters.bytes_in.load(std::memory_order_relaxed);
  out.msgs_out = counters.msgs_out.load(std::memory_order_relaxed);
  out.bytes_out = counters.bytes_out.load(std::memory_order_relaxed);
  const auto id = connection_.id();
  account_->router.for_each([&out, id](const subscription& sub) {
    if (sub.client_id == id && sub.remote_interest) out.subscriptions.push_back(sub.sid);
  });
  return out;
}

std::string leaf_protocol::peer_name_copy() const {
  std::lock_guard lock(peer_mutex_);
  return peer_name_;
}

void leaf_protocol::fail(std::string_view text, close_reason reason) {
  log().error(log_prefix(), text);
  std::string line;
  protocol::append_err(line, text);
  connection_.send(line);
  connection_.close_now(reason);
}

}  // namespace courier::broker
