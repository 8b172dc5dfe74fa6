#include "monitor/go_format.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace courier::monitor {

std::string rfc3339_nano(std::chrono::system_clock::time_point when) {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
  std::int64_t seconds = since_epoch.count() / 1'000'000'000;
  std::int64_t nanos = since_epoch.count() % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[64];
  int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1,
                        parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  std::string out(text, static_cast<std::size_t>(n));
  if (nanos != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%09lld", static_cast<long long>(nanos));
    std::string digits(fraction);
    while (digits.back() == '0') digits.pop_back();
    out += digits;
  }
  out += 'Z';
  return out;
}

namespace {

/// `value` (in units of 10^-precision) as "int.frac" with trailing zeros dropped.
void append_fixed(std::string& out, std::uint64_t value, int precision) {
  std::uint64_t scale = 1;
  for (int i = 0; i < precision; ++i) scale *= 10;
  out += std::to_string(value / scale);
  std::uint64_t fraction = value % scale;
  if (fraction == 0) return;
  std::string digits(static_cast<std::size_t>(precision), '0');
  for (int i = precision - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  while (digits.back() == '0') digits.pop_back();
  out += '.';
  out += digits;
}

}  // namespace

std::string go_duration(std::chrono::nanoseconds duration) {
  std::int64_t count = duration.count();
  std::string out;
  if (count < 0) {
    out += '-';
    count = -count;
  }
  const auto ns = static_cast<std::uint64_t>(count);
  if (ns == 0) return "0s";
  if (ns < 1'000) {
    out += std::to_string(ns) + "ns";
    return out;
  }
  if (ns < 1'000'000) {
    append_fixed(out, ns, 3);
    out += "µs";
    return out;
  }
  if (ns < 1'000'000'000) {
    append_fixed(out, ns, 6);
    out += "ms";
    return out;
  }
  const std::uint64_t hours = ns / 3'600'000'000'000ULL;
  const std::uint64_t minutes = ns / 60'000'000'000ULL % 60;
  const std::uint64_t seconds_ns = ns % 60'000'000'000ULL;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  append_fixed(out, seconds_ns, 9);
  out += 's';
  return out;
}

std::string uptime_text(std::chrono::nanoseconds duration) {
  const auto total = std::chrono::duration_cast<std::chrono::seconds>(duration).count();
  const long long seconds = total < 0 ? 0 : total;
  const long long minutes = seconds / 60;
  const long long hours = minutes / 60;
  const long long days = hours / 24;
  const long long years = days / 365;
  char text[96];
  if (years > 0) {
    std::snprintf(text, sizeof text, "%lldy%lldd%lldh%lldm%llds", years, days % 365, hours % 24, minutes % 60,
                  seconds % 60);
  } else if (days > 0) {
    std::snprintf(text, sizeof text, "%lldd%lldh%lldm%llds", days, hours % 24, minutes % 60, seconds % 60);
  } else if (hours > 0) {
    std::snprintf(text, sizeof text, "%lldh%lldm%llds", hours, minutes % 60, seconds % 60);
  } else if (minutes > 0) {
    std::snprintf(text, sizeof text, "%lldm%llds", minutes, seconds % 60);
  } else {
    std::snprintf(text, sizeof text, "%llds", seconds);
  }
  return text;
}

}  // namespace courier::monitor
