#include "protocol/headers.hpp"

namespace courier::protocol {
namespace {

constexpr std::string_view crlf = "\r\n";

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool holds_line_break(std::string_view s) noexcept {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
  }
  return true;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool equal_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Splits "Name: value" into its parts; false when malformed.
bool split_field(std::string_view line, header_field& field) noexcept {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  field.name = line.substr(0, colon);
  field.value = trim(line.substr(colon + 1));
  return valid_name(field.name);
}

}  // namespace

std::optional<headers_view> headers_view::parse(std::string_view block) noexcept {
  headers_view view;
  view.block_ = block;
  if (block.substr(0, headers_version.size()) != headers_version) return std::nullopt;
  const std::size_t first_end = block.find(crlf);
  if (first_end == std::string_view::npos) return std::nullopt;
  std::string_view status_line = block.substr(headers_version.size(), first_end - headers_version.size());
  if (holds_line_break(status_line)) return std::nullopt;
  if (!status_line.empty()) {
    // "NATS/1.0 503 No Responders": a blank, 3 digits, then an optional description.
    if (!is_blank(status_line.front())) return std::nullopt;
    status_line = trim(status_line);
    if (!status_line.empty()) {
      if (status_line.size() < 3) return std::nullopt;
      int status = 0;
      for (std::size_t i = 0; i < 3; ++i) {
        const char c = status_line[i];
        if (c < '0' || c > '9') return std::nullopt;
        status = status * 10 + (c - '0');
      }
      if (status_line.size() > 3 && !is_blank(status_line[3])) return std::nullopt;
      // Codes are 100..999 as in HTTP; "000" would read as "no status" while
      // keeping a description, which no sender means.
      if (status < 100) return std::nullopt;
      view.status_ = status;
      view.description_ = trim(status_line.substr(3));
    }
  }
  // Field lines, then exactly one blank line ending the block.
  std::string_view rest = block.substr(first_end + crlf.size());
  view.fields_ = rest;
  while (true) {
    const std::size_t end = rest.find(crlf);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + crlf.size());
    if (line.empty()) break;
    header_field field;
    if (holds_line_break(line) || !split_field(line, field)) return std::nullopt;
    ++view.count_;
  }
  if (!rest.empty()) return std::nullopt;
  return view;
}

void headers_view::iterator::load() noexcept {
  const std::size_t end = rest_.find(crlf);
  if (end == 0 || end == std::string_view::npos) {  // the blank line: done
    at_end_ = true;
    rest_ = {};
    return;
  }
  split_field(rest_.substr(0, end), field_);  // validated by parse()
  rest_.remove_prefix(end + crlf.size());
}

std::optional<std::string_view> headers_view::get(std::string_view name) const noexcept {
  for (const header_field& field : *this) {
    if (field.name == name) return field.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> headers_view::get_ignore_case(std::string_view name) const noexcept {
  for (const header_field& field : *this) {
    if (equal_ignore_case(field.name, name)) return field.value;
  }
  return std::nullopt;
}

std::vector<std::string_view> headers_view::get_all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const header_field& field : *this) {
    if (field.name == name) values.push_back(field.value);
  }
  return values;
}

headers_builder::headers_builder() {
  block_.append(headers_version);
  block_.append(crlf);
}

headers_builder::headers_builder(int status, std::string_view description) {
  block_.append(headers_version);
  if (status >= 100 && status <= 999) {
    block_.push_back(' ');
    block_.append(std::to_string(status));
    if (!description.empty() && !holds_line_break(description)) {
      block_.push_back(' ');
      block_.append(description);
    }
  }
  block_.append(crlf);
}

bool headers_builder::add(std::string_view name, std::string_view value) {
  if (!valid_name(name) || holds_line_break(value)) return false;
  block_.append(name);
  block_.append(": ");
  block_.append(value);
  block_.append(crlf);
  return true;
}

std::string headers_builder::finish() {
  block_.append(crlf);
  std::string out = std::move(block_);
  block_.clear();
  return out;
}

void headers_builder::finish_into(std::string& out) {
  out.append(block_);
  out.append(crlf);
  block_.clear();
}

}  // namespace courier::protocol
