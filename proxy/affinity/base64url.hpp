// base64url (RFC 4648 §5) without padding, as used by JWTs (RFC 7515 §2) and the affinity
// cookie. Decoding is strict: only the URL-safe alphabet, no padding (JWT segments with '='
// padding are accepted by decode_lenient), and the unused low bits of the last character must be
// zero, so each byte string has exactly one encoding (a MAC compared after decoding cannot be
// altered by flipping those bits).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace spillway::affinity {

std::string base64url_encode(std::string_view bytes);

/// Strict decode; nullopt on any character outside the alphabet, '=' padding, an impossible
/// length (4k + 1) or non-zero trailing bits.
std::optional<std::string> base64url_decode(std::string_view text);

/// Decode that also accepts trailing '=' padding (some JWT producers add it).
std::optional<std::string> base64url_decode_lenient(std::string_view text);

}  // namespace spillway::affinity
