// The nats-server configuration language, parsed into a picojson tree.
//
// Syntax (the facts come from nats-server 2.9.10's conf/lex.go and parse.go;
// the implementation is our own recursive descent):
//   key = value, key: value, key value          (top level: one per line, or
//                                                separated by ';' or ',')
//   block { k = v, k2 v2 }                      maps; entries split by
//                                                ',', ';' or newlines
//   list [1, 2, "x"]                            arrays split by ',' or newlines
//   # comment, // comment
//   "double quoted" with \t \n \r \" \\ \xHH escapes, 'single quoted' raw,
//   bare strings (end at whitespace, newline, ',', ';', ']' or '}')
//   true/false/yes/no/on/off (any case) are booleans when bare
//   integers with size suffixes: k=1000, kb/ki/kib=1024, m, mb, g, gb, t, tb,
//   p, pb, e, eb (any case); floats; 2006-01-02T15:04:05Z datetimes (kept as
//   strings: picojson has no time type); ( raw block ) ending with ')' alone
//   on its line
//   $name: a variable; looked up in the enclosing maps (innermost first,
//   keys defined before the reference), then in the environment, whose value
//   is parsed as a config value; undefined is an error. "$2a$..." (a bcrypt
//   hash) is a plain string.
//   include "file" / include file: a file relative to the including file's
//   directory, whose top-level keys are merged into the current map. It is
//   parsed on its own: it does not see the includer's variables.
//
// Deliberate differences from nats-server 2.9.10 (it accepts none of these
// inputs in a useful way, so no working config changes meaning):
//   - a number followed directly by ']' ends there ("[1, 2]" is two
//     integers; nats-server reads "2]" as a string and then fails);
//   - an unknown size suffix ("1kbb") and an integer that overflows after
//     its suffix are errors (nats-server drops the key, or wraps around);
//   - a key with no value before '}' is an error, and so is a quote opened
//     at the very end of the input (nats-server drops the key silently);
//   - an absolute include path is used as is (nats-server prefixes it with
//     the including file's directory);
//   - includes and environment variables may nest 16 deep (nats-server
//     recurses until it runs out of stack).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include <picojson.h>

#include "conf/config_error.hpp"

namespace courier::conf {

/// A parsed configuration: the value tree plus where each key was written.
///
/// Keys are addressed by paths: the keys from the top joined with '/', array
/// elements by their index ("authorization/users/0/user"). A '/' or '~'
/// inside a key is escaped as in JSON Pointer ("~1", "~0"); see
/// config_path().
struct config_document {
  /// Always an object: the top-level map.
  picojson::value root{picojson::object{}};
  /// Position of every key (and of every array element), by path. Keys
  /// inside a value copied from a $variable have no entry of their own.
  std::map<std::string, source_position> key_positions;
  /// Paths of keys whose value some $variable referenced. nats-server does
  /// not call such a top-level key an unknown option (it is a variable
  /// definition).
  std::set<std::string> used_variables;

  /// The position recorded for path, or null.
  const source_position* position_of(const std::string& path) const;
  /// The position of path or, failing that, of its nearest ancestor that has
  /// one (for values copied from variables); empty when none.
  source_position nearest_position(const std::string& path) const;
  /// Whether a $variable referenced the key at path.
  bool is_used_variable(const std::string& path) const { return used_variables.count(path) != 0; }
};

/// Parses a file. Includes are resolved relative to its directory.
/// Throws config_error (with file, line and column) on any error, including
/// a file that cannot be read.
config_document parse_config_file(const std::string& path);

/// Parses text. source_name names it in positions and errors (may be
/// empty); includes are resolved relative to base_dir.
config_document parse_config_string(std::string_view text, const std::string& source_name = "",
                                    const std::string& base_dir = ".");

/// The path of key under parent ("" for the top level).
std::string config_path(std::string_view parent, std::string_view key);
/// The path of element index of the array at parent.
std::string config_path(std::string_view parent, std::size_t index);

/// The name nats-server's messages use for a value's type ("string",
/// "int64", "float64", "bool", "map", "array"), for type-error messages.
std::string config_type_name(const picojson::value& value);

}  // namespace courier::conf
