// Server log in nats-server's format:
//   [pid] 2006/01/02 15:04:05.000000 [INF] message
// (without the time when logtime is off). Levels as nats-server: INF, WRN,
// ERR, FTL always; DBG with -D; TRC with -V. Thread-safe; one write() per line.
#pragma once

#include <atomic>
#include <cstdio>
#include <type_traits>
#include <mutex>
#include <string>
#include <string_view>

namespace courier::broker {

/// Joins strings and integers into one string (g++ 12 has no <format>).
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  auto add = [&out](const auto& part) {
    using T = std::decay_t<decltype(part)>;
    if constexpr (std::is_same_v<T, bool>) {
      out += part ? "true" : "false";
    } else if constexpr (std::is_integral_v<T>) {
      out += std::to_string(part);
    } else {
      out += std::string_view(part);
    }
  };
  (add(parts), ...);
  return out;
}

/// Log severities, in nats-server's three-letter labels.
enum class log_level { fatal, error, warning, notice, debug, trace };

/// Process-wide logger. Configured once at start (and on reload); log calls
/// from any thread.
class logger {
 public:
  /// The logger every part of the broker writes to.
  static logger& instance();

  /// Sends lines to `path` (created if missing, appended to) or, when empty, to stderr.
  /// Throws std::runtime_error if the file cannot be opened.
  void open(const std::string& path);
  void set_debug(bool on) { debug_.store(on, std::memory_order_relaxed); }
  void set_trace(bool on) { trace_.store(on, std::memory_order_relaxed); }
  void set_logtime(bool on) { logtime_.store(on, std::memory_order_relaxed); }
  bool debug_enabled() const { return debug_.load(std::memory_order_relaxed); }
  bool trace_enabled() const { return trace_.load(std::memory_order_relaxed); }

  void write(log_level level, std::string_view message);

  template <class... Parts>
  void notice(const Parts&... parts) { write(log_level::notice, concat(parts...)); }
  template <class... Parts>
  void warning(const Parts&... parts) { write(log_level::warning, concat(parts...)); }
  template <class... Parts>
  void error(const Parts&... parts) { write(log_level::error, concat(parts...)); }
  template <class... Parts>
  void debug(const Parts&... parts) {
    if (debug_enabled()) write(log_level::debug, concat(parts...));
  }
  template <class... Parts>
  void trace(const Parts&... parts) {
    if (trace_enabled()) write(log_level::trace, concat(parts...));
  }

  ~logger();

 private:
  logger() = default;
  std::mutex mutex_;
  std::FILE* file_ = nullptr;  // null: stderr
  std::atomic<bool> debug_{false};
  std::atomic<bool> trace_{false};
  std::atomic<bool> logtime_{true};
};

/// Shorthand for logger::instance().
inline logger& log() { return logger::instance(); }

/// A bounded, printable excerpt of protocol bytes for logs (control bytes
/// escaped), like nats-server's protoSnippet: never dumps a whole payload.
std::string log_snippet(std::string_view bytes, std::size_t max = 64);

}  // namespace courier::broker
