// In-process cache tier: a byte-bounded LRU (memory.max_bytes) shared by every worker thread.
// Sharded to keep the hot path off a global lock: the key's hash picks one of N shards, each
// with its own mutex, LRU list and hash map, and a 1/N share of the byte budget. A hit moves
// the item to the front of its shard; an insert evicts from the back until the shard fits.
//
// Accounting is exact: bytes() is the sum of charge() over the resident items, where
// charge = key size + entry footprint + per_item_overhead (list node and map slot).
//
// Items have a fresh window (ttl) and then a stale window (stale_if_error); past both they are
// gone. Time comes from an injected clock_source. Thread-safe; entries are immutable and
// shared, so a reader keeps its entry after the lock is released.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/entry.hpp"
#include "common/clock.hpp"

namespace spillway::cache {

enum class freshness : uint8_t { fresh, stale };

struct memory_hit {
  entry_ptr e;
  freshness state = freshness::fresh;
  steady_time fresh_until{};
  steady_time stale_until{};
};

class memory_store {
 public:
  static constexpr uint64_t per_item_overhead = 128;
  static constexpr size_t max_shards = 16;

  /// `shards` 0 picks shards_for(max_bytes, max_bytes).
  memory_store(uint64_t max_bytes, size_t shards, const clock_source& clock);

  /// As many shards as keep each shard's budget at least `max_object_bytes` (1..max_shards), so
  /// any object that may be cached fits its shard.
  static size_t shards_for(uint64_t max_bytes, uint64_t max_object_bytes) noexcept;
  static uint64_t charge(std::string_view key, const entry& e) noexcept {
    return key.size() + e.footprint() + per_item_overhead;
  }

  /// The item for `key` if it is within its fresh or stale window; an expired item is removed.
  std::optional<memory_hit> find(std::string_view key);
  /// Inserts or replaces. false (and nothing stored) when the item alone exceeds the shard's
  /// budget or both windows are empty.
  bool insert(std::string key, entry_ptr e, std::chrono::nanoseconds fresh_for,
              std::chrono::nanoseconds stale_for);
  bool erase(std::string_view key);
  /// Drops every item whose key starts with `prefix` ("" drops all); returns how many.
  size_t purge(std::string_view prefix);

  uint64_t bytes() const;
  size_t size() const;
  uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }
  size_t shard_count() const noexcept { return shards_.size(); }
  uint64_t shard_budget() const noexcept { return shard_budget_; }
  size_t shard_of(std::string_view key) const noexcept;

 private:
  struct item {
    std::string key;
    entry_ptr e;
    uint64_t charge;
    steady_time fresh_until, stale_until;
  };
  struct shard {
    mutable std::mutex mu;
    std::list<item> lru;  // front: most recently used
    std::unordered_map<std::string_view, std::list<item>::iterator> index;  // views into lru keys
    uint64_t bytes = 0;
  };

  void remove(shard& s, std::list<item>::iterator it);

  std::vector<std::unique_ptr<shard>> shards_;
  uint64_t shard_budget_;
  const clock_source& clock_;
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace spillway::cache
