#include "loadgen/url.hpp"

#include <charconv>

namespace spillway::loadgen {

std::string url::authority() const {
  std::string h;
  if (host.find(':') != std::string::npos) {
    h.append("[").append(host).append("]");
  } else {
    h = host;
  }
  if ((tls && port == 443) || (!tls && port == 80)) return h;
  return h.append(":").append(std::to_string(port));
}

std::optional<url> parse_url(std::string_view text) {
  url u;
  if (text.substr(0, 7) == "http://") {
    text.remove_prefix(7);
  } else if (text.substr(0, 8) == "https://") {
    u.tls = true;
    text.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  const size_t slash = text.find_first_of("/?");
  std::string_view hostport = text.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : text.substr(slash);
  if (path.front() == '?') u.target = "/";
  u.target.append(path);
  if (hostport.find('@') != std::string_view::npos) return std::nullopt;  // no userinfo
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(hostport.substr(1, close - 1));
    std::string_view rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p == 0 || p > 65535)
      return std::nullopt;
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

}  // namespace spillway::loadgen
