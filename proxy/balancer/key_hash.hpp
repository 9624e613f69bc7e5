// 64-bit hashing for consistent hashing and affinity keys. The result depends only on the bytes
// (read little-endian on any host), so every proxy replica and every restart places a key and an
// endpoint at the same point: ring positions and Maglev permutations derive from endpoint
// addresses, and keys from request text.
//
// Body: one 64-bit lane multiply-rotate round per 8 bytes (the structure of MurmurHash3's body);
// finaliser: SplitMix64's mix (Steele, Lea, Flood 2014; Stafford's variant 13), which makes
// every input bit flip each output bit with probability close to 1/2.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace spillway::balancer {

/// Bijective 64-bit mix: full avalanche.
constexpr uint64_t mix64(uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace detail {

inline uint64_t load_le64(const char* p) noexcept {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}

constexpr uint64_t rotl64(uint64_t x, int r) noexcept {
  return (x << r) | (x >> (64 - r));
}

}  // namespace detail

/// Hash of `bytes` under `seed` (different seeds give independent-looking hashes).
inline uint64_t hash64(std::string_view bytes, uint64_t seed = 0) noexcept {
  constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t c2 = 0x4cf5ad432745937fULL;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  uint64_t h = mix64(seed ^ 0x9e3779b97f4a7c15ULL);
  const auto round = [&](uint64_t w) {
    h ^= detail::rotl64(w * c1, 31) * c2;
    h = detail::rotl64(h, 27) * 5 + 0x52dce729;
  };
  for (; n >= 8; n -= 8, p += 8) round(detail::load_le64(p));
  if (n > 0) {
    uint64_t tail = 0;
    for (std::size_t i = 0; i < n; ++i)
      tail |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    round(tail);
  }
  return mix64(h ^ bytes.size());
}

}  // namespace spillway::balancer
