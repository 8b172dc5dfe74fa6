#include "client/nats_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <charconv>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <picojson.h>

#include "auth/tls_config.hpp"
#include "protocol/encoder.hpp"
#include "protocol/json_parse.hpp"

namespace courier::mss {
namespace {

/// Bytes read per read call.
constexpr std::size_t read_size = 64 * 1024;

/// INFO can carry long connect_urls lists; allow more than a client's 4 KiB.
constexpr std::size_t max_server_control_line = 1024 * 1024;

/// A failed TLS operation's reason, with the certificate check's verdict
/// when that is what failed ("certificate verify failed (SSL routines)
/// (certificate: hostname mismatch)").
std::string describe_tls_failure(const boost::system::error_code& ec, SSL* ssl) {
  std::string text = ec.message();
  if (ssl != nullptr) {
    if (const long verdict = SSL_get_verify_result(ssl); verdict != X509_V_OK)
      text += std::string(" (certificate: ") + X509_verify_cert_error_string(verdict) + ")";
  }
  return text;
}

}  // namespace

bool parse_server_info(std::string_view json, nats_server_info& out) {
  picojson::value value;
  std::string error;
  protocol::parse_json(value, json.begin(), json.end(), error);
  if (!error.empty() || !value.is<picojson::object>()) return false;
  const auto& o = value.get<picojson::object>();
  auto text = [&](const char* key, std::string& field) {
    if (auto it = o.find(key); it != o.end() && it->second.is<std::string>()) field = it->second.get<std::string>();
  };
  auto flag = [&](const char* key, bool& field) {
    if (auto it = o.find(key); it != o.end() && it->second.is<bool>()) field = it->second.get<bool>();
  };
  text("server_id", out.server_id);
  text("version", out.version);
  flag("headers", out.headers);
  flag("auth_required", out.auth_required);
  flag("tls_required", out.tls_required);
  flag("tls_available", out.tls_available);
  text("nonce", out.nonce);
  if (auto it = o.find("max_payload"); it != o.end() && it->second.is<std::int64_t>())
    out.max_payload = it->second.get<std::int64_t>();
  if (auto it = o.find("connect_urls"); it != o.end() && it->second.is<picojson::array>()) {
    out.connect_urls.clear();
    for (const auto& url : it->second.get<picojson::array>())
      if (url.is<std::string>()) out.connect_urls.push_back(url.get<std::string>());
  }
  return true;
}

std::string nats_endpoint::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (tls ? "tls://" : "nats://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool parse_nats_urls(std::string_view text, std::vector<nats_endpoint>& out, std::string& error) {
  out.clear();
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view url = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!url.empty() && (url.front() == ' ' || url.front() == '\t')) url.remove_prefix(1);
    while (!url.empty() && (url.back() == ' ' || url.back() == '\t')) url.remove_suffix(1);
    if (url.empty()) continue;
    const std::string original(url);
    nats_endpoint endpoint;
    if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
      const std::string_view name = url.substr(0, scheme);
      if (name == "tls") {
        endpoint.tls = true;
      } else if (name != "nats") {
        error = "unsupported URL scheme '" + std::string(name) + "' in '" + original + "' (nats:// or tls://)";
        return false;
      }
      url.remove_prefix(scheme + 3);
    }
    if (const auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
    if (const auto at = url.rfind('@'); at != std::string_view::npos) {
      const std::string_view credentials = url.substr(0, at);
      url.remove_prefix(at + 1);
      if (const auto colon = credentials.find(':'); colon != std::string_view::npos) {
        endpoint.user = std::string(credentials.substr(0, colon));
        endpoint.password = std::string(credentials.substr(colon + 1));
      } else {
        endpoint.token = std::string(credentials);
      }
    }
    std::string_view port_text;
    if (!url.empty() && url.front() == '[') {
      const auto close = url.find(']');
      if (close == std::string_view::npos) {
        error = "unterminated '[' in '" + original + "'";
        return false;
      }
      endpoint.host = std::string(url.substr(1, close - 1));
      url.remove_prefix(close + 1);
      if (!url.empty()) {
        if (url.front() != ':') {
          error = "bad address in '" + original + "'";
          return false;
        }
        port_text = url.substr(1);
      }
    } else if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
      endpoint.host = std::string(url.substr(0, colon));
      port_text = url.substr(colon + 1);
    } else {
      endpoint.host = std::string(url);
    }
    if (endpoint.host.empty()) {
      error = "no host in '" + original + "'";
      return false;
    }
    if (!port_text.empty()) {
      unsigned port = 0;
      const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        error = "bad port in '" + original + "'";
        return false;
      }
      endpoint.port = static_cast<std::uint16_t>(port);
    }
    out.push_back(std::move(endpoint));
  }
  if (out.empty()) {
    error = "no server URL given";
    return false;
  }
  return true;
}

