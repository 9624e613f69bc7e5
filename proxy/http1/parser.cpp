#include "proxy/http1/parser.hpp"

#include "common/ascii.hpp"

#include <boost/beast/http/error.hpp>
#include <cstring>

namespace spillway::http1 {

namespace bhttp = boost::beast::http;
using boost::beast::error_code;

namespace {
constexpr char hex_digits[] = "0123456789abcdef";

// Framing, routing, authentication and hop-by-hop fields may not come as trailers
// (RFC 9110 §6.5.1); the rest is passed on after the body, up to a bound.
bool keep_trailer(bhttp::field f, const http::header_list& kept) noexcept {
  using bf = bhttp::field;
  switch (f) {
    case bf::content_length:
    case bf::transfer_encoding:
    case bf::host:
    case bf::authorization:
    case bf::set_cookie:
    case bf::cookie:
    case bf::content_type:
    case bf::content_encoding:
    case bf::trailer:
    case bf::te:
      return false;
    default:
      return !http::is_hop_by_hop(f) && kept.size() < 64;
  }
}

}  // namespace

void body_framer::piece(std::string_view data) {
  if (copy_ != nullptr) copy_->append(data);
  if (tap_ && !data.empty()) tap_(tap_ctx_, data);
  if (data.empty() || framing_ == framing::none) return;
  if (framing_ != framing::chunked) {
    out_->append(data);
    return;
  }
  char size[20];
  int n = 0;
  for (size_t v = data.size(); v != 0; v >>= 4) size[n++] = hex_digits[v & 0xf];
  for (int i = n - 1; i >= 0; --i) out_->push_back(size[i]);
  out_->append("\r\n", 2);
  out_->append(data);
  out_->append("\r\n", 2);
}

void body_framer::finish(const http::header_list* trailers) {
  if (framing_ != framing::chunked) return;
  if (trailers == nullptr || trailers->size() == 0) {
    out_->append("0\r\n\r\n", 5);
    return;
  }
  out_->append("0\r\n", 3);
  for (size_t i = 0; i < trailers->size(); ++i)
    out_->append(trailers->name(i)).append(": ").append(trailers->value(i)).append("\r\n");
  out_->append("\r\n", 2);
}

// ---------------------------------------------------------------- request

void request_parser::on_request_impl(bhttp::verb, boost::beast::string_view method,
                                     boost::beast::string_view target, int version, error_code&) {
  head_.method.assign(method);
  head_.target.assign(target);
  head_.version = version;
}

void request_parser::on_response_impl(int, boost::beast::string_view, int, error_code& ec) {
  ec = bhttp::error::bad_version;
}

void request_parser::on_field_impl(bhttp::field f, boost::beast::string_view name_bv,
                                   boost::beast::string_view value_bv, error_code& ec) {
  const std::string_view name(name_bv.data(), name_bv.size());
  const std::string_view value(value_bv.data(), value_bv.size());
  if (is_header_done()) {  // trailers are not merged into the head (RFC 9110 §6.5.1)
    if (keep_trailer(f, trailers_)) trailers_.add(name, value, f);
    return;
  }
  // NUL, CR and LF in values are refused by Beast (bad_value) and by raw_head_is_clean.
  switch (f) {
    case bhttp::field::content_length:
      ++content_length_fields_;
      if (value.find(',') != std::string_view::npos) ec = bhttp::error::bad_content_length;
      break;
    case bhttp::field::transfer_encoding:
      ++transfer_encoding_fields_;
      if (!http::iequals(ascii::trim_ows(value), "chunked")) bad_transfer_encoding_ = true;
      break;
    case bhttp::field::host:
      ++host_fields_;
      break;
    case bhttp::field::expect:
      if (http::iequals(ascii::trim_ows(value), "100-continue")) head_.expect_continue = true;
      break;
    default:
      break;
  }
  if (ec) return;
  head_.headers.add(name, value, f);
}

void request_parser::on_header_impl(error_code& ec) {
  if (content_length_fields_ > 1) {
    ec = bhttp::error::multiple_content_length;
    return;
  }
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
  if (transfer_encoding_fields_ > 1 || bad_transfer_encoding_ ||
      (transfer_encoding_fields_ == 1 && head_.version < 11) ||
      (transfer_encoding_fields_ == 1 && content_length_fields_ == 1)) {
    ec = bhttp::error::bad_transfer_encoding;
    return;
  }
  if (host_fields_ > 1 || (head_.version >= 11 && host_fields_ == 0)) {
    ec = bhttp::error::bad_field;
    return;
  }
  head_.keep_alive = keep_alive();
  head_.chunked = chunked();
  if (auto cl = content_length()) head_.content_length = *cl;
}

std::size_t request_parser::on_body_impl(boost::beast::string_view body, error_code&) {
  body_bytes_ += body.size();
  body_.piece({body.data(), body.size()});
  return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                               error_code&) {
  body_bytes_ += body.size();
  body_.piece({body.data(), body.size()});
  return body.size();
}

void request_parser::on_finish_impl(error_code&) {
  body_.finish(&trailers_);
}

// ---------------------------------------------------------------- response

void response_parser::on_request_impl(bhttp::verb, boost::beast::string_view,
                                      boost::beast::string_view, int, error_code& ec) {
  ec = bhttp::error::bad_version;
}

void response_parser::on_response_impl(int status, boost::beast::string_view reason, int version,
                                       error_code& ec) {
  if (status < 100 || status > 599) {
    ec = bhttp::error::bad_status;
    return;
  }
  head_.status = status;
  head_.reason.assign(reason);
  head_.version = version;
}

void response_parser::on_field_impl(bhttp::field f, boost::beast::string_view name_bv,
                                    boost::beast::string_view value_bv, error_code& ec) {
  const std::string_view name(name_bv.data(), name_bv.size());
  const std::string_view value(value_bv.data(), value_bv.size());
  if (header_done_) {
    if (keep_trailer(f, trailers_)) trailers_.add(name, value, f);
    return;
  }
  if (f == bhttp::field::transfer_encoding && !http::iequals(ascii::trim_ows(value), "chunked")) {
    ec = bhttp::error::bad_transfer_encoding;
    return;
  }
  head_.headers.add(name, value, f);
}

void response_parser::on_header_impl(error_code&) {
  header_done_ = true;
  head_.keep_alive = keep_alive();
  head_.chunked = chunked();
  if (auto cl = content_length()) head_.content_length = *cl;
}

std::size_t response_parser::on_body_impl(boost::beast::string_view body, error_code&) {
  body_bytes_ += body.size();
  body_.piece({body.data(), body.size()});
  return body.size();
}

std::size_t response_parser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                                error_code&) {
  body_bytes_ += body.size();
  body_.piece({body.data(), body.size()});
  return body.size();
}

void response_parser::on_finish_impl(error_code&) {
  body_.finish(&trailers_);
}

// ---------------------------------------------------------------- raw checks

bool raw_head_is_clean(std::string_view head) noexcept {
  if (head.empty()) return true;
  const char* p = head.data();
  const char* end = p + head.size();
  if (std::memchr(p, '\0', head.size()) != nullptr) return false;
  for (const char* cr = p; (cr = static_cast<const char*>(std::memchr(cr, '\r', end - cr)));) {
    if (cr + 1 >= end || cr[1] != '\n') return false;  // bare CR
    // obs-fold: a line that starts with SP or HTAB, except the empty line ending the head
    if (cr + 2 < end && (cr[2] == ' ' || cr[2] == '\t')) return false;
    cr += 2;
  }
  for (const char* lf = p; (lf = static_cast<const char*>(std::memchr(lf, '\n', end - lf)));) {
    if (lf == p || lf[-1] != '\r') return false;  // bare LF
    ++lf;
  }
  return true;
}

}  // namespace spillway::http1
