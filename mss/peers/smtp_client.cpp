#include "mss/peers/smtp_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <sstream>

#include "mss/common/template.hpp"
#include "mss/peers/mail_message.hpp"
#include "mss/peers/awaitable.hpp"
#include "mss/peers/smtp_reply.hpp"
#include "mss/peers/tls_client.hpp"

namespace courier::mss {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

/// How long QUIT may take after the message was accepted; the result is
/// already known then, so a server that does not answer QUIT must not
/// hold the caller for a whole operation timeout.
constexpr std::chrono::milliseconds quit_timeout{2000};

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = text[i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (a != prefix[i]) return false;
  }
  return true;
}

/// What the server's EHLO reply advertised.
struct capabilities {
  bool starttls = false;
  bool auth_plain = false;
  bool auth_login = false;
  bool smtputf8 = false;

  static capabilities from(const smtp_reply& reply) {
    capabilities caps;
    // The first line is the greeting; extensions follow (RFC 5321 4.1.1.1).
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
      const std::string& line = reply.lines[i];
      if (iequals_prefix(line, "STARTTLS")) caps.starttls = true;
      if (iequals_prefix(line, "SMTPUTF8")) caps.smtputf8 = true;
      if (iequals_prefix(line, "AUTH ") || iequals_prefix(line, "AUTH=")) {
        std::istringstream words(line.substr(5));
        std::string word;
        while (words >> word) {
          if (iequals_prefix(word, "PLAIN") && word.size() == 5) caps.auth_plain = true;
          if (iequals_prefix(word, "LOGIN") && word.size() == 5) caps.auth_login = true;
        }
      }
    }
    return caps;
  }
};

/// One SMTP conversation. Lives in a shared_ptr while its coroutine and
/// watchdog run; everything runs on strand_.
class smtp_session : public std::enable_shared_from_this<smtp_session> {
 public:
  smtp_session(asio::any_io_executor executor, smtp_options options, mail_message message)
      : strand_(asio::make_strand(executor)),
        options_(std::move(options)),
        message_(std::move(message)),
        resolver_(strand_),
        watchdog_(strand_) {}

