#include "broker/client_protocol.hpp"

#include <cassert>
#include <cstring>

#include "auth/nkeys.hpp"
#include "auth/users.hpp"
#include "broker/client_connect.hpp"
#include "broker/connection.hpp"
#include "broker/logger.hpp"
#include "broker/router/fanout.hpp"
#include "broker/server.hpp"
#include "protocol/encoder.hpp"
#include "protocol/subject.hpp"

namespace courier::broker {

namespace {
/// How much a producer publishes between checks for a stall a receiver asked
/// for: what one nats-server read (64 KiB at most) would carry.
constexpr std::size_t stall_check_bytes = 64 * 1024;

/// nats-server's first PING comes 2 s after CONNECT (to measure RTT), or
/// after ping_interval if that is shorter; then every ping_interval.
std::chrono::milliseconds first_ping_delay(std::chrono::milliseconds interval) {
  const auto first = std::chrono::milliseconds(2000);
  return interval.count() > 0 && interval < first ? interval : first;
}

/// Appends MSG or HMSG for `message` through `sub`. The publisher's size
/// texts are echoed verbatim when it gave them; headers are stripped for a
/// client that did not ask for them (the size is then the payload's alone).
void encode_delivery(outbound_buffer& out, const subscription& sub, const message_view& message,
                     bool headers_supported) {
  if (message.headers.empty()) {
    if (!message.total_size_text.empty()) {
      protocol::append_msg_sized(out, message.subject, sub.sid, message.reply, message.total_size_text,
                                 message.payload);
    } else {
      protocol::append_msg(out, message.subject, sub.sid, message.reply, message.payload);
    }
  } else if (!headers_supported) {
    protocol::append_msg(out, message.subject, sub.sid, message.reply, message.payload);
  } else if (!message.header_size_text.empty() && !message.total_size_text.empty()) {
    protocol::append_hmsg_sized(out, message.subject, sub.sid, message.reply, message.header_size_text,
                                message.total_size_text, message.headers, message.payload);
  } else {
    protocol::append_hmsg(out, message.subject, sub.sid, message.reply, message.headers, message.payload);
  }
}

/// The same bytes as encode_delivery, with the payload queued as a
/// reference (outbound_buffer::append_reference) instead of copied.
void encode_delivery_referencing_payload(outbound_buffer& out, const subscription& sub, const message_view& message,
                                         bool headers_supported, read_slab& slab) {
  using protocol::encoder_detail::decimal_text;
  const bool hmsg = !message.headers.empty() && headers_supported;
  const std::string_view headers = hmsg ? message.headers : std::string_view();
  const decimal_text header_size(headers.size());
  const decimal_text total_size(headers.size() + message.payload.size());
  // The publisher's size texts are echoed where encode_delivery echoes them.
  std::string_view header_text = hmsg ? header_size.view() : std::string_view();
  std::string_view total_text = total_size.view();
  if (message.headers.empty() && !message.total_size_text.empty()) {
    total_text = message.total_size_text;
  } else if (hmsg && !message.header_size_text.empty() && !message.total_size_text.empty()) {
    header_text = message.header_size_text;
    total_text = message.total_size_text;
  }
  const std::size_t line = protocol::msg_prefix_size_text(message.subject, sub.sid, message.reply, header_text,
                                                          total_text);
  const std::size_t at = out.size();
  out.resize(at + line + headers.size());
  char* p = protocol::format_msg_prefix_text(out.data() + at, message.subject, sub.sid, message.reply, header_text,
                                             total_text);
  if (!headers.empty()) std::memcpy(p, headers.data(), headers.size());
  out.append_reference(message.payload, slab);
  out.append("\r\n");
}
}  // namespace

client_protocol::client_protocol(connection& owner, server& broker)
    : connection_role(owner),
      server_(broker),
      parser_(protocol::parser_limits{static_cast<std::size_t>(broker.options().max_control_line),
                                      broker.options().max_payload}),
      identity_(broker.find_account(auth::global_account)) {
  parser_.set_headers_supported(false);  // until CONNECT asks for them
}

const std::string& client_protocol::log_prefix() const { return connection_.log_prefix(); }

// ---- connection events ----

void client_protocol::on_start() {
  auto settings = server_.auth_settings(connection_.link().type());
  if (!settings->auth_required()) return;
  // Nothing but CONNECT is accepted until it authenticates, within the timeout.
  awaiting_auth_ = true;
  parser_.set_awaiting_connect(true);
  auth_deadline_ = clock::now() + settings->timeout();
  if (settings->nonce_required()) nonce_ = auth::nkeys::generate_nonce();
}

std::string client_protocol::info_line(bool lame_duck) const {
  return server_.info_line(connection_.id(), connection_.link().remote_ip(), lame_duck, nonce_,
                           connection_.link().type());
}

void client_protocol::on_greeting() { connection_.send(info_line(server_.lame_duck())); }

void client_protocol::on_read_turn_end() {
  if (parser_.idle()) parser_.release_memory();
}

void client_protocol::on_tick(clock::time_point now) {
  if (awaiting_auth_ && now >= auth_deadline_) {
    log().debug(log_prefix(), "Authentication Timeout");
    fail(auth::authentication_timeout, close_reason::authentication_timeout);
  }
}

void client_protocol::send_ping() {
  if (log().trace_enabled()) log().trace(log_prefix(), "->> [PING]");
  connection_.send(protocol::ping_line);
}

void client_protocol::on_stale() {
  log().debug(log_prefix(), "Stale Client Connection - Closing");
  fail("Stale Connection", close_reason::stale_connection);
}

void client_protocol::on_closed(close_reason) {
  std::vector<std::shared_ptr<subscription>> subs;
  std::vector<subscription_info> kept;  // for monitoring's closed list, as nats-server keeps them
  subs.reserve(subscriptions_.size());
  kept.reserve(subscriptions_.size());
  for (auto& [sid, sub] : subscriptions_) {
    sub->closed.store(true);
    kept.push_back({sub->subject, sub->queue, sub->sid, sub->delivered.load(std::memory_order_relaxed),
                    sub->max_messages.load(std::memory_order_relaxed)});
    subs.push_back(sub);
  }
  identity_.home().router.remove_batch(subs);
  // Dropping the map breaks the connection <-> subscription cycle; the
  // subscriptions die when the last in-flight match result lets go of them.
  // The subscription count stays: a closed connection shows what it had.
  subscriptions_.clear();
  connection_.set_closed_subscriptions(std::move(kept));
}

void client_protocol::refuse_over_limit() {
  // nats-server sends its INFO first, then the -ERR, then closes.
  connection_.send(server_.info_line(connection_.id(), connection_.link().remote_ip(), false, {},
                                     connection_.link().type()));
  fail("maximum connections exceeded", close_reason::max_connections);
}

void client_protocol::on_lame_duck() {
  connection_.post([this] {
    // Only clients that announced protocol 1 (async INFO) are told.
    if (connection_.closed() || protocol_ < 1) return;
    connection_.send(server_.info_line(connection_.id(), connection_.link().remote_ip(), true, {},
                                       connection_.link().type()));
    connection_.batch().flush();
  });
}

// ---- CONNECT and authentication ----

bool client_protocol::on_connect(std::string_view json) {
  // Secrets never reach the log: nats-server prints "pass":"[REDACTED]".
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [CONNECT ", redacted_connect(json), "]");
  client_connect connect;
  std::string detail;
  switch (parse_client_connect(json, connect, detail)) {
    case connect_error::none:
      break;
    case connect_error::not_json:
      // nats-server: a CONNECT that does not unmarshal closes the connection, no -ERR.
      log().error(log_prefix(), "Error reading CONNECT: ", detail);
      connection_.close_now(close_reason::parse_error);
      return false;
    case connect_error::wrong_type:
      log().error(log_prefix(), "Error reading CONNECT: wrong field type");
      connection_.close_now(close_reason::parse_error);
      return false;
  }
  adopt_connect(connect);
  // Who it says it is, before authentication: a refused client is listed
  // closed with its name and the user it tried (as nats-server does).
  connection_.set_identity(connection_identity{connect.name, connect.lang, connect.version, connect.user, ""});
  if (awaiting_auth_ && !authenticate()) return false;
  return accept_connect(connect);
}

void client_protocol::adopt_connect(const client_connect& connect) {
  verbose_ = connect.verbose.value_or(verbose_);
  pedantic_ = connect.pedantic.value_or(pedantic_);
  echo_.store(connect.echo.value_or(echo_.load()));
  no_responders_ = connect.no_responders.value_or(no_responders_);
  credentials_ = stored_credentials{connect.user, connect.pass, connect.auth_token, connect.nkey, connect.sig};
}

bool client_protocol::accept_connect(const client_connect& connect) {
  const bool headers = connect.headers.value_or(headers_.load());
  headers_.store(headers);
  // TLS writes stay on the loop (one SSL object, not shared between threads).
  connection_.enable_direct_writes();
  parser_.set_headers_supported(headers);
  protocol_ = static_cast<int>(connect.protocol);
  const bool first_connect = !connect_received_;
  if (first_connect) connection_.schedule_first_ping(first_ping_delay(server_.options().ping_interval));
  connect_received_ = true;
  connection_.set_identity(
      connection_identity{connect.name, connect.lang, connect.version, identity_.user(), identity_.home().name});
  // The system account's client_connect advisory (nats-server sends it
  // once the client is authenticated and registered with its account).
  if (first_connect) server_.connection_connected(connection_);
  // Protocol 0 is the original, 1 adds async INFO; anything else is refused.
  if (connect.protocol < 0 || connect.protocol > 1) {
    fail("invalid client protocol", close_reason::bad_client_protocol);
    return false;
  }
  if (no_responders_ && !headers) {
    fail("no responders requires headers support", close_reason::protocol_violation);
    return false;
  }
  ok();
  return true;
}

bool client_protocol::authenticate() {
  const auto& result =
      identity_.authenticate(server_, *server_.auth_settings(connection_.link().type()), credentials_view());
  if (!result.ok) {
    // The reason never carries a secret (see auth::authenticate).
    log().error(log_prefix(), result.label, " - authentication error: ", result.reason);
    fail(auth::authorization_violation, close_reason::authentication_violation);
    return false;
  }
  awaiting_auth_ = false;
  parser_.set_awaiting_connect(false);
  return true;
}

auth::client_credentials client_protocol::credentials_view() const {
  auth::client_credentials view;
  view.user = credentials_.user;
  view.pass = credentials_.pass;
  view.auth_token = credentials_.auth_token;
  view.nkey = credentials_.nkey;
  view.sig = credentials_.sig;
  view.nonce = nonce_;
  view.certificate = connection_.link().peer_certificate();
  view.websocket = connection_.link().type() == client_type::websocket;
  return view;
}

void client_protocol::on_auth_reload(std::shared_ptr<const auth::auth_config> config) {
  connection_.post([this, config] { apply_auth_reload(*config); });
}

void client_protocol::apply_auth_reload(const auth::auth_config& config) {
  if (connection_.closed() || !connect_received_ || awaiting_auth_) return;
  if (!config.auth_required()) {
    identity_.set_unrestricted();
    return;
  }
  // No longer authorized, or moved to another account: nats-server 2.9.10
  // closes these connections without an -ERR (seen on the running server).
  if (identity_.reload(config, credentials_view()) != auth::reload_outcome::action::keep) {
    log().debug(log_prefix(), "Closing connection: authorization changed on reload");
    connection_.close_now(close_reason::authentication_violation);
    return;
  }
  drop_refused_subscriptions();
  connection_.batch().flush();
}

void client_protocol::drop_refused_subscriptions() {
  const auth::permissions* perms = identity_.rules();
  for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
    const auto& sub = it->second;
    if (auth::keeps_subscription_on_reload(perms, sub->subject, sub->queue)) {
      ++it;
      continue;
    }
    log().error(log_prefix(), auth::reload_subscription_removed_log(sub->subject, sub->sid, identity_.label()));
    send_err_line(auth::reload_subscription_violation(sub->subject, sub->sid));
    auto next = std::next(it);
    remove_subscription(it);
    it = next;
  }
}

