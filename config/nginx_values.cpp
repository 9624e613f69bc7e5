// nginx value syntax (ngx_parse_time, ngx_parse_size) and the importer's warning list.
#include <fmt/format.h>
#include <algorithm>
#include <charconv>

#include "config/nginx_model.hpp"
#include "config/values.hpp"

namespace spillway::config::nginx {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Durations above ten years are not timeouts anyone means (and stay far from overflow).
constexpr uint64_t max_ms = 10ull * 366 * 24 * 3600 * 1000;

}  // namespace

std::optional<duration> parse_duration_value(std::string_view text) {
  uint64_t total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    uint64_t n = 0;
    size_t start = i;
    while (i < text.size() && is_digit(text[i])) {
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
      if (n > max_ms) return std::nullopt;
      ++i;
    }
    if (i == start) return std::nullopt;
    uint64_t factor = 1000;  // a bare number is seconds
    if (i < text.size() && text[i] != ' ') {
      std::string_view rest = text.substr(i);
      if (rest.starts_with("ms")) {
        factor = 1;
        i += 2;
      } else {
        switch (text[i]) {
          case 'y':
            factor = 365ull * 24 * 3600 * 1000;
            break;
          case 'M':
            factor = 30ull * 24 * 3600 * 1000;
            break;
          case 'w':
            factor = 7ull * 24 * 3600 * 1000;
            break;
          case 'd':
            factor = 24ull * 3600 * 1000;
            break;
          case 'h':
            factor = 3600ull * 1000;
            break;
          case 'm':
            factor = 60ull * 1000;
            break;
          case 's':
            factor = 1000;
            break;
          default:
            return std::nullopt;
        }
        ++i;
      }
    } else if (any) {
      return std::nullopt;  // "1m 30" mixes units with a bare number
    }
    if (n > max_ms / factor) return std::nullopt;
    total += n * factor;
    if (total > max_ms) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return duration{static_cast<int64_t>(total)};
}

std::optional<uint64_t> parse_size_value(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t factor = 1;
  switch (text.back()) {
    case 'k':
    case 'K':
      factor = KiB;
      break;
    case 'm':
    case 'M':
      factor = MiB;
      break;
    case 'g':
    case 'G':
      factor = GiB;
      break;
    default:
      break;
  }
  if (factor != 1) text.remove_suffix(1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (n > (uint64_t{1} << 40) / factor) return std::nullopt;
  return n * factor;
}

std::optional<uint64_t> parse_count_value(std::string_view text, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || !is_digit(text[0]) || ec != std::errc{} || end != text.data() + text.size() ||
      v > max)
    return std::nullopt;
  return v;
}

std::string size_text(uint64_t bytes) {
  if (bytes != 0 && bytes % GiB == 0) return fmt::format("{}GiB", bytes / GiB);
  if (bytes != 0 && bytes % MiB == 0) return fmt::format("{}MiB", bytes / MiB);
  if (bytes != 0 && bytes % KiB == 0) return fmt::format("{}KiB", bytes / KiB);
  return fmt::format("{}", bytes);
}

std::string duration_text(duration d) {
  return format_duration(d);
}

std::string safe_name(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-' || c == '.';
    char w = ok ? c : '_';
    if (w == '_' && !out.empty() && out.back() == '_') continue;
    out += w;
  }
  while (!out.empty() && (out.front() == '_' || out.front() == '.')) out.erase(out.begin());
  while (!out.empty() && (out.back() == '_' || out.back() == '.')) out.pop_back();
  return out.empty() ? "root" : out;
}

std::optional<std::pair<std::string, uint16_t>> split_host_port(std::string_view text,
                                                                uint16_t default_port) {
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(0, close + 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) return std::nullopt;  // a bare IPv6 literal
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return std::nullopt;
  uint16_t p = default_port;
  if (!port.empty() || text.ends_with(':')) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || v == 0 ||
        v > 65535)
      return std::nullopt;
    p = static_cast<uint16_t>(v);
  }
  return std::pair{std::string(host), p};
}

std::string listener_out::address() const {
  if (host.empty()) return fmt::format("{}:{}", ipv6_wildcard ? "[::]" : "0.0.0.0", port);
  return fmt::format("{}:{}", host, port);
}

// ---------------------------------------------------------------- diagnostics

void diagnostics::warn(const directive& d, std::string_view message) {
  warn_line(d.line, d.text(), message);
}

void diagnostics::untranslated(const directive& d, std::string_view why) {
  warn(d, fmt::format("not translated ({})", why));
}

void diagnostics::warn_line(int line, std::string_view what, std::string_view message) {
  std::string text = fmt::format("{}:{}: {}: {}", file_, line, what, message);
  if (seen_.insert(text).second) warnings_.emplace_back(line, std::move(text));
}

std::vector<std::string> diagnostics::take() {
  std::stable_sort(warnings_.begin(), warnings_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& w : warnings_) out.push_back(std::move(w.second));
  warnings_.clear();
  return out;
}

std::string diagnostics::origin(const directive& d) {
  return fmt::format("line {}: {}", d.line, d.text());
}

}  // namespace spillway::config::nginx