  void start(smtp_callback done) {
    auto self = shared_from_this();
    asio::co_spawn(strand_, run(), [self, done = std::move(done)](std::exception_ptr error, smtp_result result) {
      self->watchdog_.cancel();
      if (error) {
        // Coroutine code reports errors as values; an exception here is a
        // bug or bad_alloc. Still complete exactly once.
        result = {};
        result.error = smtp_error::io_error;
        result.stage = "internal";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          result.message = e.what();
        } catch (...) {
          result.message = "unknown exception";
        }
      }
      done(std::move(result));
    });
  }

 private:
  using ssl_stream = ssl::stream<tcp::socket>;

  // ---- deadline per operation ------------------------------------------

  /// Arms the watchdog for the next operation. When it fires, the socket is
  /// closed and the resolver cancelled, so the pending operation completes
  /// with an error that the caller maps to smtp_error::timeout.
  void arm(std::chrono::milliseconds timeout) {
    ++generation_;
    watchdog_.expires_after(timeout);
    watchdog_.async_wait([self = shared_from_this(), generation = generation_](error_code ec) {
      if (ec || generation != self->generation_) return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      if (self->stream_) {
        error_code ignored;
        self->stream_->lowest_layer().close(ignored);
      }
    });
  }

  void disarm() {
    ++generation_;
    watchdog_.cancel();
  }

  smtp_result fail(smtp_error error, std::string stage, std::string message, int code = 0) {
    smtp_result result;
    result.error = error;
    result.stage = std::move(stage);
    result.message = std::move(message);
    result.reply_code = code;
    return result;
  }

  smtp_result io_failure(const std::string& stage, const error_code& ec) {
    if (timed_out_)
      return fail(smtp_error::timeout, stage,
                  "timed out after " + std::to_string(options_.timeout.count()) + " ms during " + stage);
    return fail(smtp_error::io_error, stage, stage + ": " + ec.message());
  }

  // ---- line I/O ----------------------------------------------------------

  asio::awaitable<error_code> write_raw(std::string_view data) {
    arm(options_.timeout);
    error_code ec;
    if (tls_active_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*stream_, asio::buffer(data), use_tuple);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_->next_layer(), asio::buffer(data), use_tuple);
    }
    disarm();
    co_return ec;
  }

  /// Reads one complete reply into `reply`. On failure returns a result
  /// describing it; on success returns a result with error none.
  ///
  /// One deadline covers the whole reply, not each read: armed per read, a
  /// server sending a byte every second (a reply may have 256 lines of 4 KiB)
  /// would hold the session for hours.
  asio::awaitable<smtp_result> read_reply(const std::string& stage, smtp_reply& reply) {
    bool armed = false;
    while (true) {
      const auto status = parser_.consume(buffer_);
      if (status != smtp_reply_parser::status::need_more && armed) disarm();
      if (status == smtp_reply_parser::status::done) {
        reply = parser_.reply();
        parser_.reset();
        co_return smtp_result{};
      }
      if (status == smtp_reply_parser::status::error)
        co_return fail(smtp_error::protocol_error, stage, "malformed reply: " + parser_.error());
      if (!armed) {
        arm(options_.timeout);
        armed = true;
      }
      char chunk[4096];
      error_code ec;
      std::size_t n = 0;
      if (tls_active_) {
        std::tie(ec, n) = co_await stream_->async_read_some(asio::buffer(chunk), use_tuple);
      } else {
        std::tie(ec, n) = co_await stream_->next_layer().async_read_some(asio::buffer(chunk), use_tuple);
      }
      if (ec) {
        disarm();
        if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
          co_return timed_out_ ? io_failure(stage, ec)
                               : fail(smtp_error::io_error, stage, "server closed the connection during " + stage);
        co_return io_failure(stage, ec);
      }
      buffer_.append(chunk, n);
    }
  }

  /// Sends `line` + CRLF and reads the reply; `log_line` replaces the line
  /// in error messages (so credentials never appear in them).
  asio::awaitable<smtp_result> command(const std::string& line, const std::string& stage, smtp_reply& reply) {
    const std::string data = line + "\r\n";
    if (const error_code ec = co_await write_raw(data)) co_return io_failure(stage, ec);
    co_return co_await read_reply(stage, reply);
  }

  smtp_result refused(const std::string& stage, const smtp_reply& reply,
                      smtp_error error = smtp_error::rejected) {
    return fail(error, stage, stage + " refused: " + std::to_string(reply.code) + " " + reply.text(), reply.code);
  }

  // ---- the conversation --------------------------------------------------

  asio::awaitable<smtp_result> run() {
    if (smtp_result r = validate(); !r.ok()) co_return r;
    if (smtp_result r = make_stream(); !r.ok()) co_return r;
    if (smtp_result r = co_await connect(); !r.ok()) co_return r;
    capabilities caps;
    if (smtp_result r = co_await open_session(caps); !r.ok()) co_return r;
    if (!options_.username.empty()) {
      if (smtp_result r = co_await authenticate(caps); !r.ok()) co_return r;
    }
    if (smtp_result r = co_await send_envelope(caps); !r.ok()) co_return r;
    smtp_reply reply;
    if (smtp_result r = co_await send_data(reply); !r.ok()) co_return r;

    smtp_result delivered;
    delivered.reply_code = reply.code;
    delivered.stage = "done";
    delivered.message = reply.text();
    co_await quit();
    co_return delivered;
  }

  /// Refuses, before any connection, a message or HELO name that would
  /// break the SMTP session.
  smtp_result validate() {
    if (std::string why = validate_mail(message_); !why.empty())
      return fail(smtp_error::invalid_message, "validate", why);
    if (has_line_break(options_.helo_name) || options_.helo_name.find(' ') != std::string::npos)
      return fail(smtp_error::invalid_message, "validate", "invalid HELO name");
    return smtp_result{};
  }

  /// Makes the TLS context (the configured one, or a new one) and the stream.
  smtp_result make_stream() {
    const bool want_tls = options_.tls != smtp_tls::none;
    if (want_tls) {
      tls_context_ = options_.tls_context;
      if (!tls_context_) {
        std::string error;
        tls_context_ = make_client_tls_context(options_.verify_peer, options_.ca_file, error);
        if (!tls_context_) return fail(smtp_error::tls_failed, "tls setup", error);
      }
    } else {
      // The stream type always wraps TLS; a plain session never handshakes.
      tls_context_ = std::make_shared<ssl::context>(ssl::context::tls_client);
    }
    stream_.emplace(strand_, *tls_context_);
    return smtp_result{};
  }

  /// "host:port", for messages.
  std::string target() const { return options_.host + ":" + std::to_string(options_.port); }

  /// Resolves the server and connects, each step under its own deadline.
  asio::awaitable<smtp_result> connect() {
    arm(options_.timeout);
    auto [resolve_ec, endpoints] =
        co_await resolver_.async_resolve(options_.host, std::to_string(options_.port), use_tuple);
    disarm();
    if (resolve_ec) {
      if (timed_out_) co_return io_failure("resolve", resolve_ec);
      co_return fail(smtp_error::resolve_failed, "resolve",
                     "cannot resolve '" + options_.host + "': " + resolve_ec.message());
    }
    arm(options_.timeout);
    auto [connect_ec, endpoint] = co_await asio::async_connect(stream_->next_layer(), endpoints, use_tuple);
    disarm();
    if (connect_ec) {
      if (timed_out_)
        co_return fail(smtp_error::timeout, "connect",
                       "connect to " + target() + " timed out after " + std::to_string(options_.timeout.count()) +
                           " ms");
      co_return fail(smtp_error::connect_failed, "connect",
                     "cannot connect to " + target() + ": " + connect_ec.message());
    }
    (void)endpoint;
    co_return smtp_result{};
  }

  /// Implicit TLS, the greeting, EHLO, and STARTTLS when configured; `caps`
  /// ends up with what the server offers on the final channel.
  asio::awaitable<smtp_result> open_session(capabilities& caps) {
    if (options_.tls == smtp_tls::implicit) {
      if (smtp_result r = co_await handshake(); !r.ok()) co_return r;
    }
    smtp_reply reply;
    if (smtp_result r = co_await read_reply("greeting", reply); !r.ok()) co_return r;
    if (reply.code != 220) co_return refused("greeting", reply);
    if (smtp_result r = co_await hello(caps); !r.ok()) co_return r;
    if (options_.tls == smtp_tls::starttls || options_.tls == smtp_tls::starttls_if_available) {
      if (caps.starttls) co_return co_await start_tls(caps);
      if (options_.tls == smtp_tls::starttls)
        co_return fail(smtp_error::tls_unavailable, "STARTTLS", "server " + target() + " does not offer STARTTLS");
    }
    co_return smtp_result{};
  }

  /// STARTTLS, the handshake, and EHLO again over TLS.
  asio::awaitable<smtp_result> start_tls(capabilities& caps) {
    smtp_reply reply;
    if (smtp_result r = co_await command("STARTTLS", "STARTTLS", reply); !r.ok()) co_return r;
    if (reply.code != 220) co_return refused("STARTTLS", reply, smtp_error::tls_failed);
    if (!buffer_.empty())
      co_return fail(smtp_error::protocol_error, "STARTTLS",
                     "server sent data after its STARTTLS reply (possible command injection)");
    if (smtp_result r = co_await handshake(); !r.ok()) co_return r;
    // RFC 3207 section 4.2: forget everything learnt before TLS.
    co_return co_await hello(caps);
  }

  /// MAIL FROM (with SMTPUTF8 for non-ASCII addresses) and one RCPT TO per
  /// recipient; any refused recipient fails the send.
  asio::awaitable<smtp_result> send_envelope(const capabilities& caps) {
    bool needs_utf8 = !is_ascii(message_.from);
    for (const auto& to : message_.to) needs_utf8 = needs_utf8 || !is_ascii(to);
    if (needs_utf8 && !caps.smtputf8)
      co_return fail(smtp_error::invalid_message, "MAIL FROM",
                     "non-ASCII address but the server does not offer SMTPUTF8");
    smtp_reply reply;
    if (smtp_result r = co_await command("MAIL FROM:<" + message_.from + ">" + (needs_utf8 ? " SMTPUTF8" : ""),
                                         "MAIL FROM", reply);
        !r.ok())
      co_return r;
    if (!reply.positive()) co_return refused("MAIL FROM", reply);

    for (const auto& to : message_.to) {
      if (smtp_result r = co_await command("RCPT TO:<" + to + ">", "RCPT TO", reply); !r.ok()) co_return r;
      if (!reply.positive())
        co_return fail(smtp_error::rejected, "RCPT TO",
                       "recipient <" + to + "> refused: " + std::to_string(reply.code) + " " + reply.text(),
                       reply.code);
    }
    co_return smtp_result{};
  }

  /// DATA, the dot-stuffed message, and the server's verdict on it in `reply`.
  asio::awaitable<smtp_result> send_data(smtp_reply& reply) {
    if (smtp_result r = co_await command("DATA", "DATA", reply); !r.ok()) co_return r;
    if (reply.code != 354) co_return refused("DATA", reply);
    const std::string data = dot_stuff(format_mail(message_, options_.helo_name));
    if (const error_code ec = co_await write_raw(data)) co_return io_failure("message data", ec);
    if (smtp_result r = co_await read_reply("message data", reply); !r.ok()) co_return r;
    if (!reply.positive()) co_return refused("message data", reply);
    co_return smtp_result{};
  }

  /// QUIT is a courtesy; the message is accepted whatever happens now.
  asio::awaitable<void> quit() {
    smtp_reply reply;
    const auto saved_timeout = options_.timeout;
    options_.timeout = std::min(options_.timeout, quit_timeout);
    (void)co_await command("QUIT", "QUIT", reply);
    options_.timeout = saved_timeout;
    error_code ignored;
    stream_->lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->lowest_layer().close(ignored);
  }

  asio::awaitable<smtp_result> hello(capabilities& caps) {
    smtp_reply reply;
    if (smtp_result r = co_await command("EHLO " + options_.helo_name, "EHLO", reply); !r.ok()) co_return r;
    if (reply.positive()) {
      caps = capabilities::from(reply);
      co_return smtp_result{};
    }
    // Pre-ESMTP servers (RFC 5321 section 3.2): fall back to HELO.
    if (reply.code == 500 || reply.code == 502) {
      if (smtp_result r = co_await command("HELO " + options_.helo_name, "HELO", reply); !r.ok()) co_return r;
      if (reply.positive()) {
        caps = capabilities{};
        co_return smtp_result{};
      }
      co_return refused("HELO", reply);
    }
    co_return refused("EHLO", reply);
  }

  asio::awaitable<smtp_result> handshake() {
    std::string error;
    if (!prepare_tls_stream(*stream_, options_.host, options_.verify_peer, error))
      co_return fail(smtp_error::tls_failed, "TLS handshake", error);
    arm(options_.timeout);
    auto [ec] = co_await stream_->async_handshake(ssl::stream_base::client, use_tuple);
    disarm();
    if (ec) {
      if (timed_out_) co_return io_failure("TLS handshake", ec);
      co_return fail(smtp_error::tls_failed, "TLS handshake",
                     "TLS handshake failed: " + describe_tls_error(ec, stream_->native_handle()));
    }
    tls_active_ = true;
    co_return smtp_result{};
  }

  asio::awaitable<smtp_result> authenticate(const capabilities& caps) {
    bool use_plain = false;
    switch (options_.auth) {
      case smtp_auth::automatic:
        if (!caps.auth_plain && !caps.auth_login)
          co_return fail(smtp_error::auth_unavailable, "AUTH",
                         std::string("server offers no AUTH PLAIN or LOGIN") +
                             (tls_active_ ? "" : " (many servers offer AUTH only after STARTTLS)"));
        use_plain = caps.auth_plain;
        break;
      case smtp_auth::plain:
        if (!caps.auth_plain) co_return fail(smtp_error::auth_unavailable, "AUTH", "server does not offer AUTH PLAIN");
        use_plain = true;
        break;
      case smtp_auth::login:
        if (!caps.auth_login) co_return fail(smtp_error::auth_unavailable, "AUTH", "server does not offer AUTH LOGIN");
        use_plain = false;
        break;
    }
    smtp_reply reply;
    if (use_plain) {
      // RFC 4616: authzid NUL authcid NUL passwd, as an initial response.
      const std::string token = base64_encode(std::string(1, '\0') + options_.username + '\0' + options_.password);
      if (smtp_result r = co_await command("AUTH PLAIN " + token, "AUTH PLAIN", reply); !r.ok()) co_return r;
      if (reply.code != 235) co_return refused("AUTH PLAIN", reply, smtp_error::auth_failed);
      co_return smtp_result{};
    }
    if (smtp_result r = co_await command("AUTH LOGIN", "AUTH LOGIN", reply); !r.ok()) co_return r;
    if (reply.code != 334) co_return refused("AUTH LOGIN", reply, smtp_error::auth_failed);
    if (smtp_result r = co_await command(base64_encode(options_.username), "AUTH LOGIN", reply); !r.ok())
      co_return r;
    if (reply.code != 334) co_return refused("AUTH LOGIN", reply, smtp_error::auth_failed);
    if (smtp_result r = co_await command(base64_encode(options_.password), "AUTH LOGIN", reply); !r.ok())
      co_return r;
    if (reply.code != 235) co_return refused("AUTH LOGIN", reply, smtp_error::auth_failed);
    co_return smtp_result{};
  }

  asio::strand<asio::any_io_executor> strand_;
  smtp_options options_;
  mail_message message_;
  tcp::resolver resolver_;
  asio::steady_timer watchdog_;
  std::shared_ptr<ssl::context> tls_context_;
  std::optional<ssl_stream> stream_;
  std::string buffer_;            ///< bytes read but not yet parsed
  smtp_reply_parser parser_;
  std::uint64_t generation_ = 0;  ///< invalidates a watchdog that lost a race
  bool timed_out_ = false;
  bool tls_active_ = false;
};

}  // namespace

