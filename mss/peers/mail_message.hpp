// An email to send, and the pure functions that turn it into SMTP DATA:
// validation (header-injection safety), RFC 5322 formatting and dot-stuffing.
// No I/O here; mss/peers/smtp_client sends what these produce.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::mss {

/// One email. Addresses are bare (`user@example.com`), without angle brackets.
struct mail_message {
  std::string from;                  ///< envelope sender and From: header
  std::string from_name;             ///< optional display name for From:
  std::vector<std::string> to;       ///< recipients (RCPT TO each; To: header lists them)
  std::string subject;               ///< Subject: (UTF-8; non-ASCII is RFC 2047 encoded)
  std::string body;                  ///< text/plain body, UTF-8, LF or CRLF line ends
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers (name, value)
};

/// Checks every field that ends up in a header or an SMTP command.
/// Returns an empty string when the message is acceptable, else why not:
/// CR, LF or NUL in from/to/subject/header (header injection), angle brackets
/// or spaces in an address, no recipient, a header name that is not a token.
std::string validate_mail(const mail_message& message);

/// True for an address usable in MAIL FROM/RCPT TO: non-empty, no CR/LF/NUL,
/// no '<', '>', spaces or control characters, exactly one '@' not at an end.
bool valid_mail_address(std::string_view address);

/// Formats the message as RFC 5322 text (headers, blank line, body), CRLF line
/// ends, NOT yet dot-stuffed. A Date and Message-ID are added; `hostname`
/// is used for the Message-ID's right-hand side. Lines longer than 998 octets
/// make the body quoted-printable (SMTP forbids such lines); else 8bit.
/// Precondition: validate_mail(message) returned "".
std::string format_mail(const mail_message& message, std::string_view hostname);

/// Dot-stuffing for SMTP DATA (RFC 5321 section 4.5.2): every line starting
/// with '.' gets another '.', bare LF and bare CR become CRLF, and the
/// terminating "<CRLF>.<CRLF>" is appended.
std::string dot_stuff(std::string_view text);

/// True when every byte is 7-bit (no header encoding or SMTPUTF8 needed).
bool is_ascii(std::string_view text);

/// Encodes `text` as quoted-printable (RFC 2045), CRLF line ends, soft breaks
/// keeping lines <= 76 characters.
std::string quoted_printable(std::string_view text);

/// Base64 (RFC 4648) of `data`, no line breaks.
std::string base64_encode(std::string_view data);

/// Decodes base64; returns false on malformed input.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace courier::mss
