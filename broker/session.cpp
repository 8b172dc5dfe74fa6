#include "broker/session.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/post.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <picojson.h>

#include "auth/nkeys.hpp"
#include "auth/tls_config.hpp"
#include "auth/users.hpp"
#include "broker/event_loop.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "conf/duration.hpp"
#include "protocol/encoder.hpp"
#include "protocol/subject.hpp"

namespace courier::broker {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
/// Read batches smaller than this are flushed with the loop's other ready
/// connections (event_loop::flush_soon), bigger ones at once.
constexpr std::size_t small_read_batch = 64 * 1024;
/// Bytes one connection reads per turn before the loop's other connections.
constexpr std::size_t max_read_turn = 1024 * 1024;
/// How much a producer publishes between checks for a stall a receiver asked
/// for: what one nats-server read (64 KiB at most) would carry.
constexpr std::size_t stall_check_bytes = 64 * 1024;
}  // namespace

const char* to_string(close_reason reason) {
  switch (reason) {
    case close_reason::client_closed: return "Client Closed";
    case close_reason::read_error: return "Read Error";
    case close_reason::write_error: return "Write Error";
    case close_reason::protocol_violation: return "Protocol Violation";
    case close_reason::parse_error: return "Parse Error";
    case close_reason::max_payload: return "Maximum Message Payload Exceeded";
    case close_reason::max_control_line: return "Maximum Control Line Exceeded";
    case close_reason::slow_consumer_pending_bytes: return "Slow Consumer (Pending Bytes)";
    case close_reason::slow_consumer_write_deadline: return "Slow Consumer (Write Deadline)";
    case close_reason::stale_connection: return "Stale Connection";
    case close_reason::max_connections: return "Maximum Connections Exceeded";
    case close_reason::authentication_timeout: return "Authentication Timeout";
    case close_reason::authentication_violation: return "Authentication Failure";
    case close_reason::bad_client_protocol: return "Bad Client Protocol Version";
    case close_reason::server_shutdown: return "Server Shutdown";
    case close_reason::lame_duck: return "Lame Duck Mode";
    case close_reason::tls_handshake_error: return "TLS Handshake Failure";
  }
  return "Unknown";
}

session::session(server& owner, event_loop& loop, asio::ip::tcp::socket socket, std::uint64_t id)
    : server_(owner),
      loop_(loop),
      socket_(std::move(socket)),
      id_(id),
      parser_(protocol::parser_limits{static_cast<std::size_t>(owner.options().max_control_line),
                                      owner.options().max_payload}),
      account_(&owner.find_account(auth::global_account)),
      fd_(socket_.native_handle()) {
  error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ip_ = endpoint.address().to_string();
    remote_port_ = endpoint.port();
  }
  parser_.set_headers_supported(false);  // until CONNECT asks for them
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  created_ = last_activity_ = clock::now();
  next_ping_ = created_ + owner.options().ping_interval;
}

session::~session() {
  if (ssl_) SSL_free(ssl_);
}

std::string session::log_prefix() const {
  return concat(remote_ip_, ":", remote_port_, " - cid:", id_, " - ");
}

void session::start() {
  log().debug(log_prefix(), "Client connection created");
  auto settings = server_.auth_settings();
  if (settings->auth_required()) {
    // Nothing but CONNECT is accepted until it authenticates, within the timeout.
    awaiting_auth_ = true;
    parser_.set_awaiting_connect(true);
    auth_deadline_ = clock::now() + settings->timeout();
    if (settings->nonce_required()) nonce_ = auth::nkeys::generate_nonce();
  }
  if (server_.tls_enabled()) {
    tls_deadline_ = clock::now() + server_.tls_settings().timeout;
    if (server_.tls_settings().handshake_first) {
      if (auto fallback = server_.tls_settings().handshake_first_fallback) {
        // handshake_first with a duration (2.10): wait that long for a
        // ClientHello, then fall back to INFO first.
        tls_state_ = tls_state::waiting_hello_first;
        hello_deadline_ = clock::now() + *fallback;
        do_read();
        return;
      }
      begin_tls_handshake();  // the INFO follows the handshake
      return;
    }
  }
  send_info_and_continue();
}

void session::send_info_and_continue() {
  info_sent_ = true;
  queue_own(server_.info_line(id_, remote_ip_, server_.lame_duck(), nonce_));
  flush_deliveries();
  if (server_.tls_enabled()) {
    // The client upgrades after the plain INFO; with allow_non_tls it may not.
    if (server_.options().allow_non_tls) {
      tls_state_ = tls_state::waiting_first_byte;
      do_read();
    } else {
      begin_tls_handshake();
    }
    return;
  }
  do_read();
}

