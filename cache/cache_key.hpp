// Cache keys (SPEC §2.2 Cache). A key names one answer: method, request target, the canonical
// JSON body (json_canonical.hpp) less the fields that do not change the answer, and the values
// of the route's vary_headers (default authorization, so tenants never share an entry).
// key = prefix + lowercase hex SHA-256 (OpenSSL EVP) of that canonical request.
//
// Pure functions, callable from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cache/json_canonical.hpp"
#include "config/config.hpp"

namespace spillway::cache {

/// Why a request is not cached (none: it is).
enum class not_cacheable : uint8_t {
  none,
  not_json,             // empty body, invalid JSON
  not_object,           // only_deterministic needs an object to read temperature and seed
  no_temperature,       // only_deterministic: neither temperature nor seed given
  nonzero_temperature,  // only_deterministic: temperature is not 0 and no seed
};
std::string_view to_string(not_cacheable r) noexcept;

/// The parts of a request the key is made of. `vary_values[i]` is the value of the route's
/// `vary_headers[i]` (nullopt when absent; several lines of one header joined with ", ").
struct key_request {
  std::string_view method;
  std::string_view target;  // origin-form path and query, as sent upstream
  std::string_view body;    // the whole request body (identity-decoded)
  std::span<const std::optional<std::string_view>> vary_values;
};

struct key_result {
  std::string key;  // empty when not cacheable
  not_cacheable reason = not_cacheable::none;
  bool stream = false;         // body asks for `stream: true`: answer as an event stream
  bool include_usage = false;  // body asks for stream_options.include_usage

  explicit operator bool() const noexcept { return reason == not_cacheable::none; }
};

/// Top-level body fields left out of the key: they change how the answer is delivered or
/// accounted, not what it says.
bool ignored_body_field(std::string_view name) noexcept;

/// With only_deterministic: cacheable when `temperature` is exactly 0 or a numeric `seed` is
/// given. `body` is the parsed request body.
not_cacheable deterministic_check(const json_node& body) noexcept;

/// The canonical request the key hashes (exposed for tests and debugging).
std::string canonical_request(const key_request& req, const json_node& body,
                              const config::route_cache_config& route);

/// Key for `req` on a route with `route` settings. `prefix` namespaces keys (e.g. the route
/// name and a colon) so purge-by-prefix can drop one route's entries.
key_result make_key(const key_request& req, const config::route_cache_config& route,
                    std::string_view prefix);

/// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// The SHA-256 digest of `data`.
std::array<unsigned char, 32> sha256(std::string_view data);

}  // namespace spillway::cache
