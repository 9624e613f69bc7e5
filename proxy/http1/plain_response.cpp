#include "proxy/http1/plain_response.hpp"

#include <array>
#include <boost/beast/http/field.hpp>

namespace spillway::http1 {

namespace {

// tchar (RFC 9110 §5.6.2)
constexpr std::array<bool, 256> token_table = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// field-vchar, SP and HTAB (RFC 9110 §5.5): no control characters, no DEL
constexpr std::array<bool, 256> text_table = [] {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  for (int c = 0x80; c < 0x100; ++c) t[c] = true;
  return t;
}();

bool is_token(unsigned char c) noexcept {
  return token_table[c];
}
bool is_text(unsigned char c) noexcept {
  return text_table[c];
}

}  // namespace

size_t read_plain_response_head(std::string_view data, http::response_head& head,
                                size_t limit) noexcept {
  using f = http::field_id;
  if (data.size() > limit) data = data.substr(0, limit);
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  // "HTTP/1.1 " 3DIGIT SP reason CRLF
  if (data.size() < 14 || data.substr(0, 9) != "HTTP/1.1 ") return 0;
  p += 9;
  int status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (*p < '0' || *p > '9') return 0;
    status = status * 10 + (*p - '0');
  }
  // 1xx, 204 and 304 carry no body: Beast's framing rules for them are left to Beast.
  if (status < 200 || status > 599 || status == 204 || status == 304 || *p++ != ' ') return 0;
  const char* reason = p;
  while (p < end && is_text(static_cast<unsigned char>(*p))) ++p;
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return 0;
  head.clear();
  head.status = status;
  head.version = 11;
  head.reason.assign(reason, p);
  p += 2;
  bool has_length = false, close = false;
  uint64_t length = 0;
  for (;;) {
    if (end - p < 2) return 0;
    if (p[0] == '\r') {
      if (p[1] != '\n') return 0;
      p += 2;
      break;  // the empty line
    }
    const char* name = p;
    while (p < end && is_token(static_cast<unsigned char>(*p))) ++p;
    if (p == name || p == end || *p != ':') return 0;  // also obs-fold: a line opening with SP
    const std::string_view n(name, p - name);
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* value = p;
    while (p < end && is_text(static_cast<unsigned char>(*p))) ++p;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return 0;
    const char* value_end = p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    const std::string_view v(value, value_end - value);
    p += 2;
    const f id = boost::beast::http::string_to_field(n);
    switch (id) {
      case f::content_length:
        if (has_length || v.empty() || v.size() > 18) return 0;
        for (char c : v) {
          if (c < '0' || c > '9') return 0;
          length = length * 10 + static_cast<uint64_t>(c - '0');
        }
        has_length = true;
        break;
      case f::connection:
        if (http::iequals(v, "close"))
          close = true;
        else if (!http::iequals(v, "keep-alive"))
          return 0;
        break;
      case f::transfer_encoding:
      case f::upgrade:
        return 0;
      default:
        break;
    }
    head.headers.add(n, v, id);
  }
  if (!has_length) return 0;  // read until the connection closes: Beast's case
  head.keep_alive = !close;
  head.content_length = length;
  return static_cast<size_t>(p - begin);
}

}  // namespace spillway::http1
