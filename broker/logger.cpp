#include "broker/logger.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace courier::broker {

logger& logger::instance() {
  static logger the_logger;
  return the_logger;
}

logger::~logger() {
  if (file_) std::fclose(file_);
}

void logger::open(const std::string& path) {
  std::FILE* file = nullptr;
  if (!path.empty()) {
    file = std::fopen(path.c_str(), "a");
    if (!file) {
      throw std::runtime_error("error opening file: open " + path + ": " + std::strerror(errno));
    }
  }
  std::lock_guard lock(mutex_);
  if (file_) std::fclose(file_);
  file_ = file;
}

namespace {
const char* label(log_level level) {
  switch (level) {
    case log_level::fatal: return "[FTL] ";
    case log_level::error: return "[ERR] ";
    case log_level::warning: return "[WRN] ";
    case log_level::notice: return "[INF] ";
    case log_level::debug: return "[DBG] ";
    case log_level::trace: return "[TRC] ";
  }
  return "[INF] ";
}
}  // namespace

void logger::write(log_level level, std::string_view message) {
  // "[pid] 2006/01/02 15:04:05.000000 " is nats-server's prefix (log.LstdFlags|Lmicroseconds).
  char prefix[80];
  int length = std::snprintf(prefix, sizeof prefix, "[%d] ", static_cast<int>(::getpid()));
  if (logtime_.load(std::memory_order_relaxed)) {
    timeval now{};
    ::gettimeofday(&now, nullptr);
    std::tm local{};
    ::localtime_r(&now.tv_sec, &local);
    length += static_cast<int>(std::strftime(prefix + length, sizeof prefix - length,
                                             "%Y/%m/%d %H:%M:%S", &local));
    length += std::snprintf(prefix + length, sizeof prefix - length, ".%06ld ",
                            static_cast<long>(now.tv_usec));
  }
  std::string line;
  line.reserve(static_cast<std::size_t>(length) + 6 + message.size() + 1);
  line.append(prefix, static_cast<std::size_t>(length));
  line += label(level);
  line += message;
  line += '\n';
  std::lock_guard lock(mutex_);
  std::FILE* out = file_ ? file_ : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

std::string log_snippet(std::string_view bytes, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace courier::broker
