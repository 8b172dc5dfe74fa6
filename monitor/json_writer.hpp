// A JSON writer that keeps keys in the order written and lays the text out
// as Go's json.MarshalIndent(v, "", "  ") does, so that Courier's monitoring
// documents read exactly like nats-server's: two-space indents, `"key": value`,
// `{}` and `[]` for empty containers, Go's string escapes (<, > and & as
// \u003c, \u003e, \u0026) and Go's shortest float text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace courier::monitor {

class json_writer {
 public:
  /// Indented as MarshalIndent (the HTTP endpoints), or compact as
  /// json.Marshal (the system account's replies).
  enum class layout { indented, compact };
  explicit json_writer(layout how = layout::indented) : indented_(how == layout::indented) {}

  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  /// The next member's name (inside an object); its value follows.
  json_writer& key(std::string_view name);

  json_writer& value(std::string_view text);
  json_writer& value(const char* text) { return value(std::string_view(text)); }
  json_writer& value(const std::string& text) { return value(std::string_view(text)); }
  json_writer& value(bool flag);
  json_writer& value(std::int64_t number);
  json_writer& value(std::uint64_t number);
  json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
  json_writer& value(unsigned number) { return value(static_cast<std::uint64_t>(number)); }
  json_writer& value(long long number) { return value(static_cast<std::int64_t>(number)); }
  json_writer& value(unsigned long long number) { return value(static_cast<std::uint64_t>(number)); }
  json_writer& value(double number);
  json_writer& null();
  /// An empty object or array written in place (`{}`, `[]`).
  json_writer& empty_object() { return begin_object().end_object(); }
  json_writer& empty_array() { return begin_array().end_array(); }

  /// key(name).value(v), the common case.
  template <typename T>
  json_writer& member(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  /// The text so far (complete once every container is closed).
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  /// Appends `text` as a JSON string literal with Go's escapes.
  static void append_string(std::string& out, std::string_view text);

 private:
  /// Before a value: separator and indentation, unless it follows a key.
  void before_value();
  void newline_indent(std::size_t depth);

  std::string out_;
  std::vector<bool> has_members_;  // one per open container
  bool after_key_ = false;
  bool indented_ = true;
};

}  // namespace courier::monitor
