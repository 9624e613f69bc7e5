#include "proxy/retry/retry_after.hpp"

#include "common/ascii.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace spillway::retry {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// Left-to-right reader over the field value; every step fails without consuming on mismatch.
struct cursor {
  std::string_view s;
  std::size_t i = 0;

  bool done() const { return i == s.size(); }
  bool lit(std::string_view x) {
    if (s.substr(i, x.size()) != x) return false;
    i += x.size();
    return true;
  }
  /// Exactly n digits.
  bool number(int n, int& out) {
    if (s.size() - i < static_cast<std::size_t>(n)) return false;
    int v = 0;
    for (int k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    i += n;
    return true;
  }
  template <std::size_t N>
  bool one_of(const std::array<std::string_view, N>& words, unsigned* index = nullptr) {
    for (unsigned k = 0; k < N; ++k) {
      if (lit(words[k])) {
        if (index) *index = k;
        return true;
      }
    }
    return false;
  }
  bool time_of_day(int& h, int& m, int& sec) {
    return number(2, h) && lit(":") && number(2, m) && lit(":") && number(2, sec);
  }
};

std::optional<wall_time> make_time(int year, unsigned month_index, int day, int h, int m, int s) {
  if (h > 23 || m > 59 || s > 60) return std::nullopt;  // 60: leap second, as RFC 9110 allows
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{month_index + 1},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return time_point_cast<wall_time::duration>(sys_days{ymd} + hours{h} + minutes{m} + seconds{s});
}

std::optional<wall_time> parse_imf_fixdate(cursor c) {
  unsigned mon = 0;
  int day = 0, year = 0, h = 0, m = 0, s = 0;
  if (!(c.one_of(short_days) && c.lit(", ") && c.number(2, day) && c.lit(" ") &&
        c.one_of(months, &mon) && c.lit(" ") && c.number(4, year) && c.lit(" ") &&
        c.time_of_day(h, m, s) && c.lit(" GMT") && c.done()))
    return std::nullopt;
  return make_time(year, mon, day, h, m, s);
}

std::optional<wall_time> parse_rfc850(cursor c, wall_time now) {
  unsigned mon = 0;
  int day = 0, yy = 0, h = 0, m = 0, s = 0;
  if (!(c.one_of(long_days) && c.lit(", ") && c.number(2, day) && c.lit("-") &&
        c.one_of(months, &mon) && c.lit("-") && c.number(2, yy) && c.lit(" ") &&
        c.time_of_day(h, m, s) && c.lit(" GMT") && c.done()))
    return std::nullopt;
  // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead means the past century.
  const int this_year = static_cast<int>(year_month_day{floor<days>(now)}.year());
  int year = this_year / 100 * 100 + yy;
  if (year > this_year + 50) year -= 100;
  return make_time(year, mon, day, h, m, s);
}

std::optional<wall_time> parse_asctime(cursor c) {
  unsigned mon = 0;
  int day = 0, year = 0, h = 0, m = 0, s = 0;
  if (!(c.one_of(short_days) && c.lit(" ") && c.one_of(months, &mon) && c.lit(" ")))
    return std::nullopt;
  if (!(c.lit(" ") ? c.number(1, day) : c.number(2, day))) return std::nullopt;
  if (!(c.lit(" ") && c.time_of_day(h, m, s) && c.lit(" ") && c.number(4, year) && c.done()))
    return std::nullopt;
  return make_time(year, mon, day, h, m, s);
}

}  // namespace

std::optional<wall_time> parse_http_date(std::string_view text, wall_time now) {
  const cursor c{ascii::trim_ows(text)};
  if (auto t = parse_imf_fixdate(c)) return t;
  if (auto t = parse_rfc850(c, now)) return t;
  return parse_asctime(c);
}

std::optional<milliseconds> parse_retry_after(std::string_view value, wall_time now) {
  value = ascii::trim_ows(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    // delay-seconds = 1*DIGIT; saturate instead of overflowing (the caller caps it anyway).
    constexpr int64_t limit = int64_t{1} << 40;
    int64_t secs = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return std::nullopt;
      secs = std::min<int64_t>(secs * 10 + (c - '0'), limit);
    }
    return duration_cast<milliseconds>(seconds{secs});
  }
  const auto when = parse_http_date(value, now);
  if (!when) return std::nullopt;
  if (*when <= now) return milliseconds{0};
  return ceil<milliseconds>(*when - now);
}

std::optional<milliseconds> retry_after_delay(std::string_view value, wall_time now,
                                              config::duration max_retry_after) {
  auto d = parse_retry_after(value, now);
  if (d && *d > max_retry_after) d = max_retry_after;
  return d;
}

}  // namespace spillway::retry
