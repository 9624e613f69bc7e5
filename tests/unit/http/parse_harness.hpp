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
        parser.body().reset(&out, request_framing(head));
        parser.eager(true);
      }
    }
    return true;
  }
  bool done() const { return !ec && parser.is_done(); }
};

/// Splits `input` at the sorted offsets `cuts` and feeds the pieces to a fresh request_run.
inline void feed_split(request_run& r, std::string_view input, const std::vector<size_t>& cuts) {
  size_t at = 0;
  for (size_t c : cuts) {
    if (c <= at || c >= input.size()) continue;
    r.feed(input.substr(at, c - at));
    at = c;
  }
  r.feed(input.substr(at));
}

/// One response (after any 1xx interim ones) through response_parser objects, one per message
/// as the session does. The final response's body is re-framed with `body_framing`.
struct response_run {
  explicit response_run(framing body_framing = framing::length, bool head_request = false)
      : body_framing_(body_framing), head_request_(head_request) {
    start();
  }

  http::response_head head;
  std::optional<response_parser> parser;
  std::string out;
  std::string pending;
  std::vector<int> interim;  // statuses of 1xx responses seen before the final one
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
        parser->body().reset(&out, body_framing_);
        parser->eager(true);
      }
    }
    return true;
  }
  /// The upstream closed its side.
  bool eof() {
    if (ec) return false;
    parser->put_eof(ec);
    return !ec;
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
  framing body_framing_;
  bool head_request_;
};

/// Strict decoder for chunked output produced by body_framer: lower-case hex sizes without
/// leading zeros, no extensions, no trailers, exactly one terminating "0\r\n\r\n". Returns the
/// payload, or nullopt when `s` is not in that form.
inline std::optional<std::string> dechunk(std::string_view s) {
  std::string payload;
  while (true) {
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
    if (size == 0) return s == "\r\n" ? std::optional<std::string>(payload) : std::nullopt;
    if (s.size() < size + 2 || s.substr(size, 2) != "\r\n") return std::nullopt;
    payload.append(s.substr(0, size));
    s.remove_prefix(size + 2);
  }
}

}  // namespace spillway::http1::testing
