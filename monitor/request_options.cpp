#include "monitor/request_options.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace courier::monitor {

namespace {

/// A parsed JSON value; numbers keep their text (Go reports it in errors).
struct json_member;
struct json_value {
  enum class type { null, boolean, number, string, array, object };
  type kind = type::null;
  bool flag = false;
  std::string text;  // number text or decoded string
  std::vector<json_value> items;
  // Not std::pair<std::string, json_value>: a pair needs a complete type
  // (clang with libstdc++ refuses it), a vector of a declared struct does not.
  std::vector<json_member> members;
};
struct json_member {
  std::string key;
  json_value value;
};

/// Go's quoteChar: a byte as the scanner names it in errors.
std::string quote_char(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  switch (c) {
    case '\a': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\n': return "'\\n'";
    case '\r': return "'\\r'";
    case '\t': return "'\\t'";
    case '\v': return "'\\v'";
    case '\\': return "'\\\\'";
    default: break;
  }
  char buffer[16];
  if (c < 0x20 || c == 0x7f) {
    std::snprintf(buffer, sizeof buffer, "'\\x%02x'", c);
  } else if (c >= 0x80 && (c < 0xa0 || c == 0xad)) {
    std::snprintf(buffer, sizeof buffer, "'\\u%04x'", c);  // Go: not printable
  } else if (c >= 0x80) {
    // string(byte) is the rune U+0080..U+00FF, printed as its UTF-8.
    buffer[0] = '\'';
    buffer[1] = static_cast<char>(0xc0 | (c >> 6));
    buffer[2] = static_cast<char>(0x80 | (c & 0x3f));
    buffer[3] = '\'';
    buffer[4] = 0;
  } else {
    buffer[0] = '\'';
    buffer[1] = static_cast<char>(c);
    buffer[2] = '\'';
    buffer[3] = 0;
  }
  return buffer;
}

/// A recursive-descent reader that fails as Go's scanner does (same
/// contexts, same words). Nesting is bounded like Go's (10000).
class reader {
 public:
  explicit reader(std::string_view text) : text_(text) {}

  /// The whole text as one value; false with error() set otherwise.
  bool read_document(json_value& out) {
    skip_space();
    if (!read_value(out, 0)) return false;
    skip_space();
    if (pos_ < text_.size()) return fail("after top-level value");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  static constexpr int max_depth = 10000;

  bool at_end() const { return pos_ >= text_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(text_[pos_]); }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r' || peek() == '\n')) ++pos_;
  }
  /// An invalid character at pos_ in `context`; at the end of the input,
  /// "unexpected end of JSON input".
  bool fail(std::string_view context) {
    if (at_end()) {
      error_ = "unexpected end of JSON input";
    } else {
      error_ = "invalid character " + quote_char(peek()) + " " + std::string(context);
    }
    return false;
  }
  /// As fail(), inside a token that cannot end here (a literal, a number
  /// awaiting a digit, an escape): Go's scanner ends the input by stepping
  /// a space, which such a state rejects as "invalid character ' ' ...".
  bool fail_in_token(std::string_view context) {
    error_ = "invalid character " + (at_end() ? std::string("' '") : quote_char(peek())) + " " + std::string(context);
    return false;
  }

  bool read_value(json_value& out, int depth) {
    if (at_end()) return fail("");
    const unsigned char c = peek();
    switch (c) {
      case '{': return read_object(out, depth + 1);
      case '[': return read_array(out, depth + 1);
      case '"':
        out.kind = json_value::type::string;
        return read_string(out.text);
      case 't': out.kind = json_value::type::boolean; out.flag = true; return read_literal("true");
      case 'f': out.kind = json_value::type::boolean; return read_literal("false");
      case 'n': out.kind = json_value::type::null; return read_literal("null");
      default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      out.kind = json_value::type::number;
      return read_number(out.text);
    }
    return fail("looking for beginning of value");
  }

