// Typed scalars of the configuration language (SPEC §2.1), as pure functions on text:
//   duration   250ms, 5s, 2m, 1h, 1m30s, 1.5s (units in decreasing order; "0" alone is zero)
//   size       512, 512B, 64KiB, 32MiB, 1GiB, 1.5MiB (1024-based; KB/MB/GB are rejected as
//   ambiguous) percent    50% or 50 → 0.5 (0..100) rate       50/s, 600/m, 3600/h → per second
// No I/O and no global state: usable from any thread and by any tool that takes the same syntax
// on its command line (e.g. loadgen's --duration 30s).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace spillway::config {

/// A parsed value, or the reason the text is not one (a message meant for the user).
template <class T>
struct parsed {
  std::optional<T> value;
  std::string error;

  static parsed ok(T v) { return {std::move(v), {}}; }
  static parsed fail(std::string message) { return {std::nullopt, std::move(message)}; }
  explicit operator bool() const { return value.has_value(); }
};

parsed<duration> parse_duration(std::string_view text);
parsed<uint64_t> parse_size(std::string_view text);
/// Fraction 0..1 from "50%" or "50".
parsed<double> parse_percent(std::string_view text);
/// Events per second from "<number>/s|m|h"; must be > 0.
parsed<double> parse_rate(std::string_view text);
/// Decimal digits only; no sign, no spaces.
parsed<uint64_t> parse_uint(std::string_view text);
/// Plain decimal number (digits with an optional fraction); no sign, exponent, inf or nan.
parsed<double> parse_decimal(std::string_view text);
/// true or false, case-insensitive.
parsed<bool> parse_bool(std::string_view text);

/// "1m30s"-style text for messages and the admin API (inverse of parse_duration).
std::string format_duration(duration d);

}  // namespace spillway::config
