#include "common/error.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

namespace spillway {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "spillway"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok:
        return "ok";
      case errc::bad_request:
        return "malformed request";
      case errc::header_too_large:
        return "request header too large";
      case errc::body_too_large:
        return "request body too large";
      case errc::header_timeout:
        return "request header not received in time";
      case errc::client_idle_timeout:
        return "client idle timeout";
      case errc::client_closed:
        return "client closed the connection";
      case errc::forbidden_target:
        return "request target names a foreign host";
      case errc::too_many_connections:
        return "too many connections";
      case errc::connect_failed:
        return "upstream connect failed";
      case errc::connect_timeout:
        return "upstream connect timed out";
      case errc::upstream_reset:
        return "upstream closed the connection";
      case errc::first_byte_timeout:
        return "upstream did not answer in time";
      case errc::upstream_idle_timeout:
        return "upstream stalled";
      case errc::total_timeout:
        return "upstream response exceeded the total timeout";
      case errc::bad_response:
        return "malformed upstream response";
      case errc::no_endpoint:
        return "no upstream endpoint available";
      case errc::no_route:
        return "no route matches the request";
      case errc::draining:
        return "proxy is draining";
      case errc::internal_error:
        return "internal error";
    }
    return "spillway error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& spillway_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view to_string(error_source s) noexcept {
  switch (s) {
    case error_source::downstream:
      return "downstream";
    case error_source::upstream:
      return "upstream";
    case error_source::internal:
      return "internal";
  }
  return "internal";
}

bool is_benign(const error_code& ec) noexcept {
  // operation_aborted: we cancelled it (timeout, shutdown). eof/end_of_stream: orderly close.
  // stream_truncated: a TLS peer that closed without close_notify, common and harmless.
  return ec == boost::asio::error::operation_aborted || ec == boost::asio::error::eof ||
         ec == boost::beast::http::error::end_of_stream ||
         ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace spillway