  bool read_literal(std::string_view word) {
    ++pos_;  // the first letter, already seen
    for (std::size_t i = 1; i < word.size(); ++i, ++pos_) {
      if (at_end() || peek() != static_cast<unsigned char>(word[i])) {
        return fail_in_token("in literal " + std::string(word) + " (expecting " +
                             quote_char(static_cast<unsigned char>(word[i])) + ")");
      }
    }
    return true;
  }

  bool read_number(std::string& out) {
    const std::size_t start = pos_;
    auto digit = [this] { return !at_end() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') {
      ++pos_;
      if (!digit()) return fail_in_token("in numeric literal");
    }
    if (peek() == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digit()) return fail_in_token("after decimal point in numeric literal");
      while (digit()) ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) return fail_in_token("in exponent of numeric literal");
      while (digit()) ++pos_;
    }
    out.assign(text_.substr(start, pos_ - start));
    return true;
  }

  static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static void append_utf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }
  bool read_hex4(std::uint32_t& code) {
    code = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const int v = at_end() ? -1 : hex_value(peek());
      if (v < 0) return fail_in_token("in \\u hexadecimal character escape");
      code = code * 16 + static_cast<std::uint32_t>(v);
    }
    return true;
  }

  bool read_string(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (at_end()) return fail("");
      const unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("in string literal");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) return fail_in_token("in string escape code");
      const unsigned char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t code = 0;
          if (!read_hex4(code)) return false;
          // A surrogate pair makes one code point; a lone half is U+FFFD.
          if (code >= 0xd800 && code < 0xdc00 && text_.substr(pos_, 2) == "\\u") {
            const std::size_t mark = pos_;
            pos_ += 2;
            std::uint32_t low = 0;
            if (!read_hex4(low)) return false;
            if (low >= 0xdc00 && low < 0xe000) {
              code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
            } else {
              pos_ = mark;
              code = 0xfffd;
            }
          } else if (code >= 0xd800 && code < 0xe000) {
            code = 0xfffd;
          }
          append_utf8(out, code);
          break;
        }
        default:
          --pos_;
          return fail("in string escape code");
      }
    }
  }

  bool read_object(json_value& out, int depth) {
    if (depth > max_depth) {
      error_ = "exceeded max depth";
      return false;
    }
    out.kind = json_value::type::object;
    ++pos_;  // {
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      if (at_end() || peek() != '"') return fail("looking for beginning of object key string");
      std::string key;
      if (!read_string(key)) return false;
      skip_space();
      if (at_end() || peek() != ':') return fail("after object key");
      ++pos_;
      skip_space();
      json_value member;
      if (!read_value(member, depth)) return false;
      out.members.push_back({std::move(key), std::move(member)});
      skip_space();
      if (!at_end() && peek() == ',') {
        ++pos_;
        skip_space();
        continue;
      }
      if (!at_end() && peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("after object key:value pair");
    }
  }

  bool read_array(json_value& out, int depth) {
    if (depth > max_depth) {
      error_ = "exceeded max depth";
      return false;
    }
    out.kind = json_value::type::array;
    ++pos_;  // [
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      json_value item;
      if (!read_value(item, depth)) return false;
      out.items.push_back(std::move(item));
      skip_space();
      if (!at_end() && peek() == ',') {
        ++pos_;
        skip_space();
        continue;
      }
      if (!at_end() && peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("after array element");
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

/// Go's name for a JSON value's kind in UnmarshalTypeError.
const char* kind_name(const json_value& v) {
  switch (v.kind) {
    case json_value::type::null: return "null";
    case json_value::type::boolean: return "bool";
    case json_value::type::number: return "number";
    case json_value::type::string: return "string";
    case json_value::type::array: return "array";
    case json_value::type::object: return "object";
  }
  return "value";
}

bool equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

/// A JSON number as Go's strconv.ParseInt/ParseUint would take it for an
/// integer field: no fraction, no exponent, in range.
template <typename T>
bool integer_text(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::string go_json_syntax_error(std::string_view text) {
  reader in(text);
  json_value value;
  return in.read_document(value) ? std::string() : in.error();
}

std::string decoded_options::get(std::string_view json_name) const {
  for (const auto& [name, value] : values) {
    if (name == json_name) return value;
  }
  return {};
}

bool decoded_options::has(std::string_view json_name) const {
  for (const auto& [name, value] : values) {
    if (name == json_name) return true;
  }
  return false;
}

decoded_options decode_json_options(std::string_view body, std::string_view struct_name,
                                    std::span<const json_option> fields) {
  decoded_options out;
  if (body.empty()) return out;
  reader in(body);
  json_value document;
  if (!in.read_document(document)) {
    out.error = in.error();
    return out;
  }
  if (document.kind == json_value::type::null) return out;
  if (document.kind != json_value::type::object) {
    out.error = "json: cannot unmarshal " + std::string(kind_name(document)) + " into Go value of type server." +
                std::string(struct_name);
    return out;
  }
  auto type_error = [&](std::string what, const json_option& field, std::string_view go_type) {
    // Go keeps decoding after a type error and reports the first one.
    if (out.error.empty()) {
      out.error = "json: cannot unmarshal " + what + " into Go struct field " + std::string(struct_name) + "." +
                  std::string(field.json_name) + " of type " + std::string(go_type);
    }
  };
  auto set = [&out](std::string_view name, std::string value) {
    for (auto& [existing, old] : out.values) {
      if (existing == name) {
        old = std::move(value);  // a repeated key: the last one wins, as in Go
        return;
      }
    }
    out.values.emplace_back(std::string(name), std::move(value));
  };
  for (const auto& [key, value] : document.members) {
    // Go prefers an exact match, then a case-insensitive one.
    const json_option* field = nullptr;
    for (const auto& f : fields) {
      if (f.json_name == key) field = &f;
    }
    for (const auto& f : fields) {
      if (!field && equal_fold(f.json_name, key)) field = &f;
    }
    if (!field || value.kind == json_value::type::null) continue;
    switch (field->type) {
      case json_option::kind::boolean:
        if (value.kind != json_value::type::boolean) {
          type_error(kind_name(value), *field, field->go_type);
        } else {
          set(field->json_name, value.flag ? "true" : "false");
        }
        break;
      case json_option::kind::signed_integer: {
        std::int64_t number = 0;
        if (value.kind != json_value::type::number) {
          type_error(kind_name(value), *field, field->go_type);
        } else if (!integer_text(value.text, number) ||
                   (field->go_type != "int64" && (number > std::numeric_limits<std::int64_t>::max()))) {
          type_error("number " + value.text, *field, field->go_type);
        } else {
          set(field->json_name, std::to_string(number));
        }
        break;
      }
      case json_option::kind::unsigned_integer: {
        std::uint64_t number = 0;
        if (value.kind != json_value::type::number) {
          type_error(kind_name(value), *field, field->go_type);
        } else if (!integer_text(value.text, number)) {
          type_error("number " + value.text, *field, field->go_type);
        } else {
          set(field->json_name, std::to_string(number));
        }
        break;
      }
      case json_option::kind::text:
        if (value.kind != json_value::type::string) {
          type_error(kind_name(value), *field, field->go_type);
        } else {
          set(field->json_name, value.text);
        }
        break;
      case json_option::kind::text_list: {
        if (value.kind != json_value::type::array) {
          type_error(kind_name(value), *field, field->go_type);
          break;
        }
        std::string joined;
        bool good = true;
        for (const auto& item : value.items) {
          if (item.kind == json_value::type::null) continue;
          if (item.kind != json_value::type::string) {
            type_error(kind_name(item), *field, "string");
            good = false;
            continue;
          }
          if (!joined.empty()) joined += ',';
          joined += item.text;
        }
        if (good) set(field->json_name, joined);
        break;
      }
    }
  }
  return out;
}

}  // namespace courier::monitor