void session::reject_max_connections() {
  // nats-server sends its INFO first, then the -ERR, then closes.
  queue_own(server_.info_line(id_, remote_ip_, false));
  fail("maximum connections exceeded", close_reason::max_connections);
}

void session::send_lame_duck_info() {
  asio::post(loop_.context(), [self = std::static_pointer_cast<session>(shared_from_this())] {
    // Only clients that announced protocol 1 (async INFO) are told.
    if (self->closed_ || self->protocol_ < 1) return;
    self->queue_own(self->server_.info_line(self->id_, self->remote_ip_, true));
    self->loop_.batch().flush();
  });
}

// ---- reading ----

void session::do_read() {
  if (closed_ || reading_) return;
  reading_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = std::static_pointer_cast<session>(shared_from_this())](const error_code& ec) {
                       // A cancelled wait leaves reading_ to whoever cancelled it.
                       if (ec == asio::error::operation_aborted) return;
                       self->reading_ = false;
                       self->on_readable(ec);
                     });
}

void session::on_readable(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::operation_aborted) do_close(close_reason::read_error);
    return;
  }
  if (tls_state_ == tls_state::waiting_hello_first) {
    int first = peek_first_byte();
    if (first < 0) return;
    if (auth::looks_like_tls_client_hello(static_cast<unsigned char>(first))) {
      begin_tls_handshake();  // INFO goes out encrypted once it completes
    } else {
      send_info_and_continue();  // a client that does not start with TLS
    }
    return;
  }
  if (tls_state_ == tls_state::waiting_first_byte) {
    // allow_non_tls: a TLS record (0x16) starts a handshake, anything else is plain text.
    int first = peek_first_byte();
    if (first < 0) return;
    if (auth::looks_like_tls_client_hello(static_cast<unsigned char>(first))) {
      begin_tls_handshake();
      return;
    }
    tls_state_ = tls_state::none;
  }
  if (tls_state_ == tls_state::handshaking) {
    continue_tls_handshake();
    return;
  }
  // Read until the socket is drained (the reactor is edge-triggered), parsing
  // straight out of the loop's shared buffer, up to max_read_turn bytes; then
  // yield to the other connections and come back. When a receiver asks this
  // producer to stall, publish() stops the parser within stall_check_bytes
  // and the rest of the read waits in unparsed_: a big read pushes no more
  // into a lagging receiver than a 64 KiB one would.
  char* buffer = loop_.read_buffer();
  bool drained = false;
  bool paused = false;
  std::size_t bytes_read = 0;
  if (!unparsed_.empty()) {
    const std::size_t used = parser_.feed(unparsed_.data(), unparsed_.size(), *this);
    bytes_read += used;
    if (!parser_.failed() && !closed_) {
      unparsed_.erase(0, used);
      paused = !unparsed_.empty();
      if (!paused) std::string().swap(unparsed_);
    }
  }
  while (!paused && !parser_.failed() && !closed_ && !loop_.batch().stall_requested() &&
         bytes_read < max_read_turn) {
    error_code read_ec;
    std::size_t n = transport_read(buffer, event_loop::read_buffer_size, read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {
      drained = true;
      break;
    }
    if (read_ec) {
      loop_.batch().flush();
      do_close(read_ec == asio::error::eof ? close_reason::client_closed : close_reason::read_error);
      return;
    }
    last_activity_ = clock::now();
    bytes_read += n;
    const std::size_t used = parser_.feed(buffer, n, *this);
    if (parser_.failed() || closed_) break;
    if (used < n) {
      unparsed_.assign(buffer + used, n - used);
      break;
    }
    // A short plain read emptied the kernel buffer; new data makes a new edge.
    if (!ssl_ && n < event_loop::read_buffer_size) {
      drained = true;
      break;
    }
  }
  if (parser_.idle()) parser_.release_memory();
  // One flush per read batch, for this session and everyone it delivered to.
  // After a small read, once the loop's other ready connections have been
  // read too (their deliveries to the same receivers then go out together);
  // a big batch goes out at once, so buffers do not pile up behind it.
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
  if (drained) {
    do_read();
  } else {
    asio::post(loop_.context(), [self = std::static_pointer_cast<session>(shared_from_this())] {
      self->on_readable(error_code{});
    });
  }
}

