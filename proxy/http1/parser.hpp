// HTTP/1.1 message parsers built on Beast's basic_parser. They fill the protocol-neutral heads
// of proxy/http and re-frame body bytes straight into an output string for the next hop, so a
// body is never held whole. Stricter than Beast alone where a proxy must be (request
// smuggling, RFC 9112 §6.1 and §6.3): one Content-Length at most and no lists, Transfer-Encoding
// only as exactly "chunked", no Content-Length together with Transfer-Encoding, one Host.
//
// One parser object per message (Beast parsers are single-use); owned by one connection.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <string>
#include <string_view>

#include "proxy/http/message.hpp"

namespace spillway::http1 {

/// How body bytes are written to the next hop.
enum class framing : unsigned char { none, length, chunked, close_delimited };

/// Appends body bytes to an output string in the chosen framing.
class body_framer {
 public:
  void reset(std::string* out, framing f) noexcept {
    out_ = out;
    framing_ = f;
  }
  void piece(std::string_view data);
  /// Ends the body; chunked framing carries `trailers` (if any) after the last chunk.
  void finish(const http::header_list* trailers = nullptr);
  framing mode() const noexcept { return framing_; }
  /// Also appends each piece, unframed, to `copy` (null: off). The cache collects an upstream
  /// body this way while it streams to the client.
  void copy_to(std::string* copy) noexcept { copy_ = copy; }

  /// Also hands each body piece, as received (unframed), to `fn(ctx, piece)`; null: none.
  /// Kept across reset(). Used to meter an answer's tokens (session_policy.cpp).
  using tap_fn = void (*)(void* ctx, std::string_view data);
  void tap(tap_fn fn, void* ctx) noexcept {
    tap_ = fn;
    tap_ctx_ = ctx;
  }

 private:
  std::string* out_ = nullptr;
  std::string* copy_ = nullptr;
  framing framing_ = framing::none;
  tap_fn tap_ = nullptr;
  void* tap_ctx_ = nullptr;
};

class request_parser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit request_parser(http::request_head& head) : head_(head) {}

  body_framer& body() noexcept { return body_; }
  uint64_t body_bytes() const noexcept { return body_bytes_; }
  /// Trailer fields of a chunked body, without the ones a trailer may not carry.
  const http::header_list& trailers() const noexcept { return trailers_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view method,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field, boost::beast::string_view name,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::beast::error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  http::request_head& head_;
  body_framer body_;
  http::header_list trailers_;
  uint64_t body_bytes_ = 0;
  unsigned content_length_fields_ = 0;
  unsigned transfer_encoding_fields_ = 0;
  unsigned host_fields_ = 0;
  bool bad_transfer_encoding_ = false;
};

class response_parser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit response_parser(http::response_head& head) : head_(head) {}

  body_framer& body() noexcept { return body_; }
  uint64_t body_bytes() const noexcept { return body_bytes_; }
  /// Trailer fields of a chunked body (RFC 9110 §6.5), without the ones a trailer may not
  /// carry; passed on after the body.
  const http::header_list& trailers() const noexcept { return trailers_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view,
                       boost::beast::string_view, int, boost::beast::error_code& ec) override;
  void on_response_impl(int status, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field, boost::beast::string_view name,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::beast::error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  http::response_head& head_;
  body_framer body_;
  http::header_list trailers_;
  uint64_t body_bytes_ = 0;
  bool header_done_ = false;
};

/// Checks the raw bytes of a request or response head for what Beast tolerates but a proxy
/// must refuse: NUL, bare CR, bare LF and obs-fold (RFC 9112 §5.2). Returns false when bad.
bool raw_head_is_clean(std::string_view head) noexcept;

}  // namespace spillway::http1
