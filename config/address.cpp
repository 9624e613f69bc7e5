#include "config/address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <string>

namespace spillway::config {
namespace {

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text[0] < '0' || text[0] > '9')
    return std::nullopt;
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

bool is_ipv6(std::string_view text) {
  std::string addr(text.substr(0, text.find('%')));  // zone id (fe80::1%eth0) is not checked
  in6_addr out{};
  return inet_pton(AF_INET6, addr.c_str(), &out) == 1;
}

bool is_ipv4(std::string_view text) {
  std::string addr(text);
  in_addr out{};
  return inet_pton(AF_INET, addr.c_str(), &out) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits, '-' (not at either end) and '_'
// (seen in service discovery names), each 1..63 bytes, 253 in all.
bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (text.back() == '.') text.remove_suffix(1);  // fully qualified "example.com."
  bool all_numeric = true;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    std::string_view label =
        text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      bool digit = c >= '0' && c <= '9';
      bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
      if (!ok) return false;
      all_numeric = all_numeric && digit;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_numeric;  // "1.2.3.999" is a bad IPv4 literal, not a name
}

}  // namespace

std::optional<host_port> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6(host)) return std::nullopt;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    if (!host.empty() && !is_ipv4(host) && !is_host_name(host)) return std::nullopt;
  }
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  return host_port{std::string(host), *p};
}

}  // namespace spillway::config
