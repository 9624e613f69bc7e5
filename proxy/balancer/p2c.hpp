// p2c: power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
// Balancing", 2001; HAProxy `random(2)`, Envoy least_request with choice_count 2). Two distinct
// eligible endpoints are drawn at random with probability proportional to effective_weight and
// the one with the lower active / weight wins; a tie goes to the first draw, so idle endpoints
// share traffic by weight. The weight is in the draw, so the comparison leaves out the +1 that
// least_conn adds (with it, an idle cluster would send everything to the heaviest endpoint).
//
// Threading: one instance per worker thread (random source and scratch are its own).
#pragma once

#include <cstdint>
#include <vector>

#include "common/random.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"

namespace spillway::balancer {

class p2c final : public balancer {
 public:
  p2c(const endpoint_set& endpoints, uint64_t seed);

  int pick(const pick_context& ctx) override;

 private:
  endpoint_set endpoints_;
  std::vector<weighted_index> candidates_;  // scratch: eligible endpoints of this pick
  xoshiro256 rng_;
};

}  // namespace spillway::balancer
