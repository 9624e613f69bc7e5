// Content codings for routes[].compression (SPEC §2.2 Traffic policy): decoding request bodies
// (gzip, RFC 1952, and deflate, the zlib format of RFC 1950 as RFC 9110 §8.4.1.2 defines it,
// through zlib; br, RFC 7932, through libbrotli) with a hard cap on the decoded
// size, encoding response bodies, and choosing a coding from Accept-Encoding (RFC 9110 §12.5.3).
//
// The cap is enforced while decoding, output block by output block: a decompression bomb is
// stopped once it passes the cap, never inflated in full.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::compression {

enum class coding : uint8_t { identity, gzip, deflate, br };

/// The coding a Content-Encoding / Accept-Encoding token names ("x-gzip" is gzip); nullopt for
/// anything else.
std::optional<coding> coding_of(std::string_view token) noexcept;
const char* to_string(coding c) noexcept;

enum class decode_status : uint8_t { ok, too_large, corrupt };

struct decoded {
  decode_status status = decode_status::ok;
  std::string data;  // empty unless ok
};

/// Decodes `in`; too_large as soon as the output would pass `max_bytes`.
decoded decode(coding c, std::string_view in, uint64_t max_bytes);

/// Encodes `in` (gzip and deflate level 6, brotli quality 4: fast settings for per-response work).
std::string encode(coding c, std::string_view in);

/// The first of `offered` (in order of preference) that `accept_encoding` allows (q > 0);
/// identity when none.
coding negotiate(std::string_view accept_encoding, const std::vector<std::string>& offered);

}  // namespace spillway::compression
