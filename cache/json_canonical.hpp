// Canonical JSON for cache keys: two bodies that mean the same thing give the same text.
// - object keys sorted bytewise; on duplicate keys the last one wins (what Python's json, and so
//   most inference servers, do);
// - no insignificant whitespace; strings decoded then re-escaped one way (only `"`, `\` and
//   control characters are escaped), so "\u00e9" and "é" agree;
// - numbers compared as exact decimals from their source text, not as doubles: 1, 1.0, 1e0 and
//   10e-1 are one number; 0.1 and 0.10000000000000001 stay apart (the safe side of "equal").
// The tree is built from Boost.JSON's SAX parser (basic_parser) because the DOM parser of
// Boost 1.81 keeps only a double, whose rounding is not exact.
//
// Pure functions, no shared state.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spillway::cache {

struct json_node {
  enum class type : uint8_t { null, boolean, number, string, array, object };

  type t = type::null;
  std::string text;  // number: canonical decimal; string: decoded value; boolean: true / false
  std::vector<json_node> items;                            // array
  std::vector<std::pair<std::string, json_node>> members;  // object, sorted by key, unique

  /// The member named `key` of an object, or nullptr (also for non-objects).
  const json_node* find(std::string_view key) const noexcept;
  bool is_number() const noexcept { return t == type::number; }
  bool is_true() const noexcept { return t == type::boolean && text == "true"; }
};

/// Parses strict JSON (RFC 8259: no comments, no trailing commas, valid UTF-8, depth <= 64).
/// On failure `ec` is set and the returned node is null.
json_node parse_canonical(std::string_view text, boost::system::error_code& ec);

/// Appends the canonical text of `n` to `out`.
void append_canonical(const json_node& n, std::string& out);
std::string to_canonical(const json_node& n);

/// Canonical spelling of a JSON number literal (which must be valid JSON number syntax):
/// "1.50" -> "1.5", "1e2" -> "100", "-0.0" -> "0", "1e-9" -> "1e-9", "120e30" -> "1.2e32".
std::string canonical_number(std::string_view literal);

}  // namespace spillway::cache
