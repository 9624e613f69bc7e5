// Front map of the cache key (SPEC §2.2 Cache): remembers make_key()'s answer for the raw
// bytes it was computed from, so a byte-identical repeat of a request skips parsing and
// canonicalising its JSON body and the SHA-256. A request written differently (other key
// order, spacing, number spelling) misses here and takes the canonical path, which gives it
// the same key as before.
//
// The memo is keyed by the request's *material*: every input of make_key() — key prefix (route
// name), only_deterministic, vary header names and value digests (absent differs from empty),
// method, target and the raw body — each length-framed. A lookup compares the whole stored material
// with the request's, so a hit never depends on the hash being collision-free; the hash
// (SipHash-1-3 with a per-process random key, Aumasson & Bernstein 2012) only picks the shard
// and bucket, and cannot be steered by clients to build long chains.
//
// It maps requests to keys, not to answers: the memory tier and Redis are still asked for the
// key, so purges, expiry and the Authorization partition work as without it. purge() drops
// memo items too. Byte-bounded LRU in shards, each under its own mutex; thread-safe. Vary header
// values (Authorization by default) enter the material as their SHA-256 digest, so the memo
// never holds credentials and two values share an item only if their digests collide.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/cache_key.hpp"

namespace spillway::cache {

/// SipHash-1-3 of `data` under the 128-bit key (k0, k1).
uint64_t siphash13(uint64_t k0, uint64_t k1, std::string_view data) noexcept;
/// SipHash-2-4, the reference variant (its published test vectors check the shared rounds).
uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view data) noexcept;

/// Appends the length-framed inputs of make_key(req, route, prefix) to `out`.
void append_key_material(const key_request& req, const config::route_cache_config& route,
                         std::string_view prefix, std::string& out);

struct key_memo_stats {
  uint64_t hits = 0;       // keys answered from the memo
  uint64_t misses = 0;     // keys computed by make_key()
  uint64_t evictions = 0;  // items dropped for room
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

class key_memo {
 public:
  static constexpr uint64_t per_item_overhead = 160;       // list node, map slot, string headers
  static constexpr size_t max_material_bytes = 64 * 1024;  // larger requests are not memoised
  static constexpr size_t default_shards = 8;

  /// `max_bytes` 0 disables the memo (key_for() always computes).
  explicit key_memo(uint64_t max_bytes, size_t shards = default_shards);

  /// make_key(req, route, prefix), from the memo when this material was keyed before.
  key_result key_for(const key_request& req, const config::route_cache_config& route,
                     std::string_view prefix);

  /// Drops items whose key (or, for a request that was not cacheable, whose prefix) starts with
  /// `prefix` ("" drops all); returns how many.
  size_t purge(std::string_view prefix);

  key_memo_stats stats() const;
  uint64_t max_bytes() const noexcept { return shard_budget_ * shards_.size(); }
  /// What an item is charged: its material, its key twice (scope and result; for a request
  /// that is not cacheable, the prefix once) and the overhead.
  static uint64_t charge(std::string_view material, const key_result& r,
                         std::string_view prefix) noexcept {
    return material.size() + (r ? 2 * r.key.size() : prefix.size()) + per_item_overhead;
  }

 private:
  struct item {
    uint64_t hash;
    std::string material;
    std::string scope;  // the key, or the prefix when not cacheable (what purge() matches)
    key_result result;
    uint64_t charge;
  };
  struct identity {
    size_t operator()(uint64_t h) const noexcept { return static_cast<size_t>(h); }
  };
  struct shard {
    mutable std::mutex mu;
    std::list<item> lru;  // front: most recently used
    std::unordered_map<uint64_t, std::list<item>::iterator, identity> index;
    uint64_t bytes = 0;
  };

  shard& shard_for(uint64_t h) noexcept { return *shards_[(h >> 32) % shards_.size()]; }
  bool find(std::string_view material, uint64_t h, key_result& out);
  void insert(std::string_view material, uint64_t h, std::string_view prefix, const key_result& r);
  void remove(shard& s, std::list<item>::iterator it);

  std::vector<std::unique_ptr<shard>> shards_;
  uint64_t shard_budget_;
  uint64_t k0_, k1_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace spillway::cache
