#include "cache/memory_store.hpp"

#include <algorithm>
#include <functional>

namespace spillway::cache {

memory_store::memory_store(uint64_t max_bytes, size_t shards, const clock_source& clock)
    : clock_(clock) {
  if (shards == 0) shards = shards_for(max_bytes, max_bytes);
  shards = std::clamp<size_t>(shards, 1, max_shards);
  shard_budget_ = max_bytes / shards;
  shards_.reserve(shards);
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard>());
}

size_t memory_store::shards_for(uint64_t max_bytes, uint64_t max_object_bytes) noexcept {
  if (max_object_bytes == 0) return max_shards;
  return static_cast<size_t>(std::clamp<uint64_t>(max_bytes / max_object_bytes, 1, max_shards));
}

size_t memory_store::shard_of(std::string_view key) const noexcept {
  // High bits: the low ones also pick the bucket inside the shard's map.
  uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<size_t>((h >> 40) % shards_.size());
}

void memory_store::remove(shard& s, std::list<item>::iterator it) {
  s.bytes -= it->charge;
  s.index.erase(std::string_view(it->key));
  s.lru.erase(it);
}

std::optional<memory_hit> memory_store::find(std::string_view key) {
  shard& s = *shards_[shard_of(key)];
  const steady_time now = clock_.now();
  std::lock_guard lock(s.mu);
  auto found = s.index.find(key);
  if (found == s.index.end()) return std::nullopt;
  auto it = found->second;
  if (now >= it->stale_until) {
    remove(s, it);
    return std::nullopt;
  }
  s.lru.splice(s.lru.begin(), s.lru, it);
  return memory_hit{it->e, now < it->fresh_until ? freshness::fresh : freshness::stale,
                    it->fresh_until, it->stale_until};
}

bool memory_store::insert(std::string key, entry_ptr e, std::chrono::nanoseconds fresh_for,
                          std::chrono::nanoseconds stale_for) {
  if (!e) return false;
  fresh_for = std::max(fresh_for, std::chrono::nanoseconds::zero());
  stale_for = std::max(stale_for, std::chrono::nanoseconds::zero());
  if (fresh_for + stale_for <= std::chrono::nanoseconds::zero()) return false;
  const uint64_t c = charge(key, *e);
  if (c > shard_budget_) return false;
  shard& s = *shards_[shard_of(key)];
  const steady_time now = clock_.now();
  std::lock_guard lock(s.mu);
  if (auto old = s.index.find(std::string_view(key)); old != s.index.end()) remove(s, old->second);
  s.lru.push_front(
      item{std::move(key), std::move(e), c, now + fresh_for, now + fresh_for + stale_for});
  s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
  s.bytes += c;
  // Expired items at the back go first; then the least recently used while over budget.
  while (s.lru.size() > 1 && (s.bytes > shard_budget_ || now >= s.lru.back().stale_until)) {
    if (now < s.lru.back().stale_until) evictions_.fetch_add(1, std::memory_order_relaxed);
    remove(s, std::prev(s.lru.end()));
  }
  return true;
}

bool memory_store::erase(std::string_view key) {
  shard& s = *shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  auto found = s.index.find(key);
  if (found == s.index.end()) return false;
  remove(s, found->second);
  return true;
}

size_t memory_store::purge(std::string_view prefix) {
  size_t n = 0;
  for (auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    for (auto it = sp->lru.begin(); it != sp->lru.end();) {
      auto next = std::next(it);
      if (std::string_view(it->key).starts_with(prefix)) {
        remove(*sp, it);
        ++n;
      }
      it = next;
    }
  }
  return n;
}

uint64_t memory_store::bytes() const {
  uint64_t n = 0;
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    n += sp->bytes;
  }
  return n;
}

size_t memory_store::size() const {
  size_t n = 0;
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    n += sp->lru.size();
  }
  return n;
}

}  // namespace spillway::cache
