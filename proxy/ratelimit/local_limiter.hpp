// In-process rate limiter for one route (SPEC §2.1 routes[].rate_limit): per key, a request
// bucket (rate per second, burst) and a token budget (tokens_per_minute, charged after each
// answer from its usage). The decision reports what 429 answers and X-RateLimit-* headers need.
//
// Memory is bounded: keys live in 16 shards, each an LRU of at most max_keys/16 entries; the
// least recently used key is dropped when a shard is full. A dropped key starts again with full
// buckets, so a flood of fresh keys can at worst reset idle keys, never exhaust memory.
//
// Threading: any thread; each shard has its own mutex (held for a map lookup and a few float
// operations). Time comes from the injected clock_source.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/ratelimit/token_bucket.hpp"

namespace spillway::ratelimit {

enum class limit_reason : uint8_t { none, requests, tokens };
const char* to_string(limit_reason r) noexcept;

struct decision {
  bool allowed = true;
  limit_reason reason = limit_reason::none;  // what refused the request
  uint64_t limit = 0;                        // X-RateLimit-Limit: burst, or tokens per minute
  uint64_t remaining = 0;                    // X-RateLimit-Remaining
  std::chrono::milliseconds retry_after{0};  // refused: until the key is admitted again
  std::chrono::milliseconds reset{0};        // until the reported bucket is full again
};

/// Bucket parameters of a rate_limit config. requests.rate == 0: no request limit;
/// tokens.rate == 0: no token budget.
struct limits {
  bucket_params requests{0, 0};
  bucket_params tokens{0, 0};
  static limits from_config(const config::rate_limit_config& c) noexcept;
  bool limits_requests() const noexcept { return requests.rate > 0; }
  bool limits_tokens() const noexcept { return tokens.rate > 0; }
};

class local_limiter {
 public:
  static constexpr size_t shard_count = 16;

  explicit local_limiter(const config::rate_limit_config& cfg, size_t max_keys = 100000,
                         const clock_source& clock = system_clock_source::instance());

  /// Admits or refuses one request of `key` (a hash of the key text): the token budget first
  /// (refused while it is spent), then one token of the request bucket.
  decision check(uint64_t key);
  /// Charges `tokens` (the answer's usage) to the budget of `key`.
  void charge(uint64_t key, uint64_t tokens);

  const limits& params() const noexcept { return limits_; }
  size_t size() const;  // keys held, all shards

 private:
  struct entry {
    bucket requests;
    bucket tokens;
    std::list<uint64_t>::iterator lru;
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<uint64_t, entry> keys;
    std::list<uint64_t> lru;  // front: most recently used
  };

  entry& touch(shard& s, uint64_t key);

  limits limits_;
  size_t per_shard_;
  const clock_source& clock_;
  std::array<shard, shard_count> shards_;
};

}  // namespace spillway::ratelimit
