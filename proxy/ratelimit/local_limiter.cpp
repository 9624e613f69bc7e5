#include "proxy/ratelimit/local_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::ratelimit {

const char* to_string(limit_reason r) noexcept {
  switch (r) {
    case limit_reason::none:
      return "none";
    case limit_reason::requests:
      return "requests";
    case limit_reason::tokens:
      return "tokens";
  }
  return "none";
}

limits limits::from_config(const config::rate_limit_config& c) noexcept {
  limits l;
  if (c.rate_per_second > 0) {
    l.requests.rate = c.rate_per_second;
    l.requests.capacity =
        c.burst > 0 ? static_cast<double>(c.burst) : std::max(1.0, std::ceil(c.rate_per_second));
  }
  if (c.tokens_per_minute > 0) {
    l.tokens.capacity = static_cast<double>(c.tokens_per_minute);
    l.tokens.rate = l.tokens.capacity / 60.0;
  }
  return l;
}

local_limiter::local_limiter(const config::rate_limit_config& cfg, size_t max_keys,
                             const clock_source& clock)
    : limits_(limits::from_config(cfg)),
      per_shard_(std::max<size_t>(1, max_keys / shard_count)),
      clock_(clock) {}

local_limiter::entry& local_limiter::touch(shard& s, uint64_t key) {
  auto it = s.keys.find(key);
  if (it != s.keys.end()) {
    s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
    return it->second;
  }
  if (s.keys.size() >= per_shard_) {
    s.keys.erase(s.lru.back());
    s.lru.pop_back();
  }
  s.lru.push_front(key);
  entry& e = s.keys[key];
  e.lru = s.lru.begin();
  return e;
}

decision local_limiter::check(uint64_t key) {
  shard& s = shards_[(key >> 56) % shard_count];
  const auto now = clock_.now();
  std::lock_guard lock(s.mutex);
  entry& e = touch(s, key);
  decision d;
  if (limits_.limits_tokens()) {
    const auto t = check_positive(e.tokens, limits_.tokens, now);
    if (!t.allowed) {
      d.allowed = false;
      d.reason = limit_reason::tokens;
      d.limit = static_cast<uint64_t>(limits_.tokens.capacity);
      d.remaining = 0;
      d.retry_after = t.retry_after;
      d.reset = t.reset;
      return d;
    }
    d.limit = static_cast<uint64_t>(limits_.tokens.capacity);
    d.remaining = static_cast<uint64_t>(t.remaining);
    d.reset = t.reset;
  }
  if (limits_.limits_requests()) {
    const auto r = take(e.requests, limits_.requests, now);
    d.allowed = r.allowed;
    d.reason = r.allowed ? limit_reason::none : limit_reason::requests;
    d.limit = static_cast<uint64_t>(limits_.requests.capacity);
    d.remaining = static_cast<uint64_t>(std::max(0.0, std::floor(r.remaining)));
    d.retry_after = r.retry_after;
    d.reset = r.reset;
  }
  return d;
}

void local_limiter::charge(uint64_t key, uint64_t tokens) {
  if (!limits_.limits_tokens() || tokens == 0) return;
  shard& s = shards_[(key >> 56) % shard_count];
  const auto now = clock_.now();
  std::lock_guard lock(s.mutex);
  entry& e = touch(s, key);
  ratelimit::charge(e.tokens, limits_.tokens, now, static_cast<double>(tokens));
}

size_t local_limiter::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.keys.size();
  }
  return n;
}

}  // namespace spillway::ratelimit
