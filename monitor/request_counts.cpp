#include "monitor/endpoints.hpp"

namespace courier::monitor {

void request_counts::count(const std::string& path) {
  std::lock_guard lock(mutex_);
  ++counts_[path];
}

std::map<std::string, std::uint64_t> request_counts::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
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
