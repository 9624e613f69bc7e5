// Priority classes of the admission queue, read from the request's priority header
// (`X-Priority: high|normal|low`, route priority_config).
#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace spillway::queue {

using config::priority_class;

inline constexpr std::size_t priority_class_count = 3;

/// "high", "normal" or "low", ASCII case-insensitive, surrounding blanks ignored; empty otherwise.
std::optional<priority_class> parse_priority(std::string_view value) noexcept;

/// Class of a request: the header value when it parses, else the route's default.
priority_class priority_of(std::string_view header_value, priority_class fallback) noexcept;

std::string_view to_string(priority_class c) noexcept;

}  // namespace spillway::queue
