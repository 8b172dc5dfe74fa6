// SMTP submission client on Asio: EHLO (HELO fallback), STARTTLS or implicit
// TLS (OpenSSL), AUTH PLAIN / LOGIN, MAIL FROM, several RCPT TO, DATA with
// dot-stuffing, QUIT. Every network operation has its own deadline.
//
// Concurrency: each send is an independent session on a strand of the
// executor it is given; any number may run in parallel on one io_context and
// none ever blocks a thread (no sleeping, no synchronous I/O). The completion
// callback is invoked exactly once, on that strand.
//
// Safety: the message is validated BEFORE connecting (validate_mail): CR/LF
// in From, To, Subject or a header yields smtp_error::invalid_message and no
// connection is made, so a malformed SMTP session is never produced.
// Bytes the server sends after its reply to STARTTLS and before the TLS
// handshake are treated as a protocol error (STARTTLS command injection,
// RFC 3207 section 4.2 / CVE-2011-0411 class).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "mss/peers/mail_message.hpp"

namespace courier::mss {

/// How TLS is used on the SMTP connection.
enum class smtp_tls {
  none,                   ///< plain text only (never STARTTLS)
  starttls_if_available,  ///< STARTTLS when the server advertises it, else plain
  starttls,               ///< STARTTLS required: fail with tls_unavailable if not offered
  implicit                ///< TLS from the first byte (SMTPS, port 465)
};

/// Which AUTH mechanism to use when credentials are configured.
enum class smtp_auth {
  automatic,  ///< PLAIN if advertised, else LOGIN
  plain,      ///< AUTH PLAIN (RFC 4616) with an initial response
  login       ///< AUTH LOGIN (username and password challenges)
};

/// Where and how to connect. Shared by every mail a handler sends.
struct smtp_options {
  std::string host = "127.0.0.1";              ///< server name or address
  std::uint16_t port = 25;                     ///< server port
  smtp_tls tls = smtp_tls::starttls_if_available;  ///< TLS policy
  bool verify_peer = true;                     ///< verify the server certificate and host name
  std::string ca_file;                         ///< PEM CA bundle; empty = system default paths
  std::string username;                        ///< AUTH user; empty = no AUTH
  std::string password;                        ///< AUTH password
  smtp_auth auth = smtp_auth::automatic;       ///< mechanism when username is set
  std::string helo_name = "localhost";         ///< name sent in EHLO/HELO and Message-IDs
  std::chrono::milliseconds timeout{30000};    ///< deadline of EACH network operation (one whole reply is one)
  /// Optional shared TLS context (certificates loaded once for many sends);
  /// when set, verify_peer and ca_file are ignored in favour of its settings
  /// (host name verification is still applied when verify_peer is true).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

/// Why a send failed.
enum class smtp_error {
  none,              ///< delivered to the server (250 after DATA)
  invalid_message,   ///< rejected locally before connecting (e.g. CR/LF in a header)
  resolve_failed,    ///< host name did not resolve
  connect_failed,    ///< TCP connect failed (refused, unreachable)
  timeout,           ///< an operation exceeded smtp_options::timeout
  tls_unavailable,   ///< STARTTLS required but not offered
  tls_failed,        ///< TLS handshake failed (e.g. certificate not trusted)
  auth_unavailable,  ///< credentials set but the server offers no usable mechanism
  auth_failed,       ///< the server refused the credentials
  rejected,          ///< the server answered 4xx/5xx to a command (see reply_code)
  protocol_error,    ///< malformed reply or unexpected bytes
  io_error           ///< connection lost or other socket error
};

/// Short stable name of an error ("timeout", "rejected", ...).
const char* to_string(smtp_error error);

/// Outcome of one send.
struct smtp_result {
  smtp_error error = smtp_error::none;  ///< none on success
  int reply_code = 0;                   ///< last relevant server reply code (0 if none)
  std::string stage;                    ///< step that failed: "connect", "EHLO", "RCPT TO", ...
  std::string message;                  ///< human-readable detail incl. server text
  /// True when the server accepted the message.
  bool ok() const { return error == smtp_error::none; }
};

/// Completion callback; called exactly once.
using smtp_callback = std::function<void(smtp_result)>;

/// Sends `message` via the server in `options`; `done` runs on a strand of
/// `executor` when the session ends (after QUIT when delivered).
void async_send_mail(boost::asio::any_io_executor executor, smtp_options options, mail_message message,
                     smtp_callback done);

/// Future-returning form; the io_context must be run by some other thread
/// while waiting on the future.
std::future<smtp_result> send_mail_future(boost::asio::any_io_executor executor, smtp_options options,
                                          mail_message message);

}  // namespace courier::mss
