#include "monitor/json_writer.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

#include "protocol/json_string.hpp"

namespace courier::monitor {

void json_writer::newline_indent(std::size_t depth) {
  if (!indented_) return;
  out_ += '\n';
  out_.append(2 * depth, ' ');
}

void json_writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (has_members_.empty()) return;  // the top-level value
  if (has_members_.back()) out_ += ',';
  has_members_.back() = true;
  newline_indent(has_members_.size());
}

json_writer& json_writer::key(std::string_view name) {
  assert(!after_key_ && !has_members_.empty());
  if (has_members_.back()) out_ += ',';
  has_members_.back() = true;
  newline_indent(has_members_.size());
  append_string(out_, name);
  out_ += indented_ ? ": " : ":";
  after_key_ = true;
  return *this;
}

json_writer& json_writer::begin_object() {
  before_value();
  out_ += '{';
  has_members_.push_back(false);
  return *this;
}

json_writer& json_writer::end_object() {
  assert(!has_members_.empty());
  const bool any = has_members_.back();
  has_members_.pop_back();
  if (any) newline_indent(has_members_.size());
  out_ += '}';
  return *this;
}

json_writer& json_writer::begin_array() {
  before_value();
  out_ += '[';
  has_members_.push_back(false);
  return *this;
}

json_writer& json_writer::end_array() {
  assert(!has_members_.empty());
  const bool any = has_members_.back();
  has_members_.pop_back();
  if (any) newline_indent(has_members_.size());
  out_ += ']';
  return *this;
}

json_writer& json_writer::value(std::string_view text) {
  before_value();
  append_string(out_, text);
  return *this;
}

json_writer& json_writer::value(bool flag) {
  before_value();
  out_ += flag ? "true" : "false";
  return *this;
}

json_writer& json_writer::value(std::int64_t number) {
  before_value();
  out_ += std::to_string(number);
  return *this;
}

json_writer& json_writer::value(std::uint64_t number) {
  before_value();
  out_ += std::to_string(number);
  return *this;
}

json_writer& json_writer::value(double number) {
  before_value();
  if (!std::isfinite(number)) number = 0;  // Go refuses these; never produced here
  char buffer[64];
  // Go: the shortest text that reads back the same, in %f form unless the
  // exponent is below -6 or at least 21.
  const double magnitude = std::fabs(number);
  const auto format = (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) ? std::chars_format::scientific
                                                                                  : std::chars_format::fixed;
  auto result = std::to_chars(buffer, buffer + sizeof buffer, number, format);
  // Both write at least two exponent digits (1e-07, 1e+21).
  out_.append(buffer, result.ptr);
  return *this;
}

json_writer& json_writer::null() {
  before_value();
  out_ += "null";
  return *this;
}

void json_writer::append_string(std::string& out, std::string_view text) {
  protocol::append_json_string(out, text);
}

}  // namespace courier::monitor