// ---- operations ----

bool client_protocol::on_pub(std::string_view subject, std::string_view reply, std::string_view payload) {
  // Guarded: the arguments cost even when tracing is off.
  if (log().trace_enabled()) {
    log().trace(log_prefix(), "<<- [PUB ", subject, reply.empty() ? "" : " ", reply, " ", payload.size(), "]");
  }
  return publish(subject, reply, {}, payload);
}

bool client_protocol::on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
                              std::string_view payload) {
  if (log().trace_enabled()) {
    log().trace(log_prefix(), "<<- [HPUB ", subject, reply.empty() ? "" : " ", reply, " ", headers.size(), " ",
                headers.size() + payload.size(), "]");
  }
  return publish(subject, reply, headers, payload);
}

bool client_protocol::on_info(std::string_view json) {
  // nats-server unmarshals a client's INFO and closes the connection, without
  // -ERR, when that fails; a good one is ignored.
  if (client_info_parses(json)) return true;
  log().error(log_prefix(), "Error reading client INFO: ", log_snippet(json, 128));
  connection_.close_now(close_reason::parse_error);
  return false;
}

void client_protocol::on_pub_line(std::string_view subject) {
  // nats-server checks the subject when the PUB line arrives (processPub),
  // before the payload: the -ERR comes even if the payload never completes
  // or does not end in CRLF. It still delivers the message after it.
  if (pedantic_ && !protocol::is_valid_literal_subject(subject)) send_error("Invalid Publish Subject");
}

