// What the cache did with a request, as the Cache-Status response header (RFC 9211) and the
// `result` label of spillway_cache_requests_total (SPEC §2.3, §2.4), plus the client's way to
// opt out (Cache-Control: no-cache / no-store, RFC 9111 §5.2.1).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace spillway::cache {

enum class cache_status : uint8_t {
  hit,          // spillway; hit                  served from the cache
  stale_hit,    // spillway; hit; detail=stale    upstream failed, stale entry served
  miss_stored,  // spillway; fwd=miss; stored     went upstream, the answer is being stored
  miss,         // spillway; fwd=miss             went upstream, not storable
  collapsed,    // spillway; fwd=miss; collapsed  answered by another request's upstream trip
  bypass,       // spillway; fwd=bypass           not looked up (client opt-out, not cacheable)
};

/// The Cache-Status field value (a static string).
std::string_view cache_status_value(cache_status s) noexcept;

/// The metric's `result` label: hit, stale, miss or bypass (collapsed counts as miss, as its
/// Cache-Status says fwd=miss).
std::string_view metric_result(cache_status s) noexcept;

/// True when a request Cache-Control value carries no-cache or no-store (directive names are
/// case-insensitive; quoted arguments are skipped). Join repeated header lines with ",".
bool client_bypasses_cache(std::string_view cache_control) noexcept;

/// Counters behind spillway_cache_requests_total. Thread-safe.
struct cache_counters {
  std::atomic<uint64_t> hit{0}, stale{0}, miss{0}, bypass{0};

  void count(cache_status s) noexcept;
};

}  // namespace spillway::cache
