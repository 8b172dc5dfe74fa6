// Writing the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): the
// pieces the monitor's /metrics document and every metrics source
// (broker/metrics_sources.hpp) build their lines from, so that escaping and
// number formatting are done one way everywhere.
//
// A family is written as its "# HELP" and "# TYPE" lines followed by all
// of its samples; families must not repeat within one document.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace courier::broker::prometheus {

/// The metric types of the text format.
enum class metric_type { counter, gauge, histogram, untyped };

/// One label of a sample; the value is escaped when written.
struct label {
  std::string_view name;   ///< [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
  std::string_view value;  ///< any UTF-8 text
};

/// Appends `value` escaped for a label value (backslash, double quote, newline).
void append_label_value(std::string& out, std::string_view value);

/// Appends `text` escaped for a HELP line (backslash, newline).
void append_help_text(std::string& out, std::string_view text);

/// Appends a sample value: shortest round-trip decimal, "NaN", "+Inf", "-Inf".
void append_value(std::string& out, double value);

/// Appends "# HELP name help" and "# TYPE name type" lines.
void family(std::string& out, std::string_view name, metric_type type, std::string_view help);

/// Appends one sample line: name{labels} value.
void sample(std::string& out, std::string_view name, std::initializer_list<label> labels, double value);
/// The same with labels built at run time.
void sample(std::string& out, std::string_view name, const std::vector<label>& labels, double value);
/// Integer counters and gauges, written exactly (no rounding through double).
void sample(std::string& out, std::string_view name, std::initializer_list<label> labels, std::uint64_t value);
void sample(std::string& out, std::string_view name, const std::vector<label>& labels, std::uint64_t value);

/// Appends the samples of one histogram: name_bucket{labels,le=...} for
/// each bound and +Inf (cumulative), name_sum and name_count. `counts` has
/// one entry per bound plus the last for values above every bound; each
/// entry counts the observations in its bucket alone (not cumulative).
/// _count is the sum of `counts`, so it always equals the +Inf bucket.
void histogram(std::string& out, std::string_view name, const std::vector<label>& labels,
               const std::vector<double>& bounds, const std::vector<std::uint64_t>& counts, double sum);

}  // namespace courier::broker::prometheus
