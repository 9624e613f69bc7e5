// Test drivers for the HTTP/1 parsers. They feed bytes the way proxy/http1/session does: the
// head with eager(false), then the body framer is pointed at an output string with the framing
// the head asks for and the rest is parsed with eager(true). Input can arrive in any number of
// pieces; unconsumed bytes are kept and presented again with the next piece, as a socket
// buffer would.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.hpp"
#include "proxy/http1/parser.hpp"

namespace spillway::http1::testing {

using boost::beast::error_code;
namespace bhttp = boost::beast::http;

/// Framing the session picks for a request body.
inline framing request_framing(const http::request_head& h) {
  if (h.chunked) return framing::chunked;
  if (h.content_length) return framing::length;
  return framing::none;
}

/// One request through a request_parser.
struct request_run {
  http::request_head head;
  request_parser parser{head};
  std::string out;        // re-framed body
  std::string pending;    // bytes not consumed yet
  size_t head_bytes = 0;  // bytes of the head, once parsed
  size_t consumed = 0;
  size_t head_fields = 0;        // header fields when the head completed (trailers come after)
  framing mode = framing::none;  // chosen when the head completed
  bool head_done = false;
  error_code ec;  // first hard error; need_more is not one

  request_run() { parser.eager(false); }

  /// Appends `piece` and parses as far as possible. False once an error was seen.
  bool feed(std::string_view piece) {
    if (ec) return false;
    pending.append(piece);
    while (!parser.is_done() && !pending.empty()) {
      error_code e;
      size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), e);
      pending.erase(0, used);
      consumed += used;
      if (e == bhttp::error::need_more) break;
      if (e) {
        ec = e;
        return false;
      }
      if (!head_done && parser.is_header_done()) {
        head_done = true;
        head_bytes = consumed;
        head_fields = head.headers.size();
        mode = request_framing(head);
        parser.body().reset(&out, mode);
        parser.eager(true);
      }
    }
    return true;
  }
  bool done() const { return !ec && parser.is_done(); }
};

/// Splits `input` at the sorted offsets `cuts` and feeds the pieces to `r` (a request_run or a
/// response_run).
template <class Run>
void feed_split(Run& r, std::string_view input, const std::vector<size_t>& cuts) {
  size_t at = 0;
  for (size_t c : cuts) {
    if (c <= at || c >= input.size()) continue;
    r.feed(input.substr(at, c - at));
    at = c;
  }
  r.feed(input.substr(at));
}

/// One response (after any 1xx interim ones) through response_parser objects, one per message
/// as the session does. The final response's body is re-framed as the session does for its
/// client: none for HEAD, 204 and 304; length with a Content-Length; otherwise
/// `client_framing` (chunked for an HTTP/1.1 client, close_delimited for HTTP/1.0).
struct response_run {
  explicit response_run(framing client_framing = framing::chunked, bool head_request = false)
      : client_framing_(client_framing), head_request_(head_request) {
    start();
  }

  http::response_head head;
  std::optional<response_parser> parser;
  std::string out;
  std::string pending;
  std::vector<int> interim;      // statuses of 1xx responses seen before the final one
  size_t head_fields = 0;        // header fields of the final response when its head completed
  framing mode = framing::none;  // chosen when the head completed
  bool head_done = false;
  error_code ec;

  bool feed(std::string_view piece) {
    if (ec) return false;
    pending.append(piece);
    while (!parser->is_done() && !pending.empty()) {
      error_code e;
      size_t used = parser->put(boost::asio::buffer(pending.data(), pending.size()), e);
      pending.erase(0, used);
      if (e == bhttp::error::need_more) break;
      if (e) {
        ec = e;
        return false;
      }
      if (!head_done && parser->is_header_done()) {
        if (head.status >= 100 && head.status < 200) {
          interim.push_back(head.status);
          start();
          continue;
        }
        head_done = true;
        head_fields = head.headers.size();
        mode = (head_request_ || head.status == 204 || head.status == 304) ? framing::none
               : head.content_length                                       ? framing::length
                                                                           : client_framing_;
        parser->body().reset(&out, mode);
        parser->eager(true);
      }
    }
    return true;
  }
  /// The upstream closed its side. As in the session, only a close-delimited body is ended by
  /// it (put_eof); anything else still unfinished is a partial message.
  bool eof() {
    if (ec) return false;
    if (parser->is_done()) return true;
    if (head_done && parser->need_eof()) {
      parser->put_eof(ec);
      return !ec;
    }
    ec = bhttp::error::partial_message;
    return false;
  }
  bool done() const { return !ec && parser->is_done(); }

 private:
  void start() {
    parser.reset();
    head.clear();
    parser.emplace(head);
    parser->eager(false);
    if (head_request_) parser->skip(true);
  }
  framing client_framing_;
  bool head_request_;
};

/// Strict decoder for chunked output produced by body_framer: lower-case hex sizes without
/// leading zeros, no extensions, no trailers, exactly one terminating "0\r\n\r\n" (or, with
/// `require_end` false, possibly none yet). Returns the payload, or nullopt when `s` is not in
/// that form.
inline std::optional<std::string> dechunk(std::string_view s, bool require_end = true) {
  std::string payload;
  while (true) {
    if (s.empty() && !require_end) return payload;
    size_t eol = s.find("\r\n");
    if (eol == std::string_view::npos || eol == 0) return std::nullopt;
    std::string_view hex = s.substr(0, eol);
    if (hex.size() > 1 && hex[0] == '0') return std::nullopt;
    uint64_t size = 0;
    for (char c : hex) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0 || size > (UINT64_MAX >> 4)) return std::nullopt;
      size = size * 16 + static_cast<uint64_t>(d);
    }
    s.remove_prefix(eol + 2);
    if (size == 0) {  // trailer fields, then the empty line
      while (s != "\r\n") {
        const size_t end = s.find("\r\n");
        if (end == std::string_view::npos || end == 0) return std::nullopt;
        if (s.substr(0, end).find(':') == std::string_view::npos) return std::nullopt;
        s.remove_prefix(end + 2);
      }
      return payload;
    }
    if (s.size() < size + 2 || s.substr(size, 2) != "\r\n") return std::nullopt;
    payload.append(s.substr(0, size));
    s.remove_prefix(size + 2);
  }
}

/// The body a run forwarded so far, decoded from its framing; nullopt when the re-framed output
/// is malformed.
template <class Run>
std::optional<std::string> forwarded_payload(const Run& r) {
  if (r.mode == framing::chunked) return dechunk(r.out, r.done());
  return r.out;
}

}  // namespace spillway::http1::testing
