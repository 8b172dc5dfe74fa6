#include "conf/config_parser.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "conf/ascii.hpp"

namespace courier::conf {

namespace {

/// Maps and arrays nested deeper than this are refused, so that hostile
/// input cannot exhaust the stack (each level costs a few frames).
constexpr int max_nesting = 200;
/// Includes and environment variables whose values refer to further
/// variables nest at most this deep (nats-server has no limit and recurses
/// forever on a file that includes itself).
constexpr int max_source_depth = 16;

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_newline(char c) { return c == '\n' || c == '\r'; }
/// The whitespace nats-server's lexer skips between tokens (Go's
/// unicode.IsSpace, restricted to ASCII).
bool is_space(char c) { return is_blank(c) || is_newline(c) || c == '\v' || c == '\f'; }
bool is_size_suffix(char c) {
  switch (c) {
    case 'k': case 'K': case 'm': case 'M': case 'g': case 'G':
    case 't': case 'T': case 'p': case 'P': case 'e': case 'E':
      return true;
    default:
      return false;
  }
}

/// A character as error messages show it: newlines escaped, like
/// nats-server's escapeSpecial.
std::string shown(char c) {
  switch (c) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\0': return "EOF";
    default: return std::string(1, c);
  }
}

std::string read_whole_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "open " + path + ": " + std::strerror(errno);
    return {};
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = "read " + path + ": " + std::strerror(errno);
    return {};
  }
  return buffer.str();
}

/// One source (a file, a string, or an environment variable's value) being
/// parsed into a config_document. Recursive descent over a byte cursor; the
/// scope stack holds the maps being built, for $variable lookups.
class parser {
 public:
  parser(std::string_view text, std::string source_name, std::string base_dir, int source_depth,
         config_document& out)
      : text_(text),
        source_name_(std::move(source_name)),
        base_dir_(std::move(base_dir)),
        source_depth_(source_depth),
        out_(out) {}

  void parse_document() {
    auto& root = out_.root.get<picojson::object>();
    scopes_.push_back({&root, ""});
    for (;;) {
      skip_top_level_filler();
      if (at_end()) break;
      parse_entry(root, "", /*in_map=*/false, 0);
      finish_top_level_value();
    }
    scopes_.pop_back();
  }

 private:
  struct mark {
    std::size_t pos;
    int line;
    std::size_t line_start;
  };
  struct scope {
    picojson::object* map;
    std::string path;
  };

