// maglev: Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, §3.4) with bounded loads (bounded_load.hpp).
//
// A lookup table of prime size M (65537, or the next prime above 100 * endpoints) is filled by
// letting endpoints take turns claiming the next free slot of their own permutation
// (offset + j * skip) mod M, with offset and skip hashed from the endpoint's address. Weights set
// how often an endpoint takes a turn (the one with the largest configured weight every round,
// the others in proportion), so fill counts follow the weights. A key's home is table[hash mod M];
// on overflow the walk continues with the following slots, whose owners are spread pseudo-randomly
// by the permutations. Rebuilt without one endpoint, the table moves little more than that
// endpoint's share of keys; an endpoint that is merely unavailable is skipped, which moves only
// its own keys.
//
// Threading: one instance per worker thread; the table is built once (build() or the first
// hashed pick; a few milliseconds) and then only read.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/balancer/bounded_load.hpp"
#include "proxy/balancer/least_conn.hpp"

namespace spillway::balancer {

class maglev final : public hashing_balancer {
 public:
  static constexpr uint32_t min_table_size = 65537;

  /// `balance_factor` <= 0: no load bound; `balance_floor`: see bounded_load.hpp.
  maglev(const endpoint_set& endpoints, double balance_factor, uint32_t balance_floor = 0);

  int pick(const pick_context& ctx) override;
  int home(uint64_t hash) override;
  hash_pick pick_hash(uint64_t hash, std::span<const int> excluded, int avoid = -1) override;
  void build() override;

  /// Table size M for `endpoints` endpoints: the smallest prime >= max(65537, 100 * endpoints).
  static uint32_t table_size(std::size_t endpoints) noexcept;
  /// Slots owned by endpoint `i` (after build()); for tests and the status page.
  std::size_t slots_of(int i) const noexcept;

 private:
  endpoint_set endpoints_;
  double balance_factor_;
  uint32_t balance_floor_;
  bool built_ = false;
  std::vector<int32_t> table_;
  std::size_t present_ = 0;  // endpoints owning at least one slot
  visit_marks marks_;
  least_conn fallback_;
};

}  // namespace spillway::balancer
