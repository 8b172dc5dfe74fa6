// Times and durations written as nats-server's monitoring writes them (Go's
// formats): RFC 3339 with nanoseconds, Duration.String(), and the uptime
// text of /varz and /connz ("1d2h3m4s").
#pragma once

#include <chrono>
#include <string>

namespace courier::monitor {

/// Go's time.RFC3339Nano in UTC: "2026-12-05T20:02:33.09635587Z" (trailing
/// zeros of the fraction dropped, no fraction when it is zero).
std::string rfc3339_nano(std::chrono::system_clock::time_point when);

/// Go's time.Duration.String(): "0s", "443µs", "6.976461ms", "1m30.5s", "2h0m0s".
std::string go_duration(std::chrono::nanoseconds duration);

/// nats-server's uptime text, whole seconds: "0s", "42s", "3m4s", "1h2m3s",
/// "2d1h0m5s", "1y2d0h0m0s".
std::string uptime_text(std::chrono::nanoseconds duration);

}  // namespace courier::monitor