  // --- cursor ---------------------------------------------------------------

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  char get() {
    char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      line_start_ = pos_;
    }
    return c;
  }
  mark here() const { return {pos_, line_, line_start_}; }
  source_position position(const mark& m) const {
    return {source_name_, m.line, static_cast<int>(m.pos - m.line_start) + 1};
  }
  [[noreturn]] void fail(const mark& m, const std::string& message) const {
    throw config_error(position(m), message);
  }
  [[noreturn]] void fail_here(const std::string& message) const { fail(here(), message); }

  void skip_blanks() {
    while (!at_end() && is_blank(peek())) get();
  }
  void skip_spaces() {
    while (!at_end() && is_space(peek())) get();
  }
  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }
  /// Skips a comment up to, not including, the end of its line.
  void skip_comment() {
    while (!at_end() && !is_newline(peek())) get();
  }
  /// Whitespace, newlines and comments, as between map entries and array
  /// elements.
  void skip_spaces_and_comments() {
    for (;;) {
      skip_spaces();
      if (!at_comment()) return;
      skip_comment();
    }
  }
  /// Before a top-level key: also skips '{', so that a JSON document (one
  /// big map) reads as a config file, as it does for nats-server. Its final
  /// '}' ends the last value, or is a key with no value at the end of the
  /// input (dropped, see parse_entry).
  void skip_top_level_filler() {
    for (;;) {
      skip_spaces_and_comments();
      if (peek() == '{') {
        get();
        continue;
      }
      return;
    }
  }

  // --- entries --------------------------------------------------------------

  /// key [sep] value, or an include directive, into map (whose path is
  /// map_path). Leaves the cursor after the value.
  void parse_entry(picojson::object& map, const std::string& map_path, bool in_map, int depth) {
    const mark key_mark = here();
    std::string key;
    char c = peek();
    if (c == '=' || c == ':') fail_here(std::string("Unexpected key separator '") + c + "'.");
    if (in_map && c == ']') fail_here("Unexpected array end ']' processing map.");
    if (c == '"' || c == '\'') {
      const char quote = get();
      const std::size_t start = pos_;
      while (!at_end() && peek() != quote) get();
      if (at_end()) fail_here(in_map ? "Unexpected EOF processing quoted map key." : "Unexpected EOF.");
      key.assign(text_.substr(start, pos_ - start));
      get();
    } else {
      const std::size_t start = pos_;
      while (!at_end() && !is_space(peek()) && peek() != '=' && peek() != ':') get();
      key.assign(text_.substr(start, pos_ - start));
      if (at_end() && in_map) fail_here("Unexpected EOF processing map key.");
      // `include` is a keyword only when bare and followed by whitespace.
      if (!at_end() && is_space(peek()) && ascii_lower(key) == "include") {
        parse_include(map, map_path, key_mark);
        return;
      }
    }

    skip_spaces();  // a separator may follow on a later line
    if (at_end()) {
      // nats-server drops a top-level key that ends the input; a JSON file
      // ending in "}" relies on that.
      if (!in_map) return;
      fail_here("Unexpected EOF processing map.");
    }
    if (peek() == '=' || peek() == ':') get();
    if (in_map) {
      skip_spaces();
      if (peek() == ',') fail_here("Unexpected map value terminator ','.");
      if (peek() == '}') fail_here("Expected a value for key '" + key + "'.");
      if (at_end()) fail_here("Unexpected EOF processing map.");
    } else {
      skip_blanks();
      if (is_newline(peek())) fail_here("Expected value but found new line");
    }
    const std::string path = config_path(map_path, key);
    forget_subtree(path);  // a redefinition drops the old value's positions
    picojson::value value = parse_value(path, depth);
    set_entry(map, key, path, std::move(value), position(key_mark));
  }

  void set_entry(picojson::object& map, const std::string& key, const std::string& path,
                 picojson::value value, source_position where) {
    map[key] = std::move(value);
    out_.key_positions[path] = std::move(where);
  }

  /// A redefined key loses the positions recorded under its old value.
  void forget_subtree(const std::string& path) {
    const std::string prefix = path + '/';
    auto it = out_.key_positions.lower_bound(prefix);
    while (it != out_.key_positions.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
      it = out_.key_positions.erase(it);
    }
  }

  /// After a top-level value: blanks and a comment, then a newline, ';', ','
  /// or '}' (or the end).
  void finish_top_level_value() {
    skip_blanks();
    if (at_comment()) skip_comment();
    if (at_end()) return;
    const char c = peek();
    if (is_newline(c) || c == ';' || c == ',' || c == '}') {
      get();
      return;
    }
    fail_here("Expected a top-level value to end with a new line, comment or EOF, but got '" + shown(c) +
              "' instead.");
  }

  // --- include --------------------------------------------------------------

  void parse_include(picojson::object& map, const std::string& map_path, const mark& include_mark) {
    skip_blanks();
    const mark value_mark = here();
    std::string name;
    const char c = peek();
    if (at_end()) fail_here("Expected include value but found EOF");
    if (c == '\'' || c == '"') {
      get();
      const std::size_t start = pos_;
      while (!at_end() && peek() != c) get();
      if (at_end()) {
        fail(value_mark, c == '"' ? "Unexpected EOF in double quoted include" : "Unexpected EOF in quoted include");
      }
      name.assign(text_.substr(start, pos_ - start));
      get();
    } else if (c == '[') {
      fail_here("Expected include value but found start of an array");
    } else if (c == '{') {
      fail_here("Expected include value but found start of a map");
    } else if (c == '(') {
      fail_here("Expected include value but found start of a block");
    } else if (is_digit(c) || c == '-') {
      fail_here("Expected include value but found start of a number");
    } else if (c == '\\') {
      fail_here("Expected include value but found escape sequence");
    } else if (is_newline(c)) {
      fail_here("Expected include value but found new line");
    } else {
      const std::size_t start = pos_;
      while (!at_end() && !is_newline(peek()) && peek() != ';' && peek() != '}' && !is_blank(peek()) &&
             peek() != '\'') {
        get();
      }
      name.assign(text_.substr(start, pos_ - start));
      if (peek() == '\'') get();
    }

    if (source_depth_ + 1 > max_source_depth) fail(include_mark, "include nesting too deep (a file includes itself?)");
    std::filesystem::path file(name);
    if (file.is_relative()) file = std::filesystem::path(base_dir_) / file;
    std::string error;
    std::error_code status_error;
    const auto status = std::filesystem::status(file, status_error);
    // A device or a pipe (/dev/zero) could be read forever.
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      fail(value_mark, "error parsing include file '" + name + "', " + file.string() + " is not a regular file");
    }
    const std::string text = read_whole_file(file.string(), error);
    if (!error.empty()) fail(value_mark, "error parsing include file '" + name + "', " + error);

    config_document included;
    parser nested(text, file.string(), file.parent_path().string(), source_depth_ + 1, included);
    nested.parse_document();

    // Merge its top-level keys into the current map, keeping their own
    // positions (in the included file).
    for (auto& [key, value] : included.root.get<picojson::object>()) {
      const std::string path = config_path(map_path, key);
      forget_subtree(path);
      map[key] = std::move(value);
    }
    for (auto& [path, where] : included.key_positions) {
      out_.key_positions[map_path.empty() ? path : map_path + '/' + path] = std::move(where);
    }
    for (const auto& path : included.used_variables) {
      out_.used_variables.insert(map_path.empty() ? path : map_path + '/' + path);
    }
  }

  // --- values ---------------------------------------------------------------

  picojson::value parse_value(const std::string& path, int depth) {
    skip_blanks();
    if (at_end()) return picojson::value(std::string());  // `key =` at the very end: ""
    const mark start = here();
    const char c = peek();
    switch (c) {
      case '[':
        return parse_array(path, depth + 1);
      case '{':
        return parse_map(path, depth + 1);
      case '\'': {
        get();
        const std::size_t from = pos_;
        while (!at_end() && peek() != '\'') get();
        if (at_end()) fail_here("Unexpected EOF.");
        std::string text(text_.substr(from, pos_ - from));
        get();
        return picojson::value(std::move(text));
      }
      case '"':
        get();
        return picojson::value(read_double_quoted());
      case '-':
        return parse_negative_number(start);
      case '(':
        return parse_block();
      case '.':
        fail_here("Floats must start with a digit");
      default:
        break;
    }
    if (is_newline(c)) fail_here("Expected value but found new line");
    if (is_digit(c)) return parse_number_or_string(start);
    return parse_bare(start, path);
  }

  picojson::value parse_array(const std::string& path, int depth) {
    if (depth > max_nesting) fail_here("nesting too deep");
    get();  // '['
    picojson::array array;
    for (;;) {
      skip_spaces_and_comments();
      if (at_end()) fail_here("Unexpected EOF processing array.");
      if (peek() == ',') fail_here("Unexpected array value terminator ','.");
      if (peek() == ']') {
        get();
        break;
      }
      const mark element_mark = here();
      const std::string element_path = config_path(path, array.size());
      forget_subtree(element_path);
      array.push_back(parse_value(element_path, depth));
      out_.key_positions[element_path] = position(element_mark);

      skip_blanks();
      if (at_comment()) skip_comment();
      if (at_end()) fail_here("Unexpected EOF processing array.");
      const char c = peek();
      if (c == ',' || is_newline(c)) {
        get();
        continue;
      }
      if (c == ']') {
        get();
        break;
      }
      fail_here("Expected an array value terminator \",\" or an array terminator \"]\", but got '" + shown(c) +
                "' instead.");
    }
    return picojson::value(std::move(array));
  }

  picojson::value parse_map(const std::string& path, int depth) {
    if (depth > max_nesting) fail_here("nesting too deep");
    get();  // '{'
    picojson::value result{picojson::object{}};
    auto& map = result.get<picojson::object>();
    scopes_.push_back({&map, path});
    for (;;) {
      skip_spaces_and_comments();
      if (at_end()) fail_here("Unexpected EOF processing map.");
      if (peek() == '}') {
        get();
        break;
      }
      parse_entry(map, path, /*in_map=*/true, depth);

      skip_blanks();
      if (at_comment()) skip_comment();
      if (at_end()) fail_here("Unexpected EOF processing map.");
      const char c = peek();
      if (c == ',' || c == ';' || is_newline(c)) {
        get();
        continue;
      }
      if (c == '}') {
        get();
        break;
      }
      fail_here("Expected a map value terminator \",\" or a map terminator \"}\", but got '" + shown(c) +
                "' instead.");
    }
    scopes_.pop_back();
    return result;
  }

  /// After the opening '"': up to the closing quote, with escapes.
  std::string read_double_quoted() {
    std::string text;
    for (;;) {
      if (at_end()) fail_here("Unexpected EOF.");
      const char c = get();
      if (c == '"') return text;
      if (c == '\\') {
        read_escape(text);
        continue;
      }
      text.push_back(c);
    }
  }

  /// After a backslash, in a double-quoted or bare string.
  void read_escape(std::string& text) {
    const mark m = here();
    const char c = at_end() ? '\0' : get();
    switch (c) {
      case 't': text.push_back('\t'); return;
      case 'n': text.push_back('\n'); return;
      case 'r': text.push_back('\r'); return;
      case '"': text.push_back('"'); return;
      case '\\': text.push_back('\\'); return;
      case 'x': {
        char digits[2];
        for (char& d : digits) {
          if (at_end() || is_newline(peek())) {
            fail_here("Expected two hexadecimal digits after '\\x', but hit end of line");
          }
          d = get();
        }
        int value = 0;
        for (char d : digits) {
          value *= 16;
          if (is_digit(d)) value += d - '0';
          else if (d >= 'a' && d <= 'f') value += d - 'a' + 10;
          else if (d >= 'A' && d <= 'F') value += d - 'A' + 10;
          else fail(m, std::string("Expected two hexadecimal digits after '\\x', but got '") + digits[0] + digits[1] + "'");
        }
        text.push_back(static_cast<char>(value));
        return;
      }
      default:
        fail(m, "Invalid escape character '" + shown(c) +
                    "'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.");
    }
  }

  /// Whether c ends a bare string.
  static bool ends_bare(char c) {
    return c == '\0' || is_newline(c) || is_blank(c) || c == ';' || c == ',' || c == ']' || c == '}';
  }
  /// Whether c ends a number. nats-server does not count ']' (so "[1, 2]"
  /// fails there); we do.
  static bool ends_number(char c) {
    return c == '\0' || is_newline(c) || is_blank(c) || c == ';' || c == ',' || c == ']' || c == '}';
  }

  /// Reads a bare string from the cursor to its end; appends to text.
  /// Returns whether it contained escapes. A single quote ends it and is
  /// consumed (as in nats-server).
  bool read_bare(std::string& text) {
    bool escaped = false;
    while (!ends_bare(peek()) || (peek() == '\0' && !at_end())) {
      const char c = get();
      if (c == '\\') {
        read_escape(text);
        escaped = true;
        continue;
      }
      if (c == '\'') break;
      text.push_back(c);
    }
    return escaped;
  }

  /// A bare word: a boolean, a $variable or a string.
  picojson::value parse_bare(const mark& start, const std::string& path) {
    std::string text;
    const bool escaped = read_bare(text);
    if (!escaped) {
      const std::string lower = ascii_lower(text);
      if (lower == "true" || lower == "yes" || lower == "on") return picojson::value(true);
      if (lower == "false" || lower == "no" || lower == "off") return picojson::value(false);
      if (!text.empty() && text[0] == '$') return resolve_variable(text.substr(1), start, path);
    }
    return picojson::value(std::move(text));
  }

  /// Starts at a digit: an integer (perhaps with a size suffix), a float, a
  /// datetime, an address like 127.0.0.1:4222, or a string such as "2s".
  picojson::value parse_number_or_string(const mark& start) {
    while (is_digit(peek())) get();
    const char c = peek();
    if (c == '-') {
      if (pos_ - start.pos != 4) fail_here("All ISO8601 dates must be in full Zulu form.");
      return parse_datetime(start);
    }
    if (c == '.') return parse_fraction(start);
    if (is_size_suffix(c)) return parse_size_suffix(start);
    if (ends_number(c)) return make_integer(start);
    return continue_as_string(start);
  }

  /// After '-': digits must follow.
  picojson::value parse_negative_number(const mark& start) {
    get();
    const char c = peek();
    if (!is_digit(c)) {
      if (c == '.') fail_here("Floats must start with a digit, not '.'.");
      fail_here("Expected a digit but got '" + shown(c) + "'.");
    }
    while (is_digit(peek())) get();
    if (peek() == '.') return parse_fraction(start);
    if (is_size_suffix(peek())) return parse_size_suffix(start);
    return make_integer(start);
  }

  /// At the '.' after the integer part: a float, or (a second '.') an IP
  /// address kept as a string.
  picojson::value parse_fraction(const mark& start) {
    get();
    if (!is_digit(peek())) {
      fail_here("Floats must have a digit after the '.', but got '" + shown(peek()) + "' instead.");
    }
    while (is_digit(peek())) get();
    if (peek() == '.') {
      while (is_digit(peek()) || peek() == '.' || peek() == ':' || peek() == '-') get();
      return picojson::value(std::string(text_.substr(start.pos, pos_ - start.pos)));
    }
    const std::string_view digits = text_.substr(start.pos, pos_ - start.pos);
    double number = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (error == std::errc::result_out_of_range || !std::isfinite(number)) {
      fail(start, "float '" + std::string(digits) + "' is out of the range");
    }
    if (error != std::errc() || end != digits.data() + digits.size()) {
      fail(start, "expected float, but got '" + std::string(digits) + "'");
    }
    return picojson::value(number);
  }

  /// At a size suffix letter: k, kb, kib, ki, ... An integer if the word
  /// ends here, else the whole word is a string ("500ms").
  picojson::value parse_size_suffix(const mark& start) {
    get();
    while (peek() == 'b' || peek() == 'B' || peek() == 'i' || peek() == 'I') get();
    if (ends_number(peek()) || is_digit(peek())) return make_integer(start);
    return continue_as_string(start);
  }

  /// The word that began at start turned out not to be a number.
  picojson::value continue_as_string(const mark& start) {
    std::string text(text_.substr(start.pos, pos_ - start.pos));
    read_bare(text);
    return picojson::value(std::move(text));
  }

  /// Converts text_[start, pos_): digits with an optional sign and size
  /// suffix.
  picojson::value make_integer(const mark& start) {
    const std::string_view word = text_.substr(start.pos, pos_ - start.pos);
    std::size_t digits_end = 0;
    while (digits_end < word.size() && (is_digit(word[digits_end]) || word[digits_end] == '-')) ++digits_end;
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(word.data(), word.data() + digits_end, number);
    if (error == std::errc::result_out_of_range) fail(start, "integer '" + std::string(word) + "' is out of the range");
    if (error != std::errc() || end != word.data() + digits_end) {
      fail(start, "expected integer, but got '" + std::string(word) + "'");
    }
    const std::string suffix = ascii_lower(word.substr(digits_end));
    if (suffix.empty()) return picojson::value(number);

    // k/m/g/t/p/e are powers of 1000; with b, i or ib, powers of 1024.
    static constexpr std::string_view letters = "kmgtpe";
    const std::size_t power = letters.find(suffix[0]) + 1;
    std::int64_t base = 0;
    const std::string_view rest = std::string_view(suffix).substr(1);
    if (rest.empty()) base = 1000;
    else if (rest == "b" || rest == "i" || rest == "ib") base = 1024;
    else fail(start, "expected integer, but got '" + std::string(word) + "'");
    for (std::size_t i = 0; i < power; ++i) {
      if (number > std::numeric_limits<std::int64_t>::max() / base ||
          number < std::numeric_limits<std::int64_t>::min() / base) {
        fail(start, "integer '" + std::string(word) + "' is out of the range");
      }
      number *= base;
    }
    return picojson::value(number);
  }

  /// At the '-' after a four-digit year: "YYYY-MM-DDTHH:MM:SSZ", kept as a
  /// string.
  picojson::value parse_datetime(const mark& start) {
    get();  // '-'
    static constexpr std::string_view shape = "00-00T00:00:00Z";
    for (char expected : shape) {
      const char c = at_end() ? '\0' : peek();
      if (expected == '0') {
        if (!is_digit(c)) fail_here("Expected digit in ISO8601 datetime, but found '" + shown(c) + "' instead.");
      } else if (c != expected) {
        fail_here(std::string("Expected '") + expected + "' in ISO8601 datetime, but found '" + shown(c) +
                  "' instead.");
      }
      get();
    }
    const std::string text(text_.substr(start.pos, pos_ - start.pos));
    auto field = [&](std::size_t at) { return (text[at] - '0') * 10 + (text[at + 1] - '0'); };
    const int month = field(5), day = field(8), hour = field(11), minute = field(14), second = field(17);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
      fail(start, "expected Zulu formatted DateTime, but got '" + text + "'");
    }
    return picojson::value(text);
  }

  /// At '(': raw text up to a line holding only ')'.
  picojson::value parse_block() {
    const mark open = here();
    get();
    const std::size_t from = pos_;
    for (;;) {
      if (at_end()) fail(open, "Unexpected EOF processing block.");
      const char c = get();
      if (c == ')' && pos_ >= 2 && text_[pos_ - 2] == '\n' && (at_end() || peek() == '\n')) {
        return picojson::value(std::string(text_.substr(from, pos_ - 1 - from)));
      }
    }
  }

  // --- variables ------------------------------------------------------------

  picojson::value resolve_variable(const std::string& name, const mark& at, const std::string& path) {
    (void)path;
    // A bcrypt hash ("$2a$11$...") is not a variable.
    if (name.rfind("2a$", 0) == 0) return picojson::value("$" + name);

    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = it->map->find(name);
      if (found != it->map->end()) {
        out_.used_variables.insert(config_path(it->path, name));
        return found->second;
      }
    }
    if (const char* env = std::getenv(name.c_str())) {
      if (source_depth_ + 1 > max_source_depth) {
        fail(at, "variable reference for '" + name + "' could not be parsed: nesting too deep");
      }
      config_document parsed;
      const std::string text = std::string("pk=") + env;
      try {
        parser nested(text, "", base_dir_, source_depth_ + 1, parsed);
        nested.parse_document();
      } catch (const config_error& e) {
        fail(at, "variable reference for '" + name + "' could not be parsed: " + e.problems().front().message);
      }
      const auto& map = parsed.root.get<picojson::object>();
      auto found = map.find("pk");
      if (found != map.end()) return found->second;
    }
    fail(at, "variable reference for '" + name + "' can not be found");
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::size_t line_start_ = 0;
  std::string source_name_;
  std::string base_dir_;
  int source_depth_;
  config_document& out_;
  std::vector<scope> scopes_;
};

