// Minimal incremental HTTP/1.1 response parser for the load generator's hot path (RFC 9112):
// status line, headers (only the ones the load generator needs are interpreted), and a body
// framed by Content-Length, chunked transfer coding, or connection close. Body bytes are handed
// out as they arrive so server-sent events can be timed per network read. 1xx interim responses
// are skipped. Not a validating parser: it rejects what it cannot frame and nothing else.
// One parser per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ascii.hpp"

namespace spillway::loadgen {

class http1_parser {
 public:
  enum class result { need_more, done, error };

  struct sink {
    virtual ~sink() = default;
    virtual void on_status(int status) = 0;
    /// Called for every header; name is as received (compare case-insensitively).
    virtual void on_header(std::string_view name, std::string_view value) = 0;
    virtual void on_body(std::string_view bytes) = 0;
  };

  /// Prepares for the next response. `head_request`: the response has no body.
  void reset(bool head_request = false) noexcept;

  /// Consumes bytes from `data`; `consumed` says how many were used (the rest belongs to the
  /// next response or is a partial line the caller must present again with more bytes).
  /// `done` when a full response was parsed.
  result feed(std::string_view data, size_t& consumed, sink& out);

  /// The peer closed the connection: completes a close-delimited body, else reports error.
  result on_eof() noexcept;

  bool keep_alive() const noexcept { return keep_alive_; }
  int status() const noexcept { return status_; }
  bool in_body() const noexcept { return state_ >= state::body_length; }
  bool started() const noexcept { return started_; }

 private:
  enum class state {
    status_line,
    headers,
    body_length,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailers,
    body_close,
    done
  };

  bool parse_status(std::string_view line);
  bool parse_header(std::string_view line, sink& out);
  result finish_headers();

  state state_ = state::status_line;
  int status_ = 0;
  int minor_version_ = 1;
  bool head_ = false;
  bool chunked_ = false;
  bool has_length_ = false;
  bool keep_alive_ = true;
  bool started_ = false;
  uint64_t remaining_ = 0;
};

/// ASCII case-insensitive equality for header names.
using ascii::iequals;

}  // namespace spillway::loadgen
