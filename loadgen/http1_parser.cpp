#include "loadgen/http1_parser.hpp"

#include "common/ascii.hpp"

#include <algorithm>
#include <charconv>

namespace spillway::loadgen {

namespace {

/// True if the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(ascii::trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void http1_parser::reset(bool head_request) noexcept {
  state_ = state::status_line;
  status_ = 0;
  minor_version_ = 1;
  head_ = head_request;
  chunked_ = false;
  has_length_ = false;
  keep_alive_ = true;
  started_ = false;
  remaining_ = 0;
}

bool http1_parser::parse_status(std::string_view line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  minor_version_ = line[7] - '0';
  int code = 0;
  auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, code);
  if (ec != std::errc() || p != line.data() + 12 || code < 100) return false;
  status_ = code;
  keep_alive_ = minor_version_ >= 1;
  return true;
}

bool http1_parser::parse_header(std::string_view line, sink& out) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = ascii::trim_ows(line.substr(colon + 1));
  if (iequals(name, "content-length")) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size()) return false;
    if (has_length_ && n != remaining_) return false;
    has_length_ = true;
    remaining_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    chunked_ = has_token(value, "chunked");
  } else if (iequals(name, "connection")) {
    if (has_token(value, "close")) keep_alive_ = false;
    if (has_token(value, "keep-alive") && minor_version_ == 0) keep_alive_ = true;
  }
  if (status_ >= 200) out.on_header(name, value);
  return true;
}

http1_parser::result http1_parser::finish_headers() {
  if (status_ < 200) {  // interim response: its headers are dropped, the real one follows
    const bool head = head_;
    reset(head);
    return result::need_more;
  }
  if (head_ || status_ == 204 || status_ == 304) {
    state_ = state::done;
    return result::done;
  }
  if (chunked_) {
    state_ = state::chunk_size;
  } else if (has_length_) {
    state_ = state::body_length;
    if (remaining_ == 0) {
      state_ = state::done;
      return result::done;
    }
  } else {
    state_ = state::body_close;
    keep_alive_ = false;
  }
  return result::need_more;
}

http1_parser::result http1_parser::feed(std::string_view data, size_t& consumed, sink& out) {
  size_t i = 0;
  const auto take_line = [&](std::string_view& line) {
    const size_t nl = data.find('\n', i);
    if (nl == std::string_view::npos) return false;
    line = data.substr(i, nl - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    i = nl + 1;
    return true;
  };
  if (!data.empty()) started_ = true;
  for (;;) {
    std::string_view line;
    switch (state_) {
      case state::status_line:
        if (!take_line(line)) goto need_more;
        if (line.empty()) continue;  // tolerate a stray CRLF before the status line
        if (!parse_status(line)) goto fail;
        state_ = state::headers;
        if (status_ >= 200) out.on_status(status_);
        continue;
      case state::headers:
        if (!take_line(line)) goto need_more;
        if (line.empty()) {
          if (finish_headers() == result::done) goto done;
          continue;
        }
        if (!parse_header(line, out)) goto fail;
        continue;
      case state::body_length: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
        if (n == 0) goto need_more;
        out.on_body(data.substr(i, n));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = state::done;
          goto done;
        }
        goto need_more;
      }
      case state::chunk_size: {
        if (!take_line(line)) goto need_more;
        const size_t semi = line.find(';');
        std::string_view hex = ascii::trim_ows(line.substr(0, semi));
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), n, 16);
        if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size()) goto fail;
        remaining_ = n;
        state_ = n == 0 ? state::trailers : state::chunk_data;
        continue;
      }
      case state::chunk_data: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
        if (n == 0) goto need_more;
        out.on_body(data.substr(i, n));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::chunk_data_end;
        continue;
      }
      case state::chunk_data_end:
        if (!take_line(line)) goto need_more;
        if (!line.empty()) goto fail;
        state_ = state::chunk_size;
        continue;
      case state::trailers:
        if (!take_line(line)) goto need_more;
        if (line.empty()) {
          state_ = state::done;
          goto done;
        }
        continue;
      case state::body_close:
        if (i < data.size()) out.on_body(data.substr(i));
        i = data.size();
        goto need_more;
      case state::done:
        goto done;
    }
  }
need_more:
  consumed = i;
  return result::need_more;
done:
  consumed = i;
  return result::done;
fail:
  consumed = i;
  return result::error;
}

http1_parser::result http1_parser::on_eof() noexcept {
  if (state_ == state::body_close) {
    state_ = state::done;
    return result::done;
  }
  return state_ == state::done ? result::done : result::error;
}

}  // namespace spillway::loadgen