bool client_protocol::publish(std::string_view subject, std::string_view reply, std::string_view headers,
                              std::string_view payload) {
  auto& counters = connection_.counters();
  connection_counters::add(counters.msgs_in, std::uint64_t{1});
  connection_counters::add(counters.bytes_in, static_cast<std::uint64_t>(headers.size() + payload.size()));
  // The pedantic subject check is done when the line arrives (on_pub_line).
  if (!identity_.can_publish(subject)) {
    // nats-server: -ERR, no +OK, not routed; the connection stays open.
    log().error(log_prefix(), auth::publish_violation_log(identity_.label(), subject));
    send_err_line(auth::publish_violation(subject));
    return true;
  }
  ok();
  auto& batch = connection_.batch();
  sublist& router = identity_.home().router;
  const message_view message{subject, reply, headers, payload, parser_.header_size_text(), parser_.size_text()};
  // nats-server sends the no-responders status when the message was
  // delivered nowhere (didDeliver), e.g. also when the only subscriber is
  // the publisher itself without echo.
  bool delivered = false;
  fanout::publish(router, this, message, batch, nullptr, &delivered);
  if (!delivered && !reply.empty() && no_responders_) fanout::send_no_responders(router, *this, reply, batch);
  // Every stall_check_bytes of published data, a stall a receiver asked for
  // stops the parser after this message (the connection keeps the rest of
  // the read for later). That is the granularity of 64 KiB reads, whatever
  // the read size.
  parsed_since_stall_check_ += subject.size() + reply.size() + headers.size() + payload.size();
  if (parsed_since_stall_check_ >= stall_check_bytes) {
    parsed_since_stall_check_ = 0;
    return !connection_.closed() && !batch.stall_requested();
  }
  return !connection_.closed();
}

