// Errors from reading configuration: where (file, line, column) and what.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace courier::conf {

/// A place in a configuration source. Lines and columns count from 1;
/// columns count bytes. (nats-server 2.9.10 prints column 0 for keys on the
/// first line and 1-based columns elsewhere; we are 1-based everywhere.)
struct source_position {
  std::string file;  ///< path as given, or a name for in-memory text; may be empty
  int line = 0;      ///< 1-based; 0 = unknown
  int column = 0;    ///< 1-based byte column; 0 = unknown

  /// "file:line:col", or "line:col" when there is no file name.
  std::string to_string() const;
};

/// One problem found in a configuration.
struct config_problem {
  source_position where;  ///< line 0 when the problem has no position
  std::string message;    ///< without the position prefix

  /// "file:line:col: message", the shape of nats-server's config errors.
  std::string to_string() const;
};

/// Thrown by the parser, the loader and the command line. Holds every
/// problem found (the loader reports all bad options at once, as
/// nats-server does); what() is one formatted problem per line.
class config_error : public std::runtime_error {
 public:
  /// A single problem at a position.
  config_error(source_position where, const std::string& message);
  /// A problem with no position (a flag, a missing file...).
  explicit config_error(const std::string& message);
  /// Several problems; must not be empty.
  explicit config_error(std::vector<config_problem> problems);

  /// Every problem, in the order found (the loader sorts them by position).
  const std::vector<config_problem>& problems() const noexcept { return problems_; }

 private:
  static std::string join(const std::vector<config_problem>& problems);
  std::vector<config_problem> problems_;
};

}  // namespace courier::conf
