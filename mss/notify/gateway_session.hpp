// One browser (or other WebSocket client) of the notification gateway: the
// TLS handshake when configured, the HTTP upgrade (Beast), then text frames
// in and out. A session knows frames, never commands: each frame read goes
// to its host (the gateway), which answers through send().
//
// Threads: every session of a gateway runs on the gateway's strand, as does
// the host; send() and close() must be called there.
//
// Upgrade refusals: 404 for another path, 405 for a method other than GET,
// 400 for a request that is not a WebSocket upgrade. Frame-level errors
// (a frame over max_message, invalid UTF-8 in a text frame, an unmasked
// client frame) are Beast's: it sends the close frame (1009, 1007, 1002)
// and the session ends. A session whose unsent frames pass max_pending
// bytes (a tab that does not read) is closed with 1008 "slow consumer".
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/any_io_executor.hpp>

namespace courier::mss::notify {

/// What the gateway keeps per session; touched on the strand only.
class session_base : public std::enable_shared_from_this<session_base> {
 public:
  virtual ~session_base() = default;
  /// Queues a text frame. On the strand.
  virtual void send(std::string frame) = 0;
  /// Closes with a close frame (`code`, `reason`) after the frame being
  /// written, dropping the others. On the strand.
  virtual void close(int code, std::string reason) = 0;

  std::string remote;               ///< client address:port
  std::string user;                 ///< set by a successful authorize
  bool authorized = false;
  std::uint64_t authorizing = 0;    ///< the authorize under way (its rid + 1), 0 when none
  std::set<std::string> groups;     ///< subscribed notification types; "*" = all
};

/// The gateway side of a session. On the strand.
class session_host {
 public:
  virtual ~session_host() = default;
  /// The upgrade succeeded.
  virtual void on_open(session_base& session) = 0;
  /// A whole frame arrived.
  virtual void on_frame(session_base& session, std::string text) = 0;
  /// The session ended (after on_open, or when the upgrade failed: then
  /// `opened` is false).
  virtual void on_close(session_base& session, bool opened) = 0;
};

struct session_limits {
  std::string path = "/";
  std::size_t max_message = 64 * 1024;
  std::size_t max_pending = 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
};

using gateway_strand = boost::asio::strand<boost::asio::any_io_executor>;

/// Runs a session on `socket` (whose executor is the gateway's strand):
/// plain when `tls` is null, else TLS first.
void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls,
                   const session_limits& limits, std::shared_ptr<session_host> host);

}  // namespace courier::mss::notify
