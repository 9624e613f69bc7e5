// host:port parsing shared by the config validator and the data plane.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spillway::config {

struct host_port {
  std::string host;  // name, IPv4 literal, or IPv6 literal without brackets
  uint16_t port = 0;
};

/// Parses "host:port", "[v6]:port" or ":port" (host empty = any). Port must be 1..65535.
std::optional<host_port> parse_host_port(std::string_view text);

}  // namespace spillway::config
