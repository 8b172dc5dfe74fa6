// Go's time.ParseDuration, for config values nats-server reads with it
// ("2m", "1.5s", "1h30m", "500ms").
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace courier::auth {

/// Parses a Go duration string: an optional sign, then one or more
/// decimal numbers (fractions allowed) each with a unit ns, us, µs, ms, s,
/// m or h; "0" alone is zero. nullopt when Go would return an error.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace courier::auth
