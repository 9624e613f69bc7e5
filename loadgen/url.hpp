// Target URL: http(s)://host[:port][/path][?query]. IPv6 literals in brackets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spillway::loadgen {

struct url {
  bool tls = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"

  /// Host header / :authority value (port omitted when it is the scheme's default).
  std::string authority() const;
  std::string scheme() const { return tls ? "https" : "http"; }
};

/// Parses an absolute http or https URL; nullopt when it is not one.
std::optional<url> parse_url(std::string_view text);

}  // namespace spillway::loadgen