std::string make_connect_json(const nats_endpoint& endpoint, const std::string& client_name,
                              const auth::nats_credentials& credentials, std::string_view nonce, bool tls) {
  picojson::object o;
  o["verbose"] = picojson::value(false);
  o["pedantic"] = picojson::value(false);
  o["tls_required"] = picojson::value(tls);
  o["lang"] = picojson::value("cpp-courier");
  o["version"] = picojson::value("0.1.0");
  o["protocol"] = picojson::value(static_cast<std::int64_t>(1));
  o["echo"] = picojson::value(true);
  o["headers"] = picojson::value(true);
  o["no_responders"] = picojson::value(true);
  if (!client_name.empty()) o["name"] = picojson::value(client_name);
  if (!endpoint.user.empty()) {
    o["user"] = picojson::value(endpoint.user);
    o["pass"] = picojson::value(endpoint.password);
  }
  if (!endpoint.token.empty()) o["auth_token"] = picojson::value(endpoint.token);
  if (!credentials.empty()) {
    // As nats.go: a JWT user sends the JWT (the server takes the public key
    // from it), a bare nkey user the public key; both sign the nonce.
    if (!credentials.user_jwt.empty()) {
      o["jwt"] = picojson::value(credentials.user_jwt);
    } else {
      o["nkey"] = picojson::value(credentials.public_key);
    }
    o["sig"] = picojson::value(auth::sign_nonce(credentials, nonce));
  }
  return picojson::value(o).serialize();
}

nats_client::nats_client(boost::asio::io_context& io, callbacks handlers, std::string client_name,
                         std::chrono::milliseconds handshake_timeout, const nats_security& security)
    : io_(io),
      callbacks_(std::move(handlers)),
      client_name_(std::move(client_name)),
      handshake_timeout_(handshake_timeout),
      security_(security),
      resolver_(io),
      socket_(io),
      timer_(io),
      parser_(protocol::parser_limits{max_server_control_line, -1}),
      read_buffer_(read_size) {}

void nats_client::start(const nats_endpoint& endpoint) {
  endpoint_ = endpoint;
  state_ = state::connecting;
  auto self = shared_from_this();
  timer_.expires_after(handshake_timeout_);
  timer_.async_wait([self](boost::system::error_code ec) {
    if (!ec && self->state_ != state::ready && self->state_ != state::closed)
      self->close("handshake with " + self->endpoint_.text() + " timed out");
  });
  resolver_.async_resolve(
      endpoint.host, std::to_string(endpoint.port),
      [self](boost::system::error_code ec, boost::asio::ip::tcp::resolver::results_type results) {
        if (self->state_ == state::closed) return;
        if (ec) {
          self->close("cannot resolve " + self->endpoint_.host + ": " + ec.message());
          return;
        }
        boost::asio::async_connect(self->socket_, results,
                                   [self](boost::system::error_code ec, const boost::asio::ip::tcp::endpoint&) {
                                     if (self->state_ == state::closed) return;
                                     if (ec) {
                                       self->close("cannot connect to " + self->endpoint_.text() + ": " +
                                                   ec.message());
                                       return;
                                     }
                                     boost::system::error_code ignored;
                                     self->socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
                                     self->state_ = state::awaiting_info;
                                     self->do_read();
                                   });
      });
}

