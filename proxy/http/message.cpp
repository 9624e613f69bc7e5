#include "proxy/http/message.hpp"

#include <array>

#include "common/ascii.hpp"

namespace spillway::http {

void header_list::add(std::string_view name, std::string_view value, field_id id) {
  field f;
  f.id = id;
  f.name_off = static_cast<uint32_t>(arena_.size());
  f.name_len = static_cast<uint32_t>(name.size());
  arena_.append(name);
  f.value_off = static_cast<uint32_t>(arena_.size());
  f.value_len = static_cast<uint32_t>(value.size());
  arena_.append(value);
  fields_.push_back(f);
}

std::optional<std::string_view> header_list::find(std::string_view n) const noexcept {
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name_len == n.size() && iequals(name(i), n)) return value(i);
  return std::nullopt;
}

size_t header_list::count(std::string_view n) const noexcept {
  size_t c = 0;
  for (size_t i = 0; i < fields_.size(); ++i)
    if (iequals(name(i), n)) ++c;
  return c;
}

bool is_hop_by_hop(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 10> names{"connection",
                                                          "keep-alive",
                                                          "proxy-connection",
                                                          "te",
                                                          "trailer",
                                                          "transfer-encoding",
                                                          "upgrade",
                                                          "http2-settings",
                                                          "proxy-authenticate",
                                                          "proxy-authorization"};
  if (name.size() < 2 || name.size() > 19) return false;
  for (auto n : names)
    if (iequals(name, n)) return true;
  return false;
}

bool listed_in_connection(std::string_view connection, std::string_view name) noexcept {
  while (!connection.empty()) {
    auto comma = connection.find(',');
    auto token = ascii::trim_ows(connection.substr(0, comma));
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

bool connection_lists_fields(std::string_view connection) noexcept {
  while (!connection.empty()) {
    auto comma = connection.find(',');
    auto token = ascii::trim_ows(connection.substr(0, comma));
    if (!token.empty() && !iequals(token, "close") && !iequals(token, "keep-alive") &&
        !iequals(token, "upgrade"))
      return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace spillway::http
