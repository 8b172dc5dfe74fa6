#include "broker/websocket/upgrade.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <openssl/sha.h>

namespace courier::broker::websocket {

namespace http = boost::beast::http;

namespace {

/// RFC 6455's GUID, appended to the client's key.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// Every value of header `name`, split at commas, trimmed (wsHeaderContains).
bool header_contains(const upgrade_request& request, std::string_view name, std::string_view token) {
  for (auto [it, end] = request.equal_range(name); it != end; ++it) {
    std::string_view value = it->value();
    for (;;) {
      const auto comma = value.find(',');
      if (iequals(trim(value.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return false;
}

/// The first value of a header, or empty.
std::string_view header(const upgrade_request& request, std::string_view name) {
  auto it = request.find(name);
  return it == request.end() ? std::string_view{} : std::string_view(it->value());
}

/// permessage-deflate among Sec-WebSocket-Extensions' offers (wsPMCExtensionSupport).
bool offers_deflate(const upgrade_request& request) {
  for (auto [it, end] = request.equal_range("Sec-WebSocket-Extensions"); it != end; ++it) {
    std::string_view list = it->value();
    for (;;) {
      const auto comma = list.find(',');
      std::string_view extension = list.substr(0, comma);
      for (;;) {
        const auto semicolon = extension.find(';');
        if (iequals(trim(extension.substr(0, semicolon)), "permessage-deflate")) return true;
        if (semicolon == std::string_view::npos) break;
        extension.remove_prefix(semicolon + 1);
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

/// Go's net.SplitHostPort with nats-server's default port when it is missing.
std::optional<std::pair<std::string, std::string>> host_and_port(bool tls, std::string_view hostport,
                                                                   std::string& error) {
  std::string host, port;
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) {
      error = "address " + std::string(hostport) + ": missing ']' in address";
      return std::nullopt;
    }
    host = hostport.substr(1, close - 1);
    std::string_view rest = hostport.substr(close + 1);
    if (rest.empty()) {
      port = tls ? "443" : "80";
    } else if (rest.front() == ':') {
      port = rest.substr(1);
    } else {
      error = "address " + std::string(hostport) + ": missing port in address";
      return std::nullopt;
    }
  } else {
    const auto colon = hostport.find(':');
    if (colon == std::string_view::npos) {
      host = hostport;
      port = tls ? "443" : "80";
    } else if (hostport.find(':', colon + 1) != std::string_view::npos) {
      error = "address " + std::string(hostport) + ": too many colons in address";
      return std::nullopt;
    } else {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
    }
  }
  return std::pair{lower(host), port};
}

/// Go's url.ParseRequestURI for an absolute "scheme://authority[/...]":
/// the scheme and the authority.
std::optional<std::pair<std::string, std::string>> parse_origin(std::string_view origin, std::string& error) {
  const auto colon = origin.find("://");
  const bool scheme_ok = colon != std::string_view::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(origin[0])) &&
                         std::all_of(origin.begin(), origin.begin() + colon, [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                         });
  if (!scheme_ok) {
    error = "parse \"" + std::string(origin) + "\": invalid URI for request";
    return std::nullopt;
  }
  std::string_view rest = origin.substr(colon + 3);
  rest = rest.substr(0, rest.find('/'));
  return std::pair{lower(origin.substr(0, colon)), std::string(rest)};
}

/// The Origin check (srvWebsocket.checkOrigin); empty when allowed.
std::string check_origin(const upgrade_request& request, const upgrade_settings& settings) {
  if (!settings.same_origin && settings.allowed_origins.empty()) return {};
  std::string_view origin = header(request, "Origin");
  if (origin.empty()) origin = header(request, "Sec-WebSocket-Origin");
  if (origin.empty()) return {};  // not from a browser page: nothing to check
  std::string error;
  auto parsed = parse_origin(origin, error);
  if (!parsed) return error;
  auto origin_host = host_and_port(parsed->first == "https", parsed->second, error);
  if (!origin_host) return error;
  if (settings.same_origin) {
    auto request_host = host_and_port(settings.tls, header(request, "Host"), error);
    if (!request_host) return error;
    if (*origin_host != *request_host) return "not same origin";
  }
  if (!settings.allowed_origins.empty()) {
    auto it = settings.allowed_origins.find(origin_host->first);
    if (it == settings.allowed_origins.end() || parsed->first != it->second.scheme ||
        origin_host->second != it->second.port) {
      return "not in the allowed list";
    }
  }
  return {};
}

/// "Sat, 05 Dec 2026 23:16:45 GMT" (Go's http.TimeFormat).
std::string http_date(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

/// A refusal as Go's http.Error writes it, after nats-server set
/// Sec-Websocket-Version (headers in Go's sorted order, then Date and Content-Length).
upgrade_result refuse(const upgrade_request& request, int status, std::string reason,
                      std::chrono::system_clock::time_point now) {
  upgrade_result result;
  result.status = status;
  result.reason = std::move(reason);
  const char* text = status == 405 ? "Method Not Allowed" : status == 403 ? "Forbidden" : "Bad Request";
  const std::string body = std::string(text) + "\n";
  const bool http10 = request.version() == 10;
  result.keep_alive = request.keep_alive();
  result.response = std::string(http10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " + text + "\r\n";
  if (http10 && result.keep_alive) result.response += "Connection: keep-alive\r\n";
  result.response += "Content-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n"
                     "X-Content-Type-Options: nosniff\r\nDate: " +
                     http_date(now) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!http10 && !result.keep_alive) result.response += "Connection: close\r\n";
  result.response += "\r\n" + body;
  return result;
}

}  // namespace

std::map<std::string, allowed_origin, std::less<>> upgrade_settings::parse_origins(
    const std::vector<std::string>& origins) {
  std::map<std::string, allowed_origin, std::less<>> out;
  for (const auto& origin : origins) {
    std::string error;
    auto parsed = parse_origin(origin, error);
    if (!parsed) continue;
    auto host = host_and_port(parsed->first == "https", parsed->second, error);
    if (!host) continue;
    out[host->first] = allowed_origin{parsed->first, host->second};
  }
  return out;
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += accept_guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string out(boost::beast::detail::base64::encoded_size(sizeof digest), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), digest, sizeof digest));
  return out;
}

upgrade_result check_upgrade(const upgrade_request& request, const upgrade_settings& settings,
                             std::chrono::system_clock::time_point now) {
  // RFC 6455 section 4.2.1, in nats-server's order.
  if (request.method() != http::verb::get) return refuse(request, 405, "request method must be GET", now);
  if (header(request, "Host").empty()) return refuse(request, 400, "'Host' missing in request", now);
  if (!header_contains(request, "Upgrade", "websocket")) {
    return refuse(request, 400, "invalid value for header 'Upgrade'", now);
  }
  if (!header_contains(request, "Connection", "Upgrade")) {
    return refuse(request, 400, "invalid value for header 'Connection'", now);
  }
  const std::string_view key = header(request, "Sec-WebSocket-Key");
  if (key.empty()) return refuse(request, 400, "key missing", now);
  if (!header_contains(request, "Sec-WebSocket-Version", "13")) return refuse(request, 400, "invalid version", now);
  if (auto origin_error = check_origin(request, settings); !origin_error.empty()) {
    return refuse(request, 403, "origin not allowed: " + origin_error, now);
  }
  upgrade_result result;
  result.accepted = true;
  result.status = 101;
  result.compress = settings.compression && offers_deflate(request);
  result.response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  result.response += accept_key(key);
  result.response += "\r\n";
  if (result.compress) {
    result.response +=
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";
  }
  // nats-server honours this header for every kind of client.
  result.no_masking = header(request, "Nats-No-Masking") == "true";
  if (result.no_masking) result.response += "Nats-No-Masking: true\r\n";
  result.response += "\r\n";
  // Only a single address: Go's net.ParseIP refuses a list.
  const std::string forwarded(header(request, "X-Forwarded-For"));
  boost::system::error_code ec;
  if (!forwarded.empty()) {
    boost::asio::ip::make_address(forwarded, ec);
    if (!ec) result.forwarded_for = forwarded;
  }
  const std::string_view agent = header(request, "User-Agent");
  if (agent.substr(0, 8) == "Mozilla/") {
    result.browser = true;
    result.no_compressed_fragments = result.compress && agent.find("Version/") != std::string_view::npos &&
                                     agent.find("Safari/") != std::string_view::npos;
  }
  return result;
}

}  // namespace courier::broker::websocket
