#include "monitor/process_usage.hpp"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace courier::monitor {

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long long total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<long long>(::sysconf(_SC_PAGESIZE));
}

double cpu_percent(std::chrono::system_clock::time_point start, std::chrono::system_clock::time_point now) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // Fields after the command name (which may hold spaces) in parentheses.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  long long user_ticks = 0, system_ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) user_ticks = std::stoll(field);
    if (i == 15) system_ticks = std::stoll(field);
  }
  const double cpu_seconds =
      static_cast<double>(user_ticks + system_ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double elapsed = std::chrono::duration<double>(now - start).count();
  if (elapsed <= 0) return 0;
  return std::round(cpu_seconds / elapsed * 1000.0) / 10.0;
}

}  // namespace courier::monitor
