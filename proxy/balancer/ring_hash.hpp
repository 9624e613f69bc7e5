// ring_hash: consistent hashing on a ring of virtual nodes (Karger et al. 1997; the ketama layout
// of nginx `hash consistent` and Envoy RING_HASH) with bounded loads (bounded_load.hpp).
//
// Each endpoint owns points_per_weight * weight points at hash64(address, k), k = 0, 1, ...; a key
// belongs to the first point at or after its hash, wrapping around. Points depend only on the
// configured address and weight, so replicas build the same ring and an endpoint that leaves
// (or becomes unavailable) hands only its own keys to the next points. When the total would
// exceed max_points every count is scaled down (at least one point each).
//
// Threading: one instance per worker thread; the ring is built once (build() or the first hashed
// pick) and then only read.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/balancer/bounded_load.hpp"
#include "proxy/balancer/least_conn.hpp"

namespace spillway::balancer {

class ring_hash final : public hashing_balancer {
 public:
  static constexpr uint32_t points_per_weight = 160;
  static constexpr std::size_t max_points = 1u << 16;

  /// `balance_factor` <= 0: no load bound; `balance_floor`: see bounded_load.hpp.
  ring_hash(const endpoint_set& endpoints, double balance_factor, uint32_t balance_floor = 0);

  int pick(const pick_context& ctx) override;
  int home(uint64_t hash) override;
  hash_pick pick_hash(uint64_t hash, std::span<const int> excluded, int avoid = -1) override;
  void build() override;

  /// Number of points of endpoint `i` (after build()); for tests and the status page.
  std::size_t points_of(int i) const noexcept { return i < 0 ? 0 : points_[i]; }

 private:
  std::size_t position(uint64_t hash) const noexcept;

  endpoint_set endpoints_;
  double balance_factor_;
  uint32_t balance_floor_;
  bool built_ = false;
  std::vector<uint64_t> hashes_;  // sorted point hashes
  std::vector<int> owners_;       // owners_[k]: endpoint of point hashes_[k]
  std::vector<std::size_t> points_;
  visit_marks marks_;
  least_conn fallback_;
};

}  // namespace spillway::balancer