const char* to_string(smtp_error error) {
  switch (error) {
    case smtp_error::none: return "ok";
    case smtp_error::invalid_message: return "invalid_message";
    case smtp_error::resolve_failed: return "resolve_failed";
    case smtp_error::connect_failed: return "connect_failed";
    case smtp_error::timeout: return "timeout";
    case smtp_error::tls_unavailable: return "tls_unavailable";
    case smtp_error::tls_failed: return "tls_failed";
    case smtp_error::auth_unavailable: return "auth_unavailable";
    case smtp_error::auth_failed: return "auth_failed";
    case smtp_error::rejected: return "rejected";
    case smtp_error::protocol_error: return "protocol_error";
    case smtp_error::io_error: return "io_error";
  }
  return "unknown";
}

void async_send_mail(asio::any_io_executor executor, smtp_options options, mail_message message,
                     smtp_callback done) {
  auto session = std::make_shared<smtp_session>(std::move(executor), std::move(options), std::move(message));
  session->start(std::move(done));
}

std::future<smtp_result> send_mail_future(asio::any_io_executor executor, smtp_options options,
                                          mail_message message) {
  auto promise = std::make_shared<std::promise<smtp_result>>();
  auto future = promise->get_future();
  async_send_mail(std::move(executor), std::move(options), std::move(message),
                  [promise](smtp_result result) { promise->set_value(std::move(result)); });
  return future;
}

}  // namespace courier::mss
