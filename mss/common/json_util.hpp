// JSON helpers shared by the handlers, the audit log and the envelope
// checks: strict whole-document parsing and UTF-8 validation.
#pragma once

#include <string>
#include <string_view>

#include <picojson.h>

namespace courier::mss {

/// Parses `text` as exactly one JSON document (surrounding whitespace
/// allowed, anything else after it is an error). Nesting is bounded by
/// picojson's depth limit (100), so hostile input cannot exhaust the stack.
bool parse_json_document(std::string_view text, picojson::value& out, std::string& error);

/// True when `text` is well-formed UTF-8 (no overlongs, no surrogates,
/// nothing above U+10FFFF).
bool valid_utf8(std::string_view text);

}  // namespace courier::mss