// ---- transport: plain TCP or TLS on the same non-blocking socket ----

std::size_t session::transport_read(char* buffer, std::size_t size, error_code& ec) {
  if (!ssl_) return socket_.read_some(asio::buffer(buffer, size), ec);
  int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, INT32_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = tls_error(n, asio::error::connection_reset);
  return 0;
}

std::size_t session::transport_write(const char* data, std::size_t size, error_code& ec) {
  if (!ssl_) {
    // send() on the descriptor rather than through the socket object: a
    // publisher's thread may write here (under write_mutex_) while the loop
    // waits on the same socket for reading.
    for (;;) {
      const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  int n = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, INT32_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = tls_error(n, asio::error::broken_pipe);
  return 0;
}

error_code session::tls_error(int result, error_code failure) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    default:
      ERR_clear_error();
      return failure;
  }
}

int session::peek_first_byte() {
  unsigned char first = 0;
  ssize_t n = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    do_read();
    return -1;
  }
  if (n <= 0) {
    do_close(n == 0 ? close_reason::client_closed : close_reason::read_error);
    return -1;
  }
  return first;
}

void session::begin_tls_handshake() {
  ssl_ = SSL_new(server_.tls_context());
  if (!ssl_ || SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
    log().error(log_prefix(), "TLS setup error");
    do_close(close_reason::tls_handshake_error);
    return;
  }
  // Writes resume from an offset into a buffer that may have moved.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  tls_state_ = tls_state::handshaking;
  continue_tls_handshake();
}

void session::continue_tls_handshake() {
  if (closed_) return;
  int result = SSL_accept(ssl_);
  if (result == 1) {
    tls_state_ = tls_state::established;
    if (X509* certificate = SSL_get1_peer_certificate(ssl_)) {
      peer_certificate_ = auth::describe_peer_certificate(certificate);
      X509_free(certificate);
    }
    log().debug(log_prefix(), "TLS handshake complete");
    if (!info_sent_) {
      // TLS came first: the INFO goes out now, encrypted.
      info_sent_ = true;
      queue_own(server_.info_line(id_, remote_ip_, server_.lame_duck(), nonce_));
      loop_.batch().flush();
    }
    do_read();
    return;
  }
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      socket_.async_wait(error == SSL_ERROR_WANT_READ ? asio::ip::tcp::socket::wait_read
                                                      : asio::ip::tcp::socket::wait_write,
                         [self = std::static_pointer_cast<session>(shared_from_this())](const error_code& ec) {
                           if (ec) {
                             if (ec != asio::error::operation_aborted) {
                               self->do_close(close_reason::tls_handshake_error);
                             }
                             return;
                           }
                           self->continue_tls_handshake();
                         });
      break;
    default: {
      char reason[256] = "connection closed";
      if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
      ERR_clear_error();
      log().error(log_prefix(), "TLS handshake error: ", reason);
      do_close(close_reason::tls_handshake_error);
    }
  }
}

// ---- protocol operations ----

