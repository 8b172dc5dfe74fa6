// Durations written as Go's time.ParseDuration reads them ("1m30s", "500ms",
// "1.5h"), which is what nats-server accepts for ping_interval and friends.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace courier::conf {

/// Parses a Go duration: an optional sign, then one or more decimal numbers
/// (with optional fraction) each followed by a unit (ns, us, µs, ms, s, m,
/// h); "0" alone is allowed. On failure returns nullopt and sets error to
/// Go's wording, e.g. `time: invalid duration "abc"` or
/// `time: missing unit in duration "5"`.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text, std::string& error);

/// Formats like Go's Duration.String(): "1m30s", "10s", "1.5s", "500ms",
/// "2h0m0s", "0s". Used in messages that quote nats-server's.
std::string format_go_duration(std::chrono::nanoseconds duration);

}  // namespace courier::conf
