#include "mss/common/template.hpp"

#include <cstdio>

namespace courier::mss {
namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string value_text(const picojson::value& value) {
  if (value.is<std::string>()) return value.get<std::string>();
  if (value.is<picojson::null>()) return {};
  if (value.is<bool>()) return value.get<bool>() ? "true" : "false";
  // Numbers, objects and arrays: their compact JSON form.
  return value.serialize(false);
}

void append_json_escaped(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void append_url_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
}

}  // namespace

bool has_line_break(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

const picojson::value* lookup_field(const picojson::value& root, const std::vector<std::string>& path) {
  const picojson::value* current = &root;
  for (const auto& segment : path) {
    if (current->is<picojson::object>()) {
      const auto& object = current->get<picojson::object>();
      auto it = object.find(segment);
      if (it == object.end()) return nullptr;
      current = &it->second;
    } else if (current->is<picojson::array>() && all_digits(segment)) {
      const auto& array = current->get<picojson::array>();
      if (segment.size() > 9) return nullptr;  // beyond any sane array size
      const std::size_t index = std::stoul(segment);
      if (index >= array.size()) return nullptr;
      current = &array[index];
    } else {
      return nullptr;
    }
  }
  return current;
}

bool text_template::parse(std::string_view source, std::string& error) {
  pieces_.clear();
  std::size_t position = 0;
  while (position < source.size()) {
    const std::size_t open = source.find("{{", position);
    if (open == std::string_view::npos) {
      pieces_.push_back({false, std::string(source.substr(position)), {}});
      break;
    }
    if (open > position) pieces_.push_back({false, std::string(source.substr(position, open - position)), {}});
    const std::size_t close = source.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = "unterminated '{{' at offset " + std::to_string(open);
      pieces_.clear();
      return false;
    }
    const std::string_view name = trim(source.substr(open + 2, close - open - 2));
    if (name.empty()) {
      error = "empty field reference at offset " + std::to_string(open);
      pieces_.clear();
      return false;
    }
    piece field{true, std::string(name), {}};
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = name.find('.', start);
      const std::string_view segment = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (segment.empty() || segment.find_first_of("{} \t\r\n") != std::string_view::npos) {
        error = "bad field reference '" + std::string(name) + "'";
        pieces_.clear();
        return false;
      }
      field.path.emplace_back(segment);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    pieces_.push_back(std::move(field));
    position = close + 2;
  }
  return true;
}

template_result text_template::render(const picojson::value& root, const render_options& options) const {
  template_result result;
  for (const auto& piece : pieces_) {
    if (!piece.is_field) {
      if (options.escape == template_escape::header && has_line_break(piece.text)) {
        result.error = "template text contains CR/LF in a header context";
        return result;
      }
      result.text += piece.text;
      continue;
    }
    const picojson::value* value = lookup_field(root, piece.path);
    if (value == nullptr) {
      if (options.missing == missing_field::error) {
        result.error = "missing field: " + piece.text;
        return result;
      }
      continue;
    }
    const std::string text = value_text(*value);
    switch (options.escape) {
      case template_escape::none: result.text += text; break;
      case template_escape::header:
        if (has_line_break(text)) {
          result.error = "field '" + piece.text + "' contains CR/LF, refused in a header";
          return result;
        }
        result.text += text;
        break;
      case template_escape::json: append_json_escaped(result.text, text); break;
      case template_escape::url: append_url_escaped(result.text, text); break;
    }
  }
  result.ok = true;
  return result;
}

std::vector<std::string> text_template::fields() const {
  std::vector<std::string> names;
  for (const auto& piece : pieces_)
    if (piece.is_field) names.push_back(piece.text);
  return names;
}

bool text_template::is_literal() const {
  for (const auto& piece : pieces_)
    if (piece.is_field) return false;
  return true;
}

template_result render_template(std::string_view source, const picojson::value& root,
                                const render_options& options) {
  text_template compiled;
  template_result result;
  if (!compiled.parse(source, result.error)) return result;
  return compiled.render(root, options);
}

}  // namespace courier::mss
