// The process's own resource use as nats-server reports it (its pse
// package): resident memory and CPU percent, for the system account's
// statsz (monitor/system_messages).
#pragma once

#include <chrono>
#include <cstdint>

namespace courier::monitor {

/// Resident memory in bytes (/proc/self/statm), 0 if unreadable.
std::int64_t resident_bytes();

/// CPU use in percent of one core over the process's life since `start`,
/// one decimal, as `ps -o pcpu` gives it (what nats-server reports).
double cpu_percent(std::chrono::system_clock::time_point start, std::chrono::system_clock::time_point now);

}  // namespace courier::monitor