bool session::on_connect(std::string_view json) {
  picojson::value value;
  std::string error;
  picojson::parse(value, json.begin(), json.end(), &error);
  if (log().trace_enabled()) {
    // Secrets never reach the log: nats-server prints "pass":"[REDACTED]".
    if (error.empty() && value.is<picojson::object>()) {
      picojson::value shown = value;
      for (const char* secret : {"pass", "auth_token"}) {
        auto& object = shown.get<picojson::object>();
        if (object.count(secret)) object[secret] = picojson::value("[REDACTED]");
      }
      log().trace(log_prefix(), "<<- [CONNECT ", log_snippet(shown.serialize(), 256), "]");
    } else {
      log().trace(log_prefix(), "<<- [CONNECT (", json.size(), " bytes, not JSON)]");
    }
  }
  if (!error.empty() || !value.is<picojson::object>()) {
    // nats-server: a CONNECT that does not unmarshal closes the connection, no -ERR.
    log().error(log_prefix(), "Error reading CONNECT: ", error);
    do_close(close_reason::parse_error);
    return false;
  }
  const auto& object = value.get<picojson::object>();
  bool bad_type = false;
  auto flag = [&](const char* key, bool current) {
    auto it = object.find(key);
    if (it == object.end() || it->second.is<picojson::null>()) return current;
    if (!it->second.is<bool>()) {
      bad_type = true;
      return current;
    }
    return it->second.get<bool>();
  };
  verbose_ = flag("verbose", verbose_);
  pedantic_ = flag("pedantic", pedantic_);
  echo_ = flag("echo", echo_.load());
  bool headers = flag("headers", headers_);
  no_responders_ = flag("no_responders", no_responders_);
  std::int64_t protocol_version = 0;
  if (auto it = object.find("protocol"); it != object.end() && !it->second.is<picojson::null>()) {
    if (it->second.is<std::int64_t>()) {
      protocol_version = it->second.get<std::int64_t>();
    } else {
      bad_type = true;
    }
  }
  if (auto it = object.find("name"); it != object.end() && it->second.is<std::string>()) {
    name_ = it->second.get<std::string>();
  }
  if (bad_type) {
    log().error(log_prefix(), "Error reading CONNECT: wrong field type");
    do_close(close_reason::parse_error);
    return false;
  }
  {
    auto text = [&object](const char* key) -> std::string {
      auto it = object.find(key);
      return it != object.end() && it->second.is<std::string>() ? it->second.get<std::string>() : std::string();
    };
    credentials_ = stored_credentials{text("user"), text("pass"), text("auth_token"), text("nkey"), text("sig")};
  }
  if (awaiting_auth_ && !authenticate(object)) return false;
  {
    std::lock_guard lock(out_mutex_);
    headers_ = headers;
  }
  // TLS writes stay on the loop (one SSL object, not shared between threads).
  direct_writes_.store(ssl_ == nullptr, std::memory_order_release);
  parser_.set_headers_supported(headers);
  protocol_ = static_cast<int>(protocol_version);
  if (!connect_received_) {
    // nats-server's first PING comes 2 s after CONNECT (to measure RTT), or
    // after ping_interval if that is shorter; then every ping_interval.
    auto interval = server_.options().ping_interval;
    auto first = std::chrono::milliseconds(2000);
    if (interval.count() > 0 && interval < first) first = interval;
    next_ping_ = clock::now() + first;
  }
  connect_received_ = true;
  // Protocol 0 is the original, 1 adds async INFO; anything else is refused.
  if (protocol_version < 0 || protocol_version > 1) {
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

bool session::on_pub(std::string_view subject, std::string_view reply, std::string_view payload) {
  // Guarded: the arguments (log_prefix() builds a string) cost even when tracing is off.
  if (log().trace_enabled()) {
    log().trace(log_prefix(), "<<- [PUB ", subject, reply.empty() ? "" : " ", reply, " ", payload.size(), "]");
  }
  return publish(subject, reply, {}, payload);
}

bool session::on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
                      std::string_view payload) {
  if (log().trace_enabled()) {
    log().trace(log_prefix(), "<<- [HPUB ", subject, reply.empty() ? "" : " ", reply, " ", headers.size(), " ",
                headers.size() + payload.size(), "]");
  }
  return publish(subject, reply, headers, payload);
}

bool session::publish(std::string_view subject, std::string_view reply, std::string_view headers,
                      std::string_view payload) {
  // nats-server checks the subject only in pedantic mode, and even then
  // still delivers the message after the -ERR.
  if (pedantic_ && !protocol::is_valid_literal_subject(subject)) send_error("Invalid Publish Subject");
  if (auto perms = has_permissions_.load(std::memory_order_relaxed) ? permissions_.load() : nullptr;
      perms && !perms->can_publish(subject)) {
    // nats-server: -ERR, no +OK, not routed; the connection stays open.
    log().error(log_prefix(), auth::publish_violation_log(auth_label_, subject));
    queue_own(auth::err_line(auth::publish_violation(subject)));
    return true;
  }
  ok();
  message_view message{subject, reply, headers, payload, parser_.header_size_text(), parser_.size_text()};
  bool matched = server_.publish(account_->router, this, message, loop_.batch());
  if (!matched && !reply.empty() && no_responders_) {
    server_.send_no_responders(account_->router, *this, reply, loop_.batch());
  }
  // Every stall_check_bytes of published data, a stall a receiver asked for
  // stops the parser after this message (on_readable keeps the rest of the
  // read for later). That is the granularity of 64 KiB reads, whatever the
  // read size.
  parsed_since_stall_check_ += subject.size() + reply.size() + headers.size() + payload.size();
  if (parsed_since_stall_check_ >= stall_check_bytes) {
    parsed_since_stall_check_ = 0;
    return !closed_ && !loop_.batch().stall_requested();
  }
  return !closed_;
}

bool session::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [SUB ", subject, queue.empty() ? "" : " ", queue, " ", sid, "]");
  // Order as nats-server's processSub: permissions, the subscription
  // limit, then the subject (checked when inserting).
  if (auto perms = has_permissions_.load(std::memory_order_relaxed) ? permissions_.load() : nullptr;
      perms && !perms->can_subscribe(subject, queue)) {
    log().error(log_prefix(), auth::subscribe_violation_log(auth_label_, subject, queue, sid));
    queue_own(auth::err_line(auth::subscribe_violation(subject, queue)));
    return true;
  }
  auto max_subscriptions = server_.options().max_subscriptions;
  if (max_subscriptions > 0 && subscriptions_.size() >= static_cast<std::size_t>(max_subscriptions)) {
    log().error(log_prefix(), "Maximum Subscriptions Exceeded (", max_subscriptions, ")");
    send_error("maximum subscriptions exceeded");
    return true;
  }
  if (!protocol::is_valid_subscribe_subject(subject)) {
    send_error("Invalid Subject");
    return true;
  }
  // nats-server ignores a SUB that reuses a live sid.
  if (subscriptions_.find(std::string(sid)) == subscriptions_.end()) {
    auto sub = std::make_shared<subscription>();
    sub->subject = subject;
    sub->queue = queue;
    sub->sid = sid;
    sub->owner = shared_from_this();
    account_->router.insert(sub);
    subscriptions_.emplace(sub->sid, std::move(sub));
  }
  ok();
  return true;
}

