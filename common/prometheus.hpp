// Prometheus text exposition format helpers (exposition_formats.md, "Text format details").
#pragma once

#include <string>
#include <string_view>

namespace spillway::prometheus {

/// A label value as written between double quotes: backslash, double quote and line feed
/// escaped.
inline std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
    } else if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace spillway::prometheus
