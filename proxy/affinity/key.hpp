// Affinity keys from a request (SPEC §2.1 affinity.key): a 64-bit hash that the bounded-load
// consistent hashing maps onto an endpoint. Requests with the same key land on the same endpoint
// while it is available and within its load bound.
//
//   header:<name>  the field's value (first occurrence, surrounding blanks trimmed).
//   jwt:<claim>    a top-level claim of the bearer token in Authorization: the middle segment is
//                  base64url-decoded and parsed as JSON; a string claim is hashed as is, a number
//                  as its JSON text. This reads the token, it does NOT verify its signature: a
//                  client can put any value there, so use it to spread and group sessions, never
//                  to authenticate or to isolate tenants.
//   prefix         the start of the prompt, so requests sharing a prefix meet the KV cache that
//                  holds it: for chat (`messages`) each message's role and text in order, for
//                  completions (`prompt`) the prompt text. The text is cut to whole blocks of
//                  block_bytes (at most max_blocks); requests that agree on those blocks get the
//                  same key whatever follows, and a prompt shorter than one block has no key. The
//                  `model` is mixed in, so models do not share keys.
//   cookie, none   no key from the request (cookie pins by endpoint name: cookie.hpp).
//
// A missing field, a malformed token or body gives no key: the request is served without
// affinity, never refused.
//
// Threading: pure functions.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proxy/http/message.hpp"

namespace spillway::affinity {

struct prefix_options {
  std::size_t block_bytes = 256;  // bytes of text per block (UTF-8 bytes, not tokens)
  std::size_t max_blocks = 8;     // blocks hashed at most
};

/// The key of `head` (and `body`, for prefix) under `cfg`; nullopt when the request has none.
std::optional<uint64_t> affinity_key(const config::affinity_config& cfg,
                                     const http::request_head& head, std::string_view body,
                                     const prefix_options& prefix = {});

/// Hash of header `name`'s first value; nullopt when absent or blank.
std::optional<uint64_t> header_key(const http::header_list& headers, std::string_view name);

/// The raw claim text of a JWT: a string claim's value, a number's JSON text. nullopt when the
/// token has no payload segment, the payload is not base64url or JSON, or the claim is missing
/// or of another type.
std::optional<std::string> jwt_claim(std::string_view token, std::string_view claim);

/// Hash of jwt_claim() of the bearer token in Authorization.
std::optional<uint64_t> jwt_key(const http::header_list& headers, std::string_view claim);

/// The canonical prompt text that prefix keys hash, up to `limit` bytes: chat messages as
/// role "\x1f" text "\x1e" in order, or the completion prompt. nullopt when the body is not an
/// OpenAI-style request with messages or prompt.
std::optional<std::string> prompt_text(std::string_view body, std::size_t limit);

/// Prefix key of an OpenAI-style JSON body.
std::optional<uint64_t> prefix_key(std::string_view body, const prefix_options& options = {});
/// Same for a body the caller has parsed already (the cache parses it too).
std::optional<uint64_t> prefix_key(const boost::json::value& body,
                                   const prefix_options& options = {});

}  // namespace spillway::affinity
