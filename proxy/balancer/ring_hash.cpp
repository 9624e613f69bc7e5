#include "proxy/balancer/ring_hash.hpp"

#include <algorithm>

#include "proxy/balancer/key_hash.hpp"

namespace spillway::balancer {

ring_hash::ring_hash(const endpoint_set& endpoints, double balance_factor, uint32_t balance_floor)
    : endpoints_(endpoints),
      balance_factor_(balance_factor),
      balance_floor_(balance_floor),
      points_(endpoints.size(), 0),
      marks_(endpoints.size()),
      fallback_(endpoints) {}

void ring_hash::build() {
  if (built_) return;
  built_ = true;
  const std::size_t n = endpoints_.size();
  uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i)
    total += uint64_t{points_per_weight} * std::max<uint32_t>(endpoints_[i]->weight, 1);
  const double scale = total > max_points ? static_cast<double>(max_points) / total : 1.0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double want = scale * points_per_weight * std::max<uint32_t>(endpoints_[i]->weight, 1);
    points_[i] = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(want)));
    count += points_[i];
  }

  struct point {
    uint64_t hash;
    int owner;
  };
  std::vector<point> ring;
  ring.reserve(count);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < points_[i]; ++k)
      ring.push_back({hash64(endpoints_[i]->address, k), static_cast<int>(i)});
  // Equal hashes (vanishingly rare) are ordered by address so every replica agrees.
  std::sort(ring.begin(), ring.end(), [&](const point& a, const point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return endpoints_[a.owner]->address < endpoints_[b.owner]->address;
  });
  hashes_.resize(ring.size());
  owners_.resize(ring.size());
  for (std::size_t k = 0; k < ring.size(); ++k) {
    hashes_[k] = ring[k].hash;
    owners_[k] = ring[k].owner;
  }
}

std::size_t ring_hash::position(uint64_t hash) const noexcept {
  const auto it = std::lower_bound(hashes_.begin(), hashes_.end(), hash);
  return it == hashes_.end() ? 0 : static_cast<std::size_t>(it - hashes_.begin());
}

int ring_hash::home(uint64_t hash) {
  build();
  return owners_.empty() ? -1 : owners_[position(hash)];
}

hash_pick ring_hash::pick_hash(uint64_t hash, std::span<const int> excluded, int avoid) {
  build();
  if (owners_.empty()) return {};
  const load_bound bound = load_bound::measure(endpoints_, balance_factor_, balance_floor_);
  std::size_t k = position(hash);
  const std::size_t size = owners_.size();
  return bounded_walk(endpoints_, bound, excluded, avoid, marks_, endpoints_.size(), size, [&] {
    const int owner = owners_[k];
    if (++k == size) k = 0;
    return owner;
  });
}

int ring_hash::pick(const pick_context& ctx) {
  if (!ctx.has_hash) return fallback_.pick(ctx);
  return pick_hash(ctx.hash, ctx.excluded).index;
}

}  // namespace spillway::balancer