bool session::on_unsub(std::string_view sid, std::optional<std::uint64_t> max) {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [UNSUB ", sid, max ? " " : "", max ? std::to_string(*max) : "", "]");
  auto it = subscriptions_.find(std::string(sid));
  if (it != subscriptions_.end()) {
    auto& sub = it->second;
    if (max && *max > 0 && sub->delivered.load() < *max) {
      sub->max_messages.store(*max);
    } else {
      sub->closed.store(true);
      account_->router.remove(sub);
      subscriptions_.erase(it);
    }
  }
  ok();
  return true;
}

bool session::on_ping() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PING]");
  queue_own("PONG\r\n");
  return true;
}

bool session::on_pong() {
  if (log().trace_enabled()) log().trace(log_prefix(), "<<- [PONG]");
  pings_out_ = 0;
  return true;
}

void session::on_error(protocol::parse_error error, std::string_view snippet) {
  using protocol::parse_error;
  log().error(log_prefix(), "Client parser ERROR, proto='", log_snippet(snippet), "'");
  close_reason reason = close_reason::parse_error;
  if (error == parse_error::max_payload) reason = close_reason::max_payload;
  if (error == parse_error::max_control_line) reason = close_reason::max_control_line;
  if (error == parse_error::headers_not_supported || error == parse_error::bad_pub_arguments ||
      error == parse_error::bad_sub_arguments) {
    reason = close_reason::protocol_violation;
  }
  // Some errors get an -ERR first, others close silently, as in nats-server.
  auto text = protocol::nats_error_text(error);
  if (!text.empty()) {
    fail(text, reason);
  } else {
    do_close(reason);
  }
}

bool session::authenticate(const picojson::object&) {
  auto credentials = credentials_view();
  auto result = auth::authenticate(*server_.auth_settings(), credentials);
  if (!result.ok) {
    // The reason never carries a secret (see auth::authenticate).
    log().error(log_prefix(), result.label, " - authentication error: ", result.reason);
    fail(auth::authorization_violation, close_reason::authentication_violation);
    return false;
  }
  awaiting_auth_ = false;
  parser_.set_awaiting_connect(false);
  auth_label_ = result.label;
  account_ = &server_.find_account(result.account);
  set_permissions(result.perms);
  auth_result_ = std::move(result);
  return true;
}

void session::set_permissions(std::shared_ptr<const auth::permissions> perms) {
  if (perms) {
    permissions_.store(std::make_shared<auth::permission_cache>(std::move(perms)));
    has_permissions_.store(true);
  } else {
    has_permissions_.store(false);
    permissions_.store(nullptr);
  }
}

auth::client_credentials session::credentials_view() const {
  auth::client_credentials view;
  view.user = credentials_.user;
  view.pass = credentials_.pass;
  view.auth_token = credentials_.auth_token;
  view.nkey = credentials_.nkey;
  view.sig = credentials_.sig;
  view.nonce = nonce_;
  view.certificate = peer_certificate_ ? &*peer_certificate_ : nullptr;
  return view;
}

