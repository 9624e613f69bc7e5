// random: weighted random choice over the eligible endpoints (probability proportional to
// effective_weight). Stateless apart from the random source.
//
// Threading: one instance per worker thread (the random source is not shared).
#pragma once

#include <cstdint>
#include <vector>

#include "common/random.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"

namespace spillway::balancer {

class random_balancer final : public balancer {
 public:
  random_balancer(const endpoint_set& endpoints, uint64_t seed);

  int pick(const pick_context& ctx) override;

 private:
  endpoint_set endpoints_;
  std::vector<weighted_index> candidates_;  // scratch: eligible endpoints of this pick
  xoshiro256 rng_;
};

}  // namespace spillway::balancer
