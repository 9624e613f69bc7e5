// Proxy-generated answers for upstream failures: which status, and the machine-readable code
// in the OpenAI-shaped error body.
#pragma once

#include <string_view>

#include "common/error.hpp"

namespace spillway::http1 {

inline int status_for(errc e) {
  switch (e) {
    case errc::connect_timeout:
    case errc::first_byte_timeout:
    case errc::upstream_idle_timeout:
    case errc::total_timeout:
      return 504;
    case errc::no_endpoint:
      return 503;
    default:
      return 502;
  }
}

inline std::string_view code_for(errc e) {
  switch (e) {
    case errc::connect_failed:
      return "upstream_connect_failed";
    case errc::connect_timeout:
      return "upstream_connect_timeout";
    case errc::upstream_reset:
      return "upstream_reset";
    case errc::first_byte_timeout:
      return "upstream_timeout";
    case errc::upstream_idle_timeout:
      return "upstream_stalled";
    case errc::total_timeout:
      return "upstream_total_timeout";
    case errc::bad_response:
      return "bad_upstream_response";
    case errc::no_endpoint:
      return "no_endpoint_available";
    default:
      return "upstream_error";
  }
}

}  // namespace spillway::http1
