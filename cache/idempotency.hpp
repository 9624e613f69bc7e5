// Idempotency-Key records (SPEC §2.2 Traffic policy `idempotency`; IETF draft "The
// Idempotency-Key HTTP Header Field"). A request repeating a key within the route's `ttl` gets
// the first answer again. Records are ordinary cache entries (entry.hpp) under keys of their
// own, so they go through the response cache's tiers and coalescing; each carries a fingerprint
// of the request body that made it, and a repeat with another body is a conflict (422).
//
// Pure functions and a thread-safe counter table, callable from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cache/entry.hpp"

namespace spillway::cache {

/// What a record key is made of: tenant (vary header values, as for cache keys), method,
/// target and the client's key value.
struct idempotency_request {
  std::string_view method;
  std::string_view target;  // origin-form path and query
  std::string_view key;     // the idempotency header's value
  std::span<const std::optional<std::string_view>> vary_values;
};

/// "idem:<route>:": every record of a route starts with it (purge by prefix).
std::string idempotency_prefix(std::string_view route);

/// idempotency_prefix(route) + lowercase hex SHA-256 of the length-prefixed parts (absent and
/// empty vary values differ).
std::string idempotency_key(std::string_view route, const idempotency_request& req);

/// What the session needs from the request body.
struct body_facts {
  std::string fingerprint;  // hex SHA-256 of the canonical JSON, or of the bytes if not JSON
  bool stream = false;      // asks for `stream: true`
  bool include_usage = false;
};
body_facts read_body_facts(std::string_view body);

/// A stored or in-flight record made by a request with another body than `fingerprint`.
bool idempotency_conflict(const entry& e, std::string_view fingerprint) noexcept;

enum class idempotency_result : uint8_t {
  replayed,    // answered from a stored record
  waited,      // answered by the concurrent first request
  stored,      // went upstream; the 2xx answer was stored
  not_stored,  // went upstream; not stored (not 2xx, not JSON or event stream, failed)
  conflict,    // same key, another body: 422
};
inline constexpr size_t idempotency_result_count = 5;
std::string_view to_string(idempotency_result r) noexcept;

/// Counters behind spillway_idempotency_total{route,result}. Thread-safe.
class idempotency_counters {
 public:
  using row = std::array<uint64_t, idempotency_result_count>;
  void count(std::string_view route, idempotency_result r);
  std::map<std::string, row, std::less<>> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, row, std::less<>> rows_;
};

}  // namespace spillway::cache
