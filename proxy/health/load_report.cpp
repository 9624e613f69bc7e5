#include "proxy/health/load_report.hpp"

#include <charconv>

namespace spillway::health {
namespace {

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

bool name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool name_char(char c) noexcept {
  return name_start(c) || (c >= '0' && c <= '9');
}

void skip_blanks(std::string_view s, std::size_t& p) noexcept {
  while (p < s.size() && is_blank(s[p])) ++p;
}

/// Float in the text format: Go's ParseFloat forms, i.e. decimal with exponent, NaN, +Inf, -Inf.
bool parse_value(std::string_view t, double& out) noexcept {
  if (t.empty()) return false;
  bool negative = false;
  if (t[0] == '+' || t[0] == '-') {
    negative = t[0] == '-';
    t.remove_prefix(1);
    if (t.empty() || t[0] == '+' || t[0] == '-') return false;
  }
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc{} || end != t.data() + t.size()) return false;
  if (negative) out = -out;
  return true;
}

bool parse_timestamp(std::string_view t) noexcept {
  if (!t.empty() && t[0] == '-') t.remove_prefix(1);
  if (t.empty()) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

bool parse_sample_line(std::string_view line, metric_line& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t p = 0;
  skip_blanks(line, p);
  if (p == line.size() || line[p] == '#') return false;
  if (!name_start(line[p])) return false;
  const std::size_t name_begin = p;
  while (p < line.size() && name_char(line[p])) ++p;
  out.name = line.substr(name_begin, p - name_begin);
  out.labels = {};

  if (p < line.size() && line[p] == '{') {
    const std::size_t labels_begin = ++p;
    bool quoted = false, closed = false;
    for (; p < line.size(); ++p) {
      const char c = line[p];
      if (quoted) {
        if (c == '\\')
          ++p;  // \\, \" and \n escapes: skip the escaped character
        else if (c == '"')
          quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '}') {
        closed = true;
        break;
      }
    }
    if (!closed) return false;
    out.labels = line.substr(labels_begin, p - labels_begin);
    ++p;
  }

  if (p == line.size() || !is_blank(line[p])) return false;
  skip_blanks(line, p);
  const std::size_t value_begin = p;
  while (p < line.size() && !is_blank(line[p])) ++p;
  if (!parse_value(line.substr(value_begin, p - value_begin), out.value)) return false;
  skip_blanks(line, p);
  if (p == line.size()) return true;
  const std::size_t ts_begin = p;
  while (p < line.size() && !is_blank(line[p])) ++p;
  if (!parse_timestamp(line.substr(ts_begin, p - ts_begin))) return false;
  skip_blanks(line, p);
  return p == line.size();
}

std::size_t for_each_sample(std::string_view text,
                            const std::function<void(const metric_line&)>& on_sample) {
  std::size_t malformed = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    metric_line m;
    if (parse_sample_line(line, m)) {
      on_sample(m);
      continue;
    }
    std::size_t p = 0;
    skip_blanks(line, p);
    if (p < line.size() && line[p] != '#' && line[p] != '\r') ++malformed;
  }
  return malformed;
}

std::optional<load_sample> parse_load_report(std::string_view text,
                                             const config::load_report_config& cfg) {
  load_sample s;
  bool found = false;
  for_each_sample(text, [&](const metric_line& m) {
    const double v = m.value;
    if (std::isnan(v) || v < 0) return;
    if (m.name == cfg.waiting_metric) {
      s.waiting += v;
      found = true;
    } else if (m.name == cfg.running_metric) {
      s.running += v;
      found = true;
    } else if (m.name == cfg.kv_usage_metric) {
      s.kv_usage = std::max(s.kv_usage, std::min(v, 1.0));
    }
  });
  if (!found) return std::nullopt;
  return s;
}

}  // namespace spillway::health