void session::apply_auth_reload(std::shared_ptr<const auth::auth_config> config) {
  asio::post(loop_.context(), [self = std::static_pointer_cast<session>(shared_from_this()), config] {
    if (self->closed_ || !self->connect_received_ || self->awaiting_auth_) return;
    if (!config->auth_required()) {
      self->set_permissions(nullptr);
      return;
    }
    auto outcome = auth::reauthenticate(*config, self->credentials_view(), self->auth_result_);
    // No longer authorized, or moved to another account: nats-server 2.9.10
    // closes these connections without an -ERR (seen on the running server).
    if (outcome.what != auth::reload_outcome::action::keep) {
      log().debug(self->log_prefix(), "Closing connection: authorization changed on reload");
      self->do_close(close_reason::authentication_violation);
      return;
    }
    self->set_permissions(outcome.result.perms);
    self->auth_result_ = std::move(outcome.result);
    // Subscriptions the new permissions no longer allow are removed, each with an -ERR.
    const auth::permissions* perms = self->auth_result_.perms.get();
    for (auto it = self->subscriptions_.begin(); it != self->subscriptions_.end();) {
      const auto& sub = it->second;
      if (auth::keeps_subscription_on_reload(perms, sub->subject, sub->queue)) {
        ++it;
        continue;
      }
      log().error(self->log_prefix(), auth::reload_subscription_removed_log(sub->subject, sub->sid, self->auth_label_));
      self->queue_own(auth::err_line(auth::reload_subscription_violation(sub->subject, sub->sid)));
      sub->closed.store(true);
      self->account_->router.remove(sub);
      it = self->subscriptions_.erase(it);
    }
    self->loop_.batch().flush();
  });
}

// ---- delivery and writing ----

void session::deliver(const subscription& sub, const message_view& message, flush_batch& batch) {
  if (has_permissions_.load(std::memory_order_relaxed)) {
    // A wildcard subscription may overlap a deny (or reach past an allow):
    // such messages are filtered here.
    if (auto perms = permissions_.load()) {
      if (perms->filters_delivery() && !perms->deliver_allowed(message.subject, sub.subject, sub.queue)) return;
      if (perms->tracks_replies() && !message.reply.empty()) perms->on_delivered_reply(message.reply);
    }
  }
  bool register_flush = false;
  bool slow = false;
  bool over_half = false;
  {
    std::lock_guard lock(out_mutex_);
    if (closing_) return;
    if (message.headers.empty()) {
      if (!message.total_size_text.empty()) {
        protocol::append_msg_sized(pending_, message.subject, sub.sid, message.reply, message.total_size_text,
                                   message.payload);
      } else {
        protocol::append_msg(pending_, message.subject, sub.sid, message.reply, message.payload);
      }
    } else if (!headers_) {
      // Headers stripped for a client that did not ask for them; the size is
      // the payload's alone (nats-server computes it too).
      protocol::append_msg(pending_, message.subject, sub.sid, message.reply, message.payload);
    } else if (!message.header_size_text.empty() && !message.total_size_text.empty()) {
      protocol::append_hmsg_sized(pending_, message.subject, sub.sid, message.reply, message.header_size_text,
                                  message.total_size_text, message.headers, message.payload);
    } else {
      protocol::append_hmsg(pending_, message.subject, sub.sid, message.reply, message.headers, message.payload);
    }
    const auto pending = static_cast<std::int64_t>(pending_.size() + unsent_);
    if (pending > server_.options().max_pending) {
      slow = true;
      closing_ = true;
    } else if (pending > server_.options().max_pending / 2 && !batch.stall_requested()) {
      over_half = true;
    }
    if (!slow && !flush_requested_) {
      flush_requested_ = true;
      register_flush = true;
    }
  }
  if (slow) {
    server_.stats().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    log().notice(log_prefix(), "Slow Consumer Detected: MaxPending of ", server_.options().max_pending,
                 " Exceeded");
    close(close_reason::slow_consumer_pending_bytes);
    return;
  }
  if (register_flush) batch.add(shared_from_this());
  if (over_half) batch.request_stall(shared_from_this());
}

void session::notify_when_drained(std::function<void()> resume) {
  {
    std::lock_guard lock(out_mutex_);
    if (!closing_ && static_cast<std::int64_t>(pending_.size() + unsent_) > server_.options().max_pending / 2) {
      drain_waiters_.push_back(std::move(resume));
      return;
    }
  }
  resume();
}

