#include "mss/peers/smtp_reply.hpp"

namespace courier::mss {

std::string smtp_reply::text() const {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

void smtp_reply_parser::reset() {
  pending_ = {};
  error_.clear();
  failed_ = false;
}

smtp_reply_parser::status smtp_reply_parser::consume(std::string& buffer) {
  if (failed_) return status::error;
  std::size_t start = 0;
  while (true) {
    const std::size_t newline = buffer.find('\n', start);
    if (newline == std::string::npos) {
      buffer.erase(0, start);
      if (buffer.size() > max_line) {
        failed_ = true;
        error_ = "reply line longer than " + std::to_string(max_line) + " bytes";
        return status::error;
      }
      return status::need_more;
    }
    std::string_view line(buffer.data() + start, newline - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line) {
      failed_ = true;
      error_ = "reply line longer than " + std::to_string(max_line) + " bytes";
      return status::error;
    }
    const status result = feed_line(line);
    start = newline + 1;
    if (result != status::need_more) {
      buffer.erase(0, start);
      return result;
    }
  }
}

smtp_reply_parser::status smtp_reply_parser::feed_line(std::string_view line) {
  const auto fail = [this, line](std::string why) {
    failed_ = true;
    // Bounded snippet of the offending line for the error message.
    std::string snippet(line.substr(0, 64));
    for (char& c : snippet)
      if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) == 127) c = '.';
    error_ = std::move(why) + ": '" + snippet + "'";
    return status::error;
  };
  if (line.size() < 3) return fail("short reply line");
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    const char c = line[i];
    if (c < '0' || c > '9') return fail("reply code is not three digits");
    code = code * 10 + (c - '0');
  }
  if (line[0] < '2' || line[0] > '5') return fail("reply code out of range");
  bool last = true;
  std::string_view text;
  if (line.size() > 3) {
    if (line[3] == '-') {
      last = false;
    } else if (line[3] != ' ') {
      return fail("bad separator after reply code");
    }
    text = line.substr(4);
  }
  if (!pending_.lines.empty() && pending_.code != code) return fail("reply code changed inside a multi-line reply");
  if (pending_.lines.size() >= max_lines) return fail("too many lines in one reply");
  pending_.code = code;
  pending_.lines.emplace_back(text);
  if (!last) return status::need_more;
  reply_ = std::move(pending_);
  pending_ = {};
  return status::done;
}

}  // namespace courier::mss
