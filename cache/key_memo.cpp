#include "cache/key_memo.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>

namespace spillway::cache {
namespace {

constexpr uint64_t rotl(uint64_t x, int b) noexcept {
  return (x << b) | (x >> (64 - b));
}

struct sip_state {
  uint64_t v0, v1, v2, v3;

  void round() noexcept {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
};

uint64_t load_le64(const unsigned char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) {
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | ((v >> (8 * i)) & 0xff);
    v = r;
  }
  return v;
}

// SipHash-c-d (https://www.aumasson.jp/siphash/siphash.pdf, §2).
template <int C, int D>
uint64_t siphash(uint64_t k0, uint64_t k1, std::string_view data) noexcept {
  sip_state s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
              k1 ^ 0x7465646279746573ull};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  const size_t whole = n & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load_le64(p + i);
    s.v3 ^= m;
    for (int r = 0; r < C; ++r) s.round();
    s.v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t i = whole; i < n; ++i) last |= static_cast<uint64_t>(p[i]) << (8 * (i - whole));
  s.v3 ^= last;
  for (int r = 0; r < C; ++r) s.round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int r = 0; r < D; ++r) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

// Writes into a buffer sized up front: the material is built for every request on a cached
// route, so no per-piece capacity checks.
struct material_writer {
  char* p;

  void u32(size_t v) noexcept {
    p[0] = static_cast<char>(v);
    p[1] = static_cast<char>(v >> 8);
    p[2] = static_cast<char>(v >> 16);
    p[3] = static_cast<char>(v >> 24);
    p += 4;
  }
  void byte(char c) noexcept { *p++ = c; }
  void framed(std::string_view s) noexcept {
    u32(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
};

}  // namespace

uint64_t siphash13(uint64_t k0, uint64_t k1, std::string_view data) noexcept {
  return siphash<1, 3>(k0, k1, data);
}

uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view data) noexcept {
  return siphash<2, 4>(k0, k1, data);
}

void append_key_material(const key_request& req, const config::route_cache_config& route,
                         std::string_view prefix, std::string& out) {
  // Layout: framed(prefix) d|- u32(#vary) {framed(name) (=framed(sha256(value)) | !)}*
  // framed(method) framed(target) framed(body); framed(s) = u32 little-endian length + bytes.
  // Vary values (credentials, by default Authorization) are held only as their digest.
  const auto& names = route.vary_headers;
  auto value = [&](size_t i) {
    return i < req.vary_values.size() ? req.vary_values[i] : std::nullopt;
  };
  size_t n = 4 + prefix.size() + 1 + 4 + 4 + req.method.size() + 4 + req.target.size() + 4 +
             req.body.size();
  for (size_t i = 0; i < names.size(); ++i) {
    n += 4 + names[i].size() + 1;
    if (value(i)) n += 4 + 32;
  }
  const size_t base = out.size();
  out.resize(base + n);
  material_writer w{out.data() + base};
  w.framed(prefix);
  w.byte(route.only_deterministic ? 'd' : '-');
  w.u32(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    w.framed(names[i]);
    if (auto v = value(i)) {
      w.byte('=');
      const std::array<unsigned char, 32> digest = sha256(*v);
      w.framed({reinterpret_cast<const char*>(digest.data()), digest.size()});
    } else {
      w.byte('!');
    }
  }
  w.framed(req.method);
  w.framed(req.target);
  w.framed(req.body);
}

key_memo::key_memo(uint64_t max_bytes, size_t shards) {
  shards = std::clamp<size_t>(shards, 1, 64);
  shard_budget_ = max_bytes / shards;
  shards_.reserve(shards);
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard>());
  std::random_device rd;
  k0_ = (uint64_t{rd()} << 32) ^ rd();
  k1_ = (uint64_t{rd()} << 32) ^ rd();
}

key_result key_memo::key_for(const key_request& req, const config::route_cache_config& route,
                             std::string_view prefix) {
  if (shard_budget_ == 0 || req.body.size() > max_material_bytes) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return make_key(req, route, prefix);
  }
  // Reused per thread: no allocation once it has grown to the usual request size.
  thread_local std::string material;
  material.clear();
  append_key_material(req, route, prefix, material);
  if (material.size() > max_material_bytes) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return make_key(req, route, prefix);
  }
  const uint64_t h = siphash13(k0_, k1_, material);
  key_result r;
  if (find(material, h, r)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  r = make_key(req, route, prefix);
  insert(material, h, prefix, r);
  return r;
}

bool key_memo::find(std::string_view material, uint64_t h, key_result& out) {
  shard& s = shard_for(h);
  std::lock_guard lock(s.mu);
  auto found = s.index.find(h);
  if (found == s.index.end() || found->second->material != material) return false;
  s.lru.splice(s.lru.begin(), s.lru, found->second);
  out = found->second->result;
  return true;
}

void key_memo::insert(std::string_view material, uint64_t h, std::string_view prefix,
                      const key_result& r) {
  const uint64_t c = charge(material, r, prefix);
  if (c > shard_budget_) return;
  shard& s = shard_for(h);
  std::lock_guard lock(s.mu);
  // Another thread may have keyed the same material meanwhile; a different material with the
  // same hash gives way (the newest wins).
  if (auto old = s.index.find(h); old != s.index.end()) remove(s, old->second);
  s.lru.push_front(
      item{h, std::string(material), std::string(r ? std::string_view(r.key) : prefix), r, c});
  s.index.emplace(h, s.lru.begin());
  s.bytes += c;
  while (s.bytes > shard_budget_ && s.lru.size() > 1) {
    remove(s, std::prev(s.lru.end()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

void key_memo::remove(shard& s, std::list<item>::iterator it) {
  s.bytes -= it->charge;
  s.index.erase(it->hash);
  s.lru.erase(it);
}

size_t key_memo::purge(std::string_view prefix) {
  size_t n = 0;
  for (auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    for (auto it = sp->lru.begin(); it != sp->lru.end();) {
      auto next = std::next(it);
      if (std::string_view(it->scope).starts_with(prefix)) {
        remove(*sp, it);
        ++n;
      }
      it = next;
    }
  }
  return n;
}

key_memo_stats key_memo::stats() const {
  key_memo_stats st;
  st.hits = hits_.load(std::memory_order_relaxed);
  st.misses = misses_.load(std::memory_order_relaxed);
  st.evictions = evictions_.load(std::memory_order_relaxed);
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    st.entries += sp->lru.size();
    st.bytes += sp->bytes;
  }
  return st;
}

}  // namespace spillway::cache
