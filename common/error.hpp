// Error codes of the data plane. Every error carries where it came from (downstream client,
// upstream endpoint, or the proxy itself) and whether the request may be retried elsewhere.
// Data-plane code reports errors through these values; it never throws.
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>
#include <system_error>

namespace spillway {

using boost::system::error_code;

enum class error_source : unsigned char { downstream, upstream, internal };

enum class errc {
  ok = 0,
  // downstream
  bad_request = 1,
  header_too_large,
  body_too_large,
  header_timeout,
  client_idle_timeout,
  client_closed,
  forbidden_target,
  too_many_connections,
  // upstream
  connect_failed = 100,
  connect_timeout,
  upstream_reset,
  first_byte_timeout,
  upstream_idle_timeout,
  total_timeout,
  bad_response,
  no_endpoint,
  // internal
  no_route = 200,
  draining,
  internal_error,
};

const boost::system::error_category& spillway_category() noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), spillway_category()};
}

/// An error with its origin and whether another endpoint may be tried.
struct error {
  error_code code;
  error_source source = error_source::internal;
  bool retryable = false;

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  std::string message() const { return code.message(); }
};

inline error downstream_error(errc e) {
  return {make_error_code(e), error_source::downstream, false};
}
inline error upstream_error(errc e, bool retryable) {
  return {make_error_code(e), error_source::upstream, retryable};
}
inline error internal_error(errc e) {
  return {make_error_code(e), error_source::internal, false};
}

std::string_view to_string(error_source s) noexcept;

/// True for codes that mean "the operation ended as planned" (cancelled by us, peer closed the
/// stream cleanly, TLS peer skipped close_notify): they are not worth a log line.
bool is_benign(const error_code& ec) noexcept;

}  // namespace spillway

namespace boost::system {
template <>
struct is_error_code_enum<spillway::errc> : std::true_type {};
}  // namespace boost::system
