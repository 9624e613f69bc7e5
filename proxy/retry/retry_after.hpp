// Retry-After (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date (§5.6.7), which
// recipients must accept in all three forms: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
// obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
//
// Threading: pure functions; wall-clock time is passed in, never read.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace spillway::retry {

using wall_time = std::chrono::system_clock::time_point;

/// Parses an HTTP-date; empty when malformed or not a real calendar date. `now` places the
/// two-digit years of the RFC 850 form.
std::optional<wall_time> parse_http_date(std::string_view text, wall_time now);

/// Delay a Retry-After value asks for, measured from `now` (a date in the past gives zero).
/// Empty when the value is malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, wall_time now);

/// The delay to honour: parse_retry_after capped at `max_retry_after`.
std::optional<std::chrono::milliseconds> retry_after_delay(std::string_view value, wall_time now,
                                                           config::duration max_retry_after);

}  // namespace spillway::retry
