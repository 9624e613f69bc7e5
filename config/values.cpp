#include "config/values.hpp"

#include <fmt/format.h>
#include <charconv>
#include <cmath>
#include <span>

namespace spillway::config {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Longest prefix of `text` made of digits and dots: the number part of "1.5MiB".
size_t number_length(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && (is_digit(text[n]) || text[n] == '.')) ++n;
  return n;
}

std::string quoted(std::string_view text) {
  return fmt::format("'{}'", text);
}

struct unit {
  std::string_view name;
  double factor;
};

constexpr unit duration_units[] = {{"h", 3600e3}, {"m", 60e3}, {"s", 1e3}, {"ms", 1}};
constexpr unit size_units[] = {
    {"B", 1}, {"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024}};

// Durations above this are surely typos (and keep arithmetic on them far from overflow).
constexpr double max_duration_ms = 10.0 * 366 * 24 * 3600e3;
constexpr double max_size_bytes = 1024.0 * 1024 * 1024 * 1024;  // 1 TiB

const unit* find_unit(std::span<const unit> units, std::string_view name) {
  for (const auto& u : units)
    if (u.name == name) return &u;
  return nullptr;
}

parsed<duration> duration_error(std::string_view text, std::string why) {
  return parsed<duration>::fail(fmt::format("invalid duration {}: {}", quoted(text), why));
}

}  // namespace

parsed<double> parse_decimal(std::string_view text) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  auto all_digits = [](std::string_view s) {
    for (char c : s)
      if (!is_digit(c)) return false;
    return !s.empty();
  };
  if (!all_digits(whole) || (dot != std::string_view::npos && !all_digits(frac)))
    return parsed<double>::fail(fmt::format("{} is not a number", quoted(text)));
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v))
    return parsed<double>::fail(fmt::format("{} is out of range", quoted(text)));
  return parsed<double>::ok(v);
}

parsed<uint64_t> parse_uint(std::string_view text) {
  if (text.empty()) return parsed<uint64_t>::fail("expected a whole number, got an empty value");
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!is_digit(text[0]) || end != text.data() + text.size())
    return parsed<uint64_t>::fail(fmt::format("expected a whole number, got {}", quoted(text)));
  if (ec != std::errc{})
    return parsed<uint64_t>::fail(fmt::format("{} is out of range", quoted(text)));
  return parsed<uint64_t>::ok(v);
}

parsed<bool> parse_bool(std::string_view text) {
  auto equals = [&](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (size_t i = 0; i < text.size(); ++i)
      if ((text[i] | 0x20) != word[i]) return false;
    return true;
  };
  if (equals("true")) return parsed<bool>::ok(true);
  if (equals("false")) return parsed<bool>::ok(false);
  return parsed<bool>::fail(fmt::format("expected true or false, got {}", quoted(text)));
}

parsed<duration> parse_duration(std::string_view text) {
  if (text == "0") return parsed<duration>::ok(duration{0});
  if (text.empty()) return duration_error(text, "empty value");
  if (text[0] == '-') return duration_error(text, "must not be negative");
  double total_ms = 0;
  double previous_factor = INFINITY;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t n = number_length(rest);
    if (n == 0) return duration_error(text, "expected a number before each unit");
    auto number = parse_decimal(rest.substr(0, n));
    if (!number) return duration_error(text, number.error);
    rest.remove_prefix(n);
    size_t u = 0;
    while (u < rest.size() && is_alpha(rest[u])) ++u;
    if (u == 0)
      return duration_error(text, fmt::format("missing unit (ms, s, m or h), e.g. {}s",
                                              text.substr(0, text.size() - rest.size())));
    const unit* found = find_unit(duration_units, rest.substr(0, u));
    if (!found)
      return duration_error(
          text, fmt::format("unknown unit {}; use ms, s, m or h", quoted(rest.substr(0, u))));
    if (found->factor >= previous_factor)
      return duration_error(text, "units must go from larger to smaller, each once (e.g. 1m30s)");
    previous_factor = found->factor;
    total_ms += *number.value * found->factor;
    rest.remove_prefix(u);
  }
  if (total_ms > max_duration_ms) return duration_error(text, "longer than ten years");
  double rounded = std::round(total_ms);
  if (std::abs(total_ms - rounded) > 1e-6)
    return duration_error(text, "finer than the 1ms resolution");
  return parsed<duration>::ok(duration{static_cast<int64_t>(rounded)});
}

parsed<uint64_t> parse_size(std::string_view text) {
  auto fail = [&](std::string why) {
    return parsed<uint64_t>::fail(fmt::format("invalid size {}: {}", quoted(text), why));
  };
  size_t n = number_length(text);
  if (n == 0) return fail(text.starts_with('-') ? "must not be negative" : "expected a number");
  auto number = parse_decimal(text.substr(0, n));
  if (!number) return fail(number.error);
  std::string_view unit_name = text.substr(n);
  double factor = 1;
  if (!unit_name.empty()) {
    const unit* found = find_unit(size_units, unit_name);
    if (!found)
      return fail(
          fmt::format("unknown unit {}; use B, KiB, MiB or GiB (1024-based; KB/MB/GB "
                      "are not accepted because they are ambiguous)",
                      quoted(unit_name)));
    factor = found->factor;
  }
  double bytes = *number.value * factor;
  if (bytes > max_size_bytes) return fail("larger than 1024GiB");
  double rounded = std::round(bytes);
  if (std::abs(bytes - rounded) > 1e-6) return fail("not a whole number of bytes");
  return parsed<uint64_t>::ok(static_cast<uint64_t>(rounded));
}

parsed<double> parse_percent(std::string_view text) {
  std::string_view number_text = text;
  if (number_text.ends_with('%')) number_text.remove_suffix(1);
  auto number = parse_decimal(number_text);
  if (!number)
    return parsed<double>::fail(fmt::format(
        "invalid percentage {}: expected a number from 0 to 100, e.g. 50%", quoted(text)));
  if (*number.value > 100)
    return parsed<double>::fail(fmt::format("percentage {} is above 100%", quoted(text)));
  return parsed<double>::ok(*number.value / 100.0);
}

parsed<double> parse_rate(std::string_view text) {
  auto fail = [&](std::string why) {
    return parsed<double>::fail(fmt::format("invalid rate {}: {}", quoted(text), why));
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return fail("expected <number>/s, /m or /h, e.g. 50/s");
  auto number = parse_decimal(text.substr(0, slash));
  if (!number) return fail(number.error);
  std::string_view per = text.substr(slash + 1);
  double seconds = per == "s" ? 1 : per == "m" ? 60 : per == "h" ? 3600 : 0;
  if (seconds == 0) return fail(fmt::format("unknown period {}; use s, m or h", quoted(per)));
  if (*number.value <= 0) return fail("must be above zero");
  return parsed<double>::ok(*number.value / seconds);
}

std::string format_duration(duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  for (const auto& u : duration_units) {
    auto factor = static_cast<int64_t>(u.factor);
    if (ms >= factor) {
      out += fmt::format("{}{}", ms / factor, u.name);
      ms %= factor;
    }
  }
  return out;
}

}  // namespace spillway::config
