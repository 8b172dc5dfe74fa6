#include "broker/prometheus_text.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

namespace courier::broker::prometheus {
namespace {

const char* type_name(metric_type type) {
  switch (type) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    case metric_type::untyped: return "untyped";
  }
  return "untyped";
}

template <typename Labels>
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.size() == 0 && extra_name.empty()) return;
  out += '{';
  bool first = true;
  const auto one = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  };
  for (const label& l : labels) one(l.name, l.value);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out += '}';
}

void append_integer(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

template <typename Labels>
void sample_line(std::string& out, std::string_view name, const Labels& labels, double value) {
  out += name;
  append_labels(out, labels);
  out += ' ';
  append_value(out, value);
  out += '\n';
}

template <typename Labels>
void sample_line(std::string& out, std::string_view name, const Labels& labels, std::uint64_t value) {
  out += name;
  append_labels(out, labels);
  out += ' ';
  append_integer(out, value);
  out += '\n';
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void append_help_text(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    assert(result.ec == std::errc());
    out.append(buffer, result.ptr);
  }
}

void family(std::string& out, std::string_view name, metric_type type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_help_text(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::initializer_list<label> labels, double value) {
  sample_line(out, name, labels, value);
}

void sample(std::string& out, std::string_view name, const std::vector<label>& labels, double value) {
  sample_line(out, name, labels, value);
}

void sample(std::string& out, std::string_view name, std::initializer_list<label> labels, std::uint64_t value) {
  sample_line(out, name, labels, value);
}

void sample(std::string& out, std::string_view name, const std::vector<label>& labels, std::uint64_t value) {
  sample_line(out, name, labels, value);
}

void histogram(std::string& out, std::string_view name, const std::vector<label>& labels,
               const std::vector<double>& bounds, const std::vector<std::uint64_t>& counts, double sum) {
  assert(counts.size() == bounds.size() + 1);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    le.clear();
    if (i < bounds.size()) {
      append_value(le, bounds[i]);
    } else {
      le = "+Inf";
    }
    out += bucket;
    append_labels(out, labels, "le", le);
    out += ' ';
    append_integer(out, cumulative);
    out += '\n';
  }
  sample_line(out, std::string(name) + "_sum", labels, sum);
  sample_line(out, std::string(name) + "_count", labels, cumulative);
}

}  // namespace courier::broker::prometheus
