// A fast reader for the common upstream answer head: HTTP/1.1, a status with a body (not 1xx,
// 204 or 304), CRLF line endings, token field names, field values of visible characters, spaces
// and tabs (RFC 9112 §2.2, §4, §5), exactly one Content-Length of plain digits, no
// Transfer-Encoding or Upgrade, a Connection field of exactly "keep-alive" or "close" if any.
// Anything else, or a head not yet complete, is left to
// response_parser (Beast), which stays the reference: on every head this accepts, both give the
// same status, reason, fields (names, values, ids), keep-alive and length
// (tests/unit/http1/plain_response_test.cpp compares them).
//
// Threading: a pure function.
#pragma once

#include <cstddef>
#include <string_view>

#include "proxy/http/message.hpp"

namespace spillway::http1 {

/// Reads the response head at the start of `data` into `head` (cleared first). Returns the
/// head's size in bytes (through its empty line); 0 when the head is incomplete, longer than
/// `limit` bytes, or not in the plain form above (`head` is then unspecified).
size_t read_plain_response_head(std::string_view data, http::response_head& head,
                                size_t limit) noexcept;

}  // namespace spillway::http1
