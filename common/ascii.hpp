// ASCII helpers for HTTP field names, tokens and values (RFC 9110 §5.1: names and tokens compare
// case-insensitively; §5.6.3: OWS is spaces and horizontal tabs).
#pragma once

#include <string_view>

namespace spillway::ascii {

constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// `s` without leading and trailing OWS.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace spillway::ascii