bool client_protocol::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [SUB ", subject, queue.empty() ? "" : " ", queue, " ", sid, "]");
  // Order as nats-server's processSub: permissions, the subscription
  // limit, a live sid (ignored, without checking its subject), then the
  // subject (checked when inserting).
  if (!identity_.can_subscribe(subject, queue)) {
    log().error(log_prefix(), auth::subscribe_violation_log(identity_.label(), subject, queue, sid));
    send_err_line(auth::subscribe_violation(subject, queue));
    return true;
  }
  const auto max_subscriptions = server_.options().max_subscriptions;
  if (max_subscriptions > 0 && subscriptions_.size() >= static_cast<std::size_t>(max_subscriptions)) {
    log().error(log_prefix(), "Maximum Subscriptions Exceeded (", max_subscriptions, ")");
    send_error("maximum subscriptions exceeded");
    return true;
  }
  // nats-server ignores a SUB that reuses a live sid, whatever its subject.
  if (subscriptions_.find(std::string(sid)) != subscriptions_.end()) {
    ok();
    return true;
  }
  if (!protocol::is_valid_subscribe_subject(subject)) {
    send_error("Invalid Subject");
    return true;
  }
  add_subscription(subject, queue, sid);
  ok();
  return true;
}

void client_protocol::add_subscription(std::string_view subject, std::string_view queue, std::string_view sid) {
  auto sub = std::make_shared<subscription>();
  sub->subject = subject;
  sub->queue = queue;
  sub->sid = sid;
  sub->client_id = connection_.id();
  sub->owner = connection_.receiver();
  identity_.home().router.insert(sub);
  subscriptions_.emplace(sub->sid, std::move(sub));
  connection_.counters().subscriptions.store(static_cast<std::uint32_t>(subscriptions_.size()),
                                             std::memory_order_relaxed);
}

