#include "mss/peers/url.hpp"

namespace courier::mss {

std::string http_url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!default_port) out += ":" + std::to_string(port);
  return out;
}

namespace {

/// True for a URL made only of visible characters.
bool printable(std::string_view text, std::string& error) {
  for (unsigned char c : text) {
    if (c <= 32 || c == 127) {
      error = "URL contains a space or control character";
      return false;
    }
  }
  return true;
}

/// Sets url.tls and the scheme's default port from "http" or "https" (any case).
bool read_scheme(std::string_view text, http_url& url, std::string& error) {
  std::string scheme(text);
  for (char& c : scheme)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (scheme == "http") {
    url.tls = false;
    url.port = 80;
  } else if (scheme == "https") {
    url.tls = true;
    url.port = 443;
  } else {
    error = "unsupported URL scheme '" + scheme + "'";
    return false;
  }
  return true;
}

/// Splits "host", "host:port", "[v6]" or "[v6]:port" into url.host and
/// `port_text` (empty when the authority names no port).
bool read_authority(std::string_view authority, http_url& url, std::string_view& port_text, std::string& error) {
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 address in URL";
      return false;
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "bad characters after IPv6 address in URL";
        return false;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        error = "empty port in URL";
        return false;
      }
    }
  } else {
    const std::size_t port_colon = authority.rfind(':');
    if (port_colon != std::string_view::npos) {
      port_text = authority.substr(port_colon + 1);
      authority = authority.substr(0, port_colon);
      if (port_text.empty()) {
        error = "empty port in URL";
        return false;
      }
    }
    url.host = std::string(authority);
  }
  return true;
}

/// Reads a decimal port, 1 to 65535, into url.port.
bool read_port(std::string_view port_text, http_url& url, std::string& error) {
  unsigned long port = 0;
  if (port_text.size() > 5) {
    error = "bad port in URL";
    return false;
  }
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      error = "bad port in URL";
      return false;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535) {
    error = "port out of range in URL";
    return false;
  }
  url.port = static_cast<std::uint16_t>(port);
  url.default_port = false;
  return true;
}

}  // namespace

bool parse_http_url(std::string_view text, http_url& url, std::string& error) {
  url = {};
  if (!printable(text, error)) return false;
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) {
    error = "URL has no scheme (expected http:// or https://)";
    return false;
  }
  if (!read_scheme(text.substr(0, colon), url, error)) return false;
  std::string_view rest = text.substr(colon + 3);
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const std::size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    error = "user info in URL is not supported; put credentials in a header";
    return false;
  }
  std::string_view port_text;
  if (!read_authority(authority, url, port_text, error)) return false;
  if (url.host.empty()) {
    error = "URL has no host";
    return false;
  }
  if (!port_text.empty() && !read_port(port_text, url, error)) return false;
  url.target = target.empty() ? "/" : (target.front() == '?' ? "/" + std::string(target) : std::string(target));
  return true;
}

}  // namespace courier::mss