void nats_client::do_read() {
  auto handler = [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
    self->on_read(ec, bytes);
  };
  if (tls_) {
    tls_->async_read_some(boost::asio::buffer(read_buffer_), std::move(handler));
  } else {
    socket_.async_read_some(boost::asio::buffer(read_buffer_), std::move(handler));
  }
}

void nats_client::on_read(boost::system::error_code ec, std::size_t bytes) {
  if (state_ == state::closed) return;
  if (ec) {
    if (ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated) {
      close("server closed the connection");
    } else {
      // Over TLS 1.3 a server that wants a client certificate says so after
      // the client's handshake finished: "tlsv13 alert certificate required".
      close("read failed: " + (tls_ ? describe_tls_failure(ec, tls_->native_handle()) : ec.message()));
    }
    return;
  }
  parser_.feed(read_buffer_.data(), bytes, *this);
  if (state_ == state::tls_handshake) {
    // INFO asked for TLS: nothing else comes in clear (the rest of this
    // read, if any, is dropped), the handshake starts now.
    do_handshake();
  } else if (state_ != state::closed) {
    do_read();
  }
}

void nats_client::do_handshake() {
  tls_.emplace(socket_, *security_.tls_context);
  if (std::string error; !auth::set_client_peer(tls_->native_handle(), endpoint_.host, security_.tls_verify, error)) {
    close(error);
    return;
  }
  tls_->set_verify_mode(security_.tls_verify ? boost::asio::ssl::verify_peer : boost::asio::ssl::verify_none);
  tls_->async_handshake(boost::asio::ssl::stream_base::client,
                        [self = shared_from_this()](boost::system::error_code ec) { self->on_handshake(ec); });
}

void nats_client::on_handshake(boost::system::error_code ec) {
  if (state_ == state::closed) return;
  if (ec) {
    close("TLS handshake with " + endpoint_.text() + " failed: " + describe_tls_failure(ec, tls_->native_handle()));
    return;
  }
  send_connect();
  if (state_ != state::closed) do_read();
}

void nats_client::write(std::string bytes) {
  if (state_ == state::closed || bytes.empty()) return;
  if (pending_.empty()) {
    pending_ = std::move(bytes);
  } else {
    pending_ += bytes;
  }
  // Until INFO has been answered with CONNECT, bytes wait in pending_.
  if (state_ == state::connecting || state_ == state::awaiting_info || state_ == state::tls_handshake) return;
  do_write();
}

void nats_client::do_write() {
  if (write_in_flight_ || pending_.empty() || state_ == state::closed) return;
  writing_.swap(pending_);
  pending_.clear();
  write_in_flight_ = true;
  auto handler = [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
    self->on_write(ec, bytes);
  };
  if (tls_) {
    boost::asio::async_write(*tls_, boost::asio::buffer(writing_), std::move(handler));
  } else {
    boost::asio::async_write(socket_, boost::asio::buffer(writing_), std::move(handler));
  }
}

void nats_client::on_write(boost::system::error_code ec, std::size_t) {
  write_in_flight_ = false;
  writing_.clear();
  if (state_ == state::closed) return;
  if (ec) {
    close("write failed: " + ec.message());
    return;
  }
  if (!pending_.empty()) {
    do_write();
  } else if (close_when_written_) {
    close("closed by the client");
  }
}

void nats_client::close(const std::string& reason) {
  if (state_ == state::closed) return;
  const bool started = state_ != state::idle;
  state_ = state::closed;
  boost::system::error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  pending_.clear();
  if (started && callbacks_.on_closed) {
    // Posted: close() may run inside a parser callback or inside the
    // owner's own call, and the owner's handler may start a reconnect.
    boost::asio::post(io_, [self = shared_from_this(), reason] { self->callbacks_.on_closed(reason); });
  }
}

