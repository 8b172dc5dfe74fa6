#include "mss/peers/mail_message.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <ctime>

#include "mss/common/template.hpp"

namespace courier::mss {
namespace {

constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 5321 section 4.5.3.1.6: a text line is at most 998 octets plus CRLF.
constexpr std::size_t max_smtp_line = 998;

/// RFC 2045 section 6.7 rule 5: encoded lines are at most 76 characters.
constexpr std::size_t max_qp_line = 76;

/// Bytes of UTF-8 per RFC 2047 encoded word: 39 bytes -> 52 base64 chars,
/// + 12 for "=?UTF-8?B?" "?=" = 64, so even after a header name such as
/// "Subject: " the line stays within RFC 5322's 78-character advice (and
/// far under RFC 2047's 75-character word limit).
constexpr std::size_t encoded_word_bytes = 39;

/// Header names per RFC 5322 section 2.2: printable ASCII except ':'.
bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c <= 32 || c >= 127 || c == ':') return false;
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// Headers format_mail writes itself; a duplicate would confuse receivers.
bool generated_header(std::string_view name) {
  for (std::string_view own : {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                               "Content-Transfer-Encoding"})
    if (iequals(name, own)) return true;
  return false;
}

/// RFC 2047 "B" encoded words, split on UTF-8 character boundaries and
/// folded onto continuation lines.
std::string encode_words(std::string_view text) {
  std::string out;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t end = std::min(text.size(), position + encoded_word_bytes);
    // Do not split a multi-byte character: back off continuation bytes.
    while (end < text.size() && end > position && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    if (end == position) end = std::min(text.size(), position + encoded_word_bytes);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_encode(text.substr(position, end - position)) + "?=";
    position = end;
  }
  return out;
}

std::string header_text(std::string_view text) { return is_ascii(text) ? std::string(text) : encode_words(text); }

std::string normalize_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool has_long_line(std::string_view crlf_text) {
  std::size_t start = 0;
  while (start <= crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    if (end == std::string_view::npos) end = crlf_text.size();
    if (end - start > max_smtp_line) return true;
    start = end + 2;
  }
  return false;
}

std::string rfc5322_date() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  // Names spelled out here: strftime's %a/%b follow the process locale.
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday], utc.tm_mday,
                months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return buffer;
}

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, 32> random{};
  bytes = std::min(bytes, random.size());
  if (RAND_bytes(random.data(), static_cast<int>(bytes)) != 1) {
    // Fall back to time-based uniqueness; Message-ID only needs to be unique.
    const auto now = static_cast<unsigned long long>(std::time(nullptr)) ^ reinterpret_cast<std::uintptr_t>(&random);
    for (std::size_t i = 0; i < bytes; ++i) random[i] = static_cast<unsigned char>(now >> ((i % 8) * 8));
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    out += hex[random[i] >> 4];
    out += hex[random[i] & 0xF];
  }
  return out;
}

}  // namespace

bool is_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

bool valid_mail_address(std::string_view address) {
  if (address.empty() || address.size() > 320) return false;  // 64 local + 1 + 255 domain
  for (unsigned char c : address)
    if (c <= 32 || c == 127 || c == '<' || c == '>' || c == ',') return false;
  const std::size_t at = address.rfind('@');
  return at != std::string_view::npos && at != 0 && at + 1 != address.size();
}

std::string validate_mail(const mail_message& message) {
  if (has_line_break(message.from) || has_line_break(message.from_name))
    return "CR/LF in From is not allowed (header injection)";
  if (!valid_mail_address(message.from)) return "invalid From address '" + message.from + "'";
  if (message.to.empty()) return "no recipient";
  for (const auto& to : message.to) {
    if (has_line_break(to)) return "CR/LF in To is not allowed (header injection)";
    if (!valid_mail_address(to)) return "invalid To address '" + to + "'";
  }
  if (has_line_break(message.subject)) return "CR/LF in Subject is not allowed (header injection)";
  for (const auto& [name, value] : message.headers) {
    if (has_line_break(name) || has_line_break(value))
      return "CR/LF in header '" + name + "' is not allowed (header injection)";
    if (!valid_header_name(name)) return "invalid header name '" + name + "'";
    if (generated_header(name)) return "header '" + name + "' is set by the mailer and cannot be overridden";
  }
  if (message.body.find('\0') != std::string::npos) return "NUL byte in body";
  return {};
}

std::string format_mail(const mail_message& message, std::string_view hostname) {
  std::string out;
  out.reserve(message.body.size() + 512);
  out += "Date: " + rfc5322_date() + "\r\n";
  out += "From: ";
  if (!message.from_name.empty()) {
    if (is_ascii(message.from_name)) {
      out += '"';
      for (char c : message.from_name) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\" ";
    } else {
      out += encode_words(message.from_name) + " ";
    }
    out += "<" + message.from + ">\r\n";
  } else {
    out += message.from + "\r\n";
  }
  out += "To: ";
  std::size_t line_length = 4;
  for (std::size_t i = 0; i < message.to.size(); ++i) {
    if (i > 0) {
      if (line_length + message.to[i].size() + 2 > 78) {
        out += ",\r\n ";
        line_length = 1;
      } else {
        out += ", ";
        line_length += 2;
      }
    }
    out += message.to[i];
    line_length += message.to[i].size();
  }
  out += "\r\n";
  out += "Subject: " + header_text(message.subject) + "\r\n";
  out += "Message-ID: <" + random_hex(16) + "@" + std::string(hostname.empty() ? "localhost" : hostname) + ">\r\n";
  for (const auto& [name, value] : message.headers) out += name + ": " + header_text(value) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  const std::string body = normalize_line_ends(message.body);
  // Quoted-printable keeps the message 7-bit clean and its lines short, so
  // it passes any relay; plain ASCII with short lines goes as is.
  if (!is_ascii(body) || has_long_line(body)) {
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += quoted_printable(body);
  } else {
    out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
    out += body;
  }
  return out;
}

std::string dot_stuff(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 64 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      out += "\r\n";
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  const auto emit = [&](std::string_view token) {
    // Leave room for the '=' of a soft break.
    if (column + token.size() > max_qp_line - 1) {
      out += "=\r\n";
      column = 0;
    }
    out += token;
    column += token.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += "\r\n";
      column = 0;
      ++i;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r';
    const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      const char ch = static_cast<char>(c);
      emit(std::string_view(&ch, 1));
    } else {
      const char encoded[3] = {'=', hex[c >> 4], hex[c & 0xF]};
      emit(std::string_view(encoded, 3));
    }
  }
  return out;
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += base64_alphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++padding;
      } else {
        if (padding > 0) return false;  // data after '='
        v[k] = value(c);
        if (v[k] < 0) return false;
      }
    }
    const unsigned bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((bits >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(bits & 0xFF);
  }
  return true;
}

}  // namespace courier::mss
