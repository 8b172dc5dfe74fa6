// A tiny text template engine for message-service handlers: `{{field}}` and
// `{{a.b.c}}` are replaced by values taken from a message's JSON object.
//
// Design choices (documented because handlers and config rely on them):
//  * Single pass. A substituted value is never expanded again, so a payload
//    field holding "{{secret}}" is inserted literally (no template injection).
//  * A missing field is an ERROR by default (the handler replies with a clear
//    error instead of sending "Hello ," mail); `missing_field::empty` opts into
//    substituting an empty string instead. JSON null always renders empty.
//  * Path segments are object keys; a segment made only of digits indexes an
//    array (`{{items.0.name}}`).
//  * Strings render raw, numbers in their JSON form, booleans as true/false,
//    objects and arrays as compact JSON.
//  * Whitespace inside the braces is ignored: `{{ user.name }}`.
//  * `{{` without a closing `}}` is a parse error; a lone `}}` is literal text.
//
// Escaping modes decide how a value is fitted into its context:
//  * `none`   - as is (mail bodies, plain text).
//  * `header` - for mail headers, HTTP header values, SMTP envelope fields: a
//               value containing CR, LF or NUL is REJECTED (render fails), so a
//               rendered header can never smuggle another header or command.
//               The literal template text is checked the same way.
//  * `json`   - the value is escaped as the inside of a JSON string literal
//               (for JSON body templates such as `{"text":"{{msg}}"}`).
//  * `url`    - the value is percent-encoded (RFC 3986 unreserved kept).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

namespace courier::mss {

/// How substituted values are fitted into the surrounding text.
enum class template_escape { none, header, json, url };

/// What a reference to a field absent from the message does.
enum class missing_field {
  error,  ///< rendering fails with "missing field: a.b" (the default)
  empty   ///< the reference renders as an empty string
};

/// Options for one render call.
struct render_options {
  template_escape escape = template_escape::none;  ///< context of the output
  missing_field missing = missing_field::error;    ///< policy for absent fields
};

/// Outcome of parsing or rendering: `ok` or a human-readable `error`.
struct template_result {
  bool ok = false;     ///< true when `text` holds the rendered output
  std::string text;    ///< rendered text (valid only when ok)
  std::string error;   ///< why it failed (empty when ok)
};

/// A parsed template: parse once at config load, render per message.
class text_template {
 public:
  /// Parses `source`. On failure returns false and sets `error`.
  bool parse(std::string_view source, std::string& error);

  /// Renders with values from `root` (normally the message's JSON object).
  template_result render(const picojson::value& root, const render_options& options = {}) const;

  /// The field paths referenced by the template, e.g. {"user.email"}.
  std::vector<std::string> fields() const;

  /// True when the template has no `{{...}}` references.
  bool is_literal() const;

 private:
  /// One piece of the template: literal text, or a field reference.
  struct piece {
    bool is_field = false;              ///< false: literal text
    std::string text;                   ///< literal text or the path as written
    std::vector<std::string> path;      ///< field path split on '.'
  };
  std::vector<piece> pieces_;
};

/// Convenience: parse and render in one call (tests, one-off uses).
template_result render_template(std::string_view source, const picojson::value& root,
                                const render_options& options = {});

/// Looks up `path` (already split on '.') in `root`; nullptr when absent.
const picojson::value* lookup_field(const picojson::value& root, const std::vector<std::string>& path);

/// True when `text` contains CR, LF or NUL (unsafe in a header line).
bool has_line_break(std::string_view text);

}  // namespace courier::mss