void nats_client::close_after_writes(std::chrono::milliseconds limit) {
  if (state_ == state::closed) return;
  if (state_ != state::ready || (!write_in_flight_ && pending_.empty())) {
    close("closed by the client");
    return;
  }
  close_when_written_ = true;
  timer_.expires_after(limit);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close("closed by the client (unsent data dropped)");
  });
}

bool nats_client::on_info(std::string_view json) {
  if (state_ != state::awaiting_info) {
    // A later INFO: a cluster change (connect_urls) or lame duck mode. One
    // that is not JSON is ignored: the connection itself still works.
    nats_server_info update = info_;
    if (parse_server_info(json, update)) {
      info_ = update;
      if (callbacks_.on_info_update) callbacks_.on_info_update(info_);
    }
    return state_ != state::closed;
  }
  if (!parse_server_info(json, info_)) {
    close("server sent an INFO that is not JSON");
    return false;
  }
  const bool tls_wanted = endpoint_.tls || security_.tls_required;
  if (tls_wanted && !info_.tls_required && !info_.tls_available) {
    close("server " + endpoint_.text() + " does not offer TLS, which this client requires");
    return false;
  }
  if (!security_.credentials.empty() && security_.credentials.user_jwt.empty() && info_.nonce.empty()) {
    // nats.go's ErrNkeysNotSupported: without a nonce there is nothing to sign.
    close("server " + endpoint_.text() + " does not support nkey authentication (no nonce in its INFO)");
    return false;
  }
  if (tls_wanted || info_.tls_required) {
    if (!security_.tls_context) {
      close("server " + endpoint_.text() + " requires TLS, and no TLS settings were given");
      return false;
    }
    state_ = state::tls_handshake;
    return false;  // on_read starts the handshake
  }
  send_connect();
  return true;
}

void nats_client::send_connect() {
  std::string greeting;
  protocol::append_connect(greeting,
                           make_connect_json(endpoint_, client_name_, security_.credentials, info_.nonce, tls_.has_value()));
  if (callbacks_.greeting) greeting += callbacks_.greeting(info_);
  greeting += protocol::ping_line;
  state_ = state::awaiting_pong;
  // CONNECT must precede anything queued before the handshake.
  pending_.insert(0, greeting);
  do_write();
}

bool nats_client::on_msg(std::string_view subject, std::string_view sid, std::string_view reply,
                         std::string_view payload) {
  if (callbacks_.on_message) callbacks_.on_message(subject, sid, reply, {}, payload);
  return state_ != state::closed;
}

bool nats_client::on_hmsg(std::string_view subject, std::string_view sid, std::string_view reply,
                          std::string_view headers, std::string_view payload) {
  if (callbacks_.on_message) callbacks_.on_message(subject, sid, reply, headers, payload);
  return state_ != state::closed;
}

bool nats_client::on_err(std::string_view text) {
  if (state_ != state::ready) {
    // During the handshake every -ERR (Authorization Violation...) is fatal.
    close("server refused the connection: " + std::string(text));
    return false;
  }
  if (callbacks_.on_server_error) callbacks_.on_server_error(text);
  return state_ != state::closed;
}

bool nats_client::on_ping() {
  write(std::string(protocol::pong_line));
  return true;
}

bool nats_client::on_pong() {
  if (state_ == state::awaiting_pong) {
    state_ = state::ready;
    timer_.cancel();
    if (callbacks_.on_ready) callbacks_.on_ready(info_);
    return state_ != state::closed;
  }
  if (callbacks_.on_pong) callbacks_.on_pong();
  return state_ != state::closed;
}

void nats_client::on_error(protocol::parse_error error, std::string_view snippet) {
  close("protocol error from server (" + std::string(protocol::to_string(error)) + ") near '" +
        std::string(snippet) + "'");
}

}  // namespace courier::mss
