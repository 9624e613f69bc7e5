// Protocol-neutral request and response heads. The HTTP/1 (and later HTTP/2) adapters fill
// them; router, balancer and policies read them and never see the wire protocol.
//
// Storage: names and values live in one string arena reused across requests on a connection,
// so a keep-alive connection stops allocating once its buffers have grown to the usual size.
#pragma once

#include <boost/beast/http/field.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ascii.hpp"

namespace spillway::http {

/// Case-insensitive ASCII comparison for header names and tokens.
using ascii::iequals;

/// Well-known header names get Beast's field enum (computed once by the parser); others are
/// `unknown`. Lets hot paths switch on an integer instead of comparing strings.
using field_id = boost::beast::http::field;

class header_list {
 public:
  struct field {
    uint32_t name_off, name_len, value_off, value_len;
    field_id id;
  };

  void clear() noexcept {
    arena_.clear();
    fields_.clear();
  }
  void add(std::string_view name, std::string_view value, field_id id = field_id::unknown);

  size_t size() const noexcept { return fields_.size(); }
  std::string_view name(size_t i) const noexcept {
    return {arena_.data() + fields_[i].name_off, fields_[i].name_len};
  }
  std::string_view value(size_t i) const noexcept {
    return {arena_.data() + fields_[i].value_off, fields_[i].value_len};
  }
  field_id id(size_t i) const noexcept { return fields_[i].id; }

  /// First value of `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  /// First value of the well-known field `id`, or nullopt.
  std::optional<std::string_view> find(field_id id) const noexcept {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i].id == id) return value(i);
    return std::nullopt;
  }
  /// Number of fields named `name`.
  size_t count(std::string_view name) const noexcept;

 private:
  std::string arena_;
  std::vector<field> fields_;
};

struct request_head {
  std::string method;
  std::string target;  // origin-form after normalisation (absolute-form is reduced)
  int version = 11;    // 10 or 11
  header_list headers;
  bool keep_alive = true;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool expect_continue = false;
  // HTTP/2 extended CONNECT with :protocol websocket (RFC 8441): the stream becomes a WebSocket
  // tunnel, carried upstream as an HTTP/1.1 upgrade (http2/session_bridge.cpp).
  bool websocket_tunnel = false;

  std::string_view path() const noexcept {
    std::string_view t = target;
    auto q = t.find('?');
    return q == std::string_view::npos ? t : t.substr(0, q);
  }
  bool has_body() const noexcept { return chunked || content_length.value_or(0) > 0; }
  void clear() noexcept {
    method.clear();
    target.clear();
    version = 11;
    headers.clear();
    keep_alive = true;
    chunked = false;
    content_length.reset();
    expect_continue = false;
    websocket_tunnel = false;
  }
};

struct response_head {
  int status = 0;
  std::string reason;
  int version = 11;
  header_list headers;
  bool keep_alive = true;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  void clear() noexcept {
    status = 0;
    reason.clear();
    version = 11;
    headers.clear();
    keep_alive = true;
    chunked = false;
    content_length.reset();
  }
};

/// Hop-by-hop header names (RFC 9110 §7.6.1) plus legacy ones that must never be forwarded.
bool is_hop_by_hop(std::string_view name) noexcept;

/// True when `name` is listed in the Connection header value `connection` (those fields are
/// hop-by-hop too).
bool listed_in_connection(std::string_view connection, std::string_view name) noexcept;

/// True when a Connection header value names fields beyond close / keep-alive / upgrade, so
/// each field must be checked against it.
bool connection_lists_fields(std::string_view connection) noexcept;

/// True for hop-by-hop fields identified by id (RFC 9110 §7.6.1 and legacy ones).
inline bool is_hop_by_hop(field_id id) noexcept {
  using f = field_id;
  switch (id) {
    case f::connection:
    case f::keep_alive:
    case f::proxy_connection:
    case f::te:
    case f::trailer:
    case f::transfer_encoding:
    case f::upgrade:
    case f::http2_settings:
    case f::proxy_authenticate:
    case f::proxy_authorization:
      return true;
    default:
      return false;
  }
}

}  // namespace spillway::http
