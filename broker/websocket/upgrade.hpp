// The WebSocket opening handshake (RFC 6455 section 4.2) as nats-server
// 2.9.10 answers it (websocket.go wsUpgrade): the checks in its order, the
// refusals as Go's net/http writes them (405, 400, 403), the origin rules,
// and the 101 response with permessage-deflate when both sides want it.
// Pure: a parsed request in, the bytes to answer and what was agreed out.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/message.hpp>

namespace courier::broker::websocket {

/// An origin from `allowed_origins`, by host.
struct allowed_origin {
  std::string scheme;  ///< "http", "https"
  std::string port;    ///< given or the scheme's default
};

/// The listener's upgrade rules (from the websocket block, fixed at start).
struct upgrade_settings {
  bool compression = false;  ///< offer permessage-deflate to clients that ask
  bool same_origin = false;  ///< Origin must match the request's Host
  bool tls = false;          ///< the listener is wss (default port 443 for Host)
  std::map<std::string, allowed_origin, std::less<>> allowed_origins;  ///< by lower-case host; empty = any

  /// From the `allowed_origins` list; entries that do not parse are skipped
  /// (nats-server logs and skips them).
  static std::map<std::string, allowed_origin, std::less<>> parse_origins(const std::vector<std::string>& origins);
};

/// The outcome of checking one upgrade request.
struct upgrade_result {
  bool accepted = false;
  /// Refused: the HTTP status (405, 400, 403) and the reason nats-server
  /// logs ("websocket handshake error: <reason>").
  int status = 0;
  std::string reason;
  /// Refused: whether the HTTP connection stays open for another request
  /// (Go's keep-alive rules).
  bool keep_alive = false;
  /// The bytes to send: the refusal, or the 101 Switching Protocols.
  std::string response;

  // Accepted: what the session does.
  bool compress = false;           ///< permessage-deflate agreed
  bool browser = false;            ///< User-Agent starts with "Mozilla/": frames of at most 4 KiB
  bool no_compressed_fragments = false;  ///< Safari: a compressed message is never fragmented
  std::string forwarded_for;       ///< X-Forwarded-For when it is one IP address
  bool no_masking = false;         ///< "Nats-No-Masking: true": the client will not mask
};

using upgrade_request = boost::beast::http::request<boost::beast::http::string_body>;

/// Checks `request` and builds the answer. `now` dates refusals.
upgrade_result check_upgrade(const upgrade_request& request, const upgrade_settings& settings,
                             std::chrono::system_clock::time_point now);

/// Go's answer to a request it cannot parse: 400 and close.
inline constexpr std::string_view malformed_request_response =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

/// Go's answer to an HTTP/1.1 request without a Host header: 400 and close.
inline constexpr std::string_view missing_host_response =
    "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    "400 Bad Request: missing required Host header";

/// Sec-WebSocket-Accept for a client's key (RFC 6455 section 4.2.2).
std::string accept_key(std::string_view client_key);

}  // namespace courier::broker::websocket
