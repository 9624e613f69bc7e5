#include "upstream-engine/runtime/sampler.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::engine::runtime {

int32_t sampler::sample(std::span<const float> logits, float temperature, float top_p,
                        xoshiro256& rng) {
  const size_t n = logits.size();
  float max = logits[0];
  for (float v : logits) max = std::max(max, v);
  probs_.resize(n);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float p = std::exp((logits[i] - max) / temperature);
    probs_[i] = {p, static_cast<int32_t>(i)};
    sum += p;
  }
  size_t keep = n;
  double mass = sum;
  if (top_p < 1.0f) {
    // Sort by probability (ties by id, so the order is deterministic) and cut at top_p.
    std::sort(probs_.begin(), probs_.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    double acc = 0.0;
    for (keep = 0; keep < n;) {
      acc += probs_[keep].first;
      ++keep;
      if (acc >= top_p * sum) break;
    }
    mass = acc;
  }
  const double r = rng.uniform() * mass;
  double acc = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    acc += probs_[i].first;
    if (r < acc) return probs_[i].second;
  }
  return probs_[keep - 1].second;
}

}  // namespace spillway::engine::runtime