void client_protocol::remove_subscription(
    std::unordered_map<std::string, std::shared_ptr<subscription>>::iterator it) {
  auto& sub = it->second;
  sub->closed.store(true);
  identity_.home().router.remove(sub);
  subscriptions_.erase(it);
  connection_.counters().subscriptions.store(static_cast<std::uint32_t>(subscriptions_.size()),
                                             std::memory_order_relaxed);
}

bool client_protocol::on_unsub(std::string_view sid, std::optional<std::uint64_t> max) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [UNSUB ", sid, max ? " " : "", max ? std::to_string(*max) : "", "]");
  auto it = subscriptions_.find(std::string(sid));
  if (it != subscriptions_.end()) {
    auto& sub = it->second;
    if (max && *max > 0 && sub->delivered.load() < *max) {
      sub->max_messages.store(*max);
    } else {
      remove_subscription(it);
    }
  }
  ok();
  return true;
}

bool client_protocol::on_ping() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PING]");
  connection_.send(protocol::pong_line);
  return true;
}

bool client_protocol::on_pong() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PONG]");
  connection_.on_pong();
  return true;
}

void client_protocol::on_error(protocol::parse_error error, std::string_view snippet) {
  using protocol::parse_error;
  log().error(log_prefix(), "Client parser ERROR, proto='", log_snippet(snippet), "'");
  close_reason reason = close_reason::parse_error;
  if (error == parse_error::max_payload) reason = close_reason::max_payload;
  if (error == parse_error::max_control_line) reason = close_reason::max_control_line;
  if (error == parse_error::headers_not_supported || error == parse_error::bad_pub_arguments ||
      error == parse_error::bad_sub_arguments || error == parse_error::unknown_operation ||
      error == parse_error::bad_payload_end) {
    reason = close_reason::protocol_violation;
  }
  // Some errors get an -ERR first, others close silently, as in nats-server.
  auto text = protocol::nats_error_text(error);
  if (!text.empty()) {
    fail(text, reason);
  } else {
    connection_.close_now(reason);
  }
  // The connection reads nothing more once the parser has failed.
  assert(connection_.closed());
}

// ---- delivery ----

void client_protocol::deliver(const subscription& sub, const message_view& message, flush_batch& batch) {
  if (!identity_.admits_delivery(sub, message)) return;
  const bool headers = headers_.load(std::memory_order_relaxed);
  const std::size_t bytes = (headers ? message.headers.size() : 0) + message.payload.size();
  connection_.deliver(
      [&](outbound_buffer& out, read_slab* payload_slab) {
        if (payload_slab != nullptr) {
          encode_delivery_referencing_payload(out, sub, message, headers, *payload_slab);
        } else {
          encode_delivery(out, sub, message, headers);
        }
      },
      bytes, batch, *this, message.payload);
}

void client_protocol::subscription_done(const std::shared_ptr<subscription>& sub) {
  auto forget = [this, sub] {
    auto it = subscriptions_.find(sub->sid);
    if (it != subscriptions_.end() && it->second == sub) {
      subscriptions_.erase(it);
      connection_.counters().subscriptions.store(static_cast<std::uint32_t>(subscriptions_.size()),
                                                 std::memory_order_relaxed);
    }
  };
  // nats-server forgets the subscription at once. On this connection's own
  // loop thread (e.g. it published the message itself) no other code of it is
  // running, so do it now: a SUB later in the same read must see the lower
  // count for max_subscriptions. From another thread, post it.
  if (connection_.on_loop_thread()) {
    forget();
  } else {
    connection_.post(std::move(forget));
  }
}

// ---- replies ----

void client_protocol::send_err_line(std::string_view text) {
  std::string line;
  protocol::append_err(line, text);
  connection_.send(line);
}

void client_protocol::send_error(std::string_view text) {
  log().error(log_prefix(), text);
  send_err_line(text);
}

void client_protocol::fail(std::string_view text, close_reason reason) {
  send_error(text);
  connection_.close_now(reason);
}

void client_protocol::ok() {
  if (verbose_) connection_.send(protocol::ok_line);
}

}  // namespace courier::broker
