#include "proxy/queue/priority.hpp"

#include "common/ascii.hpp"

namespace spillway::queue {

std::optional<priority_class> parse_priority(std::string_view value) noexcept {
  value = ascii::trim_ows(value);
  if (ascii::iequals(value, "high")) return priority_class::high;
  if (ascii::iequals(value, "normal")) return priority_class::normal;
  if (ascii::iequals(value, "low")) return priority_class::low;
  return std::nullopt;
}

priority_class priority_of(std::string_view header_value, priority_class fallback) noexcept {
  return parse_priority(header_value).value_or(fallback);
}

std::string_view to_string(priority_class c) noexcept {
  switch (c) {
    case priority_class::high:
      return "high";
    case priority_class::normal:
      return "normal";
    case priority_class::low:
      return "low";
  }
  return "normal";
}

}  // namespace spillway::queue
