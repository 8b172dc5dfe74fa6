#include "monitor/endpoints.hpp"

#include <charconv>

namespace courier::monitor {

void request_counts::count(const std::string& path) {
  std::lock_guard lock(mutex_);
  ++counts_[path];
}

std::map<std::string, std::uint64_t> request_counts::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::optional<std::string> decode_int(const query_params& query, std::string_view name, std::int64_t& out) {
  const std::string text = query.get(name);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return "Error decoding int for '" + std::string(name) + "': strconv.Atoi: parsing \"" + text +
           (ec == std::errc::result_out_of_range ? "\": value out of range" : "\": invalid syntax");
  }
  out = value;
  return std::nullopt;
}

decoded_bool decode_bool(const query_params& query, std::string_view name) {
  decoded_bool out;
  const std::string text = query.get(name);
  if (text.empty()) return out;
  // Go's strconv.ParseBool.
  static constexpr std::string_view truths[] = {"1", "t", "T", "TRUE", "true", "True"};
  static constexpr std::string_view falsehoods[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (auto t : truths) {
    if (text == t) {
      out.value = true;
      return out;
    }
  }
  for (auto f : falsehoods) {
    if (text == f) return out;
  }
  out.error = "Error decoding boolean for '" + std::string(name) + "': strconv.ParseBool: parsing \"" + text +
              "\": invalid syntax";
  return out;
}

}  // namespace courier::monitor