std::chrono::milliseconds session::stall_timeout() const {
  // nats-server's stallDuration: 100 ms just over half of max_pending, 100 ms
  // more for every further tenth of the half, a second at max_pending.
  std::int64_t pending;
  {
    std::lock_guard lock(out_mutex_);
    pending = static_cast<std::int64_t>(pending_.size() + unsent_);
  }
  const std::int64_t max_pending = server_.options().max_pending;
  const std::int64_t half = max_pending / 2;
  if (pending >= max_pending) return std::chrono::seconds(1);
  std::chrono::milliseconds timeout(100);
  if (pending > half && half >= 10) timeout += std::chrono::milliseconds(100) * ((pending - half) / (half / 10));
  return timeout;
}

void session::stall_reading(const std::shared_ptr<subscriber>& receiver) {
  // As nats-server's stalledWait: the producer waits for the consumer to
  // drain, at most stall_timeout(), then goes on (and the consumer may be cut off).
  stalled_ = true;
  const auto id = ++stall_id_;
  if (!stall_timer_) stall_timer_ = std::make_unique<asio::steady_timer>(loop_.context());
  auto self = std::static_pointer_cast<session>(shared_from_this());
  stall_timer_->expires_after(receiver->stall_timeout());
  stall_timer_->async_wait([self, id](const error_code& ec) {
    if (!ec) self->resume_reading(id);
  });
  receiver->notify_when_drained([self, id] {
    asio::post(self->loop_.context(), [self, id] { self->resume_reading(id); });
  });
}

void session::resume_reading(std::uint64_t stall_id) {
  if (!stalled_ || stall_id != stall_id_ || closed_) return;
  stalled_ = false;
  stall_timer_->cancel();
  // Reading stopped before the socket was drained: read now rather than wait
  // for an edge that may never come.
  on_readable(error_code{});
}

void session::queue_own(std::string_view bytes) {
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
  if (register_flush) loop_.batch().add(shared_from_this());
}

void session::send_error(std::string_view text) {
  log().error(log_prefix(), text);
  std::string line = "-ERR '";
  line += text;
  line += "'\r\n";
  queue_own(line);
}

void session::fail(std::string_view text, close_reason reason) {
  send_error(text);
  do_close(reason);
}

void session::flush_deliveries() {
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
        asio::post(loop_.context(), [self = std::static_pointer_cast<session>(shared_from_this()), result] {
          self->after_write(result);
        });
      }
      return;
    }
  }
  asio::post(loop_.context(),
             [self = std::static_pointer_cast<session>(shared_from_this())] { self->write_pending(); });
}

void session::write_pending() {
  if (closed_) return;
  write_result result;
  {
    std::lock_guard lock(write_mutex_);
    result = write_locked();
  }
  after_write(result);
}

session::write_result session::write_locked() {
  if (socket_closed_ || write_in_flight_) return write_result::done;  // on_writable goes on
  {
    std::lock_guard lock(out_mutex_);
    flush_requested_ = false;
    if (pending_.empty()) return write_result::done;
    writing_.swap(pending_);
    unsent_ = writing_.size();
  }
  written_ = 0;
  wrote_since_tick_ = true;
  return write_some_locked();
}