void escape_key_into(std::string& out, std::string_view key) {
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
}

}  // namespace

const source_position* config_document::position_of(const std::string& path) const {
  auto it = key_positions.find(path);
  return it == key_positions.end() ? nullptr : &it->second;
}

source_position config_document::nearest_position(const std::string& path) const {
  std::string current = path;
  for (;;) {
    if (const auto* where = position_of(current)) return *where;
    const auto slash = current.rfind('/');
    if (slash == std::string::npos) return {};
    current.resize(slash);
  }
}

config_document parse_config_file(const std::string& path) {
  std::string error;
  const std::string text = read_whole_file(path, error);
  if (!error.empty()) throw config_error("error opening config file: " + error);
  config_document document;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  parser p(text, path, dir.empty() ? "." : dir, 0, document);
  p.parse_document();
  return document;
}

config_document parse_config_string(std::string_view text, const std::string& source_name,
                                     const std::string& base_dir) {
  config_document document;
  parser p(text, source_name, base_dir, 0, document);
  p.parse_document();
  return document;
}

std::string config_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out.push_back('/');
  escape_key_into(out, key);
  return out;
}

std::string config_path(std::string_view parent, std::size_t index) {
  std::string out(parent);
  if (!out.empty()) out.push_back('/');
  out += std::to_string(index);
  return out;
}

std::string config_type_name(const picojson::value& value) {
  if (value.is<picojson::null>()) return "nil";
  if (value.is<bool>()) return "bool";
  if (value.is<std::int64_t>()) return "int64";
  if (value.is<double>()) return "float64";
  if (value.is<std::string>()) return "string";
  if (value.is<picojson::array>()) return "array";
  return "map";
}

}  // namespace courier::conf
