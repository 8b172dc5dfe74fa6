// Parsing of the http(s) URLs that webhook and SMS targets are configured
// with. Pure function, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace courier::mss {

/// The parts of an http or https URL that a client needs.
struct http_url {
  bool tls = false;          ///< https
  std::string host;          ///< name or address; IPv6 without brackets
  std::uint16_t port = 80;   ///< explicit port or the scheme's default
  bool default_port = true;  ///< port was not written in the URL
  std::string target;        ///< path and query, starting with '/'

  /// Value for the Host header (brackets for IPv6, port when not default).
  std::string host_header() const;
};

/// Parses `text` ("http://host:port/path?query"). The scheme must be http or
/// https (any case); user info ("user:pw@") is refused (put credentials in a
/// header); a fragment is dropped; control characters and spaces are refused.
/// Returns false and sets `error` on failure.
bool parse_http_url(std::string_view text, http_url& url, std::string& error);

}  // namespace courier::mss