session::write_result session::write_some_locked() {
  error_code ec;
  const std::size_t n = transport_write(writing_.data() + written_, writing_.size() - written_, ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return write_result::failed;
  if (!ec) written_ += n;
  if (n > 0 && !ec) {
    // Stalled producers go on once what is queued falls to a quarter of
    // max_pending (they stall above half): the gap lets a producer send a
    // good batch per stall instead of stalling again after every write.
    std::vector<std::function<void()>> drained;
    {
      std::lock_guard lock(out_mutex_);
      unsent_ = writing_.size() - written_;
      if (!drain_waiters_.empty() &&
          static_cast<std::int64_t>(pending_.size() + unsent_) <= server_.options().max_pending / 4) {
        drained.swap(drain_waiters_);
      }
    }
    for (auto& resume : drained) resume();
  }
  if (written_ == writing_.size()) {
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

void session::after_write(write_result result) {
  if (closed_) return;
  if (result == write_result::failed) {
    do_close(close_reason::write_error);
  } else if (result == write_result::wait_writable) {
    wait_writable();
  }
}

void session::wait_writable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_write,
                     [self = std::static_pointer_cast<session>(shared_from_this())](const error_code& ec) {
                       self->on_writable(ec);
                     });
}

void session::on_writable(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::operation_aborted) do_close(close_reason::write_error);
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

void session::subscription_done(const std::shared_ptr<subscription>& sub) {
  asio::post(loop_.context(), [self = std::static_pointer_cast<session>(shared_from_this()), sub] {
    auto it = self->subscriptions_.find(sub->sid);
    if (it != self->subscriptions_.end() && it->second == sub) {
      self->subscriptions_.erase(it);
    }
  });
}

// ---- timers and closing ----

void session::tick(clock::time_point now) {
  if (closed_) return;
  const auto& options = server_.options();
  if (tls_state_ == tls_state::waiting_hello_first && now >= hello_deadline_) {
    // No ClientHello within the handshake_first duration: INFO first after all.
    error_code ignored;
    socket_.cancel(ignored);  // the pending wait; send_info_and_continue starts its own
    reading_ = false;
    send_info_and_continue();
    return;
  }
  if ((tls_state_ == tls_state::handshaking || tls_state_ == tls_state::waiting_first_byte) &&
      now >= tls_deadline_) {
    log().error(log_prefix(), "TLS handshake timeout");
    do_close(close_reason::tls_handshake_error);
    return;
  }
  if (awaiting_auth_ && now >= auth_deadline_) {
    log().debug(log_prefix(), "Authentication Timeout");
    fail(auth::authentication_timeout, close_reason::authentication_timeout);
    return;
  }
  bool write_stuck;
  std::size_t stuck_chunks = 0;
  std::size_t stuck_bytes = 0;
  {
    std::lock_guard lock(write_mutex_);
    write_stuck = write_in_flight_ && options.write_deadline.count() > 0 &&
                  now - write_started_ > options.write_deadline;
    if (write_stuck) {
      // nats-server counts its queued buffers; ours are the one being
      // written and the one filling behind it.
      std::lock_guard out_lock(out_mutex_);
      stuck_chunks = (writing_.size() > written_ ? 1 : 0) + (pending_.empty() ? 0 : 1);
      stuck_bytes = writing_.size() - written_ + pending_.size();
    }
    if (!write_in_flight_ && !wrote_since_tick_) {
      // Nothing written for a whole tick: an idle connection holds no buffers.
      writing_.release();
      std::lock_guard out_lock(out_mutex_);
      if (pending_.empty()) pending_.release();
    }
    wrote_since_tick_ = false;
  }
  if (write_stuck) {
    server_.stats().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    log().notice(log_prefix(), "Slow Consumer Detected: WriteDeadline of ",
                 conf::format_go_duration(options.write_deadline), " exceeded with ", stuck_chunks, " chunks of ",
                 stuck_bytes, " total bytes.");
    do_close(close_reason::slow_consumer_write_deadline);
    return;
  }
  if (options.ping_interval.count() > 0 && now >= next_ping_) {
    next_ping_ = now + options.ping_interval;
    if (pings_out_ + 1 > options.ping_max) {
      log().debug(log_prefix(), "Stale Client Connection - Closing");
      fail("Stale Connection", close_reason::stale_connection);
      write_pending();
      return;
    }
    ++pings_out_;
    if (log().trace_enabled()) log().trace(log_prefix(), "->> [PING]");
    queue_own("PING\r\n");
    write_pending();
  }
}

void session::close(close_reason reason) {
  {
    std::lock_guard lock(out_mutex_);
    closing_ = true;
  }
  asio::post(loop_.context(),
             [self = std::static_pointer_cast<session>(shared_from_this()), reason] { self->do_close(reason); });
}

void session::do_close(close_reason reason) {
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
  // Best effort: what was queued before the close (an -ERR, the last
  // messages) goes out if the socket takes it without waiting.
  error_code ec;
  {
    // Under the write lock: no publisher is writing to the socket as it closes.
    std::lock_guard lock(write_mutex_);
    if (!write_in_flight_ && !last.empty() && tls_state_ != tls_state::handshaking) {
      transport_write(last.data(), last.size(), ec);
    }
    socket_closed_ = true;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  closed_ = true;
  std::vector<std::shared_ptr<subscription>> subs;
  subs.reserve(subscriptions_.size());
  for (auto& [sid, sub] : subscriptions_) {
    sub->closed.store(true);
    subs.push_back(sub);
  }
  account_->router.remove_batch(subs);
  // Dropping the map breaks the session <-> subscription cycle; the
  // subscriptions die when the last in-flight match result lets go of them.
  subscriptions_.clear();
  log().debug(log_prefix(), "Client connection closed: ", to_string(reason));
  server_.session_closed(id_);
}

}  // namespace courier::broker
