#include "upstream-engine/cli/flags.hpp"

#include <fmt/format.h>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace spillway::engine::cli {

flags::flags(std::set<std::string> valued, std::set<std::string> booleans)
    : valued_(std::move(valued)), booleans_(std::move(booleans)) {}

void flags::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      error(fmt::format("unexpected argument '{}'", a));
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      inline_value = true;
    }
    if (booleans_.count(name) != 0) {
      if (inline_value && value != "true" && value != "false") {
        error(fmt::format("--{} takes no value", name));
        continue;
      }
      values_[name] = inline_value ? value : "true";
    } else if (valued_.count(name) != 0) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          error(fmt::format("--{} needs a value", name));
          continue;
        }
        value = args[++i];
      }
      values_[name] = value;
    } else {
      error(fmt::format("unknown flag --{}", name));
    }
  }
}

std::string flags::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int flags::integer(const std::string& name, int fallback, int lo, int hi) {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    error(fmt::format("--{} must be an integer in [{}, {}], got '{}'", name, lo, hi, s));
    return fallback;
  }
  return v;
}

double flags::number(const std::string& name, double fallback, double lo, double hi) {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < lo || v > hi) {
    error(fmt::format("--{} must be a number in [{}, {}], got '{}'", name, lo, hi, s));
    return fallback;
  }
  return v;
}

std::chrono::milliseconds flags::duration(const std::string& name,
                                          std::chrono::milliseconds fallback) {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  auto d = parse_duration(it->second);
  if (!d) {
    error(fmt::format("--{} must be a duration such as 200ms or 1.5s, got '{}'", name, it->second));
    return fallback;
  }
  return *d;
}

std::vector<int> flags::int_list(const std::string& name, std::vector<int> fallback) {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<int> out;
  std::stringstream ss(it->second);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int v = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || p != item.data() + item.size() || v <= 0) {
      error(fmt::format("--{} must be a comma-separated list of positive integers", name));
      return fallback;
    }
    out.push_back(v);
  }
  if (out.empty()) error(fmt::format("--{} is empty", name));
  return out;
}

bool flags::on_off(const std::string& name, bool fallback) {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (it->second == "on") return true;
  if (it->second == "off") return false;
  error(fmt::format("--{} must be on or off, got '{}'", name, it->second));
  return fallback;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  size_t unit = text.find_first_not_of("0123456789.");
  if (unit == 0 || unit == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const std::string num = text.substr(0, unit);
  const double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  const std::string u = text.substr(unit);
  double ms;
  if (u == "ms")
    ms = v;
  else if (u == "s")
    ms = v * 1e3;
  else if (u == "m")
    ms = v * 60e3;
  else if (u == "us")
    ms = v / 1e3;
  else
    return std::nullopt;
  if (ms > 86400e3) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

}  // namespace spillway::engine::cli
